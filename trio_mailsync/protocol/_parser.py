"""Incremental parser: bytes from the server in, typed responses out.

Two stages. The framer (``_framing``) cuts the byte stream into whole
responses without looking at their grammar, so a 100 MiB literal is never
scanned, only sliced. The interpreter here reads one whole response: status
lines and the short forms directly with regexes, the rest through the
tokenizer of ``_lexer`` and, for FETCH, the readers of ``_fetch``.
"""

from __future__ import annotations

import enum
import functools
import re
from typing import Any, Final, Literal

from ._errors import RemoteProtocolError
from ._fetch import (
    FAST_DEPTH,
    UID_FLAGS_LINE,
    parse_fast_fetch,
    parse_fetch,
    parse_internaldate,
    parse_uid_flags,
)
from ._framing import Frame, Framer
from ._lexer import (
    Cursor,
    Raw,
    atom_text,
    atoms,
    decode_mailbox,
    flatten_pairs,
    freeze,
    mailbox_raw,
    nstring,
    number,
    opt_number,
    seqset_value,
    string_text,
    text_of,
)
from ._limits import Limits
from ._responses import (
    AppendUidCode,
    CapabilityCode,
    CapabilityData,
    ConnectionClosed,
    ContinuationRequest,
    CopyUidCode,
    EnabledData,
    ESearchData,
    ExistsData,
    ExpungeData,
    FlagsCode,
    FlagsData,
    IdData,
    ListData,
    MetadataData,
    ModifiedCode,
    Namespace,
    NamespaceData,
    NumberCode,
    QuotaData,
    QuotaResource,
    QuotaRootData,
    RecentData,
    Response,
    ResponseCode,
    ResponseStatus,
    SearchData,
    StatusData,
    TaggedResponse,
    UnknownData,
    UnparsedResponse,
    UntaggedStatus,
    Value,
    VanishedData,
)
from ._seqset import SequenceSet

__all__ = ["NEED_DATA", "NeedData", "ResponseParser", "decode_mailbox", "parse_internaldate"]


class NeedData(enum.Enum):
    """Sentinel type: ``next_event()`` needs more bytes before it can say more."""

    NEED_DATA = "NEED_DATA"

    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA: Final = NeedData.NEED_DATA

_UNTAGGED_NUMBER = re.compile(rb"\* +(\d+) +([A-Za-z]+) *")
_UNTAGGED_WORD = re.compile(rb"\* +([^ (\[]+) *")
# A response code's name is an atom (RFC 9051 resp-text-code).
_CODE_NAME = re.compile(rb"[^\x00-\x20\x7f(){%*\"\\\]]+\Z")
_TAGGED = re.compile(rb"([^ *+][^ ]*) +([A-Za-z]+)(?: +|\Z)")
_SEARCH = re.compile(rb"[ 0-9]*")


# ---------------------------------------------------------------- response codes

_NUMBER_CODES = frozenset({"UIDNEXT", "UIDVALIDITY", "UNSEEN", "HIGHESTMODSEQ"})


def _parse_code(inner: bytes) -> ResponseCode:
    name_b, _, arg = inner.strip().partition(b" ")
    name = atom_text(name_b).upper()
    arg = arg.strip()
    text = text_of(arg)
    if name == "CAPABILITY":
        return CapabilityCode(
            name=name,
            text=text,
            capabilities=_capability_set(arg),
            as_sent=_capability_words(arg),
        )
    if name in _NUMBER_CODES and arg.isdigit():
        return NumberCode(name=name, text=text, value=int(arg))
    if name == "PERMANENTFLAGS":
        return FlagsCode(name=name, text=text, flags=tuple(text.strip("()").split()))
    try:
        if name == "APPENDUID":
            validity, uids = arg.split()
            return AppendUidCode(
                name=name, text=text, uidvalidity=int(validity), uids=SequenceSet.parse(uids)
            )
        if name == "MODIFIED":
            return ModifiedCode(name=name, text=text, modified=SequenceSet.parse(arg.decode()))
        if name == "COPYUID":
            validity, source, destination = arg.split()
            return CopyUidCode(
                name=name,
                text=text,
                uidvalidity=int(validity),
                source=SequenceSet.parse(source),
                destination=SequenceSet.parse(destination),
            )
    except ValueError:
        pass  # kept as a plain code with its text
    return ResponseCode(name=name, text=text)


