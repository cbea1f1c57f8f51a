"""Client commands and their serialization.

A command is a frozen value; :meth:`Client.send <trio_mailsync.protocol.Client.send>`
turns it into bytes. Commands compare by identity, so the object you sent is
the handle that comes back in its :class:`CommandCompleted`.

Strings are written as atoms, quoted strings or literals according to their
content; mailbox names are encoded in modified UTF-7 unless UTF8=ACCEPT is
enabled, and a ``bytes`` mailbox name is sent exactly as given.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import ClassVar, Final, TypeAlias, TypeVar

import attrs

from trio_mailsync.secret import Secret, as_secret

from ._dates import format_internaldate
from ._errors import LocalProtocolError
from ._mutf7 import encode_mutf7
from ._responses import (
    CapabilityData,
    ContinuationRequest,
    EnabledData,
    ESearchData,
    ExistsData,
    ExpungeData,
    FetchData,
    FlagsData,
    ListData,
    RecentData,
    Response,
    ResponseStatus,
    SearchData,
    StatusData,
    UntaggedStatus,
    VanishedData,
)
from ._sasl import SaslMechanism
from ._seqset import SequenceSet
from ._states import ConnectionState

__all__ = [
    "Append",
    "Authenticate",
    "Capability",
    "Close",
    "Command",
    "Create",
    "Delete",
    "Done",
    "Enable",
    "Examine",
    "Expunge",
    "Idle",
    "List",
    "Login",
    "Logout",
    "Noop",
    "Notify",
    "NotifyGroup",
    "QResync",
    "Select",
    "StartTLS",
    "Status",
    "UidExpunge",
    "UidFetch",
    "UidSearch",
    "UidStore",
    "Unselect",
]

_NA = ConnectionState.NOT_AUTHENTICATED
_AUTH = ConnectionState.AUTHENTICATED
_SEL = ConnectionState.SELECTED
_ANY = frozenset({_NA, _AUTH, _SEL})
_AUTHED = frozenset({_AUTH, _SEL})

#: Non-synchronizing literals under LITERAL- (RFC 7888) may be at most this long.
LITERAL_MINUS_MAX: Final = 4096
#: Strings longer than this go as literals even when they could be quoted.
_QUOTED_MAX: Final = 1024

_ATOM = re.compile(rb"[^\x00-\x20\x7f-\xff(){%*\"\\\]]+\Z")
_ASTRING_ATOM = re.compile(rb"[^\x00-\x20\x7f-\xff(){%*\"\\]+\Z")  # atom chars plus "]"
_LIST_MAILBOX = re.compile(rb"[^\x00-\x20\x7f-\xff(){\"\\\]]+\Z")  # atom plus % and *
_QUOTABLE = re.compile(rb"[^\x00\r\n\x80-\xff]*\Z")
_QUOTABLE_UTF8 = re.compile(rb"[^\x00\r\n]*\Z")
_FETCH_ITEM = re.compile(r"[\x21-\x7e]+(?:\[[\x20-\x5c\x5e-\x7e]*\](?:<[0-9.]+>)?)?\Z")
_FETCH_MACROS = frozenset({"ALL", "FAST", "FULL"})


@attrs.frozen
class Literal:
    """A literal inside an encoded command; the client decides sync or non-sync."""

    data: bytes


Fragment: TypeAlias = bytes | Literal


@attrs.frozen
class EncodeContext:
    """What the server advertised that changes how a command is written."""

    utf8: bool = False
    literal_plus: bool = False
    literal_minus: bool = False
    sasl_ir: bool = False


_Item = TypeVar("_Item")


class _Writer:
    """Collects a command line as bytes and literals."""

    __slots__ = ("ctx", "parts")

    def __init__(self, ctx: EncodeContext) -> None:
        self.ctx = ctx
        self.parts: list[Fragment] = []

    def raw(self, data: bytes) -> None:
        """Append bytes as they are."""
        self.parts.append(data)

    def sp(self) -> None:
        """Append one space."""
        self.parts.append(b" ")

    def atom(self, text: str) -> None:
        """Append an atom; LocalProtocolError if ``text`` is not one."""
        data = text.encode("ascii", "replace")
        if not _ATOM.match(data):
            raise LocalProtocolError(f"{text!r} is not a valid IMAP atom")
        self.parts.append(data)

    def number(self, n: int) -> None:
        """Append a non-negative number."""
        if n < 0:
            raise LocalProtocolError(f"IMAP numbers are not negative: {n}")
        self.parts.append(b"%d" % n)

    def string(self, data: bytes, *, atom_ok: bool = False) -> None:
        """Write ``data`` as an atom (if allowed and possible), a quoted string or a literal."""
        if b"\0" in data:
            raise LocalProtocolError("IMAP strings cannot contain NUL bytes")
        if atom_ok and data and _ASTRING_ATOM.match(data) and data.upper() != b"NIL":
            self.parts.append(data)
            return
        quotable = _QUOTABLE_UTF8 if self.ctx.utf8 else _QUOTABLE
        if len(data) <= _QUOTED_MAX and quotable.match(data):
            self.parts.append(b'"' + data.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"')
            return
        self.parts.append(Literal(data))

    def astring(self, text: str | bytes) -> None:
        """Append an astring: atom where it can be, else quoted or literal."""
        self.string(text.encode() if isinstance(text, str) else text, atom_ok=True)

    def mailbox(self, name: str | bytes) -> None:
        """Append a mailbox name (modified UTF-7, or UTF-8 once enabled)."""
        self.string(self._mailbox_bytes(name), atom_ok=True)

    def list_mailbox(self, pattern: str | bytes) -> None:
        """Append LIST's mailbox pattern (``*`` and ``%`` kept as wildcards)."""
        data = self._mailbox_bytes(pattern)
        if data and _LIST_MAILBOX.match(data) and data.upper() != b"NIL":
            self.parts.append(data)
        else:
            self.string(data)

    def _mailbox_bytes(self, name: str | bytes) -> bytes:
        if isinstance(name, bytes):
            return name
        if name.upper() == "INBOX":
            return b"INBOX"
        return name.encode() if self.ctx.utf8 else encode_mutf7(name)

    def seqset(self, value: SequenceSet | str) -> None:
        """Append a sequence set, checked."""
        if isinstance(value, str):
            try:
                value = SequenceSet.parse(value)
            except ValueError as exc:
                raise LocalProtocolError(f"bad sequence set {value!r}: {exc}") from None
        self.parts.append(str(value).encode("ascii"))

    def paren_atoms(self, items: Iterable[str]) -> None:
        """Append ``(a b c)`` of flags or atoms."""
        self.paren(items, self.flag)

    def paren(self, items: Iterable[_Item], write: Callable[[_Item], None]) -> None:
        """Append ``(a b c)``, each item written by ``write`` (atom, mailbox, flag...)."""
        self.raw(b"(")
        for i, item in enumerate(items):
            if i:
                self.sp()
            write(item)
        self.raw(b")")

    def flag(self, flag: str) -> None:
        """Append one flag (``\\Seen``, a keyword); checked."""
        data = flag.encode("ascii", "replace")
        body = data[1:] if data.startswith(b"\\") else data
        if not _ATOM.match(body):
            raise LocalProtocolError(f"{flag!r} is not a valid flag or keyword")
        self.parts.append(data)


