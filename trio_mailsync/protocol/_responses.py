"""Typed server responses. Every class here is a frozen, slotted, keyword-only event.

Strings that the server sends as IMAP strings and that are not guaranteed to
be text (envelope fields, body section data) are kept as ``bytes``; names
and keywords are ``str``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any, TypeAlias, TypeVar

import attrs

from ._errors import ProtocolError, redact
from ._seqset import SequenceSet

__all__ = [
    "Address",
    "AppendUidCode",
    "BodyStructure",
    "CapabilityCode",
    "CapabilityData",
    "ConnectionClosed",
    "ContinuationRequest",
    "CopyUidCode",
    "Deferred",
    "Disposition",
    "ESearchData",
    "EnabledData",
    "Envelope",
    "Event",
    "ExistsData",
    "ExpungeData",
    "FetchData",
    "FlagsCode",
    "FlagsData",
    "IdData",
    "ListData",
    "MetadataData",
    "ModifiedCode",
    "MultiPart",
    "Namespace",
    "NamespaceData",
    "NumberCode",
    "QuotaData",
    "QuotaResource",
    "QuotaRootData",
    "RecentData",
    "Response",
    "ResponseCode",
    "ResponseStatus",
    "SearchData",
    "SinglePart",
    "StatusData",
    "TaggedResponse",
    "UnknownData",
    "UnparsedResponse",
    "UntaggedStatus",
    "Value",
    "VanishedData",
]

_T = TypeVar("_T")

#: A generic parsed value: atom (``str``), number (``int``), string (``bytes``),
#: ``NIL`` (``None``) or a parenthesized list (``tuple``).
Value: TypeAlias = "str | int | bytes | tuple[Value, ...] | None"


class ResponseStatus(enum.StrEnum):
    """The condition of a status response."""

    OK = "OK"
    NO = "NO"
    BAD = "BAD"
    PREAUTH = "PREAUTH"
    BYE = "BYE"


@attrs.frozen
class Event:
    """Base class of everything ``next_event()`` can return."""


# ---------------------------------------------------------------- response codes


@attrs.frozen(kw_only=True)
class ResponseCode:
    """A bracketed response code such as ``[ALERT]`` or ``[UIDNEXT 4392]``.

    ``name`` is upper-cased; ``text`` is what followed the name inside the
    brackets, as sent. Codes with a structured argument use a subclass.
    """

    name: str
    text: str = ""


@attrs.frozen(kw_only=True)
class CapabilityCode(ResponseCode):
    #: Upper-cased, for lookups.
    """``[CAPABILITY ...]`` in a status line."""

    capabilities: frozenset[str]
    #: As sent: the server's order and case (not compared: equal sets are equal).
    as_sent: tuple[str, ...] = attrs.field(default=(), eq=False)


@attrs.frozen(kw_only=True)
class NumberCode(ResponseCode):
    """UIDNEXT, UIDVALIDITY, UNSEEN, HIGHESTMODSEQ."""

    value: int


@attrs.frozen(kw_only=True)
class FlagsCode(ResponseCode):
    """PERMANENTFLAGS."""

    flags: tuple[str, ...]


@attrs.frozen(kw_only=True)
class AppendUidCode(ResponseCode):
    """``[APPENDUID uidvalidity uids]`` (UIDPLUS): where APPEND put the message."""

    uidvalidity: int
    uids: SequenceSet


@attrs.frozen(kw_only=True)
class CopyUidCode(ResponseCode):
    """``[COPYUID uidvalidity source destination]`` (UIDPLUS): where COPY or MOVE put them."""

    uidvalidity: int
    source: SequenceSet
    destination: SequenceSet


@attrs.frozen(kw_only=True)
class ModifiedCode(ResponseCode):
    """``[MODIFIED set]`` (RFC 7162): the messages a conditional STORE left alone."""

    modified: SequenceSet


# ---------------------------------------------------------------- status-like responses


@attrs.frozen(kw_only=True)
class TaggedResponse(Event):
    """``tag OK|NO|BAD [code] text``, the end of a command."""

    tag: str
    status: ResponseStatus
    code: ResponseCode | None = None
    text: str = ""


@attrs.frozen(kw_only=True)
class UntaggedStatus(Event):
    """``* OK|NO|BAD|BYE|PREAUTH [code] text``."""

    status: ResponseStatus
    code: ResponseCode | None = None
    text: str = ""


@attrs.frozen(kw_only=True)
class ContinuationRequest(Event):
    """``+ ...``: the server is ready for a literal or wants a SASL response."""

    data: bytes = b""

    @property
    def text(self) -> str:
        """The continuation's text (UTF-8, else Latin-1)."""
        return self.data.decode("utf-8", "replace")