def _capability_set(data: bytes) -> frozenset[str]:
    # Every connection to a server gets the same line: a thousand connections
    # share one set. Only ordinary lengths are kept, so the cache stays small.
    if len(data) <= 4096:
        return _shared_capability_set(data)
    return _shared_capability_set.__wrapped__(data)


@functools.lru_cache(maxsize=64)
def _shared_capability_set(data: bytes) -> frozenset[str]:
    return frozenset(atom_text(word).upper() for word in data.split())


def _capability_words(data: bytes) -> tuple[str, ...]:
    """The capabilities as sent: the server's order and case (shared, as the set is)."""
    if len(data) <= 4096:
        return _shared_capability_words(data)
    return _shared_capability_words.__wrapped__(data)


@functools.lru_cache(maxsize=64)
def _shared_capability_words(data: bytes) -> tuple[str, ...]:
    return tuple(atom_text(word) for word in data.split())


def _code_end(rest: bytes) -> int:
    """Where the code that ``rest`` starts with ends: its ``]``, not one inside a quoted
    string or parentheses of its argument (``[BADCHARSET ("a]b")]``); -1: never closed."""
    depth = 0
    quoted = escaped = False
    for i in range(1, len(rest)):
        c = rest[i]
        if quoted:
            if escaped:
                escaped = False
            elif c == 0x5C:  # backslash
                escaped = True
            elif c == 0x22:
                quoted = False
        elif c == 0x22:
            quoted = True
        elif c == 0x28:  # (
            depth += 1
        elif c == 0x29 and depth:
            depth -= 1
        elif c == 0x5D and not depth:  # ]
            return i
    # Unbalanced quotes or parentheses: the first "]" is the best guess.
    return rest.find(b"]")


def _resp_text(line: bytes, pos: int) -> tuple[ResponseCode | None, str]:
    rest = line[pos:].lstrip(b" ")
    code = None
    if rest[:1] == b"[":
        close = _code_end(rest)
        inner = rest[1:] if close < 0 else rest[1:close]
        # A code must start with an atom; Exchange Online sends
        # [Error="..." ...], which is kept as plain text instead.
        if _CODE_NAME.match(inner.split(b" ", 1)[0]):
            code = _parse_code(inner)
            # Tolerated: an unclosed code takes the rest of the line.
            rest = b"" if close < 0 else rest[close + 1 :].lstrip(b" ")
    return code, text_of(rest.rstrip(b" "))


def _parse_list(c: Cursor, kind: str, utf8: bool) -> ListData:
    attributes = c.value()
    delimiter = c.value()
    li = c.li
    name = c.value()
    raw = mailbox_raw(name)
    if isinstance(name, str) and c.li == li:
        # Lotus Notes leaves names with spaces unquoted: Folder\Subfolder 1.
        words = [raw]
        while (word := c.peek()) is not None and word[:1] not in (b"(", b"{", b'"', b"~"):
            words.append(word)
            c.ti += 1
        raw = b" ".join(words)
    extended = tuple(freeze(x) for x in c.values_to_end())
    if isinstance(delimiter, bytes | str):
        delim: str | None = text_of(delimiter) if isinstance(delimiter, bytes) else delimiter
    elif delimiter is None:
        delim = None
    else:
        raise c.error("LIST delimiter is neither a string nor NIL")
    return ListData(
        kind=kind,
        attributes=atoms(attributes),
        delimiter=delim,
        mailbox=decode_mailbox(raw, utf8),
        raw_mailbox=raw,
        extended=extended,
    )


_STATUS_FIELDS = {
    "MESSAGES": "messages",
    "RECENT": "recent",
    "UIDNEXT": "uidnext",
    "UIDVALIDITY": "uidvalidity",
    "UNSEEN": "unseen",
    "DELETED": "deleted",
    "SIZE": "size",
    "HIGHESTMODSEQ": "highestmodseq",
    "MAILBOXID": "mailboxid",
    "APPENDLIMIT": "appendlimit",
}


