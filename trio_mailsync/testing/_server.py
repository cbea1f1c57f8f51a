"""A small, scriptable IMAP server on Trio streams, for tests.

It implements what trio-mailsync uses (and a little more) against a
:class:`MailStore`: LOGIN, AUTHENTICATE PLAIN/XOAUTH2, ENABLE, LIST (with
SPECIAL-USE and LIST-STATUS), STATUS, SELECT/EXAMINE with CONDSTORE, UID
SEARCH (with ESEARCH), UID FETCH (with CHANGEDSINCE/VANISHED), UID STORE,
EXPUNGE, APPEND, CREATE, DELETE, IDLE, NOOP, LOGOUT. :class:`Behavior`
changes what it advertises and how it answers; its ``on_command`` hook can
delay, drop, stall, or answer anything at all.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import email
import email.policy
import email.utils
import json
import re
import ssl
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Literal

import attrs
import trio

from ._store import Folder, MailStore, StoredMessage, User
from ._wire import (
    CommandSyntaxError,
    Value,
    decode_mailbox,
    encode_mailbox,
    format_date_time,
    format_sequence_set,
    in_sequence_set,
    parse_command,
    parse_date_time,
    parse_sequence_set,
    tag_of,
)

__all__ = ["Behavior", "CommandInfo", "IMAPTestServer", "ServerStatistics", "Session"]

DEFAULT_CAPABILITIES = (
    "IMAP4rev1",
    "LITERAL+",
    "SASL-IR",
    "IDLE",
    "ENABLE",
    "CONDSTORE",
    "UIDPLUS",
    "UNSELECT",
    "SPECIAL-USE",
    "LIST-STATUS",
    "ESEARCH",
    "AUTH=PLAIN",
    "AUTH=XOAUTH2",
)
_LITERAL = re.compile(rb"\{(\d+)(\+?)\}\Z")
_MAX_LINE = 1 << 20


@attrs.frozen
class CommandInfo:
    """A command as the server read it, for ``Behavior.on_command``."""

    tag: str
    name: str
    args: list[Value]
    number: int  #: how many commands this session has read, this one included


Hook = Callable[["Session", CommandInfo], Awaitable[bool]]


@attrs.define
class Behavior:
    """How the server presents itself and answers. Change it while tests run."""

    capabilities: tuple[str, ...] = DEFAULT_CAPABILITIES
    #: Replaces the greeting line (without CRLF), e.g. b"* BYE Too many connections".
    greeting: bytes | None = None
    #: Seconds to wait before answering a command, by command name ("LOGIN", "UID FETCH").
    delays: dict[str, float] = attrs.field(factory=dict)
    #: Sessions allowed at once per user; beyond it LOGIN answers [UNAVAILABLE].
    max_connections_per_user: int | None = None
    #: Called before each command; return True when it answered the command itself.
    on_command: Hook | None = None
    #: Server TLS context offered by STARTTLS (when STARTTLS is in capabilities).
    starttls_context: ssl.SSLContext | None = None
    #: Message ids (``Message-ID`` headers, as written) whose ENVELOPE is sent broken: an
    #: unbalanced quote inside it, as servers mangle odd headers (the response stays
    #: framed: it is the content that cannot be read).
    broken_envelopes: set[str] = attrs.field(factory=set)
    #: How those ENVELOPEs are broken: ``"quote"``, an unbalanced quote (the response is
    #: framed but cannot be read at all), or ``"shape"``, balanced but with a string where
    #: an address list belongs (read, and refused when the envelope is looked at).
    broken_envelope_form: Literal["quote", "shape"] = "quote"
    #: The same, for every FETCH answer about the message (the fallback fails too).
    broken_fetches: set[str] = attrs.field(factory=set)


@attrs.define
class ServerStatistics:
    """What the server saw: connections, logins, commands by name, commands it could not read."""

    connections: int = 0
    logins: int = 0
    login_failures: int = 0
    commands: dict[str, int] = attrs.field(factory=dict)
    open_sessions: int = 0
    #: Commands outside the grammar (answered BAD): a bug in the client that sent them.
    syntax_errors: int = 0


class SessionClosed(Exception):
    """The client went away, or a hook dropped the connection."""


class IMAPTestServer:
    """Serves a :class:`MailStore` over TCP on loopback or over in-memory streams."""

    def __init__(self, store: MailStore | None = None, behavior: Behavior | None = None) -> None:
        self.store = store if store is not None else MailStore()
        self.behavior = behavior if behavior is not None else Behavior()
        self.stats = ServerStatistics()
        self.sessions: set[Session] = set()

    def statistics(self) -> ServerStatistics:
        """A copy of the counters."""
        return attrs.evolve(self.stats, commands=dict(self.stats.commands))

    async def handle(self, stream: trio.abc.Stream) -> None:
        """Serve one connection until it ends."""
        session = Session(self, stream)
        self.sessions.add(session)
        self.stats.connections += 1
        self.stats.open_sessions += 1
        try:
            await session.run()
        finally:
            self.sessions.discard(session)
            self.stats.open_sessions -= 1
            await trio.aclose_forcefully(session.stream)

    async def serve_tcp(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
        task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Listen on ``host:port`` (0: any free port, reported by ``task_status``)."""

        async def handler(stream: trio.SocketStream) -> None:
            inner: trio.abc.Stream = stream
            if ssl_context is not None:
                inner = trio.SSLStream(stream, ssl_context, server_side=True)
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                await self.handle(inner)

        listeners = await trio.open_tcp_listeners(port, host=host)
        task_status.started(listeners[0].socket.getsockname()[1])
        await trio.serve_listeners(handler, listeners)

    def connector(
        self, nursery: trio.Nursery, ssl_context: ssl.SSLContext | None = None
    ) -> Callable[[], Awaitable[trio.abc.Stream]]:
        """A function that opens an in-memory connection to this server.

        The server side runs in ``nursery``; ``ssl_context`` (server side) makes
        it implicit TLS.
        """

        async def connect() -> trio.abc.Stream:
            client, server = trio.testing.memory_stream_pair()
            inner: trio.abc.Stream = server
            if ssl_context is not None:
                inner = trio.SSLStream(server, ssl_context, server_side=True)

            async def serve() -> None:
                with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                    await self.handle(inner)

            nursery.start_soon(serve)
            return client

        return connect


