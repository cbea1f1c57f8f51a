"""Plain HTTP/1.1 beside the WebSocket handshake, on the broadcaster's own port (h11).

The broadcaster reads each connection's request head first (:func:`read_head`): a
WebSocket upgrade is handed on to trio-websocket with the bytes read so far put
back in front (:class:`ReplayStream`); any other request is answered here, by a
handler that maps an :class:`HttpRequest` to an :class:`HttpResponse`, with
keep-alive, until the client closes, goes quiet, or sends something malformed.
Why not an ASGI server: see ``docs/architecture.md`` ("The HTTP endpoints").
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs, urlsplit

import attrs
import h11
import trio

__all__ = [
    "HttpRequest",
    "HttpResponse",
    "ReplayStream",
    "is_websocket_upgrade",
    "read_head",
    "refuse",
    "serve_http",
]

#: A request head larger than this is refused (h11 answers 431).
MAX_HEAD = 16 * 1024
#: A request body larger than this is refused (413): account tables are small.
MAX_BODY = 64 * 1024
#: Seconds a kept-alive connection may wait for its next request.
KEEP_ALIVE_TIMEOUT = 30.0
#: Seconds a request may take to arrive whole once it has begun.
REQUEST_TIMEOUT = 10.0
#: Requests on one connection at most.
MAX_REQUESTS = 1000
READ_SIZE = 16 * 1024


@attrs.frozen(kw_only=True)
class HttpRequest:
    """One request: method, path, query, headers (lower-case names), body."""

    method: str
    target: str
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes = b""

    @property
    def path(self) -> str:
        """The target without its query."""
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, list[str]]:
        """The query's parameters."""
        return parse_qs(urlsplit(self.target).query)

    def header(self, name: bytes) -> bytes | None:
        """The last value of a header, or ``None``."""
        found = None
        for key, value in self.headers:
            if key == name:
                found = value
        return found

    def json(self) -> object:
        """The body as JSON; ``ValueError`` when it is not."""
        return json.loads(self.body.decode("utf-8"))


@attrs.frozen(kw_only=True)
class HttpResponse:
    """One response. ``json_response`` and ``text_response`` make the common ones."""

    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()


def json_response(status: int, data: object) -> HttpResponse:
    """``data`` as a JSON response."""
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    return HttpResponse(status=status, body=body, content_type="application/json")


def text_response(status: int, text: str) -> HttpResponse:
    """One line of text (a newline is added)."""
    return HttpResponse(status=status, body=text.encode() + b"\n")