def _parse_status(c: Cursor, utf8: bool) -> StatusData:
    values = c.values_to_end()
    if len(values) < 2 or not isinstance(values[-1], list):
        raise c.error("STATUS needs a mailbox and one list of items")
    names, rest = values[:-1], values[-1:]
    if len(names) > 1 and not all(isinstance(n, str | int) for n in names):
        raise c.error("STATUS needs a mailbox and one list of items")
    # Unquoted names with spaces (Lotus Notes), as LIST takes them: the atoms joined.
    raw = b" ".join(mailbox_raw(n) for n in names)
    items_raw = rest[0]
    items: dict[str, int | str | None] = {}
    kw: dict[str, int | str] = {}
    for i in range(0, len(items_raw) - 1, 2):
        name = items_raw[i]
        if not isinstance(name, str):
            raise c.error("STATUS item name is not an atom")
        upper = name.upper()
        raw_value = items_raw[i + 1]
        value: int | str | None
        if upper == "MAILBOXID":
            # An objectid in parentheses (RFC 8474): (F2212ea87-6097-4256-9d51-71338625).
            inner = raw_value[0] if isinstance(raw_value, list) and raw_value else raw_value
            value = None if inner is None else string_text(inner)
        elif raw_value is None:
            value = None  # NIL: sent, and distinct from absent (APPENDLIMIT: no limit)
        else:
            value = opt_number(raw_value)
            if value is None:
                continue  # tolerated: an item with junk for a value
        items[upper] = value
        field = _STATUS_FIELDS.get(upper)
        if field is not None and value is not None:
            kw[field] = value
    return StatusData(mailbox=decode_mailbox(raw, utf8), raw_mailbox=raw, items=items, **kw)  # type: ignore[arg-type]


#: The usual STATUS answer, read without the tokenizer: a mailbox that is an atom or a
#: quoted string, then ``NAME number`` pairs. A no-change sync is made of these (one per
#: folder per account); anything else takes the general path.
_FAST_STATUS = re.compile(
    rb'\* STATUS (?:([A-Za-z0-9!#$&\'+,./:;<=>?@^_`|~-]+)|"((?:[^"\\\r\n]|\\["\\])*)") '
    rb"\(([A-Za-z]+ \d{1,19}(?: [A-Za-z]+ \d{1,19})*)?\)"
)
_QUOTED_ESCAPE = re.compile(rb'\\(["\\])')


def parse_fast_status(line: bytes, utf8: bool) -> StatusData | None:
    """``line`` read as :func:`_parse_status` reads it, if it has the usual shape; else None."""
    m = _FAST_STATUS.fullmatch(line)
    if m is None:
        return None
    atom, quoted, pairs = m.groups()
    if atom is not None:
        raw = atom
    else:
        raw = _QUOTED_ESCAPE.sub(rb"\1", quoted) if b"\\" in quoted else quoted
    items: dict[str, int | str | None] = {}
    kw: dict[str, int] = {}
    if pairs:
        words = pairs.split(b" ")
        for i in range(0, len(words), 2):
            upper = words[i].decode("ascii").upper()
            value = int(words[i + 1])
            items[upper] = value
            field = _STATUS_FIELDS.get(upper)
            if field is not None:
                kw[field] = value
    return StatusData(mailbox=decode_mailbox(raw, utf8), raw_mailbox=raw, items=items, **kw)  # type: ignore[arg-type]


def _namespaces(c: Cursor, v: Raw) -> tuple[Namespace, ...] | None:
    if v is None:
        return None
    if not isinstance(v, list):
        raise c.error("NAMESPACE expects a list of namespaces or NIL")
    spaces = []
    for entry in v:
        if not isinstance(entry, list) or len(entry) < 2:
            raise c.error("a namespace is (prefix delimiter ...)")
        delimiter = entry[1]
        spaces.append(
            Namespace(
                prefix=string_text(entry[0]),
                delimiter=None if delimiter is None else string_text(delimiter),
                extensions=tuple(freeze(x) for x in entry[2:]),
            )
        )
    return tuple(spaces)


def _parse_namespace(c: Cursor) -> NamespaceData:
    personal, other, shared = (_namespaces(c, c.value()) for _ in range(3))
    c.expect_end()
    return NamespaceData(personal=personal, other=other, shared=shared)