def _strs(items: Iterable[str]) -> tuple[str, ...]:
    """attrs converter: any iterable of strings, kept as a tuple."""
    if isinstance(items, str):
        raise TypeError("expected a sequence of strings, not one string")
    return tuple(items)


def _criterion(w: _Writer, item: SearchKey) -> None:
    if isinstance(item, bool):
        raise LocalProtocolError("a search criterion cannot be a bool")
    if isinstance(item, int):
        w.number(item)
    elif isinstance(item, SequenceSet):
        w.seqset(item)
    elif isinstance(item, bytes):
        w.string(item)
    elif isinstance(item, str):
        data = item.encode("ascii", "replace")
        # Search keys are atoms; sequence sets such as 1:* are allowed too.
        if not re.fullmatch(rb"[^\x00-\x20\x7f-\xff(){%\"\\\]]+", data):
            raise LocalProtocolError(
                f"{item!r} is not a search key atom; pass strings to match as bytes"
            )
        w.raw(data)
    else:
        w.raw(b"(")
        for i, sub in enumerate(item):
            if i:
                w.sp()
            _criterion(w, sub)
        w.raw(b")")


SearchKey: TypeAlias = "str | int | bytes | SequenceSet | Sequence[SearchKey]"


# ---------------------------------------------------------------- the commands


