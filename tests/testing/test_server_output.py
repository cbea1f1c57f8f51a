"""The testing server writes the answers to pipelined commands together, as Dovecot does."""

from __future__ import annotations

import trio
import trio.testing

from tests.support import ALICE_PASSWORD
from trio_mailsync.testing import IMAPTestServer, MailStore


class Writes(trio.abc.Stream):
    """A server-side stream that records each write."""

    def __init__(self, inner: trio.abc.Stream) -> None:
        self.inner = inner
        self.writes: list[bytes] = []

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))
        await self.inner.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.inner.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        return await self.inner.receive_some(max_bytes)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def read_until(stream: trio.abc.Stream, end: bytes) -> bytes:
    data = b""
    with trio.fail_after(5):
        while not data.endswith(end):
            data += await stream.receive_some()
    return data


async def test_pipelined_commands_are_answered_in_one_write() -> None:
    mail = MailStore()
    mail.add_user("alice", ALICE_PASSWORD)
    server = IMAPTestServer(mail)
    client, server_side = trio.testing.memory_stream_pair()
    recorded = Writes(server_side)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(server.handle, recorded)
        await read_until(client, b"ready\r\n")
        await client.send_all(f"a LOGIN alice {ALICE_PASSWORD}\r\n".encode())
        await read_until(client, b"] Logged in\r\n")
        before = len(recorded.writes)
        folders = (b"INBOX", b"Sent", b"Drafts")
        await client.send_all(
            b"".join(b"s%d STATUS %s (MESSAGES)\r\n" % x for x in enumerate(folders))
        )
        answers = await read_until(client, b"s2 OK STATUS completed\r\n")
        assert answers.count(b"* STATUS") == 3
        assert len(recorded.writes) - before == 1
        # A command alone is answered at once, and so is each one sent apart.
        for n in range(2):
            await client.send_all(b"n%d NOOP\r\n" % n)
            await read_until(client, b"n%d OK NOOP completed\r\n" % n)
        assert len(recorded.writes) - before == 3
        nursery.cancel_scope.cancel()