def _parse_id(c: Cursor) -> IdData:
    v = c.value()
    # Not expect_end(): datamail.in sends a stray "+" after the list (swift-nio-imap#740).
    if v is None:
        return IdData(fields=None)
    if not isinstance(v, list) or len(v) % 2:
        raise c.error("ID expects NIL or a list of field/value pairs")
    return IdData(
        fields={
            string_text(v[i]): None if v[i + 1] is None else string_text(v[i + 1])
            for i in range(0, len(v), 2)
        }
    )


def _parse_quota(c: Cursor, utf8: bool) -> QuotaData:
    root = decode_mailbox(mailbox_raw(c.value()), utf8)
    v = c.value()
    c.expect_end()
    if not isinstance(v, list) or len(v) % 3:
        raise c.error("QUOTA expects (resource usage limit ...)")
    return QuotaData(
        root=root,
        resources=tuple(
            QuotaResource(
                name=string_text(v[i]).upper(), usage=number(v[i + 1]), limit=number(v[i + 2])
            )
            for i in range(0, len(v), 3)
        ),
    )


def _parse_quotaroot(c: Cursor, utf8: bool) -> QuotaRootData:
    mailbox = decode_mailbox(mailbox_raw(c.value()), utf8)
    roots = tuple(decode_mailbox(mailbox_raw(v), utf8) for v in c.values_to_end())
    return QuotaRootData(mailbox=mailbox, roots=roots)


def _parse_metadata(c: Cursor, utf8: bool) -> MetadataData:
    mailbox = decode_mailbox(mailbox_raw(c.value()), utf8)
    rest = c.values_to_end()
    if len(rest) == 1 and isinstance(rest[0], list):
        pairs = rest[0]
        if len(pairs) % 2:
            raise c.error("METADATA expects (entry value ...)")
        entries = {string_text(pairs[i]): nstring(pairs[i + 1]) for i in range(0, len(pairs), 2)}
    else:
        # Unsolicited: the names of entries that changed (RFC 5464 4.4.2).
        entries = {string_text(v): None for v in rest}
    return MetadataData(mailbox=mailbox, entries=entries)


def _parse_search(c: Cursor) -> SearchData:
    line = c.rest_of_line()
    m = _SEARCH.match(line)
    assert m is not None  # the pattern matches the empty string
    ids = tuple(map(int, m.group().split()))
    modseq = None
    rest = line[m.end() :].strip()
    if rest:
        m2 = re.fullmatch(rb"\(\s*MODSEQ\s+(\d+)\s*\)", rest, re.IGNORECASE)
        if m2 is None:
            raise c.error("unexpected data in SEARCH response")
        modseq = int(m2.group(1))
    return SearchData(ids=ids, modseq=modseq)


def _parse_esearch(c: Cursor) -> ESearchData:
    values = c.values_to_end()
    tag = None
    uid = False
    if values and isinstance(values[0], list):
        correlator = values.pop(0)
        if len(correlator) == 2 and str(correlator[0]).upper() == "TAG":
            tag = string_text(correlator[1])
    if values and isinstance(values[0], str) and values[0].upper() == "UID":
        uid = True
        values.pop(0)
    values = flatten_pairs(values)
    if len(values) % 2:
        raise c.error("ESEARCH item without a value")
    kw: dict[str, Any] = {}
    other: dict[str, Value] = {}
    try:
        for i in range(0, len(values), 2):
            name = str(values[i]).upper()
            value = values[i + 1]
            if name in ("MIN", "MAX", "COUNT", "MODSEQ"):
                kw[name.lower()] = number(value)
            elif name == "ALL":
                kw["all"] = seqset_value(value)
            else:
                other[name] = freeze(value)
    except ValueError as exc:
        raise c.error(f"bad ESEARCH data: {exc}") from None
    return ESearchData(tag=tag, uid=uid, other=other, **kw)


def _parse_vanished(c: Cursor) -> VanishedData:
    values = c.values_to_end()
    earlier = False
    if values and isinstance(values[0], list):
        flag = values.pop(0)
        earlier = [str(x).upper() for x in flag] == ["EARLIER"]
        if not earlier:
            raise c.error("VANISHED takes only the EARLIER tag")
    if len(values) != 1:
        raise c.error("VANISHED needs one UID set")
    try:
        uids = seqset_value(values[0])
    except ValueError as exc:
        raise c.error(f"bad VANISHED UID set: {exc}") from None
    return VanishedData(earlier=earlier, uids=uids)


