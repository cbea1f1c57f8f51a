"""A local Gmail-API-compatible HTTP server, for tests and the demo.

It follows Google's public reference for the endpoints the Gmail API provider uses
(https://developers.google.com/gmail/api/reference/rest):

- ``POST /token``: the OAuth 2.0 token endpoint (refresh-token grant, RFC 6749 6);
- ``GET /gmail/v1/users/me/profile``: the address and the current ``historyId``;
- ``GET /gmail/v1/users/me/labels``: system labels (``INBOX``, ``SENT``...) and the
  user's own;
- ``GET /gmail/v1/users/me/messages?labelIds=&maxResults=&pageToken=``: ids, newest
  first, paged;
- ``GET /gmail/v1/users/me/messages/<id>?format=metadata&metadataHeaders=...``;
- ``GET /gmail/v1/users/me/history?startHistoryId=&historyTypes=&pageToken=``:
  ``messagesAdded``, ``messagesDeleted``, ``labelsAdded``, ``labelsRemoved`` records
  after a history id; 404 for a history id older than the history kept.

Errors have Google's JSON shape (``{"error": {"code", "message", "status", "errors":
[{"reason", "domain"}]}}``). History ids grow with every change; message ids are
16 hex digits, stable across labels. An access token lives ``token_lifetime``
seconds on Trio's clock, so MockClock tests can let hours pass.

Faults are scripted on :attr:`GmailTestServer.faults`: the next requests to a path
prefix answer 429 (with ``Retry-After``), 403 ``userRateLimitExceeded``, 500 or
401, are delayed, or have their connection dropped; :meth:`GmailMail.expire_history`
makes every older history id stale. The server counts requests by endpoint and the
connections it accepted (:class:`GmailServerStatistics`; also as JSON at
``GET /_statistics``, for a benchmark that runs the server in a process of its own).

It serves HTTP/1.1 with keep-alive over any Trio stream: loopback TCP
(:meth:`GmailTestServer.serve`) for tests of the real HTTP client, or in-memory
streams (:meth:`GmailTestServer.transport`, an ``httpx`` transport) for tests on
MockClock, where real sockets and a clock that jumps do not mix.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

import attrs
import h11
import httpx
import trio
import trio.testing

__all__ = [
    "GMAIL_SYSTEM_LABELS",
    "GmailFault",
    "GmailMail",
    "GmailServerStatistics",
    "GmailTestServer",
    "open_gmail_server",
]

#: System labels as the API names them (their id is their name).
GMAIL_SYSTEM_LABELS = (
    "INBOX",
    "SENT",
    "DRAFT",
    "TRASH",
    "SPAM",
    "STARRED",
    "IMPORTANT",
    "UNREAD",
    "CATEGORY_PERSONAL",
)
#: Most ids one ``messages.list`` page holds (the API's own cap is 500).
MAX_PAGE = 500
#: History records one ``history.list`` page holds.
HISTORY_PAGE = 100
MAX_REQUEST_HEAD = 64 * 1024
MAX_REQUEST_BODY = 64 * 1024


@attrs.define
class _Message:
    id: str
    thread_id: str
    labels: set[str]
    headers: list[tuple[str, str]]
    internal_date: int  # epoch milliseconds
    size: int


@attrs.define
class _User:
    address: str
    refresh_token: str
    messages: dict[str, _Message] = attrs.field(factory=dict)
    #: User labels: id -> name.
    labels: dict[str, str] = attrs.field(factory=dict)
    #: (history id, record), oldest first.
    history: list[tuple[int, dict[str, Any]]] = attrs.field(factory=list)
    #: History ids below this are no longer kept: asking from one gets 404.
    oldest: int = 0


class GmailMail:
    """The server's mailboxes: users, their labels, messages and history.

    Every change gets the next history id (one counter for the server, as ids only
    need to grow per user).
    """

    def __init__(self) -> None:
        self.users: dict[str, _User] = {}
        self._history_ids = itertools.count(1000)
        self._message_ids = itertools.count(0x18C0_0000_0000_0000 // 0x100, 7)
        self._label_ids = itertools.count(1)
        self.history_id = next(self._history_ids)

    def add_user(self, address: str, refresh_token: str) -> None:
        """A user whose refresh token is ``refresh_token`` (one per user, for the tests)."""
        self.users[address] = _User(address, refresh_token)

    def add_label(self, address: str, name: str) -> str:
        """A user label; returns its id (``Label_<n>``, as Gmail's look)."""
        label_id = f"Label_{next(self._label_ids)}"
        self.users[address].labels[label_id] = name
        return label_id

    def _record(
        self, user: _User, kind: str, message: _Message, labels: Sequence[str] = ()
    ) -> None:
        self.history_id = next(self._history_ids)
        entry: dict[str, Any] = {"message": _brief(message)}
        if labels:
            entry["labelIds"] = list(labels)
        user.history.append((self.history_id, {"id": str(self.history_id), kind: [entry]}))

    def deliver(
        self,
        address: str,
        *,
        labels: Sequence[str] = ("INBOX", "UNREAD"),
        subject: str = "hello",
        sender: str = "Sender <sender@example.com>",
        to: str | None = None,
        date: datetime | None = None,
        size: int = 1024,
    ) -> str:
        """A new message with these labels; returns its id."""
        user = self.users[address]
        message_id = f"{next(self._message_ids) * 0x100:016x}"
        when = date or datetime.now(UTC)
        headers = [
            ("From", sender),
            ("To", to or address),
            ("Subject", subject),
            ("Date", format_datetime(when)),
            ("Message-ID", f"<{message_id}@mail.test>"),
        ]
        message = _Message(
            message_id, message_id, set(labels), headers, int(when.timestamp() * 1000), size
        )
        user.messages[message_id] = message
        self._record(user, "messagesAdded", message)
        return message_id

    def delete(self, address: str, message_id: str) -> None:
        """Delete a message for good (not to TRASH)."""
        user = self.users[address]
        message = user.messages.pop(message_id)
        self._record(user, "messagesDeleted", message)

    def relabel(
        self, address: str, message_id: str, *, add: Sequence[str] = (), remove: Sequence[str] = ()
    ) -> None:
        """Add and remove labels (reading a message removes ``UNREAD``)."""
        user = self.users[address]
        message = user.messages[message_id]
        added = [label for label in add if label not in message.labels]
        removed = [label for label in remove if label in message.labels]
        message.labels |= set(added)
        message.labels -= set(removed)
        if added:
            self._record(user, "labelsAdded", message, added)
        if removed:
            self._record(user, "labelsRemoved", message, removed)

    def expire_history(self, address: str) -> None:
        """Forget the history so far: a client asking from an older id gets 404 (from the
        current one, what comes next)."""
        user = self.users[address]
        user.oldest = self.history_id
        user.history.clear()

    def labelled(self, address: str, label: str) -> list[str]:
        """Ids of the user's messages with ``label``, newest first."""
        messages = self.users[address].messages.values()
        return [
            m.id
            for m in sorted(messages, key=lambda m: (m.internal_date, m.id), reverse=True)
            if label in m.labels
        ]


def _brief(message: _Message) -> dict[str, Any]:
    return {"id": message.id, "threadId": message.thread_id, "labelIds": sorted(message.labels)}


@attrs.frozen
class GmailFault:
    """What the next matching request gets instead of its answer."""

    #: ``429``, ``403`` (userRateLimitExceeded), ``500``, ``401``, ``400`` (an argument
    #: refused: a page token the API no longer takes), ``drop`` (the connection closed
    #: without an answer), ``delay`` (answered ``delay`` s late).
    kind: Literal["429", "403", "500", "401", "400", "drop", "delay"]
    #: Requests whose path starts with this (after ``/gmail/v1/users/me``, or ``/token``).
    path: str = ""
    retry_after: float | None = None
    delay: float = 0.0


@attrs.define
class GmailServerStatistics:
    """Requests by endpoint (``history``, ``messages.get``...), and connections accepted."""

    requests: Counter[str] = attrs.field(factory=Counter)
    connections: int = 0
    tokens_issued: int = 0
    #: Requests refused with 401 because their token had expired (or was never issued).
    expired_tokens: int = 0


class GmailTestServer:
    """Serves :class:`GmailMail` over HTTP/1.1 (see the module's doc)."""

    def __init__(self, mail: GmailMail, *, token_lifetime: float = 3600.0) -> None:
        self.mail = mail
        self.token_lifetime = token_lifetime
        #: Scripted faults, taken in order by the first request each matches.
        self.faults: list[GmailFault] = []
        self.stats = GmailServerStatistics()
        # access token -> (user address, expiry on the Trio clock)
        self._tokens: dict[str, tuple[str, float]] = {}
        self._token_numbers = itertools.count(1)

    def statistics(self) -> GmailServerStatistics:
        """A copy of the counters."""
        return attrs.evolve(self.stats, requests=Counter(self.stats.requests))

    # ------------------------------------------------------------------ serving

    async def serve(self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve on 127.0.0.1 (an ephemeral port, given to ``task_status``) until cancelled."""
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        task_status.started(listeners[0].socket.getsockname()[1])
        await trio.serve_listeners(self.serve_stream, listeners)

    async def serve_stream(self, stream: trio.abc.Stream) -> None:
        """Answer HTTP/1.1 requests on one connection until the client closes it."""
        self.stats.connections += 1
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_REQUEST_HEAD)
        async with stream:
            while True:
                request, body = await _read_request(stream, conn)
                if request is None:
                    return
                status, headers, payload = await self._answer(request, body)
                if status == 0:
                    return  # a "drop" fault: closed without an answer
                data = json.dumps(payload).encode()
                response = h11.Response(
                    status_code=status,
                    headers=[
                        ("Content-Type", "application/json; charset=UTF-8"),
                        ("Content-Length", str(len(data))),
                        *headers,
                    ],
                )
                try:
                    await stream.send_all(
                        conn.send(response)
                        + conn.send(h11.Data(data=data))
                        + conn.send(h11.EndOfMessage())
                    )
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    return
                if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                    return
                conn.start_next_cycle()

    def transport(self, nursery: trio.Nursery) -> httpx.AsyncBaseTransport:
        """An ``httpx`` transport that reaches this server over in-memory streams (keep-alive
        included): for tests on MockClock. The server side runs in ``nursery``."""
        return _MemoryTransport(self, nursery)

    # ------------------------------------------------------------------ answers

    async def _answer(
        self, request: h11.Request, body: bytes
    ) -> tuple[int, list[tuple[str, str]], Any]:
        url = urlsplit(request.target.decode("ascii"))
        query = {k: v for k, v in parse_qs(url.query).items()}
        path = url.path
        prefix = "/gmail/v1/users/me"
        short = path[len(prefix) :] if path.startswith(prefix) else path
        for fault in self.faults:
            if short.startswith(fault.path):
                self.faults.remove(fault)
                answered = await self._fault(fault)
                if answered is not None:
                    return answered
                break
        method = request.method.decode("ascii")
        if path == "/_statistics" and method == "GET":
            # The testing server's own counters, for a benchmark that runs it in another
            # process (not a Gmail endpoint).
            stats = self.stats
            return (
                200,
                [],
                {
                    "requests": dict(stats.requests),
                    "connections": stats.connections,
                    "tokens_issued": stats.tokens_issued,
                    "expired_tokens": stats.expired_tokens,
                },
            )
        if path == "/token" and method == "POST":
            self.stats.requests["token"] += 1
            return self._token(body)
        if not path.startswith(prefix + "/"):
            return _error(404, "NOT_FOUND", "notFound", f"no such endpoint: {path}")
        user = self._user_of(request)
        if user is None:
            self.stats.expired_tokens += 1
            return _error(
                401,
                "UNAUTHENTICATED",
                "authError",
                "Request had invalid authentication credentials.",
                headers=[("WWW-Authenticate", 'Bearer realm="https://accounts.google.com/"')],
            )
        if method != "GET":
            return _error(405, "INVALID_ARGUMENT", "badRequest", "only GET is served here")
        parts = short.strip("/").split("/")
        if parts == ["profile"]:
            self.stats.requests["profile"] += 1
            return (
                200,
                [],
                {
                    "emailAddress": user.address,
                    "messagesTotal": len(user.messages),
                    "threadsTotal": len(user.messages),
                    "historyId": str(self.mail.history_id),
                },
            )
        if parts == ["labels"]:
            self.stats.requests["labels"] += 1
            labels = [{"id": n, "name": n, "type": "system"} for n in GMAIL_SYSTEM_LABELS]
            labels += [{"id": i, "name": n, "type": "user"} for i, n in user.labels.items()]
            return 200, [], {"labels": labels}
        if parts == ["messages"]:
            self.stats.requests["messages.list"] += 1
            return self._list(user, query)
        if len(parts) == 2 and parts[0] == "messages":
            self.stats.requests["messages.get"] += 1
            return self._get(user, parts[1], query)
        if parts == ["history"]:
            self.stats.requests["history"] += 1
            return self._history(user, query)
        return _error(404, "NOT_FOUND", "notFound", f"no such endpoint: {path}")

    async def _fault(self, fault: GmailFault) -> tuple[int, list[tuple[str, str]], Any] | None:
        if fault.kind == "delay":
            await trio.sleep(fault.delay)
            return None
        if fault.kind == "drop":
            return 0, [], None
        if fault.kind == "429":
            headers = (
                [] if fault.retry_after is None else [("Retry-After", f"{fault.retry_after:g}")]
            )
            return _error(
                429, "RESOURCE_EXHAUSTED", "rateLimitExceeded", "Too many requests", headers=headers
            )
        if fault.kind == "403":
            return _error(
                403,
                "PERMISSION_DENIED",
                "userRateLimitExceeded",
                "User-rate limit exceeded",
                domain="usageLimits",
            )
        if fault.kind == "500":
            return _error(500, "INTERNAL", "backendError", "Backend Error")
        if fault.kind == "400":
            return _error(400, "INVALID_ARGUMENT", "invalidArgument", "Invalid pageToken")
        return _error(401, "UNAUTHENTICATED", "authError", "Invalid Credentials")

    def _token(self, body: bytes) -> tuple[int, list[tuple[str, str]], Any]:
        form = {k: v[0] for k, v in parse_qs(body.decode("ascii", "replace")).items()}
        if form.get("grant_type") != "refresh_token":
            return 400, [], {"error": "unsupported_grant_type"}
        for user in self.mail.users.values():
            if form.get("refresh_token") == user.refresh_token:
                token = f"ya29.test-{next(self._token_numbers)}"
                self._tokens[token] = (user.address, trio.current_time() + self.token_lifetime)
                self.stats.tokens_issued += 1
                return (
                    200,
                    [],
                    {
                        "access_token": token,
                        "expires_in": int(self.token_lifetime),
                        "token_type": "Bearer",
                        "scope": "https://www.googleapis.com/auth/gmail.readonly",
                    },
                )
        return (
            400,
            [],
            {"error": "invalid_grant", "error_description": "Token has been expired or revoked."},
        )

    def _user_of(self, request: h11.Request) -> _User | None:
        for name, value in request.headers:
            if name == b"authorization" and value.startswith(b"Bearer "):
                held = self._tokens.get(value[7:].decode("ascii", "replace"))
                if held is not None and trio.current_time() < held[1]:
                    return self.mail.users.get(held[0])
        return None

    def _list(
        self, user: _User, query: Mapping[str, list[str]]
    ) -> tuple[int, list[tuple[str, str]], Any]:
        labels = query.get("labelIds", [])
        ordered = sorted(
            (m for m in user.messages.values() if all(label in m.labels for label in labels)),
            key=lambda m: (m.internal_date, m.id),
            reverse=True,
        )
        token = query.get("pageToken", [""])[0]
        if token:
            # A cursor, as Google's tokens behave: the page after the last message given,
            # whatever was delivered or deleted since.
            try:
                after_date, after_id = token.split(":")
                after = (int(after_date), after_id)
            except ValueError:
                return _error(400, "INVALID_ARGUMENT", "invalidArgument", "Invalid pageToken")
            ordered = [m for m in ordered if (m.internal_date, m.id) < after]
        size = min(int(query.get("maxResults", ["100"])[0]), MAX_PAGE)
        page = ordered[:size]
        answer: dict[str, Any] = {"resultSizeEstimate": len(page)}
        if page:
            answer["messages"] = [{"id": m.id, "threadId": m.thread_id} for m in page]
        if len(ordered) > size:
            last = page[-1]
            answer["nextPageToken"] = f"{last.internal_date}:{last.id}"
        return 200, [], answer

    def _get(
        self, user: _User, message_id: str, query: Mapping[str, list[str]]
    ) -> tuple[int, list[tuple[str, str]], Any]:
        message = user.messages.get(message_id)
        if message is None:
            return _error(404, "NOT_FOUND", "notFound", "Requested entity was not found.")
        wanted = {h.lower() for h in query.get("metadataHeaders", [])}
        headers = [
            {"name": n, "value": v} for n, v in message.headers if not wanted or n.lower() in wanted
        ]
        return (
            200,
            [],
            {
                "id": message.id,
                "threadId": message.thread_id,
                "labelIds": sorted(message.labels),
                "snippet": "",
                "historyId": str(self.mail.history_id),
                "internalDate": str(message.internal_date),
                "sizeEstimate": message.size,
                "payload": {"mimeType": "text/plain", "headers": headers},
            },
        )

    def _history(
        self, user: _User, query: Mapping[str, list[str]]
    ) -> tuple[int, list[tuple[str, str]], Any]:
        try:
            start = int(query["startHistoryId"][0])
        except (KeyError, ValueError):
            return _error(400, "INVALID_ARGUMENT", "invalidArgument", "startHistoryId is required")
        if start < user.oldest:
            return _error(404, "NOT_FOUND", "notFound", "Requested entity was not found.")
        types = set(query.get("historyTypes", []))
        records = [
            record
            for hid, record in user.history
            if hid > start
            and (not types or any(_TYPE_KEYS[t] in record for t in types if t in _TYPE_KEYS))
        ]
        offset = int(query.get("pageToken", ["0"])[0] or 0)
        page = records[offset : offset + HISTORY_PAGE]
        answer: dict[str, Any] = {"historyId": str(self.mail.history_id)}
        if page:
            answer["history"] = page
        if offset + HISTORY_PAGE < len(records):
            answer["nextPageToken"] = str(offset + HISTORY_PAGE)
        return 200, [], answer


_TYPE_KEYS = {
    "messageAdded": "messagesAdded",
    "messageDeleted": "messagesDeleted",
    "labelAdded": "labelsAdded",
    "labelRemoved": "labelsRemoved",
}


def _error(
    code: int,
    status: str,
    reason: str,
    message: str,
    *,
    domain: str = "global",
    headers: list[tuple[str, str]] | None = None,
) -> tuple[int, list[tuple[str, str]], Any]:
    return (
        code,
        headers or [],
        {
            "error": {
                "code": code,
                "message": message,
                "status": status,
                "errors": [{"message": message, "domain": domain, "reason": reason}],
            }
        },
    )


async def _read_request(
    stream: trio.abc.Stream, conn: h11.Connection
) -> tuple[h11.Request | None, bytes]:
    """The next request and its body; ``(None, b"")`` when the client is done."""
    request: h11.Request | None = None
    body = bytearray()
    while True:
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError:
            return None, b""
        if event is h11.NEED_DATA:
            try:
                data = await stream.receive_some(65536)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return None, b""
            conn.receive_data(bytes(data))
            continue
        if isinstance(event, h11.Request):
            request = event
        elif isinstance(event, h11.Data):
            body += event.data
            if len(body) > MAX_REQUEST_BODY:
                return None, b""
        elif isinstance(event, h11.EndOfMessage):
            return request, bytes(body)
        else:  # ConnectionClosed, PAUSED
            return None, b""


class _MemoryConnection:
    """One client connection over a memory stream: requests one after another."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self.conn = h11.Connection(h11.CLIENT)

    async def exchange(self, request: httpx.Request) -> tuple[h11.Response, bytes]:
        body = await request.aread()
        headers = [(k, v) for k, v in request.headers.raw if k.lower() != b"transfer-encoding"]
        if not any(k.lower() == b"content-length" for k, _ in headers) and body:
            headers.append((b"Content-Length", str(len(body)).encode()))
        target = request.url.raw_path
        data = self.conn.send(h11.Request(method=request.method, target=target, headers=headers))
        if body:
            data += self.conn.send(h11.Data(data=body))
        data += self.conn.send(h11.EndOfMessage())
        await self.stream.send_all(data)
        response: h11.Response | None = None
        content = bytearray()
        while True:
            event = self.conn.next_event()
            if event is h11.NEED_DATA:
                chunk = await self.stream.receive_some(65536)
                if not chunk:
                    raise httpx.RemoteProtocolError(
                        "the server closed the connection", request=request
                    )
                self.conn.receive_data(bytes(chunk))
            elif isinstance(event, h11.Response):
                response = event
            elif isinstance(event, h11.Data):
                content += event.data
            elif isinstance(event, h11.EndOfMessage):
                assert response is not None
                return response, bytes(content)
            else:
                raise httpx.RemoteProtocolError("the server closed the connection", request=request)


class _MemoryTransport(httpx.AsyncBaseTransport):
    """Reaches a :class:`GmailTestServer` over in-memory streams, keeping connections."""

    def __init__(self, server: GmailTestServer, nursery: trio.Nursery) -> None:
        self._server = server
        self._nursery = nursery
        self._idle: list[_MemoryConnection] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._idle:
            connection = self._idle.pop()
        else:
            client, server = trio.testing.memory_stream_pair()
            self._nursery.start_soon(self._server.serve_stream, server)
            connection = _MemoryConnection(client)
        try:
            response, content = await connection.exchange(request)
        except BaseException:
            await trio.aclose_forcefully(connection.stream)
            raise
        if connection.conn.our_state is h11.DONE and connection.conn.their_state is h11.DONE:
            connection.conn.start_next_cycle()
            self._idle.append(connection)
        else:
            await trio.aclose_forcefully(connection.stream)
        return httpx.Response(
            status_code=response.status_code,
            headers=[(bytes(k), bytes(v)) for k, v in response.headers],
            content=content,
            request=request,
        )

    async def aclose(self) -> None:
        for connection in self._idle:
            await trio.aclose_forcefully(connection.stream)
        self._idle.clear()


@asynccontextmanager
async def open_gmail_server(
    mail: GmailMail, **settings: Any
) -> AsyncIterator[tuple[GmailTestServer, str]]:
    """The server on a loopback port for the block: ``(server, base_url)``."""
    server = GmailTestServer(mail, **settings)
    async with trio.open_nursery() as nursery:
        port = await nursery.start(server.serve)
        yield server, f"http://127.0.0.1:{port}"
        nursery.cancel_scope.cancel()
