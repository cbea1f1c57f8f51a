"""The fault-injecting proxy, against an echo server on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import trio

from trio_mailsync.testing.proxy import FaultProxy


async def echo(stream: trio.SocketStream) -> None:
    async with stream:
        try:
            while data := await stream.receive_some():
                await stream.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass


@pytest.fixture
async def proxy(nursery: trio.Nursery) -> AsyncIterator[tuple[FaultProxy, int]]:
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    nursery.start_soon(trio.serve_listeners, echo, listeners)
    p = FaultProxy("127.0.0.1", listeners[0].socket.getsockname()[1])
    port = await nursery.start(p.serve)
    yield p, port
    nursery.cancel_scope.cancel()


async def read_exactly(stream: trio.SocketStream, count: int) -> bytes:
    data = b""
    with trio.fail_after(5):
        while len(data) < count:
            chunk = await stream.receive_some()
            assert chunk, f"EOF after {data!r}"
            data += chunk
    return data


async def read_until_broken(stream: trio.SocketStream) -> bytes:
    """What arrives before the connection is reset (or closed)."""
    data = b""
    with trio.fail_after(5):
        try:
            while chunk := await stream.receive_some():
                data += chunk
        except trio.BrokenResourceError:
            pass
    return data


async def test_forwards_both_ways_byte_for_byte(proxy: tuple[FaultProxy, int]) -> None:
    p, port = proxy
    p.sliced = True  # one byte per write: the content is the same
    async with await trio.open_tcp_stream("127.0.0.1", port) as s:
        await s.send_all(b"a1 NOOP\r\n" * 10)
        assert await read_exactly(s, 90) == b"a1 NOOP\r\n" * 10
    stats = p.statistics()
    assert (stats.connections, stats.bytes_up, stats.bytes_down) == (1, 90, 90)


async def test_reset_after_n_bytes_cuts_exactly_there(proxy: tuple[FaultProxy, int]) -> None:
    p, port = proxy
    async with await trio.open_tcp_stream("127.0.0.1", port) as s:
        await s.send_all(b"x")
        await read_exactly(s, 1)
        conn = p.connections[0]
        conn.reset_after(5, "down")
        await s.send_all(b"0123456789")
        got = await read_until_broken(s)
    # A RST makes the receiver drop what it has not read yet: a prefix may arrive,
    # never a byte past the cut.
    assert b"01234".startswith(got)
    assert conn.forwarded == {"up": 11, "down": 6}
    assert p.statistics().resets == 1
    with trio.fail_after(5):
        while p.connections:  # forgotten once its tasks have ended
            await trio.sleep(0.01)


async def test_stall_holds_everything_until_resumed(proxy: tuple[FaultProxy, int]) -> None:
    p, port = proxy
    async with await trio.open_tcp_stream("127.0.0.1", port) as s:
        await s.send_all(b"x")
        await read_exactly(s, 1)
        p.stall()
        await s.send_all(b"held")
        with trio.move_on_after(0.2) as waited:
            await s.receive_some()
        assert waited.cancelled_caught
        p.resume()
        assert await read_exactly(s, 4) == b"held"


async def test_refusing_resets_new_connections(proxy: tuple[FaultProxy, int]) -> None:
    p, port = proxy
    p.refusing = True
    async with await trio.open_tcp_stream("127.0.0.1", port) as s:
        assert await read_until_broken(s) == b""
    assert p.statistics().refused == 1
    p.refusing = False
    async with await trio.open_tcp_stream("127.0.0.1", port) as s:
        await s.send_all(b"ok")
        assert await read_exactly(s, 2) == b"ok"


async def test_inject_and_reset_now(proxy: tuple[FaultProxy, int]) -> None:
    p, port = proxy
    async with await trio.open_tcp_stream("127.0.0.1", port) as s:
        await s.send_all(b"x")
        await read_exactly(s, 1)
        await p.inject(b"* BYE injected\r\n")
        assert await read_exactly(s, 16) == b"* BYE injected\r\n"
        p.reset_all()
        assert await read_until_broken(s) == b""