@attrs.frozen(kw_only=True)
class ConnectionClosed(Event):
    """The server closed its side of the connection."""


# ---------------------------------------------------------------- untagged data


@attrs.frozen(kw_only=True)
class CapabilityData(Event):
    #: Upper-cased, for lookups.
    """``* CAPABILITY ...``."""

    capabilities: frozenset[str]
    #: As sent: the server's order and case (not compared: equal sets are equal).
    as_sent: tuple[str, ...] = attrs.field(default=(), eq=False)


@attrs.frozen(kw_only=True)
class EnabledData(Event):
    """``* ENABLED ...`` (RFC 5161): the extensions ENABLE turned on."""

    capabilities: frozenset[str]


@attrs.frozen(kw_only=True)
class FlagsData(Event):
    """``* FLAGS (...)``: the flags the selected mailbox knows."""

    flags: tuple[str, ...]


_SPECIAL_USE = {
    "\\all": "all",
    "\\archive": "archive",
    "\\drafts": "drafts",
    "\\flagged": "flagged",
    "\\junk": "junk",
    "\\sent": "sent",
    "\\trash": "trash",
    "\\important": "important",
}


@attrs.frozen(kw_only=True)
class ListData(Event):
    """One mailbox from ``LIST`` or ``LSUB``.

    ``mailbox`` is the decoded name (INBOX in any case becomes ``"INBOX"``);
    ``raw_mailbox`` is the name exactly as the server sent it, to be used
    when the decoded form might not encode back to the same bytes.
    """

    kind: str
    attributes: tuple[str, ...]
    delimiter: str | None
    mailbox: str
    raw_mailbox: bytes
    extended: tuple[Value, ...] = ()

    def has_attribute(self, name: str) -> bool:
        """Whether the mailbox has ``name`` among its attributes (case-insensitive)."""
        wanted = name.lower()
        return any(a.lower() == wanted for a in self.attributes)

    @property
    def selectable(self) -> bool:
        """Whether the mailbox can be selected (not ``\\Noselect`` or ``\\NonExistent``)."""
        return not (self.has_attribute("\\Noselect") or self.has_attribute("\\NonExistent"))

    @property
    def special_use(self) -> str | None:
        """The RFC 6154 role (``"sent"``, ``"trash"``...) this mailbox declares, if any."""
        for attribute in self.attributes:
            role = _SPECIAL_USE.get(attribute.lower())
            if role is not None:
                return role
        return None


@attrs.frozen(kw_only=True)
class StatusData(Event):
    """``* STATUS mailbox (...)``. Items the server did not send are ``None``."""

    mailbox: str
    raw_mailbox: bytes
    messages: int | None = None
    recent: int | None = None
    uidnext: int | None = None
    uidvalidity: int | None = None
    unseen: int | None = None
    deleted: int | None = None
    size: int | None = None
    highestmodseq: int | None = None
    #: RFC 8474's MAILBOXID (an objectid), ``None`` when not sent.
    mailboxid: str | None = None
    #: RFC 7889's APPENDLIMIT; ``None`` both when not sent and when sent as NIL (no
    #: limit): ``items`` tells the two apart.
    appendlimit: int | None = None
    #: Every item as sent, known ones included, by upper-cased name: numbers as ``int``,
    #: MAILBOXID as ``str``, NIL as ``None``.
    items: Mapping[str, int | str | None] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class ExistsData(Event):
    """``* n EXISTS``: the selected mailbox holds ``count`` messages."""

    count: int


@attrs.frozen(kw_only=True)
class RecentData(Event):
    """``* n RECENT``."""

    count: int


@attrs.frozen(kw_only=True)
class ExpungeData(Event):
    """``* n EXPUNGE``: message number ``seq`` is gone (later numbers move down)."""

    seq: int


