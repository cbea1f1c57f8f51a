"""The WebSocket broadcaster over loopback TCP, with the service on the testing server."""

from __future__ import annotations

import json
import os
import resource
from pathlib import Path
from typing import Any

import pytest
import trio
from trio_websocket import ConnectionClosed, open_websocket_url, wrap_client_stream

from tests.service_support import BEARER, TOKEN, plain, serving
from tests.support import Connect
from trio_mailsync.app import Running
from trio_mailsync.core.config import BroadcastSettings
from trio_mailsync.core.events import AccountState, AccountStateChanged
from trio_mailsync.sinks import EventStreamClosed, open_event_stream, serve_broadcaster
from trio_mailsync.sinks import websocket as websocket_module
from trio_mailsync.sinks.websocket import _caps
from trio_mailsync.testing import MailStore, sample_message


async def receive(ws: Any) -> dict[str, Any]:
    with trio.fail_after(10):
        data: dict[str, Any] = json.loads(await ws.get_message())
        return data


async def test_clients_get_hello_then_new_mail(
    plain_connector: Connect, mail: MailStore, tmp_path: Path
) -> None:
    async with serving(plain_connector, tmp_path) as running:
        url = running.broadcaster.url
        assert url.startswith("ws://127.0.0.1:")
        async with open_websocket_url(url, extra_headers=BEARER) as ws:
            hello = await receive(ws)
            assert (hello["type"], hello["version"]) == ("hello", 1)
            assert [a["id"] for a in hello["accounts"]] == ["alice", "bob"]
            with trio.fail_after(10):
                while running.service.state("alice") is not AccountState.IDLE:
                    await trio.sleep(0.01)
            uid = mail.deliver("alice", sample_message(7, subject="Grüße"))
            seqs = [hello["seq"]]
            while True:
                event = await receive(ws)
                seqs.append(event["seq"])
                if event["type"] == "new_messages":
                    break
            assert event["account"] == "alice"
            got = [(m["folder"], m["uid"], m["subject"], m["from"]) for m in event["messages"]]
            assert got == [("INBOX", uid, "Grüße", "Sender 7 <s7@example.com>")]
            assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # none missed


async def upgrade(port: int, path: str, headers: list[tuple[bytes, bytes]]) -> tuple[int, bytes]:
    """A WebSocket upgrade request by hand; returns the status and what the server sent.

    By hand because trio-websocket's client leaks its socket when rejected.
    """
    request = [
        f"GET /{path} HTTP/1.1".encode(),
        f"Host: 127.0.0.1:{port}".encode(),
        b"Upgrade: websocket",
        b"Connection: Upgrade",
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        b"Sec-WebSocket-Version: 13",
        *(name + b": " + value for name, value in headers),
        b"",
        b"",
    ]
    with trio.fail_after(10):
        async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
            await stream.send_all(b"\r\n".join(request))
            received = b""
            while chunk := await stream.receive_some():
                received += chunk
                if received.startswith(b"HTTP/1.1 101 ") and b"\r\n\r\n" in received:
                    break  # accepted: a WebSocket from here on, which stays open
    return int(received.split(b" ", 2)[1]), received


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("", [], 401),
        ("?token=wrong", [], 401),
        ("?token=", [], 401),
        ("", [(b"Authorization", b"Bearer wrong")], 401),
        ("", [(b"Authorization", b"Basic " + TOKEN.encode())], 401),
        ("", [*BEARER, (b"Origin", b"https://evil.example")], 403),
    ],
    ids=["none", "wrong-query", "empty-query", "wrong-bearer", "not-bearer", "bad-origin"],
)
async def test_no_events_without_the_token_and_an_allowed_origin(
    plain_connector: Connect,
    mail: MailStore,
    tmp_path: Path,
    path: str,
    headers: list[tuple[bytes, bytes]],
    status: int,
) -> None:
    async with serving(
        plain_connector, tmp_path, allowed_origins=("https://app.example",)
    ) as running:
        port = running.broadcaster.port
        mail.deliver("alice", sample_message(1))
        got, received = await upgrade(port, path, headers)
        assert got == status
        assert b"hello" not in received
        assert b"seq" not in received
        assert TOKEN.encode() not in received
        assert running.broadcaster.statistics().rejected == 1
        # The right token, in the header or (for browsers) in the URL, is let in.
        allowed = [(b"Origin", b"https://app.example")]
        got, _ = await upgrade(port, "?token=" + TOKEN, allowed)
        assert got == 101
        async with open_websocket_url(
            running.broadcaster.url, extra_headers=[*BEARER, *allowed]
        ) as ws:
            assert (await receive(ws))["type"] == "hello"


