"""A client for the broadcaster: the CLI's ``watch``, the demo and the benchmarks use it.

::

    async with open_event_stream("ws://127.0.0.1:8765/", token, since=last) as events:
        async for event in events:      # dicts, as in docs/events.md
            print(event["type"], event.get("id"))

It drives wsproto (sans-IO) from the caller's task: no background task, so
nothing runs, and no exception is grouped, outside the caller's own code.
The server pings a client that has been quiet for ``ping_interval`` (60 s) and drops
it if no pong comes within ``ping_timeout`` (30 s); this client answers a ping on its
next read, so a consumer must keep reading (an ``async for`` does).
"""

from __future__ import annotations

import json
import ssl
import warnings
from collections import deque
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from typing import Any
from urllib.parse import urlsplit

import trio
from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Event,
    Ping,
    RejectConnection,
    Request,
    TextMessage,
)
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

from trio_mailsync.core.errors import MailSyncError
from trio_mailsync.secret import Secret

__all__ = [
    "EventStream",
    "EventStreamClosed",
    "EventStreamRejected",
    "connect_events",
    "open_event_stream",
]

#: Bytes of one event at most (events with many new messages can be long).
MAX_EVENT = 16 * 1024 * 1024


class EventStreamRejected(MailSyncError):
    """The broadcaster refused the connection: 401 for the token, 403 for the origin."""

    def __init__(self, url: str, status: int) -> None:
        reason = {401: "wrong or missing token", 403: "origin not allowed"}.get(status, "refused")
        super().__init__(f"{url}: {reason} (HTTP {status})")
        self.status = status


class EventStreamClosed(MailSyncError):
    """The stream ended: 1001 the service stopped, 1006 the connection was lost."""

    def __init__(self, code: int, reason: str | None) -> None:
        super().__init__(f"event stream closed: {code} {reason or ''}".rstrip())
        self.code = code
        self.reason = reason


class EventStream:
    """Events as JSON data, in order; iteration ends when the service stops."""

    def __init__(self, stream: trio.abc.Stream, ws: WSConnection, pending: list[Event]) -> None:
        self._stream = stream
        self._ws = ws
        self._events: deque[Event] = deque(pending)
        self._text: list[str] = []
        self._size = 0
        self._closed: EventStreamClosed | None = None

    async def receive(self) -> dict[str, Any]:
        """The next event; :class:`EventStreamClosed` once the stream is over."""
        while True:
            if self._closed is not None:
                raise self._closed
            while self._events:
                event = self._events.popleft()
                if isinstance(event, TextMessage):
                    self._text.append(event.data)
                    self._size += len(event.data)
                    if self._size > MAX_EVENT:
                        raise await self._close(1009, "event too big")
                    if event.message_finished:
                        text = "".join(self._text)
                        self._text.clear()
                        self._size = 0
                        try:
                            data = json.loads(text)
                        except ValueError:
                            data = None
                        if not isinstance(data, dict):
                            raise await self._close(1007, "an event that is not a JSON object")
                        return data
                elif isinstance(event, Ping):
                    await self._send(event.response())
                elif isinstance(event, CloseConnection):
                    if self._ws.state is ConnectionState.REMOTE_CLOSING:
                        await self._send(event.response())
                    self._closed = EventStreamClosed(event.code, event.reason)
                    raise self._closed
            try:
                data_in = await self._stream.receive_some(65536)
                self._ws.receive_data(bytes(data_in) or None)
                self._events.extend(self._ws.events())
            except (trio.BrokenResourceError, trio.ClosedResourceError, RemoteProtocolError):
                data_in = b""
            if not data_in and not self._events:
                self._closed = EventStreamClosed(1006, "connection lost")

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> dict[str, Any]:
        try:
            return await self.receive()
        except EventStreamClosed as exc:
            if exc.code in (1000, 1001):
                raise StopAsyncIteration from None
            raise

    async def _send(self, event: Event) -> None:
        # Only close and pong are sent; if they cannot go, the connection is gone anyway.
        with suppress(trio.BrokenResourceError, trio.ClosedResourceError, LocalProtocolError):
            await self._stream.send_all(self._ws.send(event))

    async def _close(self, code: int, reason: str) -> EventStreamClosed:
        if self._ws.state is ConnectionState.OPEN:
            await self._send(CloseConnection(code=code, reason=reason))
        self._closed = EventStreamClosed(code, reason)
        return self._closed

    async def aclose(self) -> None:
        """Close the stream (a close frame if the connection is still open, then the socket)."""
        with trio.move_on_after(1):
            await self._close(1000, "bye")
        await trio.aclose_forcefully(self._stream)