@attrs.frozen(kw_only=True)
class Address:
    """One address of an envelope; a group is bracketed by addresses whose ``host`` is ``None``."""

    name: bytes | None = None
    adl: bytes | None = None
    mailbox: bytes | None = None
    host: bytes | None = None

    @property
    def email(self) -> str | None:
        """``mailbox@host`` as text, or ``None`` for a group marker."""
        if self.mailbox is None or self.host is None:
            return None
        return (self.mailbox + b"@" + self.host).decode("utf-8", "replace")


@attrs.frozen(kw_only=True)
class Envelope:
    """RFC 3501 ENVELOPE. Fields are as sent (often RFC 2047 encoded words)."""

    date: bytes | None = None
    subject: bytes | None = None
    from_: tuple[Address, ...] = ()
    sender: tuple[Address, ...] = ()
    reply_to: tuple[Address, ...] = ()
    to: tuple[Address, ...] = ()
    cc: tuple[Address, ...] = ()
    bcc: tuple[Address, ...] = ()
    in_reply_to: bytes | None = None
    message_id: bytes | None = None


@attrs.frozen(kw_only=True)
class Disposition:
    """A body part's Content-Disposition: its type and parameters."""

    type: str
    params: tuple[tuple[str, str], ...] = ()


@attrs.frozen(kw_only=True)
class SinglePart:
    """A non-multipart body. ``type`` and ``subtype`` are lower-cased."""

    type: str
    subtype: str
    params: tuple[tuple[str, str], ...] = ()
    id: bytes | None = None
    description: bytes | None = None
    encoding: str | None = None
    size: int | None = None
    #: Text lines, for ``text/*`` and ``message/rfc822``.
    lines: int | None = None
    #: For ``message/rfc822`` (and ``message/global``): the enclosed message.
    envelope: Envelope | None = None
    body: BodyStructure | None = None
    md5: bytes | None = None
    disposition: Disposition | None = None
    language: tuple[str, ...] = ()
    location: bytes | None = None
    extension: tuple[Value, ...] = ()


@attrs.frozen(kw_only=True)
class MultiPart:
    """A multipart body: its parts, subtype and extension data."""

    parts: tuple[BodyStructure, ...]
    subtype: str
    params: tuple[tuple[str, str], ...] = ()
    disposition: Disposition | None = None
    language: tuple[str, ...] = ()
    location: bytes | None = None
    extension: tuple[Value, ...] = ()


BodyStructure: TypeAlias = SinglePart | MultiPart


class Deferred:
    """A FETCH value kept as its bytes until first read (see :class:`FetchData`).

    ``raw`` is the value as sent (one balanced parenthesized list, on one line), ``offset``
    where it starts in the stream, and ``read`` the function that turns it into the typed
    value or raises :class:`~trio_mailsync.protocol.RemoteProtocolError`.
    """

    __slots__ = ("offset", "raw", "read")

    def __init__(self, raw: bytes, offset: int, read: Callable[[bytes, int], object]) -> None:
        self.raw = raw
        self.offset = offset
        self.read = read

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Deferred) and (self.raw, self.read) == (other.raw, other.read)

    def __hash__(self) -> int:
        return hash(self.raw)

    def __repr__(self) -> str:
        return f"Deferred({redact(self.raw)!r}...)"


def _read_now(value: object) -> object:
    """``value`` decoded if it was deferred (for equality); unreadable stays as it is."""
    if value.__class__ is not Deferred:
        return value
    try:
        return value.read(value.raw, value.offset)  # type: ignore[attr-defined,unused-ignore]
    except ProtocolError:
        return value


_NOTHING: Mapping[str, Any] = MappingProxyType({})