async def test_a_steady_client_keeps_up_while_many_accounts_start(
    plain_connector: Connect, mail: MailStore, tmp_path: Path
) -> None:
    # Starting up, every account publishes a few events at once: more than queue_size
    # in one go. A client that reads steadily must not be taken for a slow one.
    accounts = []
    for i in range(300):
        mail.add_user(f"user{i}", "password")
        accounts.append(plain(f"user{i}", password="password"))
    async with (
        serving(plain_connector, tmp_path, accounts=accounts) as running,
        open_event_stream(running.broadcaster.url, TOKEN) as events,
    ):
        states = {}
        with trio.fail_after(60):
            async for event in events:
                if event["type"] == "hello":
                    states = {a["id"]: a["state"] for a in event["accounts"]}
                elif event["type"] == "account_state":
                    states[event["account"]] = event["state"]
                if all(state == "idle" for state in states.values()):
                    break
        assert running.broadcaster.statistics().dropped_slow == 0


async def test_a_broadcaster_without_a_token_does_not_start(
    plain_connector: Connect, tmp_path: Path
) -> None:
    async with serving(plain_connector, tmp_path) as running:
        with pytest.raises(ValueError, match="needs a token"):
            await serve_broadcaster(running.service, BroadcastSettings(port=0))


async def test_a_slow_client_is_dropped_without_delaying_a_fast_one(
    plain_connector: Connect, tmp_path: Path
) -> None:
    count = 3000
    detail = "x" * 4096  # 3000 events of 4 KiB: more than the socket buffers hold
    async with serving(plain_connector, tmp_path, queue_size=32) as running:
        service = running.service
        url = running.broadcaster.url
        # The slow client's stream is ours to close: trio-websocket's client leaves
        # it open when the server cuts the connection.
        async with (
            await trio.open_tcp_stream("127.0.0.1", running.broadcaster.port) as raw,
            trio.open_nursery() as slow_nursery,
            open_websocket_url(url, extra_headers=BEARER) as fast,
        ):
            slow = await wrap_client_stream(
                slow_nursery, raw, "127.0.0.1", "/", extra_headers=BEARER
            )
            await receive(slow)
            await receive(fast)
            received: list[int] = []
            seqs: list[int] = []

            async def read_fast() -> None:
                while len(received) < count:
                    event = await receive(fast)
                    seqs.append(event["seq"])
                    if event["type"] == "account_state" and event["detail"] == detail:
                        received.append(event["seq"])

            with trio.fail_after(60):
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(read_fast)
                    for published in range(1, count + 1):
                        service.publish(
                            AccountStateChanged(
                                account="x", state=AccountState.ERROR, detail=detail
                            )
                        )
                        # Paced by the fast client (it keeps up); the slow one never reads.
                        while published - len(received) > 8:
                            await trio.sleep(0.001)
            assert len(received) == count
            assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # none missed
            # Behind the events already in its socket buffer, the slow client finds its
            # connection closed: cut (1006) when the broadcaster was stuck mid-frame,
            # else with a close frame saying why (1008).
            with trio.fail_after(30), pytest.raises(ConnectionClosed) as closed:  # noqa: PT012
                while True:
                    await slow.get_message()
            assert closed.value.reason is not None
            assert closed.value.reason.code in (1006, 1008)
            slow_nursery.cancel_scope.cancel()
        stats = running.broadcaster.statistics()
        assert stats.dropped_slow == 1
        assert service.statistics().dropped_subscribers == 1


async def test_a_stopped_service_says_1001_to_its_clients(
    plain_connector: Connect, tmp_path: Path
) -> None:
    # Issue 17, finding 12: stopping serve (Ctrl-C, SIGTERM: a cancellation from outside)
    # gave clients 1006 (no close frame), although docs/events.md promises 1001.
    codes: list[int] = []
    with trio.fail_after(30):
        async with trio.open_nursery() as outer:
            urls: list[str] = []
            service_scope = trio.CancelScope()

            async def service() -> None:
                with service_scope:
                    async with serving(plain_connector, tmp_path) as running:
                        urls.append(running.broadcaster.url)
                        await trio.sleep_forever()

            outer.start_soon(service)
            while not urls:
                await trio.sleep(0.01)
            async with open_event_stream(urls[0], TOKEN) as events:
                assert (await events.receive())["type"] == "hello"
                service_scope.cancel()  # the stop, from outside
                try:
                    async for _ in events:
                        pass
                    codes.append(1001)  # iteration ends cleanly on 1000/1001 only
                except EventStreamClosed as closed:
                    codes.append(closed.code)
    assert codes == [1001]