@attrs.frozen(eq=False)
class Command:
    """Base of all tagged commands."""

    name: ClassVar[str] = ""
    allowed: ClassVar[frozenset[ConnectionState]] = _ANY

    def encode_args(self, w: _Writer) -> None:
        """Write what follows ``tag NAME``."""

    def claims(self, response: Response) -> bool:
        """Whether an untagged response belongs to this command while it runs."""
        return False

    def streams(self) -> bool:
        """Whether claimed data goes out as CommandData events at once."""
        return False

    def next_state(self, state: ConnectionState, ok: bool) -> ConnectionState:
        """The connection's state once the command completed (``ok`` or not)."""
        return state


def encode_command(command: Command, tag: str, ctx: EncodeContext) -> list[Fragment]:
    """``command`` with ``tag`` on the wire: bytes, and literals for the client to frame."""
    w = _Writer(ctx)
    w.raw(tag.encode("ascii") + b" " + command.name.encode("ascii"))
    command.encode_args(w)
    return w.parts


@attrs.frozen(eq=False)
class Capability(Command):
    """CAPABILITY: what the server can do (RFC 9051 6.1.1)."""

    name: ClassVar[str] = "CAPABILITY"

    def claims(self, response: Response) -> bool:
        return isinstance(response, CapabilityData)


_MAILBOX_UPDATES = (ExistsData, RecentData, ExpungeData, FetchData, VanishedData, FlagsData)


@attrs.frozen(eq=False)
class Noop(Command):
    """Asks for pending mailbox updates; they come back in the completion's data."""

    name: ClassVar[str] = "NOOP"

    def claims(self, response: Response) -> bool:
        return isinstance(response, _MAILBOX_UPDATES)


@attrs.frozen(eq=False)
class Logout(Command):
    """LOGOUT: the server says BYE and closes (RFC 9051 6.1.3)."""

    name: ClassVar[str] = "LOGOUT"

    def claims(self, response: Response) -> bool:
        return isinstance(response, UntaggedStatus) and response.status is ResponseStatus.BYE

    def next_state(self, state: ConnectionState, ok: bool) -> ConnectionState:
        return ConnectionState.LOGOUT


@attrs.frozen(eq=False)
class StartTLS(Command):
    """STARTTLS: the stream turns into TLS after the OK (RFC 9051 6.2.1)."""

    name: ClassVar[str] = "STARTTLS"
    allowed: ClassVar[frozenset[ConnectionState]] = frozenset({_NA})


def _auth_state(state: ConnectionState, ok: bool) -> ConnectionState:
    return _AUTH if ok else state


@attrs.frozen(eq=False)
class Login(Command):
    """LOGIN with a user name and a password kept as a ``Secret`` (RFC 9051 6.2.3)."""

    name: ClassVar[str] = "LOGIN"
    allowed: ClassVar[frozenset[ConnectionState]] = frozenset({_NA})
    username: str
    password: Secret = attrs.field(converter=as_secret)

    def encode_args(self, w: _Writer) -> None:
        w.sp()
        w.astring(self.username)
        w.sp()
        w.astring(self.password.reveal())

    def claims(self, response: Response) -> bool:
        return isinstance(response, CapabilityData)

    def next_state(self, state: ConnectionState, ok: bool) -> ConnectionState:
        return _auth_state(state, ok)