@attrs.frozen(kw_only=True, repr=False)
class FetchData(Event):
    """``* n FETCH (...)``. Items not sent are ``None``; body sections are in ``sections``.

    ``sections`` maps the item name as sent, upper-cased (``"BODY[]"``,
    ``"BODY[HEADER.FIELDS (SUBJECT)]"``, ``"BODY[]<0>"``, ``"BINARY[1]"``,
    ``"RFC822.HEADER"``) to its data. Items this parser does not know are
    kept, as generic values, in ``other``.

    ``envelope``, ``body`` and ``bodystructure`` are decoded on first access, not when the
    response is parsed: most of a response's cost is in them, and many readers never look
    (a flag resync, a UID listing). The parser has already checked that each is one
    balanced list; what it holds is read on access, and a value that cannot be read raises
    :class:`~trio_mailsync.protocol.RemoteProtocolError` there, each time it is accessed.
    That is a content error of one response: the connection is unaffected. A value read
    once is kept.
    """

    seq: int
    uid: int | None = None
    flags: tuple[str, ...] | None = None
    internaldate: datetime | None = None
    rfc822_size: int | None = None
    _envelope: Envelope | Deferred | None = attrs.field(default=None, eq=_read_now)
    _body: BodyStructure | Deferred | None = attrs.field(default=None, eq=_read_now)
    _bodystructure: BodyStructure | Deferred | None = attrs.field(default=None, eq=_read_now)
    modseq: int | None = None
    gm_msgid: int | None = None
    gm_thrid: int | None = None
    gm_labels: tuple[str, ...] | None = None
    emailid: str | None = None
    threadid: str | None = None
    sections: Mapping[str, bytes | None] = _NOTHING
    other: Mapping[str, Value] = _NOTHING

    def _read(self, name: str, value: Deferred) -> Any:
        """Decode a deferred field and keep the result (the value is immutable)."""
        decoded = value.read(value.raw, value.offset)
        object.__setattr__(self, name, decoded)
        return decoded

    @property
    def envelope(self) -> Envelope | None:
        """The ENVELOPE item, decoded on first access."""
        value = self._envelope
        if isinstance(value, Deferred):
            return self._read("_envelope", value)  # type: ignore[no-any-return]
        return value

    @property
    def body(self) -> BodyStructure | None:
        """The BODY item (a body structure without extension data), decoded on first access."""
        value = self._body
        if isinstance(value, Deferred):
            return self._read("_body", value)  # type: ignore[no-any-return]
        return value

    @property
    def bodystructure(self) -> BodyStructure | None:
        """The BODYSTRUCTURE item, decoded on first access."""
        value = self._bodystructure
        if isinstance(value, Deferred):
            return self._read("_bodystructure", value)  # type: ignore[no-any-return]
        return value

    @property
    def rfc822_header(self) -> bytes | None:
        """The ``RFC822.HEADER`` item, if it was sent."""
        return self.sections.get("RFC822.HEADER")

    def __repr__(self) -> str:
        # Only the items that were sent; a deferred value is shown decoded, or why not.
        parts = [f"seq={self.seq!r}"]
        for field in attrs.fields(FetchData)[1:]:
            value = getattr(self, field.name)
            if value is None or (field.name in _MAPS and not value):
                continue
            if value.__class__ is Deferred:
                try:
                    value = self._read(field.name, value)
                except ProtocolError as exc:
                    parts.append(f"{field.alias}=<unreadable: {exc}>")
                    continue
            parts.append(f"{field.alias}={value!r}")
        return f"FetchData({', '.join(parts)})"


_MAPS = ("sections", "other")


def quick_constructor(cls: type[_T], *names: str) -> Callable[..., _T]:
    """A positional constructor of the frozen, slotted attrs class ``cls`` for ``names``.

    Every other field takes its default (no factories). The constructor sets each slot
    through its descriptor, in straight-line code generated here as attrs generates
    ``__init__``; attrs' own ``__init__`` takes keywords and sets each field with
    ``object.__setattr__``, which costs about 60 % more: it counts on the hot path of a
    flag resync, a million FETCH lines. No validators or converters run (``cls`` has none).
    """
    fields = attrs.fields(cls)  # type: ignore[arg-type]
    scope: dict[str, Any] = {"new": object.__new__, "cls": cls}
    body = ["    o = new(cls)"]
    for i, f in enumerate(fields):
        scope[f"set{i}"] = cls.__dict__[f.name].__set__
        if f.name in names:
            body.append(f"    set{i}(o, {f.name})")
        elif isinstance(f.default, attrs.Factory) or f.default is attrs.NOTHING:  # type: ignore[arg-type]
            raise TypeError(f"{cls.__name__}.{f.name} needs a value")
        else:
            scope[f"default{i}"] = f.default
            body.append(f"    set{i}(o, default{i})")
    source = f"def construct({', '.join(names)}):\n" + "\n".join(body) + "\n    return o\n"
    # Generated as attrs generates __init__: the source is built from field names only.
    exec(compile(source, f"<quick constructor of {cls.__name__}>", "exec"), scope)  # noqa: S102
    construct: Callable[..., _T] = scope["construct"]
    construct.__qualname__ = f"{cls.__name__}.quick({', '.join(names)})"
    return construct