async def _clients_gone(running: Running, within: float) -> float:
    """Seconds until the broadcaster has no client and the service no subscriber."""
    started = trio.current_time()
    with trio.fail_after(within):
        while running.broadcaster.statistics().clients or running.service.statistics().subscribers:
            await trio.sleep(0.02)
    return trio.current_time() - started


async def test_a_client_that_vanishes_is_dropped_without_waiting_for_an_event(
    plain_connector: Connect, tmp_path: Path
) -> None:
    # Issue 17, finding 9: a client that dropped its TCP connection without a close frame
    # kept its socket, task and subscription until the next event (a sweep away, or more).
    async with serving(plain_connector, tmp_path) as running:
        # Quiet first: any event would drop a dead client the old way.
        with trio.fail_after(10):
            while True:
                before = running.service.statistics().events
                await trio.sleep(0.5)
                if running.service.statistics().events == before:
                    break
        events_before = running.service.statistics().events
        for _ in range(3):
            stream = await trio.open_tcp_stream("127.0.0.1", running.broadcaster.port)
            async with trio.open_nursery() as client:
                ws = await wrap_client_stream(client, stream, "127.0.0.1", f"/?token={TOKEN}")
                await ws.get_message()  # hello
                await trio.aclose_forcefully(stream)  # no close frame
                client.cancel_scope.cancel()
            assert await _clients_gone(running, within=5) < 1
        assert running.broadcaster.statistics().dropped_gone == 3
        assert running.service.statistics().events == events_before  # no event needed


async def test_a_client_that_stops_answering_is_dropped_after_its_ping_deadline(
    plain_connector: Connect, tmp_path: Path
) -> None:
    # The other half of finding 9: the connection stays open (a laptop asleep, a NAT that
    # forgot it): a ping with a deadline finds it out.
    async with serving(plain_connector, tmp_path, ping_interval=0.3, ping_timeout=0.3) as running:
        async with open_event_stream(running.broadcaster.url, TOKEN) as events:
            assert (await events.receive())["type"] == "hello"
            # From now on this client reads nothing: no pong.
            waited = await _clients_gone(running, within=10)
        assert 0.4 < waited < 3
        assert running.broadcaster.statistics().dropped_gone == 1


def _open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


async def test_a_flood_of_idle_sockets_cannot_take_the_descriptors(
    plain_connector: Connect, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Issue 17, finding 10: ~1,100 idle TCP connections (re-opened whenever the handshake
    # timeout cut them) exhausted a 1,024-descriptor limit: IMAP could not reconnect.
    # (A pending slot is freed by the handshake timeout: shortened here from 10 s.)
    monkeypatch.setattr(websocket_module, "HANDSHAKE_TIMEOUT", 2.0)
    async with serving(plain_connector, tmp_path, max_pending=8) as running:
        before = _open_descriptors()
        flood: list[trio.SocketStream] = []
        try:
            for _ in range(100):
                flood.append(await trio.open_tcp_stream("127.0.0.1", running.broadcaster.port))
            with trio.fail_after(1.5):  # all accepted, within the handshake timeout (2 s)
                while (stats := running.broadcaster.statistics()).refused + stats.pending < 100:
                    await trio.sleep(0.01)
            held_by_server = _open_descriptors() - before - len(flood)
            # The old code held one per socket: 100 (the handshake timeout is 2 s here).
            assert held_by_server <= 8 + 2, held_by_server
            assert running.broadcaster.statistics().refused >= 100 - 8
        finally:
            for stream in flood:
                await trio.aclose_forcefully(stream)
        # With the flood gone, a client with the token gets in.
        with trio.fail_after(10):
            while True:
                try:
                    async with open_event_stream(running.broadcaster.url, TOKEN) as events:
                        assert (await events.receive())["type"] == "hello"
                        break
                except OSError:  # closed on accept: the slots are not free yet
                    await trio.sleep(0.1)


def test_the_caps_leave_the_accounts_their_descriptors(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(resource, "getrlimit", lambda _: (300, 4096))
    settings = BroadcastSettings(token="t", max_pending=64, max_clients=1000)
    pending, clients = _caps(settings, reserve=250)  # 50 left for the broadcaster
    assert (pending, clients) == (6, 44)
    assert "300 descriptors (RLIMIT_NOFILE), 250 kept for the accounts" in caplog.text
    monkeypatch.setattr(resource, "getrlimit", lambda _: (100_000, 100_000))
    assert _caps(settings, reserve=250) == (64, 1000)