@attrs.frozen(eq=False)
class Authenticate(Command):
    """AUTHENTICATE with a SASL mechanism; the initial response goes inline under SASL-IR."""

    name: ClassVar[str] = "AUTHENTICATE"
    allowed: ClassVar[frozenset[ConnectionState]] = frozenset({_NA})
    mechanism: SaslMechanism

    def encode_args(self, w: _Writer) -> None:
        w.sp()
        w.atom(self.mechanism.name)
        if w.ctx.sasl_ir:
            w.sp()
            w.raw(_b64_line(self.mechanism.initial_response()) or b"=")

    def claims(self, response: Response) -> bool:
        return isinstance(response, CapabilityData | ContinuationRequest)

    def next_state(self, state: ConnectionState, ok: bool) -> ConnectionState:
        return _auth_state(state, ok)


def _b64_line(data: bytes) -> bytes:
    return base64.b64encode(data)


@attrs.frozen(eq=False, init=False)
class Enable(Command):
    """RFC 5161 ENABLE, e.g. ``Enable("CONDSTORE", "QRESYNC")``."""

    name: ClassVar[str] = "ENABLE"
    allowed: ClassVar[frozenset[ConnectionState]] = frozenset({_AUTH})
    capabilities: tuple[str, ...]

    def __init__(self, *capabilities: str) -> None:
        self.__attrs_init__(capabilities)

    def encode_args(self, w: _Writer) -> None:
        if not self.capabilities:
            raise LocalProtocolError("ENABLE needs at least one capability")
        for cap in self.capabilities:
            w.sp()
            w.atom(cap)

    def claims(self, response: Response) -> bool:
        return isinstance(response, EnabledData)


@attrs.frozen
class QResync:
    """RFC 7162 QRESYNC parameters for SELECT/EXAMINE."""

    uidvalidity: int
    modseq: int
    known_uids: SequenceSet | None = None


def _select_claims(response: Response) -> bool:
    if isinstance(response, UntaggedStatus):
        return response.status is ResponseStatus.OK and not (
            response.code is not None and response.code.name == "ALERT"
        )
    return isinstance(response, _MAILBOX_UPDATES)


@attrs.frozen(eq=False)
class Select(Command):
    """SELECT; its completion's data holds FLAGS, EXISTS and the UIDVALIDITY/UIDNEXT codes."""

    name: ClassVar[str] = "SELECT"
    allowed: ClassVar[frozenset[ConnectionState]] = _AUTHED
    mailbox: str | bytes
    condstore: bool = False
    qresync: QResync | None = None

    def encode_args(self, w: _Writer) -> None:
        w.sp()
        w.mailbox(self.mailbox)
        if self.qresync is not None:
            q = self.qresync
            w.raw(b" (QRESYNC (")
            w.number(q.uidvalidity)
            w.sp()
            w.number(q.modseq)
            if q.known_uids is not None:
                w.sp()
                w.seqset(q.known_uids)
            w.raw(b"))")
        elif self.condstore:
            w.raw(b" (CONDSTORE)")

    def claims(self, response: Response) -> bool:
        return _select_claims(response)

    def next_state(self, state: ConnectionState, ok: bool) -> ConnectionState:
        # A failed SELECT leaves no mailbox selected (RFC 9051 6.3.2).
        return _SEL if ok else _AUTH


@attrs.frozen(eq=False)
class Examine(Select):
    """EXAMINE: SELECT read-only."""

    name: ClassVar[str] = "EXAMINE"


@attrs.frozen(eq=False)
class Create(Command):
    """CREATE a mailbox (RFC 9051 6.3.4)."""

    name: ClassVar[str] = "CREATE"
    allowed: ClassVar[frozenset[ConnectionState]] = _AUTHED
    mailbox: str | bytes

    def encode_args(self, w: _Writer) -> None:
        w.sp()
        w.mailbox(self.mailbox)


@attrs.frozen(eq=False)
class Delete(Create):
    """DELETE a mailbox (RFC 9051 6.3.5)."""

    name: ClassVar[str] = "DELETE"