@attrs.frozen(kw_only=True)
class SearchData(Event):
    """``* SEARCH n ...``: the numbers or UIDs found (and MODSEQ with CONDSTORE)."""

    ids: tuple[int, ...]
    modseq: int | None = None


@attrs.frozen(kw_only=True)
class ESearchData(Event):
    """RFC 4731 ESEARCH. ``tag`` correlates it with the command that asked."""

    tag: str | None = None
    uid: bool = False
    min: int | None = None
    max: int | None = None
    count: int | None = None
    all: SequenceSet | None = None
    modseq: int | None = None
    other: Mapping[str, Value] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class VanishedData(Event):
    """RFC 7162 ``VANISHED [(EARLIER)] uid-set``."""

    earlier: bool
    uids: SequenceSet


@attrs.frozen(kw_only=True)
class UnknownData(Event):
    """An untagged response this parser has no model for, kept whole."""

    name: str
    raw: bytes


@attrs.frozen(kw_only=True, repr=False)
class UnparsedResponse(Event):
    """An untagged response that was framed whole but could not be read: a content error.

    The stream is still in step, so the connection and the command in flight carry
    on; the command's completion lists it (``CommandCompleted.unparsed``). ``kind`` is
    the response's name where it could be seen (``FETCH``, ``STATUS``...), ``number`` the
    message number of ``* n FETCH``, and ``uid`` a ``UID n`` found in it by a plain
    search: a hint for recovering the message, not a parsed value. ``raw`` is the whole
    response (lines and literals), ``offset`` where it starts in the stream.
    """

    kind: str | None
    number: int | None
    uid: int | None
    reason: str
    offset: int
    raw: bytes

    def __repr__(self) -> str:
        # The raw bytes may hold anything (a message's headers): only a redacted snippet.
        return (
            f"UnparsedResponse(kind={self.kind!r}, number={self.number!r}, uid={self.uid!r}, "
            f"reason={self.reason!r}, offset={self.offset}, raw={redact(self.raw)!r}...)"
        )


@attrs.frozen(kw_only=True)
class Namespace:
    """One namespace: its prefix, its hierarchy delimiter, and extension data as sent."""

    prefix: str
    delimiter: str | None
    extensions: tuple[Value, ...] = ()


@attrs.frozen(kw_only=True)
class NamespaceData(Event):
    """``* NAMESPACE personal other shared`` (RFC 2342); ``None`` for a NIL group."""

    personal: tuple[Namespace, ...] | None
    other: tuple[Namespace, ...] | None
    shared: tuple[Namespace, ...] | None


@attrs.frozen(kw_only=True)
class IdData(Event):
    """``* ID (...)`` (RFC 2971): the server's field/value pairs; ``None`` for ``ID NIL``."""

    fields: Mapping[str, str | None] | None


@attrs.frozen(kw_only=True)
class QuotaResource:
    """One resource of a quota root: its name, what is used and the limit."""

    name: str
    usage: int
    limit: int


@attrs.frozen(kw_only=True)
class QuotaData(Event):
    """``* QUOTA root (resource usage limit ...)`` (RFC 9208)."""

    root: str
    resources: tuple[QuotaResource, ...]


@attrs.frozen(kw_only=True)
class QuotaRootData(Event):
    """``* QUOTAROOT mailbox root ...`` (RFC 9208)."""

    mailbox: str
    roots: tuple[str, ...]


@attrs.frozen(kw_only=True)
class MetadataData(Event):
    """``* METADATA mailbox (entry value ...)`` or, unsolicited, ``* METADATA mailbox entry ...``.

    ``entries`` maps entry names to values (``None``: NIL, or a name the server only
    said changed).
    """

    mailbox: str
    entries: Mapping[str, bytes | None]


Response: TypeAlias = (
    TaggedResponse
    | UntaggedStatus
    | ContinuationRequest
    | CapabilityData
    | EnabledData
    | FlagsData
    | ListData
    | StatusData
    | ExistsData
    | RecentData
    | ExpungeData
    | FetchData
    | SearchData
    | ESearchData
    | VanishedData
    | UnknownData
    | UnparsedResponse
    | NamespaceData
    | IdData
    | QuotaData
    | QuotaRootData
    | MetadataData
)