@asynccontextmanager
async def open_event_stream(
    url: str,
    token: str | Secret,
    *,
    since: int | None = None,
    ssl_context: ssl.SSLContext | None = None,
    connect_timeout: float = 10.0,
) -> AsyncIterator[EventStream]:
    """Connect to a broadcaster at ``url`` (ws:// or wss://) with ``token``.

    ``since``: the id of the last logged event this client has; the stream replays
    every event after it before the live ones (``docs/events.md``). Raises
    :class:`EventStreamRejected` for a wrong token or origin and :class:`OSError`
    when nothing answers there, or the connection breaks before the stream is open.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ValueError(f"not a ws:// or wss:// URL: {url!r}")
    secure = parts.scheme == "wss"
    port = parts.port or (443 if secure else 80)
    query = [q for q in parts.query.split("&") if q and not q.startswith("since=")]
    if since is not None:
        query.append(f"since={int(since)}")
    target = (parts.path or "/") + (f"?{'&'.join(query)}" if query else "")
    secret = token.reveal() if isinstance(token, Secret) else token
    headers = [(b"Authorization", b"Bearer " + secret.encode())]
    with trio.fail_after(connect_timeout):
        stream: trio.abc.Stream
        if secure:
            stream = await trio.open_ssl_over_tcp_stream(
                parts.hostname, port, ssl_context=ssl_context or ssl.create_default_context()
            )
        else:
            stream = await trio.open_tcp_stream(parts.hostname, port)
    try:
        with trio.fail_after(connect_timeout):
            ws, pending = await _handshake(stream, url, parts.netloc, target, headers)
        events = EventStream(stream, ws, pending)
        try:
            yield events
        finally:
            await events.aclose()
    finally:
        await trio.aclose_forcefully(stream)


async def _handshake(
    stream: trio.abc.Stream,
    url: str,
    host: str,
    target: str,
    headers: list[tuple[bytes, bytes]],
) -> tuple[WSConnection, list[Event]]:
    ws = WSConnection(ConnectionType.CLIENT)
    try:
        await stream.send_all(ws.send(Request(host=host, target=target, extra_headers=headers)))
    except trio.BrokenResourceError as exc:
        raise OSError(f"{url}: the connection broke during the handshake: {exc}") from exc
    while True:
        try:
            data = await stream.receive_some(65536)
        except trio.BrokenResourceError as exc:
            # Reset by the server (one that was killed, say): as unreachable as a refusal.
            raise OSError(f"{url}: the connection broke during the handshake: {exc}") from exc
        if not data:
            raise OSError(f"{url}: the server closed the connection during the handshake")
        try:
            ws.receive_data(bytes(data))
            events = list(ws.events())
        except RemoteProtocolError as exc:
            raise OSError(f"{url}: not a WebSocket server: {exc}") from exc
        for index, event in enumerate(events):
            if isinstance(event, RejectConnection):
                raise EventStreamRejected(url, event.status_code)
            if isinstance(event, AcceptConnection):
                return ws, events[index + 1 :]


def connect_events(
    url: str,
    token: str | Secret,
    *,
    ssl_context: ssl.SSLContext | None = None,
    connect_timeout: float = 10.0,
) -> AbstractAsyncContextManager[EventStream]:
    """Deprecated: the old name of :func:`open_event_stream` (a context manager that opens)."""
    warnings.warn(
        "connect_events() is deprecated; use open_event_stream()", DeprecationWarning, stacklevel=2
    )
    return open_event_stream(url, token, ssl_context=ssl_context, connect_timeout=connect_timeout)
