"""The WebSocket broadcaster: service events as JSON, to clients holding the token.

Each client gets a hello (the accounts and their states, and the id of the last
logged event), then, if it asked with ``since=<id>`` (in the URL, or in a first
message ``{"since": <id>}`` sent within ``resume_wait``), every logged event
after that id, then every event as it is published. A client's live events wait
in its own bounded queue; a client that falls ``queue_size`` events behind is
moved back to reading the log (the service's ``EventHub``), so a slow client
never holds up the others or the sync, and still misses no logged event. The
queue holds at least ``EVENTS_PER_ACCOUNT`` per account: when the service
starts, every account publishes its state changes at once.

A client shows the token as ``Authorization: Bearer <token>`` or as
``?token=<token>`` in the URL (browsers cannot set headers on a WebSocket).

Connections are accepted with trio-websocket's ``wrap_server_stream`` rather
than ``serve_websocket`` because dropping a client that stopped reading in
the middle of a frame means closing its TCP stream: no close frame can
follow half a frame; and because the same port answers plain HTTP requests
(the dashboard, ``/healthz``, ``/metrics``, the JSON API: ``sinks/web.py``): the
request head is read first, and only an upgrade goes on to trio-websocket.

With ``[broadcast] cert_file`` and ``key_file`` the port speaks TLS (``wss://``,
``https://``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import resource
import ssl
from collections import OrderedDict
from typing import NoReturn
from urllib.parse import parse_qs, urlsplit

import attrs
import h11
import trio
from trio_websocket import ConnectionClosed as WebSocketClosed
from trio_websocket import WebSocketConnection, WebSocketRequest, wrap_server_stream
from wsproto.frame_protocol import FrameProtocol

from trio_mailsync.core.config import BroadcastSettings
from trio_mailsync.core.events import LoggedEvent, ServiceEvent, to_json
from trio_mailsync.core.ports import EventSource, ServiceControl
from trio_mailsync.secret import Secret
from trio_mailsync.sinks.http import (
    MAX_HEAD,
    HttpRequest,
    HttpResponse,
    ReplayStream,
    is_websocket_upgrade,
    read_head,
    refuse,
    serve_http,
    text_response,
)
from trio_mailsync.sinks.web import OperatorEndpoints, shows_token

__all__ = [
    "Broadcaster",
    "BroadcasterStatistics",
    "WebSocketSink",
    "open_listeners",
    "serve_broadcaster",
]

logger = logging.getLogger(__name__)

#: A client's queue holds at least this many events per account (the startup burst:
#: connecting, syncing, idle and a sync result).
EVENTS_PER_ACCOUNT = 4
CLOSE_GOING_AWAY = 1001
#: Seconds a closing handshake may take before the connection is just dropped.
DISCONNECT_TIMEOUT = 5.0
#: Seconds a stopping service spends writing a client its close frame.
CLOSE_FRAME_TIMEOUT = 1.0
#: Seconds from TCP accept to a complete HTTP upgrade request.
HANDSHAKE_TIMEOUT = 10.0
#: Clients say at most where to resume from; this bounds what they could make us buffer.
MAX_CLIENT_MESSAGE = 4096
#: Seconds a plain HTTP connection (kept alive) is served at most.
HTTP_CONNECTION_TIMEOUT = 300.0


@attrs.define
class BroadcasterStatistics:
    """Clients now, accepted, rejected and dropped; messages sent."""

    clients: int = 0
    accepted: int = 0
    rejected: int = 0
    #: Clients that asked to resume (``since``).
    resumed: int = 0
    #: Clients dropped because they closed without a word or stopped answering pings.
    dropped_gone: int = 0
    #: Connections closed on accept: too many in their handshake, or too many clients.
    refused: int = 0
    #: Connections in their handshake now (or answering plain HTTP requests).
    pending: int = 0
    messages: int = 0
    #: Plain HTTP connections (dashboard, API, metrics) served.
    http_connections: int = 0


class _JsonCache:
    """Each logged event's JSON, made once for every client (the most recent ``size``).

    A thousand clients, or a slow one replaying, must not each serialise a large event
    in the event loop. Ephemeral events are small and mostly per client (hellos): made
    each time.
    """

    def __init__(self, size: int = 1024) -> None:
        self._size = size
        self._texts: OrderedDict[int, str] = OrderedDict()
        #: Logged events serialised (for tests: once each, however many clients).
        self.made = 0

    def __call__(self, event: ServiceEvent) -> str:
        if not isinstance(event, LoggedEvent):
            return to_json(event)
        text = self._texts.get(event.id)
        if text is None:
            text = self._texts[event.id] = to_json(event)
            self.made += 1
            if len(self._texts) > self._size:
                self._texts.popitem(last=False)
        return text


class Broadcaster:
    """Serves one event source's events; :func:`serve_broadcaster` runs it."""

    def __init__(
        self,
        source: EventSource,
        settings: BroadcastSettings,
        token: Secret,
        *,
        descriptor_reserve: int = 0,
        control: ServiceControl | None = None,
    ) -> None:
        self.source = source
        self.settings = settings
        self.token = token
        self._token = token.reveal().encode()
        self.port = settings.port
        self.stats = BroadcasterStatistics()
        #: The caps in force: the settings', shrunk to what the descriptor limit allows.
        self.max_pending, self.max_clients = _caps(settings, descriptor_reserve)
        self._pending = 0
        self._json = _JsonCache()
        #: Plain HTTP requests' answers; without a ``control``, only WebSockets are served.
        self.endpoints = (
            None
            if control is None
            else OperatorEndpoints(
                control,
                self._token,
                open_endpoints=frozenset(settings.open_endpoints),
                broadcast_statistics=lambda: attrs.asdict(self.statistics()),
            )
        )

    @property
    def url(self) -> str:
        """Where clients connect (``ws://host:port/``, ``wss://`` with TLS)."""
        return f"{'wss' if self.settings.cert_file else 'ws'}://{self._where}/"

    @property
    def http_url(self) -> str:
        """Where the dashboard is (``http://host:port/``, ``https://`` with TLS)."""
        return f"{'https' if self.settings.cert_file else 'http'}://{self._where}/"

    @property
    def _where(self) -> str:
        host = self.settings.host
        host = f"[{host}]" if ":" in host else host
        return f"{host}:{self.port}"

    @property
    def queue_size(self) -> int:
        """Live events queued for a client before it is moved back to reading the log."""
        accounts = self.source.account_count
        return max(self.settings.queue_size, EVENTS_PER_ACCOUNT * accounts)

    def statistics(self) -> BroadcasterStatistics:
        """A copy of the counters."""
        return attrs.evolve(self.stats, pending=self._pending)

    def _authorized(self, request: WebSocketRequest) -> bool:
        query = parse_qs(urlsplit(request.path).query)
        return shows_token(request.headers, query, self._token)

    def _origin_allowed(self, request: WebSocketRequest) -> bool:
        if not self.settings.allowed_origins:
            return True
        origins = [v.decode("latin-1") for n, v in request.headers if n.lower() == b"origin"]
        return all(o in self.settings.allowed_origins for o in origins)

    async def serve_connection(self, stream: trio.abc.Stream) -> None:
        """One client, from the HTTP upgrade to the close."""
        try:
            if self._pending >= self.max_pending or self.stats.clients >= self.max_clients:
                # Closed on accept: a flood of sockets costs one descriptor each for a moment.
                self.stats.refused += 1
                return
            async with trio.open_nursery() as nursery:
                request = None
                self._pending += 1
                try:
                    # The request head, and for a WebSocket the whole handshake, within
                    # HANDSHAKE_TIMEOUT; a plain HTTP connection then has its own bound.
                    deadline = trio.current_time() + HANDSHAKE_TIMEOUT
                    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
                    with trio.move_on_at(deadline) as reading:
                        try:
                            head, seen = await read_head(stream, conn)
                        except h11.RemoteProtocolError as exc:
                            await refuse(stream, conn, exc)
                            return
                        except (EOFError, trio.BrokenResourceError, ssl.SSLError):
                            return  # gone, or a TLS handshake that failed
                    if reading.cancelled_caught:
                        return
                    if not is_websocket_upgrade(head):
                        # The pending slot is kept while the connection is served:
                        # plain HTTP connections are counted like handshakes.
                        self.stats.http_connections += 1
                        await self._serve_http(stream, conn, head)
                        return
                    with trio.move_on_at(deadline):
                        request = await wrap_server_stream(
                            nursery,
                            ReplayStream(stream, seen),
                            max_message_size=MAX_CLIENT_MESSAGE,
                        )
                finally:
                    self._pending -= 1
                if request is not None:
                    await self.handle(request, stream)
                nursery.cancel_scope.cancel()  # the connection's reader task
        finally:
            await trio.aclose_forcefully(stream)

    async def _serve_http(
        self, stream: trio.abc.Stream, conn: h11.Connection, head: h11.Request
    ) -> None:
        async def websocket_only(request: HttpRequest) -> HttpResponse:
            return text_response(426, "this port serves WebSocket clients only")

        with trio.move_on_after(HTTP_CONNECTION_TIMEOUT):
            await serve_http(stream, conn, head, self.endpoints or websocket_only)

    async def _alive(self, ws: WebSocketConnection) -> bool:
        """Wait until the client is gone; ``False`` then (this never returns ``True``).

        Clients have nothing to say, so whatever they send is read and ignored; a closed
        connection ends the read at once. A client quiet for ``ping_interval`` is pinged,
        and one that does not answer within ``ping_timeout`` is taken for gone.
        """
        settings = self.settings
        try:
            while True:
                with trio.move_on_after(settings.ping_interval):
                    await ws.get_message()
                    continue
                with trio.move_on_after(settings.ping_timeout) as waited:
                    await ws.ping()
                if waited.cancelled_caught:
                    return False
        except WebSocketClosed:
            return False

    async def handle(self, request: WebSocketRequest, stream: trio.abc.Stream) -> None:
        """One upgrade request: refused (origin, token), or served until the client goes."""
        peer = f"{request.remote}"
        if not self._origin_allowed(request):
            self.stats.rejected += 1
            logger.info("broadcaster: %s: origin not allowed", peer)
            await request.reject(403, body=b"origin not allowed\n")
            return
        if not self._authorized(request):
            self.stats.rejected += 1
            logger.info("broadcaster: %s: missing or wrong token", peer)
            await request.reject(
                401,
                extra_headers=[(b"WWW-Authenticate", b'Bearer realm="trio-mailsync"')],
                body=b"a token is needed\n",
            )
            return
        since, problem = _since(request)
        if problem is not None:
            self.stats.rejected += 1
            await request.reject(400, body=problem.encode() + b"\n")
            return
        ws = await request.accept()
        self.stats.accepted += 1
        self.stats.clients += 1
        sending = False
        gone = closed = False
        try:
            with contextlib.ExitStack() as stack, trio.CancelScope() as scope:
                subscription = stack.enter_context(
                    self.source.subscribe(self.queue_size, since=since)
                )
                try:
                    async with trio.open_nursery() as watching:
                        sending = True
                        await ws.send_message(self._json(await anext(subscription)))  # hello
                        self.stats.messages += 1
                        sending = False
                        if since is None and self.settings.resume_wait > 0:
                            since = await self._first_message(ws)
                            if since is not None:
                                # The client has events up to ``since``: from there instead.
                                stack.close()
                                subscription = stack.enter_context(
                                    self.source.subscribe(self.queue_size, since=since)
                                )
                                await anext(subscription)  # its hello: the client has one
                        if since is not None:
                            self.stats.resumed += 1

                        async def watch_client() -> None:
                            # A vanished client is noticed now, not at the next event
                            # (a sweep interval away on a quiet mailbox).
                            nonlocal gone
                            if not await self._alive(ws):
                                gone = True
                                scope.cancel()

                        watching.start_soon(watch_client)
                        async for event in subscription:
                            sending = True
                            await ws.send_message(self._json(event))
                            self.stats.messages += 1
                            sending = False
                        watching.cancel_scope.cancel()
                except* WebSocketClosed:
                    closed = True  # the client closed first: nothing more to say
                except* trio.Cancelled:
                    # Stopped from outside (Ctrl-C, SIGTERM): the connection's reader is
                    # cancelled too, so no closing handshake can complete; the close frame
                    # still tells the client why, unless we stopped in the middle of a frame.
                    if not sending and not scope.cancel_called:
                        await _say_going_away(stream)
                    raise
            if closed:
                return
            if gone:
                self.stats.dropped_gone += 1
                logger.info("broadcaster: %s: gone (closed or not answering pings)", peer)
                await trio.aclose_forcefully(stream)
                return
            with trio.move_on_after(DISCONNECT_TIMEOUT):
                await ws.aclose(CLOSE_GOING_AWAY, "the service is stopping")
        finally:
            self.stats.clients -= 1

    async def _first_message(self, ws: WebSocketConnection) -> int | None:
        """The ``since`` of a first client message ``{"since": <id>}``, if one comes in time.

        Any other first message is ignored, as clients' messages are.
        """
        with trio.move_on_after(self.settings.resume_wait):
            try:
                message = await ws.get_message()
            except WebSocketClosed:
                return None  # gone: the watch that follows finds it so
            with contextlib.suppress(ValueError, AttributeError):
                since = json.loads(message).get("since")
                if isinstance(since, int) and not isinstance(since, bool) and since >= 0:
                    return since
        return None