class Session:
    """One client connection."""

    def __init__(self, server: IMAPTestServer, stream: trio.abc.Stream) -> None:
        self.server = server
        self.stream = stream
        self.store = server.store
        self.behavior = server.behavior
        self.user: User | None = None
        self.folder: Folder | None = None
        self.readonly = False
        self.condstore = False
        self.view: list[int] = []
        #: The selected folder's UIDNEXT and HIGHESTMODSEQ as this session last saw them.
        self.seen_uidnext = self.seen_highestmodseq = 0
        self.seen_modseq: dict[int, int] = {}
        #: NOTIFY (RFC 5465, the part the watcher uses): report other folders' changes
        #: as STATUS (``notify_status``) and folders created or deleted as LIST
        #: (``notify_names``); what was last reported of each folder.
        self.notify_status = False
        self.notify_names = False
        self.notified: dict[str, tuple[int, int, int]] = {}
        self.commands = 0
        self._buf = bytearray()
        self._closed = False
        #: Answers not yet written: while pipelined commands are answered, they go out
        #: together, as a real server's corked output does (one TLS record, one wake-up
        #: of the client, not one per line).
        self._out = bytearray()
        self._corked = False
        # IDLE's updates are written by a task of their own, beside the session's.
        self._writing = trio.StrictFIFOLock()

    # ------------------------------------------------------------ I/O

    async def send_raw(self, data: bytes) -> None:
        """Send bytes as they are (hooks use this to answer oddly), after what is pending."""
        self._out += data
        await self.flush()

    async def send(self, line: bytes) -> None:
        """Send one line (CRLF added); held back while pipelined commands are answered."""
        self._out += line + b"\r\n"
        if not self._corked:
            await self.flush()

    async def flush(self) -> None:
        """Write what is held back."""
        if self._out:
            async with self._writing:
                data = bytes(self._out)
                self._out.clear()
                if data:
                    await self.stream.send_all(data)

    async def drop(self) -> None:
        """Close the connection without a word (from a hook: it ends the session)."""
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            await self.flush()
        await self.close()
        raise SessionClosed

    async def close(self) -> None:
        """Close the connection without a word, from outside the session (a test's body)."""
        self._closed = True
        await trio.aclose_forcefully(self.stream)

    async def stall(self) -> None:
        """Keep the connection open and say nothing more, forever."""
        await self.flush()
        await trio.sleep_forever()

    async def bye(self, text: str = "Server shutting down") -> None:
        """Say BYE and close (from a hook: it ends the session)."""
        await self.send(b"* BYE " + text.encode())
        await self.drop()

    async def _read_line(self) -> bytes:
        while True:
            nl = self._buf.find(b"\n")
            if nl >= 0:
                line = bytes(self._buf[:nl]).rstrip(b"\r")
                del self._buf[: nl + 1]
                return line
            if len(self._buf) > _MAX_LINE:
                raise SessionClosed
            await self.flush()  # nothing more to answer until the client says more
            data = await self.stream.receive_some(65536)
            if not data:
                raise SessionClosed
            self._buf += data

    async def _read_exact(self, n: int) -> bytes:
        while len(self._buf) < n:
            await self.flush()
            data = await self.stream.receive_some(65536)
            if not data:
                raise SessionClosed
            self._buf += data
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out

    async def _read_command(self) -> tuple[list[bytes], list[bytes]]:
        """A command's lines and the literals announced at their ends (``{n}``: asked for)."""
        lines: list[bytes] = []
        literals: list[bytes] = []
        while True:
            line = await self._read_line()
            lines.append(line)
            m = _LITERAL.search(line)
            if m is None:
                return lines, literals
            if not m.group(2):
                await self.send(b"+ Ready for literal data")
            literals.append(await self._read_exact(int(m.group(1))))

    # ------------------------------------------------------------ the loop

    async def run(self) -> None:
        """Greet, then read and answer commands until the client or a hook ends it."""
        b = self.behavior
        caps = " ".join(self.capabilities()).encode()
        greeting = (
            b.greeting
            if b.greeting is not None
            else (b"* OK [CAPABILITY " + caps + b"] trio-mailsync test server ready")
        )
        try:
            await self.send(greeting)
            if greeting.startswith(b"* BYE"):
                return
            while not self._closed:
                lines, literals = await self._read_command()
                # A command's answers go out in one write when it is done, or with the
                # next ones' when more commands are already here (pipelined).
                self._corked = True
                await self._dispatch(lines, literals)
                self._corked = False
                if b"\n" not in self._buf:
                    await self.flush()
        except* (SessionClosed, trio.ClosedResourceError, trio.BrokenResourceError):
            pass  # the client went away, or a hook or test closed the connection

    def capabilities(self) -> list[str]:
        """What this session advertises (no STARTTLS once TLS is on)."""
        caps = list(self.behavior.capabilities)
        if isinstance(self.stream, trio.SSLStream):
            caps = [c for c in caps if c.upper() != "STARTTLS"]
        return caps

    def has(self, capability: str) -> bool:
        """Does this session advertise ``capability``?"""
        return capability.upper() in (c.upper() for c in self.capabilities())

    async def _dispatch(self, lines: list[bytes], literals: list[bytes]) -> None:
        try:
            tag, name, args = parse_command(lines, literals)
        except CommandSyntaxError as exc:
            # What the client wrote is not in the grammar: a bug there, shown here.
            self.server.stats.syntax_errors += 1
            await self.send(f"{tag_of(lines[0])} BAD Syntax error: {exc}".encode())
            return
        self.commands += 1
        stats = self.server.stats.commands
        stats[name] = stats.get(name, 0) + 1
        info = CommandInfo(tag=tag, name=name, args=args, number=self.commands)
        if self.behavior.on_command is not None:
            await self.flush()  # a hook may wait: what was answered goes out first
            if await self.behavior.on_command(self, info):
                return
        delay = self.behavior.delays.get(name)
        if delay:
            await self.flush()
            await trio.sleep(delay)
        handler = _HANDLERS.get(name)
        if handler is None:
            await self.send(f"{tag} BAD Unknown command {name}".encode())
            return
        try:
            await handler(self, tag, args)
        except _Refused as refusal:
            await self.send(f"{tag} {refusal.status} {refusal.text}".encode())
        except (KeyError, ValueError, IndexError, TypeError) as exc:
            await self.send(f"{tag} BAD {type(exc).__name__}: {exc}".encode())

    # ------------------------------------------------------------ helpers

    def need_auth(self) -> User:
        """The logged-in user; BAD for a command that needs one."""
        if self.user is None:
            raise _Refused("BAD", "Not authenticated")
        return self.user

    def need_selected(self) -> Folder:
        """The selected folder; BAD for a command that needs one."""
        self.need_auth()
        if self.folder is None:
            raise _Refused("BAD", "No mailbox selected")
        return self._current_folder()

    def _current_folder(self) -> Folder:
        assert self.user is not None
        assert self.folder is not None
        try:
            return self.user.folder(self.folder.name)
        except KeyError:
            return self.folder

    def mailbox(self, value: Value) -> Folder:
        """The user's folder a command names; NO [NONEXISTENT] if there is none."""
        user = self.need_auth()
        name = _mailbox_name(value)
        try:
            return user.folder(name)
        except KeyError:
            raise _Refused("NO", "[NONEXISTENT] Mailbox doesn't exist: " + name) from None

    def notify_state(self) -> dict[str, tuple[int, int, int]]:
        """Each folder's (MESSAGES, UIDNEXT, UIDVALIDITY), for NOTIFY to compare."""
        assert self.user is not None
        return {
            name: (len(f.messages), f.uidnext, f.uidvalidity)
            for name, f in self.user.folders.items()
        }

    async def send_notifications(self) -> None:
        """NOTIFY's news of the folders that are not selected: STATUS, and LIST."""
        if self.user is None or not (self.notify_status or self.notify_names):
            return
        now = self.notify_state()
        selected = None if self.folder is None else self.folder.name
        for name, state in now.items():
            before = self.notified.get(name)
            if before is None and self.notify_names:
                await self.send(b'* LIST () "/" ' + _mailbox_out(name))
            elif self.notify_status and before not in (None, state) and name != selected:
                messages, uidnext, uidvalidity = state
                await self.send(
                    b"* STATUS %s (MESSAGES %d UIDNEXT %d UIDVALIDITY %d)"
                    % (_mailbox_out(name), messages, uidnext, uidvalidity)
                )
        if self.notify_names:
            for name in self.notified.keys() - now.keys():
                await self.send(b'* LIST (\\NonExistent) "/" ' + _mailbox_out(name))
        self.notified = now

    async def send_updates(self) -> None:
        """Tell the client what changed in the selected folder since it last looked (and,
        after NOTIFY, in the others)."""
        await self.send_notifications()
        if self.folder is None or self.user is None:
            return
        folder = self._current_folder()
        if folder is not self.folder:  # recreated: everything the client knew is gone
            self.folder = folder
        present = {m.uid for m in folder.messages}
        for seq in range(len(self.view), 0, -1):
            if self.view[seq - 1] not in present:
                uid = self.view.pop(seq - 1)
                self.seen_modseq.pop(uid, None)
                await self.send(b"* %d EXPUNGE" % seq)
        known = set(self.view)
        added = [m for m in folder.messages if m.uid not in known]
        for message in added:
            self.view.append(message.uid)
            self.seen_modseq[message.uid] = message.modseq
        if added:
            self.seen_uidnext = folder.uidnext
            await self.send(b"* %d EXISTS" % len(self.view))
        for seq, uid in enumerate(self.view, 1):
            changed = folder.by_uid(uid)
            if changed is not None and changed.modseq > self.seen_modseq.get(uid, 0):
                self.seen_modseq[uid] = changed.modseq
                modseq = b" MODSEQ (%d)" % changed.modseq if self.condstore else b""
                await self.send(
                    b"* %d FETCH (UID %d FLAGS %s%s)" % (seq, uid, _flags(changed.flags), modseq)
                )


