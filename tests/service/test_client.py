"""open_event_stream against a hand-made server: what a broken broadcaster could send."""

from __future__ import annotations

import socket
import struct
from functools import partial

import pytest
import trio
from trio_websocket import WebSocketRequest, serve_websocket

from trio_mailsync.sinks import EventStreamClosed, connect_events, open_event_stream


@pytest.mark.parametrize(
    ("sent", "code"),
    [
        ('{"type": "hello"', 1007),  # cut short
        ("[1, 2, 3]", 1007),  # JSON, not an object
        ("x" * (17 * 1024 * 1024), 1009),  # over MAX_EVENT
    ],
)
async def test_bad_events_end_the_stream_with_a_clear_code(
    sent: str, code: int, nursery: trio.Nursery
) -> None:
    async def handler(request: WebSocketRequest) -> None:
        ws = await request.accept()
        await ws.send_message('{"type": "hello", "seq": 0}')
        await ws.send_message(sent)
        await trio.sleep_forever()

    server = await nursery.start(
        partial(serve_websocket, handler, "127.0.0.1", 0, ssl_context=None, max_message_size=2**26)
    )
    url = f"ws://127.0.0.1:{server.port}/"
    async with open_event_stream(url, "token") as events:
        assert (await events.receive())["type"] == "hello"
        with trio.fail_after(10), pytest.raises(EventStreamClosed) as closed:
            await events.receive()
    assert closed.value.code == code
    nursery.cancel_scope.cancel()


async def test_the_old_name_still_works_and_says_it_is_deprecated(nursery: trio.Nursery) -> None:
    async def handler(request: WebSocketRequest) -> None:
        ws = await request.accept()
        await ws.send_message('{"type": "hello", "seq": 0}')
        await trio.sleep_forever()

    server = await nursery.start(
        partial(serve_websocket, handler, "127.0.0.1", 0, ssl_context=None)
    )
    with pytest.warns(DeprecationWarning, match="open_event_stream"):
        stream = connect_events(f"ws://127.0.0.1:{server.port}/", "token")
    async with stream as events:
        assert (await events.receive())["type"] == "hello"
    nursery.cancel_scope.cancel()


@pytest.mark.parametrize("reset", [False, True])
async def test_a_server_that_hangs_up_in_the_handshake_is_an_oserror(
    reset: bool, nursery: trio.Nursery
) -> None:
    # A broadcaster killed while a client connects: closed, or reset (RST); the client
    # says "unreachable" (OSError) either way, as for a refused connection, so that a
    # caller's reconnect loop catches it.
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]

    async def hang_up(stream: trio.SocketStream) -> None:
        await stream.receive_some(65536)  # the request
        if reset:  # SO_LINGER 0: close sends RST, not FIN
            stream.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        await stream.aclose()

    nursery.start_soon(partial(trio.serve_listeners, hang_up, listeners))
    with pytest.raises(OSError, match="during the handshake"):
        async with open_event_stream(f"ws://127.0.0.1:{port}/", "token"):
            pass
    nursery.cancel_scope.cancel()