def _since(request: WebSocketRequest) -> tuple[int | None, str | None]:
    """The ``since`` query parameter: (the id or ``None``, the problem with it or ``None``)."""
    values = parse_qs(urlsplit(request.path).query).get("since", [])
    if not values:
        return None, None
    value = values[-1]
    if not value.isascii() or not value.isdigit() or len(value) > 19:
        return None, "since must be an event id (a number from 0)"
    return int(value), None


#: The close frame of a stopping service (server to client: not masked), made once.
_GOING_AWAY = FrameProtocol(client=False, extensions=[]).close(
    CLOSE_GOING_AWAY, "the service is stopping"
)


async def _say_going_away(stream: trio.abc.Stream) -> None:
    """Write the going-away close frame, shielded from the cancellation and bounded."""
    with trio.CancelScope(shield=True) as scope:
        scope.deadline = trio.current_time() + CLOSE_FRAME_TIMEOUT
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            await stream.send_all(_GOING_AWAY)


def _caps(settings: BroadcastSettings, reserve: int) -> tuple[int, int]:
    """(pending, clients) caps that leave ``reserve`` descriptors to the rest of the service.

    IMAP connections must never find the descriptors taken by WebSocket sockets: after a
    mail server restarts, every account reconnects at once.
    """
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    pending, clients = settings.max_pending, settings.max_clients
    if soft != resource.RLIM_INFINITY:
        allowed = max(2, soft - reserve)
        if pending + clients > allowed:
            pending = max(1, min(pending, allowed // 8))
            clients = max(1, allowed - pending)
            logger.warning(
                "broadcaster: %d descriptors (RLIMIT_NOFILE), %d kept for the accounts: at "
                "most %d clients and %d handshakes",
                soft,
                reserve,
                clients,
                pending,
            )
    logger.info("broadcaster: at most %d clients and %d handshakes at once", clients, pending)
    return pending, clients


async def open_listeners(settings: BroadcastSettings) -> list[trio.SocketListener]:
    """Bind the broadcaster's address; ``OSError`` says which address could not be had.

    Bound before the service starts (``app.serve``), so that a port in use is one
    plain error before any account has logged in.
    """
    try:
        return await trio.open_tcp_listeners(settings.port, host=settings.host)
    except OSError as exc:
        where = f"{settings.host}:{settings.port}"
        raise OSError(exc.errno, f"cannot listen on {where}: {exc.strerror}") from None


async def serve_broadcaster(
    source: EventSource,
    settings: BroadcastSettings,
    *,
    listeners: list[trio.SocketListener] | None = None,
    descriptor_reserve: int = 0,
    control: ServiceControl | None = None,
    task_status: trio.TaskStatus[Broadcaster] = trio.TASK_STATUS_IGNORED,
) -> NoReturn:
    """Serve ``source``'s events over WebSocket until cancelled.

    With ``control`` (the service), the same port serves the dashboard, the JSON
    API, ``/healthz`` and ``/metrics`` (:mod:`~trio_mailsync.sinks.web`).

    ``listeners`` already bound (:func:`open_listeners`), or bound here.
    ``descriptor_reserve`` file descriptors are left to the rest of the process.
    ``task_status.started`` gets the :class:`Broadcaster` (its ``port`` is the
    bound one when ``settings.port`` is 0).
    """
    if settings.token is None or not settings.token.reveal():
        raise ValueError("the broadcaster needs a token ([broadcast] token or token_env)")
    broadcaster = Broadcaster(
        source, settings, settings.token, descriptor_reserve=descriptor_reserve, control=control
    )
    if listeners is None:
        listeners = await open_listeners(settings)
    broadcaster.port = listeners[0].socket.getsockname()[1]
    logger.info("broadcaster: listening on %s", broadcaster.url)
    served: list[trio.abc.Listener[trio.abc.Stream]] = list(listeners)
    if settings.cert_file is not None:
        context = tls_context(settings)
        served = [trio.SSLListener(lst, context, https_compatible=True) for lst in listeners]
    task_status.started(broadcaster)
    await trio.serve_listeners(broadcaster.serve_connection, served)


def tls_context(settings: BroadcastSettings) -> ssl.SSLContext:
    """The server context for ``wss://``: ``cert_file`` (with its chain) and ``key_file``."""
    assert settings.cert_file is not None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(settings.cert_file, settings.key_file)
    return context


@attrs.frozen
class WebSocketSink:
    """The broadcaster as an ``EventSink``: ``run(source)`` serves it with these settings."""

    settings: BroadcastSettings
    #: Already bound (:func:`open_listeners`); ``None``: bound when run.
    listeners: list[trio.SocketListener] | None = None
    #: File descriptors the broadcaster leaves to the rest of the process.
    descriptor_reserve: int = 0
    #: The service, for the dashboard and the API on the same port; ``None``: none.
    control: ServiceControl | None = None

    async def run(
        self,
        source: EventSource,
        *,
        task_status: trio.TaskStatus[Broadcaster] = trio.TASK_STATUS_IGNORED,
    ) -> NoReturn:
        """Serve ``source``'s events until cancelled; ``task_status`` gets the Broadcaster."""
        await serve_broadcaster(
            source,
            self.settings,
            listeners=self.listeners,
            descriptor_reserve=self.descriptor_reserve,
            control=self.control,
            task_status=task_status,
        )