class _Refused(Exception):  # an answer, not an error of the server
    def __init__(self, status: str, text: str) -> None:
        self.status = status
        self.text = text


# ---------------------------------------------------------------- formatting


def _quote(data: bytes) -> bytes:
    if len(data) < 1000 and not any(c in data for c in b"\r\n\0") and data.isascii():
        return b'"' + data.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
    return b"{%d}\r\n" % len(data) + data


def _nstring(data: bytes | None) -> bytes:
    return b"NIL" if data is None else _quote(data)


def _flags(flags: set[str]) -> bytes:
    return b"(" + " ".join(sorted(flags)).encode() + b")"


def _mailbox_out(name: str) -> bytes:
    return _quote(b"INBOX" if name == "INBOX" else encode_mailbox(name))


def _mailbox_name(value: Value) -> str:
    if isinstance(value, int):
        value = str(value)
    if isinstance(value, str):
        value = value.encode()
    if not isinstance(value, bytes):
        raise ValueError("mailbox name expected")
    return decode_mailbox(value)


def _header_section(body: bytes) -> tuple[bytes, bytes]:
    for sep in (b"\r\n\r\n", b"\n\n"):
        i = body.find(sep)
        if i >= 0:
            return body[: i + len(sep)], body[i + len(sep) :]
    return body, b""


def _header_fields(header: bytes, names: list[str], *, exclude: bool) -> bytes:
    wanted = {n.lower() for n in names}
    out: list[bytes] = []
    keep = False
    for line in header.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t"):
            if keep:
                out.append(line)
            continue
        field = line.split(b":", 1)[0].strip().lower().decode("ascii", "replace")
        keep = bool(line.strip()) and ((field in wanted) != exclude)
        if keep:
            out.append(line)
    return b"".join(out) + b"\r\n"