# ---------------------------------------------------------------- dispatch


def _parse_untagged(frame: Frame, max_depth: int, utf8: bool) -> Response:
    line = frame.lines[0]
    m = _UNTAGGED_NUMBER.match(line)
    if m is not None:
        n = int(m.group(1))
        word = m.group(2).upper()
        if word == b"FETCH":
            return parse_fetch(frame, m.end(), n, max_depth)
        c = Cursor(frame, m.end(), max_depth)
        if word == b"EXISTS":
            c.expect_end()
            return ExistsData(count=n)
        if word == b"EXPUNGE":
            c.expect_end()
            return ExpungeData(seq=n)
        if word == b"RECENT":
            c.expect_end()
            return RecentData(count=n)
        return UnknownData(name=atom_text(word), raw=frame.raw())
    m = _UNTAGGED_WORD.match(line)
    if m is None and re.match(rb"\* +\[", line):
        # home.pl sends "* [COPYUID ...]" without the OK.
        code, text = _resp_text(line, 1)
        return UntaggedStatus(status=ResponseStatus.OK, code=code, text=text)
    if m is None:
        raise RemoteProtocolError(
            "untagged response without a name", offset=frame.offsets[0], snippet=line[:48]
        )
    word = m.group(1).upper()
    status = _STATUSES.get(word)
    if status is not None:
        code, text = _resp_text(line, m.end())
        return UntaggedStatus(status=status, code=code, text=text)
    c = Cursor(frame, m.end(), max_depth)
    if word == b"CAPABILITY":
        line = c.rest_of_line()
        return CapabilityData(capabilities=_capability_set(line), as_sent=_capability_words(line))
    if word == b"ENABLED":
        return EnabledData(capabilities=_capability_set(c.rest_of_line()))
    if word == b"FLAGS":
        flags = c.value()
        c.expect_end()
        return FlagsData(flags=atoms(flags))
    if word in (b"LIST", b"LSUB", b"XLIST"):
        # XLIST (Gmail's and others' forerunner of SPECIAL-USE) reads as LIST.
        return _parse_list(c, word.decode(), utf8)
    if word == b"NAMESPACE":
        return _parse_namespace(c)
    if word == b"ID":
        return _parse_id(c)
    if word == b"QUOTA":
        return _parse_quota(c, utf8)
    if word == b"QUOTAROOT":
        return _parse_quotaroot(c, utf8)
    if word == b"METADATA":
        return _parse_metadata(c, utf8)
    if word == b"STATUS":
        return _parse_status(c, utf8)
    if word == b"SEARCH":
        return _parse_search(c)
    if word == b"ESEARCH":
        return _parse_esearch(c)
    if word == b"VANISHED":
        return _parse_vanished(c)
    return UnknownData(name=atom_text(word), raw=frame.raw())


_STATUSES = {s.value.encode(): s for s in ResponseStatus}
_TAGGED_STATUSES = {b"OK": ResponseStatus.OK, b"NO": ResponseStatus.NO, b"BAD": ResponseStatus.BAD}


def _parse_star(frame: Frame, max_depth: int, utf8: bool) -> Response:
    line = frame.lines[0]
    # The fast path follows an item's lists FAST_DEPTH deep, inside the FETCH list: taken
    # only when the limit allows as much.
    if (
        len(frame.lines) == 1
        and max_depth > FAST_DEPTH
        and (fetch := parse_fast_fetch(line, frame.offsets[0]))
    ):
        return fetch
    if len(frame.lines) == 1 and line.startswith(b"* STATUS ") and max_depth > 1:
        status = parse_fast_status(line, utf8)
        if status is not None:
            return status
    return _parse_untagged(frame, max_depth, utf8)


_UNPARSED_HEAD = re.compile(rb"\* +(?:(\d+) +)?([A-Za-z][A-Za-z0-9.-]*)")
_UID_HINT = re.compile(rb"[( ]UID +(\d{1,19})(?![0-9A-Za-z])", re.IGNORECASE)