#: Headers on every response: nothing cached, nothing sniffed, no referrer, no framing.
COMMON_HEADERS = (
    ("Cache-Control", "no-store"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
)


class ReplayStream(trio.abc.Stream):
    """A stream whose first bytes received are ``head`` (already read from ``stream``)."""

    def __init__(self, stream: trio.abc.Stream, head: bytes) -> None:
        self._stream = stream
        self._head = head

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        """The replayed bytes first, then the stream's own."""
        if self._head:
            size = len(self._head) if max_bytes is None else max_bytes
            data, self._head = self._head[:size], self._head[size:]
            await trio.lowlevel.checkpoint()
            return data
        return await self._stream.receive_some(max_bytes)

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        """Sent on the wrapped stream."""
        await self._stream.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        """As the wrapped stream's."""
        await self._stream.wait_send_all_might_not_block()

    async def aclose(self) -> None:
        """Close the wrapped stream."""
        await self._stream.aclose()


async def read_head(stream: trio.abc.Stream, conn: h11.Connection) -> tuple[h11.Request, bytes]:
    """Read until ``conn`` has a request head; returns it and every byte read.

    Raises ``h11.RemoteProtocolError`` for a malformed or oversized head and
    ``EOFError`` when the client closes first.
    """
    seen = bytearray()
    while True:
        event = conn.next_event()
        if isinstance(event, h11.Request):
            return event, bytes(seen)
        if event is h11.NEED_DATA:
            data = await stream.receive_some(READ_SIZE)
            if not data:
                raise EOFError("the client closed the connection")
            seen += data
            conn.receive_data(bytes(data))
            continue
        raise h11.RemoteProtocolError(f"unexpected {type(event).__name__}", 400)


def is_websocket_upgrade(head: h11.Request) -> bool:
    """Whether the request asks to become a WebSocket (RFC 6455 section 4.1)."""
    return any(name == b"upgrade" and b"websocket" in value.lower() for name, value in head.headers)


Handler = Callable[[HttpRequest], Awaitable[HttpResponse]]


async def _read_body(stream: trio.abc.Stream, conn: h11.Connection) -> bytes:
    body = bytearray()
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            data = await stream.receive_some(READ_SIZE)
            if not data:
                raise EOFError("the client closed the connection")
            conn.receive_data(bytes(data))
        elif isinstance(event, h11.Data):
            body += event.data
            if len(body) > MAX_BODY:
                raise h11.RemoteProtocolError("request body too large", 413)
        elif isinstance(event, h11.EndOfMessage):
            return bytes(body)
        else:
            raise h11.RemoteProtocolError(f"unexpected {type(event).__name__}", 400)


async def _send(
    stream: trio.abc.Stream, conn: h11.Connection, response: HttpResponse, *, head_only: bool
) -> None:
    headers = [
        ("Content-Type", response.content_type),
        ("Content-Length", str(len(response.body))),
        *COMMON_HEADERS,
        *response.headers,
    ]
    data = conn.send(h11.Response(status_code=response.status, headers=headers)) or b""
    if not head_only:
        data += conn.send(h11.Data(data=response.body)) or b""
    data += conn.send(h11.EndOfMessage()) or b""
    await stream.send_all(data)


async def serve_http(
    stream: trio.abc.Stream, conn: h11.Connection, head: h11.Request, handler: Handler
) -> None:
    """Answer ``head`` and the requests after it on ``stream`` until the client is done.

    Malformed requests get their 4xx and the connection is closed; the handler's
    own failures are the caller's (they are bugs).
    """
    for _ in range(MAX_REQUESTS):
        method = head.method.decode("ascii", "replace")
        try:
            with trio.fail_after(REQUEST_TIMEOUT):
                body = await _read_body(stream, conn)
        except h11.RemoteProtocolError as exc:
            await refuse(stream, conn, exc)
            return
        request = HttpRequest(
            method=method,
            target=head.target.decode("ascii", "replace"),
            headers=tuple((bytes(n), bytes(v)) for n, v in head.headers),
            body=body,
        )
        response = await handler(request)
        await _send(stream, conn, response, head_only=method == "HEAD")
        if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
            return  # "Connection: close", or HTTP/1.0
        conn.start_next_cycle()
        try:
            with trio.fail_after(KEEP_ALIVE_TIMEOUT):
                head, _ = await read_head(stream, conn)
        except h11.RemoteProtocolError as exc:
            await refuse(stream, conn, exc)
            return
        except (EOFError, trio.TooSlowError):
            return
        if is_websocket_upgrade(head):
            # A kept-alive connection turning into a WebSocket: rare; the client may
            # open a new connection for it.
            await _send(
                stream,
                conn,
                text_response(400, "open a new connection for the WebSocket"),
                head_only=False,
            )
            return


async def refuse(
    stream: trio.abc.Stream, conn: h11.Connection, exc: h11.RemoteProtocolError
) -> None:
    """Answer a malformed request with its status, if a response can still be sent."""
    status = exc.error_status_hint if 400 <= exc.error_status_hint < 500 else 400
    response = attrs.evolve(
        text_response(status, str(exc) or "bad request"), headers=(("Connection", "close"),)
    )
    try:
        await _send(stream, conn, response, head_only=False)
    except h11.LocalProtocolError:
        return  # a response was under way already: closing is all that is left