def _envelope(body: bytes) -> bytes:
    # Read as text with surrogates so that 8-bit (UTF-8) headers go out byte for byte.
    header = _header_section(body)[0].decode("ascii", "surrogateescape")
    msg = email.message_from_string(header, policy=email.policy.compat32)

    def all_of(name: str) -> list[str]:
        # raw_items: the values as they came (get() would turn 8-bit text into U+FFFD).
        return [
            re.sub(r"\r?\n(?=[ \t])", "", v).strip()
            for k, v in msg.raw_items()
            if k.lower() == name.lower()
        ]

    def raw(name: str) -> bytes | None:
        values = all_of(name)
        return values[0].encode("utf-8", "surrogateescape") if values else None

    def addresses(name: str, fallback: str | None = None) -> bytes:
        values = all_of(name) or (all_of(fallback) if fallback else None)
        if not values:
            return b"NIL"
        parts = []
        for real, addr in email.utils.getaddresses([str(v) for v in values]):
            mailbox, _, host = addr.partition("@")
            parts.append(
                b"(%s NIL %s %s)"
                % (
                    _nstring(real.encode("utf-8", "surrogateescape") if real else None),
                    _nstring(mailbox.encode("utf-8", "surrogateescape") if mailbox else None),
                    _nstring(host.encode("utf-8", "surrogateescape") if host else None),
                )
            )
        return b"(" + b"".join(parts) + b")" if parts else b"NIL"

    return b"(%s)" % b" ".join(
        [
            _nstring(raw("Date")),
            _nstring(raw("Subject")),
            addresses("From"),
            addresses("Sender", "From"),
            addresses("Reply-To", "From"),
            addresses("To"),
            addresses("Cc"),
            addresses("Bcc"),
            _nstring(raw("In-Reply-To")),
            _nstring(raw("Message-ID")),
        ]
    )


def _bodystructure(part: email.message.Message) -> bytes:
    if part.is_multipart():
        subparts = part.get_payload()
        assert isinstance(subparts, list)
        children = b"".join(
            _bodystructure(p) for p in subparts if isinstance(p, email.message.Message)
        )
        boundary = part.get_boundary()
        boundary_param = b'("BOUNDARY" %s)' % _quote(boundary.encode()) if boundary else b"NIL"
        return b"(%s %s %s NIL NIL NIL)" % (
            children,
            _quote(part.get_content_subtype().upper().encode()),
            boundary_param,
        )
    payload = part.get_payload(decode=False)
    data = payload.encode("utf-8", "surrogateescape") if isinstance(payload, str) else b""
    params = [
        b"%s %s" % (_quote(k.upper().encode()), _quote(v.encode()))
        for k, v in (part.get_params(header="content-type") or [])[1:]
        if isinstance(v, str)
    ]
    maintype = part.get_content_maintype().upper().encode()
    fields = [
        _quote(maintype),
        _quote(part.get_content_subtype().upper().encode()),
        b"(" + b" ".join(params) + b")" if params else b"NIL",
        b"NIL",
        b"NIL",
        _quote(str(part.get("Content-Transfer-Encoding", "7BIT")).upper().encode()),
        b"%d" % len(data),
    ]
    if maintype == b"TEXT":
        fields.append(b"%d" % data.count(b"\n"))
    return b"(" + b" ".join(fields) + b")"


# ---------------------------------------------------------------- sequence sets


def _uid_set(value: Value, folder: Folder) -> list[StoredMessage]:
    """Messages whose UIDs are in ``value``; ``n:*`` includes the highest UID even when n is
    above it (RFC 9051 6.4.9), as real servers do."""
    text = value if isinstance(value, str) else str(value)
    uids = [m.uid for m in folder.messages]
    ranges = parse_sequence_set(text, max(uids[-1] if uids else 0, 1))
    return [m for m in folder.messages if in_sequence_set(m.uid, ranges)]


# ---------------------------------------------------------------- commands


async def _capability(s: Session, tag: str, args: list[Value]) -> None:
    await s.send(b"* CAPABILITY " + " ".join(s.capabilities()).encode())
    await s.send(f"{tag} OK CAPABILITY completed".encode())


async def _noop(s: Session, tag: str, args: list[Value]) -> None:
    await s.send_updates()
    await s.send(f"{tag} OK NOOP completed".encode())


async def _logout(s: Session, tag: str, args: list[Value]) -> None:
    await s.send(b"* BYE Logging out")
    await s.send(f"{tag} OK LOGOUT completed".encode())
    await s.drop()


async def _starttls(s: Session, tag: str, args: list[Value]) -> None:
    context = s.behavior.starttls_context
    if context is None or not s.has("STARTTLS") or isinstance(s.stream, trio.SSLStream):
        raise _Refused("BAD", "STARTTLS not available")
    await s.send(f"{tag} OK Begin TLS negotiation now".encode())
    await s.flush()  # in the clear, before the handshake
    s.stream = trio.SSLStream(s.stream, context, server_side=True)


def _sessions_of(s: Session, user: User) -> int:
    return sum(1 for other in s.server.sessions if other.user is user)


async def _logged_in(s: Session, tag: str, user: User) -> None:
    limit = s.behavior.max_connections_per_user
    if limit is not None and _sessions_of(s, user) >= limit:
        raise _Refused("NO", "[UNAVAILABLE] Maximum number of connections from user+IP exceeded")
    s.user = user
    s.server.stats.logins += 1
    caps = " ".join(s.capabilities()).encode()
    await s.send(f"{tag} OK [CAPABILITY ".encode() + caps + b"] Logged in")


def _refuse_login(s: Session) -> _Refused:
    s.server.stats.login_failures += 1
    return _Refused("NO", "[AUTHENTICATIONFAILED] Authentication failed.")


async def _login(s: Session, tag: str, args: list[Value]) -> None:
    if s.user is not None:
        raise _Refused("BAD", "Already logged in")
    name, password = (_text(a) for a in args[:2])
    user = s.store.users.get(name)
    if user is None or user.password != password:
        raise _refuse_login(s)
    await _logged_in(s, tag, user)