def _unparsed(frame: Frame, reason: str) -> UnparsedResponse:
    """An untagged response that is whole but unreadable: a content error, not a framing one.

    Its bytes are kept; its name, message number and a ``UID n`` are looked for by plain
    searches, so that the caller can tell which command and which message it concerns.
    """
    line = frame.lines[0]
    head = _UNPARSED_HEAD.match(line)
    number = int(head.group(1)) if head is not None and head.group(1) else None
    kind = head.group(2).decode("ascii").upper() if head is not None else None
    uid_hint = _UID_HINT.search(line)
    uid = int(uid_hint.group(1)) if uid_hint is not None else None
    if uid is not None and not 0 < uid < 2**32:
        uid = None
    return UnparsedResponse(
        kind=kind, number=number, uid=uid, reason=reason, offset=frame.offsets[0], raw=frame.raw()
    )


def _parse_frame(frame: Frame, max_depth: int, utf8: bool) -> Response:
    line = frame.lines[0]
    first = line[:1]
    if first == b"+":
        # ``+ text``; a bare ``+`` (RFC 3501's own example, and several servers) is tolerated.
        data = line[2:] if line[1:2] == b" " else line[1:]
        return ContinuationRequest(data=data)
    if first == b"[":
        # Exchange 2013 answers UID MOVE with a bare "[COPYUID ...]" line.
        code, text = _resp_text(line, 0)
        return UntaggedStatus(status=ResponseStatus.OK, code=code, text=text)
    if first == b"*":
        try:
            return _parse_star(frame, max_depth, utf8)
        except RemoteProtocolError as exc:
            if exc.limit:
                raise
            return _unparsed(frame, exc.message)
        except ValueError as exc:  # conversions of names and numbers
            return _unparsed(frame, str(exc))
    m = _TAGGED.match(line)
    if m is None:
        raise RemoteProtocolError(
            "expected a tagged, untagged or continuation response",
            offset=frame.offsets[0],
            snippet=line[:48],
        )
    status = _TAGGED_STATUSES.get(m.group(2).upper())
    if status is None:
        raise RemoteProtocolError(
            "tagged response is not OK, NO or BAD",
            offset=frame.offsets[0] + m.start(2),
            snippet=line[:48],
        )
    code, text = _resp_text(line, m.end())
    return TaggedResponse(tag=atom_text(m.group(1)), status=status, code=code, text=text)


class ResponseParser:
    """Bytes from an IMAP server in, :mod:`responses <trio_mailsync.protocol>` out.

    ``receive_data(b"")`` signals end of file. ``next_response()`` returns a
    response, :data:`NEED_DATA`, or :class:`ConnectionClosed` once the server
    has closed and every whole response was returned. Feeding the input in
    any chunking yields the same responses.
    """

    def __init__(self, *, limits: Limits | None = None, utf8_mailboxes: bool = False) -> None:
        self.limits = limits if limits is not None else Limits()
        #: Decode mailbox names as UTF-8 first (set once UTF8=ACCEPT is enabled).
        self.utf8_mailboxes = utf8_mailboxes
        self._framer = Framer(self.limits)
        self._take_line = self._framer.take_line

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as responses."""
        return self._framer.buffered

    @property
    def offset(self) -> int:
        """Stream offset of the first byte not yet returned as a response."""
        return self._framer.offset

    def receive_data(self, data: bytes | bytearray) -> None:
        """Feed bytes from the server; ``b""`` means it closed the connection."""
        if self._framer.eof:
            if data:
                raise RuntimeError("receive_data() after end of file")
            return
        self._framer.feed(bytes(data))

    def next_response(self) -> Response | ConnectionClosed | Literal[NeedData.NEED_DATA]:
        """The next whole response, :data:`NEED_DATA`, or :class:`ConnectionClosed` at the end."""
        hot = self._take_line(UID_FLAGS_LINE)
        if hot is not None:
            return parse_uid_flags(hot)
        frame = self._framer.next_frame()
        if frame is None:
            if not self._framer.eof:
                return NEED_DATA
            if self._framer.buffered:
                raise RemoteProtocolError(
                    "connection closed in the middle of a response",
                    offset=self._framer.offset + self._framer.buffered,
                )
            return ConnectionClosed()
        return _parse_frame(frame, self.limits.max_depth, self.utf8_mailboxes)