@attrs.frozen(eq=False)
class List(Command):
    """LIST, optionally asking for RFC 6154 special-use attributes and RFC 5819 STATUS data."""

    name: ClassVar[str] = "LIST"
    allowed: ClassVar[frozenset[ConnectionState]] = _AUTHED
    reference: str | bytes = ""
    pattern: str | bytes = "*"
    special_use: bool = False
    status_items: tuple[str, ...] = attrs.field(default=(), converter=_strs)

    def encode_args(self, w: _Writer) -> None:
        w.sp()
        if self.reference:
            w.mailbox(self.reference)
        else:
            w.raw(b'""')
        w.sp()
        w.list_mailbox(self.pattern)
        returns: list[bytes] = []
        if self.special_use:
            returns.append(b"SPECIAL-USE")
        if self.status_items:
            returns.append(b"STATUS (" + _atoms(self.status_items) + b")")
        if returns:
            w.raw(b" RETURN (" + b" ".join(returns) + b")")

    def claims(self, response: Response) -> bool:
        return isinstance(response, ListData | StatusData)


def _atoms(items: Iterable[str]) -> bytes:
    out = []
    for item in items:
        data = item.encode("ascii", "replace")
        if not _ATOM.match(data):
            raise LocalProtocolError(f"{item!r} is not a valid IMAP atom")
        out.append(data)
    return b" ".join(out)


@attrs.frozen(eq=False)
class Status(Command):
    """STATUS; pipeline one per folder to check many folders in one round trip."""

    name: ClassVar[str] = "STATUS"
    allowed: ClassVar[frozenset[ConnectionState]] = _AUTHED
    mailbox: str | bytes
    items: tuple[str, ...] = attrs.field(
        default=("MESSAGES", "UIDNEXT", "UIDVALIDITY"), converter=_strs
    )

    def encode_args(self, w: _Writer) -> None:
        if not self.items:
            raise LocalProtocolError("STATUS needs at least one item")
        w.sp()
        w.mailbox(self.mailbox)
        w.raw(b" (" + _atoms(self.items) + b")")

    def claims(self, response: Response) -> bool:
        return isinstance(response, StatusData)


@attrs.frozen(eq=False)
class Append(Command):
    """APPEND a message with flags and a date (RFC 9051 6.3.12); the message is a literal."""

    name: ClassVar[str] = "APPEND"
    allowed: ClassVar[frozenset[ConnectionState]] = _AUTHED
    mailbox: str | bytes
    message: bytes = attrs.field(repr=lambda m: f"<{len(m)} bytes>")
    flags: tuple[str, ...] = attrs.field(default=(), converter=_strs)
    internaldate: datetime | None = None

    def encode_args(self, w: _Writer) -> None:
        w.sp()
        w.mailbox(self.mailbox)
        if self.flags:
            w.sp()
            w.paren_atoms(self.flags)
        if self.internaldate is not None:
            w.sp()
            w.raw(b'"' + format_internaldate(self.internaldate) + b'"')
        w.sp()
        if b"\0" in self.message:
            raise LocalProtocolError(
                "a message with NUL bytes needs BINARY, which is not supported"
            )
        w.parts.append(Literal(self.message))


@attrs.frozen(eq=False)
class Close(Command):
    """CLOSE: leave the selected mailbox, expunging unless examined (RFC 9051 6.4.1)."""

    name: ClassVar[str] = "CLOSE"
    allowed: ClassVar[frozenset[ConnectionState]] = frozenset({_SEL})

    def claims(self, response: Response) -> bool:
        return isinstance(response, ExpungeData | VanishedData)

    def next_state(self, state: ConnectionState, ok: bool) -> ConnectionState:
        return _AUTH if ok else state


@attrs.frozen(eq=False)
class Unselect(Close):
    """UNSELECT: leave the selected mailbox without expunging (RFC 3691)."""

    name: ClassVar[str] = "UNSELECT"


@attrs.frozen(eq=False)
class Expunge(Command):
    """EXPUNGE the messages marked deleted (RFC 9051 6.4.3)."""

    name: ClassVar[str] = "EXPUNGE"
    allowed: ClassVar[frozenset[ConnectionState]] = frozenset({_SEL})

    def claims(self, response: Response) -> bool:
        return isinstance(response, ExpungeData | VanishedData)