async def _authenticate(s: Session, tag: str, args: list[Value]) -> None:
    mechanism = _text(args[0]).upper()
    if f"AUTH={mechanism}" not in (c.upper() for c in s.capabilities()):
        raise _Refused("NO", f"Unsupported mechanism {mechanism}")
    if len(args) > 1:
        initial = _text(args[1])
    else:
        await s.send(b"+ ")
        initial = (await s._read_line()).decode("ascii", "replace")
    if initial == "*":
        raise _Refused("BAD", "Authentication aborted")
    try:
        decoded = base64.b64decode(initial if initial != "=" else "", validate=True)
    except binascii.Error:
        raise _Refused("BAD", "Invalid base64") from None
    if mechanism == "PLAIN":
        parts = decoded.split(b"\0")
        if len(parts) != 3:
            raise _refuse_login(s)
        user = s.store.users.get(parts[1].decode())
        if user is None or user.password != parts[2].decode():
            raise _refuse_login(s)
        await _logged_in(s, tag, user)
        return
    fields = dict(
        item.split("=", 1) for item in decoded.decode(errors="replace").split("\x01") if "=" in item
    )
    user = s.store.users.get(fields.get("user", ""))
    token = fields.get("auth", "").removeprefix("Bearer ")
    if user is None or token not in user.tokens:
        challenge = json.dumps({"status": "401", "schemes": "Bearer", "scope": "mail"})
        await s.send(b"+ " + base64.b64encode(challenge.encode()))
        await s._read_line()  # the client's empty response
        raise _refuse_login(s)
    await _logged_in(s, tag, user)


async def _enable(s: Session, tag: str, args: list[Value]) -> None:
    s.need_auth()
    enabled = [_text(a).upper() for a in args if s.has(_text(a))]
    if "CONDSTORE" in enabled or "QRESYNC" in enabled:
        s.condstore = True
    await s.send(b"* ENABLED" + b"".join(b" " + e.encode() for e in enabled))
    await s.send(f"{tag} OK ENABLE completed".encode())


def _pattern(reference: str, pattern: str) -> re.Pattern[str]:
    full = reference + pattern
    rx = "".join(".*" if c == "*" else "[^/]*" if c == "%" else re.escape(c) for c in full)
    return re.compile(rx + r"\Z", re.IGNORECASE if full.upper().startswith("INBOX") else 0)


async def _list(s: Session, tag: str, args: list[Value]) -> None:
    user = s.need_auth()
    if args and isinstance(args[0], list):  # selection options: ignored
        args = args[1:]
    reference, pattern = _mailbox_name(args[0]), _mailbox_name(args[1])
    returns: list[Value] = []
    if len(args) > 3 and _text(args[2]).upper() == "RETURN":
        returns = _list_of(args[3])
    status_items: list[Value] = []
    for i, item in enumerate(returns):
        if _text(item).upper() == "STATUS" and i + 1 < len(returns):
            status_items = _list_of(returns[i + 1])
    rx = _pattern(reference, pattern)
    for folder in user.folders.values():
        if not rx.match(folder.name):
            continue
        attributes = ["\\HasNoChildren"] + ([folder.special_use] if folder.special_use else [])
        await s.send(
            b'* LIST (%s) "/" %s' % (" ".join(attributes).encode(), _mailbox_out(folder.name))
        )
        if status_items:
            await s.send(_status_line(folder, status_items))
    await s.send(f"{tag} OK LIST completed".encode())


def _status_line(folder: Folder, items: list[Value], seen: dict[str, int] | None = None) -> bytes:
    values = {
        "MESSAGES": len(folder.messages),
        "UIDNEXT": folder.uidnext,
        "UIDVALIDITY": folder.uidvalidity,
        "UNSEEN": sum(1 for m in folder.messages if "\\Seen" not in m.flags),
        "RECENT": 0,
        "HIGHESTMODSEQ": folder.highestmodseq,
        "SIZE": sum(len(m.body) for m in folder.messages),
        "DELETED": sum(1 for m in folder.messages if "\\Deleted" in m.flags),
    } | (seen or {})
    out = [b"%s %d" % (_text(i).upper().encode(), values[_text(i).upper()]) for i in items]
    return b"* STATUS %s (%s)" % (_mailbox_out(folder.name), b" ".join(out))


async def _status(s: Session, tag: str, args: list[Value]) -> None:
    folder = s.mailbox(args[0])
    if folder is s.folder:
        # As Dovecot does: the selected mailbox as this session last saw it.
        seen = {
            "MESSAGES": len(s.view),
            "UIDNEXT": s.seen_uidnext,
            "HIGHESTMODSEQ": max(s.seen_modseq.values(), default=s.seen_highestmodseq),
        }
        await s.send(_status_line(folder, _list_of(args[1]), seen))
        await s.send(f"{tag} OK [CLIENTBUG] Status on selected mailbox completed".encode())
        return
    await s.send(_status_line(folder, _list_of(args[1])))
    await s.send(f"{tag} OK STATUS completed".encode())


async def _select(s: Session, tag: str, args: list[Value], *, readonly: bool = False) -> None:
    folder = s.mailbox(args[0])
    if (
        len(args) > 1
        and isinstance(args[1], list)
        and any(_text(a).upper() in ("CONDSTORE", "QRESYNC") for a in args[1])
    ):
        s.condstore = True
    s.folder = folder
    s.readonly = readonly
    s.view = [m.uid for m in folder.messages]
    s.seen_modseq = {m.uid: m.modseq for m in folder.messages}
    s.seen_uidnext, s.seen_highestmodseq = folder.uidnext, folder.highestmodseq
    await s.send(b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)")
    await s.send(b"* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Ok")
    await s.send(b"* %d EXISTS" % len(folder.messages))
    await s.send(b"* 0 RECENT")
    await s.send(b"* OK [UIDVALIDITY %d] UIDs valid" % folder.uidvalidity)
    await s.send(b"* OK [UIDNEXT %d] Predicted next UID" % folder.uidnext)
    if s.has("CONDSTORE"):
        await s.send(b"* OK [HIGHESTMODSEQ %d] Highest" % folder.highestmodseq)
    mode = "READ-ONLY" if readonly else "READ-WRITE"
    await s.send(f"{tag} OK [{mode}] Select completed".encode())


async def _examine(s: Session, tag: str, args: list[Value]) -> None:
    await _select(s, tag, args, readonly=True)


async def _unselect(s: Session, tag: str, args: list[Value]) -> None:
    s.need_selected()
    s.folder = None
    s.view = []
    await s.send(f"{tag} OK Unselect completed".encode())


def _matches(s: Session, folder: Folder, message: StoredMessage, keys: list[Value]) -> bool:
    """All search keys in ``keys`` (consumed from the front) hold for ``message``."""
    while keys:
        if not _match_one(s, folder, message, keys):
            return False
    return True


def _match_one(s: Session, folder: Folder, message: StoredMessage, keys: list[Value]) -> bool:
    key = keys.pop(0)
    if isinstance(key, list):
        return _matches(s, folder, message, list(key))
    word = _text(key).upper()
    flag_keys = {
        "SEEN": "\\Seen",
        "FLAGGED": "\\Flagged",
        "DELETED": "\\Deleted",
        "ANSWERED": "\\Answered",
        "DRAFT": "\\Draft",
    }
    if word == "ALL":
        return True
    if word in flag_keys:
        return flag_keys[word] in message.flags
    if word.startswith("UN") and word[2:] in flag_keys:
        return flag_keys[word[2:]] not in message.flags
    if word == "NOT":
        return not _match_one(s, folder, message, keys)
    if word == "OR":
        a = _match_one(s, folder, message, keys)
        b = _match_one(s, folder, message, keys)
        return a or b
    if word == "UID":
        value = keys.pop(0)
        top = folder.messages[-1].uid if folder.messages else 1
        return in_sequence_set(message.uid, parse_sequence_set(_text(value), max(top, 1)))
    if word == "MODSEQ":
        return message.modseq >= int(_text(keys.pop(0)))
    if word == "KEYWORD":
        return _text(keys.pop(0)) in message.flags
    if word in ("SUBJECT", "FROM", "TO", "BODY", "TEXT"):
        needle = _bytes(keys.pop(0)).lower()
        header, text = _header_section(message.body)
        if word in ("BODY", "TEXT"):
            return needle in (text if word == "BODY" else message.body).lower()
        return needle in _header_fields(header, [word.title()], exclude=False).lower()
    if word[:1].isdigit() or word[:1] == "*":
        uids = [m.uid for m in folder.messages]
        numbers = parse_sequence_set(word, max(len(uids), 1))
        return in_sequence_set(uids.index(message.uid) + 1, numbers)
    raise ValueError(f"unsupported search key {word}")


async def _uid_search(s: Session, tag: str, args: list[Value]) -> None:
    folder = s.need_selected()
    returns: list[Value] | None = None
    if args and _text(args[0]).upper() == "RETURN":
        returns = args[1] if isinstance(args[1], list) else []
        args = args[2:]
    if args and _text(args[0]).upper() == "CHARSET":
        args = args[2:]
    hits = [m for m in folder.messages if _matches(s, folder, m, list(args or ["ALL"]))]
    uids = [m.uid for m in hits]
    if returns is None or not s.has("ESEARCH"):
        line = b"* SEARCH" + b"".join(b" %d" % u for u in uids)
        if s.condstore and any(_text(a).upper() == "MODSEQ" for a in args) and hits:
            line += b" (MODSEQ %d)" % max(m.modseq for m in hits)
        await s.send(line)
    else:
        wanted = {_text(r).upper() for r in returns} or {"ALL"}
        parts = [b'* ESEARCH (TAG "%s") UID' % tag.encode()]
        if uids and "MIN" in wanted:
            parts.append(b"MIN %d" % min(uids))
        if uids and "MAX" in wanted:
            parts.append(b"MAX %d" % max(uids))
        if "COUNT" in wanted:
            parts.append(b"COUNT %d" % len(uids))
        if uids and "ALL" in wanted:
            parts.append(b"ALL " + format_sequence_set(uids).encode())
        await s.send(b" ".join(parts))
    await s.send(f"{tag} OK UID SEARCH completed".encode())


_MACROS = {
    "ALL": ["FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"],
    "FAST": ["FLAGS", "INTERNALDATE", "RFC822.SIZE"],
    "FULL": ["FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"],
}
_SECTION = re.compile(
    r"(BODY(?:\.PEEK)?|BINARY(?:\.PEEK)?)\[([^\]]*)\](?:<(\d+)(?:\.(\d+))?>)?\Z", re.I
)


def _fetch_item(s: Session, folder: Folder, message: StoredMessage, item: str) -> bytes:
    upper = item.upper()
    if upper == "UID":
        return b"UID %d" % message.uid
    if upper == "FLAGS":
        return b"FLAGS " + _flags(message.flags)
    if upper == "INTERNALDATE":
        return b"INTERNALDATE " + format_date_time(message.internaldate)
    if upper == "RFC822.SIZE":
        return b"RFC822.SIZE %d" % len(message.body)
    if upper == "MODSEQ":
        return b"MODSEQ (%d)" % message.modseq
    if upper == "ENVELOPE":
        return b"ENVELOPE " + _envelope(message.body)
    if upper in ("BODYSTRUCTURE", "BODY"):
        structure = _bodystructure(
            email.message_from_bytes(message.body, policy=email.policy.compat32)
        )
        return upper.encode() + b" " + structure
    if upper in ("RFC822", "RFC822.HEADER", "RFC822.TEXT"):
        header, text = _header_section(message.body)
        data = {"RFC822": message.body, "RFC822.HEADER": header, "RFC822.TEXT": text}[upper]
        if upper != "RFC822.HEADER" and not s.readonly:
            _mark_seen(folder, message)
        return upper.encode() + b" " + _quote(data)
    m = _SECTION.match(item)
    if m is None:
        raise ValueError(f"unsupported FETCH item {item}")
    kind, section, origin, length = m.groups()
    header, text = _header_section(message.body)
    spec = section.upper()
    if spec == "":
        data = message.body
    elif spec == "HEADER":
        data = header
    elif spec == "TEXT":
        data = text
    elif spec.startswith("HEADER.FIELDS"):
        names = spec.split("(", 1)[1].rstrip(")").split()
        data = _header_fields(header, names, exclude=spec.startswith("HEADER.FIELDS.NOT"))
    elif spec == "1":
        data = text
    else:
        raise ValueError(f"unsupported section {section}")
    if origin is not None:
        start = int(origin)
        data = data[start : start + int(length)] if length is not None else data[start:]
    if ".PEEK" not in kind.upper() and not s.readonly:
        _mark_seen(folder, message)
    name = ("BINARY" if kind.upper().startswith("BINARY") else "BODY") + f"[{section}]"
    if origin is not None:
        name += f"<{origin}>"
    return name.encode() + b" " + _quote(data)