@attrs.frozen(eq=False)
class UidExpunge(Expunge):
    """UID EXPUNGE: expunge only these UIDs (RFC 4315, UIDPLUS)."""

    name: ClassVar[str] = "UID EXPUNGE"
    uids: SequenceSet | str

    def encode_args(self, w: _Writer) -> None:
        w.sp()
        w.seqset(self.uids)


@attrs.frozen(eq=False, init=False)
class UidSearch(Command):
    """UID SEARCH. Criteria: ``str`` atoms, ``int``, :class:`SequenceSet`,
    ``bytes`` for strings to match, and sequences for parenthesized groups:
    ``UidSearch("UID", SequenceSet.range(100))``,
    ``UidSearch("SUBJECT", b"hello")``. ``return_`` asks for ESEARCH (RFC 4731)."""

    name: ClassVar[str] = "UID SEARCH"
    allowed: ClassVar[frozenset[ConnectionState]] = frozenset({_SEL})
    criteria: tuple[SearchKey, ...]
    return_: tuple[str, ...] | None = None
    charset: str | None = None

    def __init__(
        self, *criteria: SearchKey, return_: Sequence[str] | None = None, charset: str | None = None
    ) -> None:
        self.__attrs_init__(
            criteria or ("ALL",), None if return_ is None else tuple(return_), charset
        )

    def encode_args(self, w: _Writer) -> None:
        if self.return_ is not None:
            w.raw(b" RETURN (" + _atoms(self.return_) + b")")
        if self.charset is not None:
            w.raw(b" CHARSET ")
            w.atom(self.charset)
        for item in self.criteria:
            w.sp()
            _criterion(w, item)

    def claims(self, response: Response) -> bool:
        return isinstance(response, SearchData) or (
            isinstance(response, ESearchData) and response.tag is None
        )


@attrs.frozen(eq=False)
class UidFetch(Command):
    """UID FETCH. ``items`` are fetch attributes such as ``"FLAGS"`` or
    ``"BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)]"``; ``changedsince`` and
    ``vanished`` are the RFC 7162 modifiers. With ``stream=True`` each result
    is delivered at once as a :class:`CommandData` event instead of in the
    completion, so that downloading many messages needs memory for one."""

    name: ClassVar[str] = "UID FETCH"
    allowed: ClassVar[frozenset[ConnectionState]] = frozenset({_SEL})
    uids: SequenceSet | str
    items: tuple[str, ...] = attrs.field(default=("UID", "FLAGS"), converter=_strs)
    changedsince: int | None = None
    vanished: bool = False
    stream: bool = False

    def encode_args(self, w: _Writer) -> None:
        if not self.items:
            raise LocalProtocolError("FETCH needs at least one item")
        for item in self.items:
            if not _FETCH_ITEM.match(item):
                raise LocalProtocolError(f"{item!r} is not a valid FETCH item")
        w.sp()
        w.seqset(self.uids)
        w.sp()
        joined = " ".join(self.items).encode("ascii")
        if len(self.items) == 1 and self.items[0].upper() in _FETCH_MACROS:
            w.raw(joined)
        else:
            w.raw(b"(" + joined + b")")
        if self.vanished and self.changedsince is None:
            raise LocalProtocolError("VANISHED needs CHANGEDSINCE")
        if self.changedsince is not None:
            w.raw(b" (CHANGEDSINCE ")
            w.number(self.changedsince)
            w.raw(b" VANISHED)" if self.vanished else b")")

    def claims(self, response: Response) -> bool:
        return isinstance(response, FetchData) or (
            isinstance(response, VanishedData) and response.earlier
        )

    def streams(self) -> bool:
        return self.stream


@attrs.frozen(eq=False)
class UidStore(Command):
    """UID STORE; ``mode`` is ``"+FLAGS"``, ``"-FLAGS"`` or ``"FLAGS"``."""

    name: ClassVar[str] = "UID STORE"
    allowed: ClassVar[frozenset[ConnectionState]] = frozenset({_SEL})
    uids: SequenceSet | str
    mode: str
    flags: tuple[str, ...] = attrs.field(converter=_strs)
    silent: bool = True
    unchangedsince: int | None = None

    def encode_args(self, w: _Writer) -> None:
        if self.mode.upper() not in ("+FLAGS", "-FLAGS", "FLAGS"):
            raise LocalProtocolError(
                f"STORE mode must be +FLAGS, -FLAGS or FLAGS, not {self.mode!r}"
            )
        w.sp()
        w.seqset(self.uids)
        if self.unchangedsince is not None:
            w.raw(b" (UNCHANGEDSINCE ")
            w.number(self.unchangedsince)
            w.raw(b")")
        w.raw(b" " + self.mode.upper().encode() + (b".SILENT " if self.silent else b" "))
        w.paren_atoms(self.flags)

    def claims(self, response: Response) -> bool:
        return isinstance(response, FetchData)


def _names(names: Iterable[str | bytes]) -> tuple[str | bytes, ...]:
    return tuple(names)


def _groups(groups: Iterable[NotifyGroup]) -> tuple[NotifyGroup, ...]:
    return tuple(groups)


#: RFC 5465's mailbox filters that take no mailbox names.
NOTIFY_FILTERS = frozenset({"selected", "selected-delayed", "inboxes", "personal", "subscribed"})


@attrs.frozen(kw_only=True)
class NotifyGroup:
    """One event group of NOTIFY SET: which mailboxes, and the events wanted from them.

    ``mailboxes`` is a filter of ``NOTIFY_FILTERS``, or ``subtree``/``mailboxes`` with
    ``names``; ``events`` are RFC 5465 event names (``MessageNew``, ``MessageExpunge``,
    ``FlagChange``, ``MailboxName``, ``SubscriptionChange``...), empty for NONE.
    """

    mailboxes: str
    events: tuple[str, ...] = attrs.field(converter=_strs)
    names: tuple[str | bytes, ...] = attrs.field(default=(), converter=_names)

    def encode(self, w: _Writer) -> None:
        """Write the group: ``(filter [names] (events))`` or ``... NONE)``."""
        if self.mailboxes in ("subtree", "mailboxes"):
            if not self.names:
                raise LocalProtocolError(f"NOTIFY {self.mailboxes} needs mailbox names")
        elif self.mailboxes not in NOTIFY_FILTERS or self.names:
            raise LocalProtocolError(f"not a NOTIFY mailbox filter: {self.mailboxes!r}")
        w.raw(b"(")
        w.atom(self.mailboxes)
        if self.names:
            w.sp()
            w.paren(self.names, w.mailbox)
        w.sp()
        if self.events:
            w.paren(self.events, w.atom)
        else:
            w.raw(b"NONE")
        w.raw(b")")


@attrs.frozen(eq=False)
class Notify(Command):
    """RFC 5465 NOTIFY: ``NOTIFY SET`` with ``groups``, or ``NOTIFY NONE`` without.

    After SET the server reports changes in the mailboxes of each group while the
    connection is otherwise quiet (IDLE included): the selected mailbox's as EXISTS,
    EXPUNGE and FETCH, others' as STATUS (UIDVALIDITY, UIDNEXT, MESSAGES) and LIST.
    ``status``: answer SET with a STATUS of every mailbox concerned first.
    """

    name: ClassVar[str] = "NOTIFY"
    allowed: ClassVar[frozenset[ConnectionState]] = _AUTHED
    groups: tuple[NotifyGroup, ...] = attrs.field(default=(), converter=_groups)
    status: bool = False

    def encode_args(self, w: _Writer) -> None:
        if not self.groups:
            w.raw(b" NONE")
            return
        w.raw(b" SET STATUS" if self.status else b" SET")
        for group in self.groups:
            w.sp()
            group.encode(w)


@attrs.frozen(eq=False)
class Idle(Command):
    """RFC 2177 IDLE. Updates arrive as events; end it with :class:`Done`."""

    name: ClassVar[str] = "IDLE"
    allowed: ClassVar[frozenset[ConnectionState]] = _AUTHED


@attrs.frozen
class Done:
    """Ends an accepted IDLE. Not a tagged command: it has no tag of its own."""