def _mark_seen(folder: Folder, message: StoredMessage) -> None:
    if "\\Seen" not in message.flags:
        message.flags.add("\\Seen")
        message.modseq = folder.bump()


async def _uid_fetch(s: Session, tag: str, args: list[Value]) -> None:
    folder = s.need_selected()
    messages = _uid_set(args[0], folder)
    items_raw = args[1] if isinstance(args[1], list) else [args[1]]
    items: list[str] = []
    for item in items_raw:
        name = _text(item)
        items.extend(_MACROS.get(name.upper(), [name]))
    changedsince: int | None = None
    vanished = False
    if len(args) > 2 and isinstance(args[2], list):
        modifiers = [_text(x).upper() for x in args[2]]
        if "CHANGEDSINCE" in modifiers:
            changedsince = int(modifiers[modifiers.index("CHANGEDSINCE") + 1])
            s.condstore = True
        vanished = "VANISHED" in modifiers
    if vanished and changedsince is not None:
        requested = parse_sequence_set(str(args[0]), max(folder.uidnext - 1, 1))
        gone = [
            u
            for u, modseq in folder.expunged.items()
            if modseq > changedsince and in_sequence_set(u, requested)
        ]
        if gone:
            await s.send(b"* VANISHED (EARLIER) " + format_sequence_set(gone).encode())
    if changedsince is not None:
        messages = [m for m in messages if m.modseq > changedsince]
        if "MODSEQ" not in (i.upper() for i in items):
            items.append("MODSEQ")
    if "UID" not in (i.upper() for i in items):
        items.insert(0, "UID")
    # Sequence numbers by identity, once: index() per message is quadratic in big folders.
    numbers = {id(m): n for n, m in enumerate(folder.messages, 1)}
    broken = s.server.behavior.broken_envelopes | s.server.behavior.broken_fetches
    for message in messages:
        seq = numbers[id(message)]
        parts = [_fetch_item(s, folder, message, item) for item in items]
        if broken and _message_id(message.body) in broken:
            parts = _broken(s.server.behavior, message, items, parts)
        await s.send_raw(b"* %d FETCH (%s)\r\n" % (seq, b" ".join(parts)))
        s.seen_modseq[message.uid] = message.modseq
    await s.send(f"{tag} OK UID FETCH completed".encode())


def _message_id(body: bytes) -> str | None:
    match = re.search(rb"^Message-ID:[ \t]*(\S+)", body.split(b"\r\n\r\n", 1)[0], re.I | re.M)
    return None if match is None else match.group(1).decode("ascii", "replace")


def _broken(
    behavior: Behavior, message: StoredMessage, items: list[str], parts: list[bytes]
) -> list[bytes]:
    """``parts`` with an unbalanced quote where the behaviour says (see ``Behavior``)."""
    mid = _message_id(message.body)
    if mid in behavior.broken_fetches:
        return [b"UID %d" % message.uid, b'FLAGS () ENVELOPE ("unterminated']
    broken = {
        "quote": b'ENVELOPE ("unterminated',
        "shape": b'ENVELOPE ("Mon, 7 Feb 2026" "odd" "not a list" NIL NIL NIL NIL NIL NIL NIL)',
    }[behavior.broken_envelope_form]
    return [
        broken if item.upper() == "ENVELOPE" else part
        for item, part in zip(items, parts, strict=True)
    ]


async def _uid_store(s: Session, tag: str, args: list[Value]) -> None:
    folder = s.need_selected()
    if s.readonly:
        raise _Refused("NO", "Mailbox is read-only")
    messages = _uid_set(args[0], folder)
    rest = args[1:]
    unchangedsince: int | None = None
    if isinstance(rest[0], list):
        modifiers = [_text(x).upper() for x in rest[0]]
        unchangedsince = int(modifiers[modifiers.index("UNCHANGEDSINCE") + 1])
        rest = rest[1:]
    mode = _text(rest[0]).upper()
    flags = {_text(f) for f in (rest[1] if isinstance(rest[1], list) else rest[1:])}
    failed = []
    for message in messages:
        if unchangedsince is not None and message.modseq > unchangedsince:
            failed.append(message.uid)
            continue
        if mode.startswith("+"):
            new = message.flags | flags
        elif mode.startswith("-"):
            new = message.flags - flags
        else:
            new = set(flags)
        if new != message.flags:
            message.flags = new
            message.modseq = folder.bump()
        if not mode.endswith(".SILENT"):
            seq = folder.messages.index(message) + 1
            await s.send(
                b"* %d FETCH (UID %d FLAGS %s)" % (seq, message.uid, _flags(message.flags))
            )
        s.seen_modseq[message.uid] = message.modseq
    s.store.notify(s.need_auth().name)
    code = f"[MODIFIED {format_sequence_set(failed)}] " if failed else ""
    await s.send(f"{tag} OK {code}UID STORE completed".encode())


async def _expunge(s: Session, tag: str, args: list[Value], uids: list[int] | None = None) -> None:
    folder = s.need_selected()
    if s.readonly:
        raise _Refused("NO", "Mailbox is read-only")
    doomed = [m.uid for m in folder.messages if "\\Deleted" in m.flags]
    if uids is not None:
        doomed = [u for u in doomed if u in uids]
    assert s.user is not None
    s.store.expunge(s.user.name, doomed, folder=folder.name)
    await s.send_updates()
    await s.send(f"{tag} OK EXPUNGE completed".encode())


async def _uid_expunge(s: Session, tag: str, args: list[Value]) -> None:
    folder = s.need_selected()
    await _expunge(s, tag, args, [m.uid for m in _uid_set(args[0], folder)])


async def _close(s: Session, tag: str, args: list[Value]) -> None:
    folder = s.need_selected()
    if not s.readonly:
        assert s.user is not None
        s.store.expunge(
            s.user.name,
            [m.uid for m in folder.messages if "\\Deleted" in m.flags],
            folder=folder.name,
        )
    s.folder = None
    s.view = []
    await s.send(f"{tag} OK CLOSE completed".encode())


async def _append(s: Session, tag: str, args: list[Value]) -> None:
    folder = s.mailbox(args[0])
    rest = args[1:]
    flags: list[str] = []
    when: datetime | None = None
    if rest and isinstance(rest[0], list):
        flags = [_text(f) for f in rest[0]]
        rest = rest[1:]
    if len(rest) > 1:
        when = parse_date_time(_bytes(rest[0]))
        rest = rest[1:]
    assert s.user is not None
    uid = s.store.deliver(s.user.name, _bytes(rest[0]), folder=folder.name, flags=flags, when=when)
    await s.send(f"{tag} OK [APPENDUID {folder.uidvalidity} {uid}] APPEND completed".encode())


async def _notify(s: Session, tag: str, args: list[Value]) -> None:
    """NOTIFY SET / NONE (RFC 5465), as much as a client that watches every folder needs:
    MessageNew/MessageExpunge of non-selected folders as STATUS, MailboxName as LIST."""
    s.need_auth()
    if not s.has("NOTIFY"):
        raise _Refused("BAD", "Unknown command NOTIFY")
    words = [a.upper() if isinstance(a, str) else a for a in args]
    if words[:1] == ["NONE"]:
        s.notify_status = s.notify_names = False
        await s.send(f"{tag} OK NOTIFY completed".encode())
        return
    if words[:1] != ["SET"]:
        raise _Refused("BAD", "NOTIFY SET or NONE expected")
    groups = [g for g in args[1:] if isinstance(g, list)]
    if not groups:
        raise _Refused("BAD", "NOTIFY SET without event groups")
    status = names = False
    for group in groups:
        kind = str(group[0]).lower() if group else ""
        events = group[-1] if group and isinstance(group[-1], list) else []
        wanted = {str(e).lower() for e in events}
        if kind in ("personal", "inboxes", "subscribed", "subtree", "mailboxes"):
            status = status or "messagenew" in wanted
            names = names or "mailboxname" in wanted
    s.notify_status, s.notify_names = status, names
    s.notified = s.notify_state()
    await s.send(f"{tag} OK NOTIFY completed".encode())


async def _create(s: Session, tag: str, args: list[Value]) -> None:
    user = s.need_auth()
    name = _mailbox_name(args[0])
    if name in user.folders:
        raise _Refused("NO", "[ALREADYEXISTS] Mailbox already exists")
    user.folders[name] = Folder(name=name)
    s.store.notify(s.need_auth().name)
    await s.send(f"{tag} OK CREATE completed".encode())


async def _delete(s: Session, tag: str, args: list[Value]) -> None:
    user = s.need_auth()
    folder = s.mailbox(args[0])
    if folder.name == "INBOX":
        raise _Refused("NO", "Cannot delete INBOX")
    del user.folders[folder.name]
    s.store.notify(s.need_auth().name)
    await s.send(f"{tag} OK DELETE completed".encode())


async def _idle(s: Session, tag: str, args: list[Value]) -> None:
    user = s.need_auth().name
    if not s.has("IDLE"):
        raise _Refused("BAD", "Unknown command IDLE")
    changed = s.store.changed(user)
    await s.send(b"+ idling")
    async with trio.open_nursery() as nursery:

        async def watch() -> None:
            nonlocal changed
            while True:
                await s.send_updates()
                await s.flush()
                await changed.wait()
                changed = s.store.changed(user)

        nursery.start_soon(watch)
        line = await s._read_line()
        nursery.cancel_scope.cancel()
    if line.strip().upper() != b"DONE":
        await s.send(f"{tag} BAD Expected DONE".encode())
        return
    await s.send(f"{tag} OK Idle completed".encode())


def _text(value: Value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if value is None:
        return "NIL"
    return str(value)


def _list_of(value: Value) -> list[Value]:
    if not isinstance(value, list):
        raise ValueError(f"a parenthesized list expected, not {value!r}")
    return value


def _bytes(value: Value) -> bytes:
    if isinstance(value, bytes):
        return value
    return _text(value).encode()


Handler = Callable[[Session, str, list[Value]], Awaitable[None]]
_HANDLERS: dict[str, Handler] = {
    "CAPABILITY": _capability,
    "NOOP": _noop,
    "LOGOUT": _logout,
    "STARTTLS": _starttls,
    "LOGIN": _login,
    "AUTHENTICATE": _authenticate,
    "ENABLE": _enable,
    "LIST": _list,
    "STATUS": _status,
    "SELECT": _select,
    "EXAMINE": _examine,
    "UNSELECT": _unselect,
    "CLOSE": _close,
    "UID SEARCH": _uid_search,
    "UID FETCH": _uid_fetch,
    "UID STORE": _uid_store,
    "UID EXPUNGE": _uid_expunge,
    "EXPUNGE": _expunge,
    "APPEND": _append,
    "CREATE": _create,
    "DELETE": _delete,
    "IDLE": _idle,
    "NOTIFY": _notify,
}
