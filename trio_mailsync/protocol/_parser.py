"""Incremental parser: bytes from the server in, typed responses out.

Two stages. The *framer* cuts the byte stream into whole responses (lines
plus the literals between them) without looking at their grammar, so a
100 MiB literal is never scanned, only sliced. The *interpreter* then reads
one whole response with a regex tokenizer and an explicit stack (no
recursion, so nesting depth is a counted limit, not a RecursionError).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Final, Literal, TypeAlias

from ._errors import RemoteProtocolError, snippet_at
from ._limits import Limits
from ._mutf7 import decode_mutf7
from ._responses import (
    Address,
    AppendUidCode,
    BodyStructure,
    CapabilityCode,
    CapabilityData,
    ConnectionClosed,
    ContinuationRequest,
    CopyUidCode,
    Disposition,
    EnabledData,
    Envelope,
    ESearchData,
    ExistsData,
    ExpungeData,
    FetchData,
    FlagsCode,
    FlagsData,
    ListData,
    MultiPart,
    NumberCode,
    RecentData,
    Response,
    ResponseCode,
    ResponseStatus,
    SearchData,
    SinglePart,
    StatusData,
    TaggedResponse,
    UnknownData,
    UntaggedStatus,
    Value,
    VanishedData,
)
from ._seqset import SequenceSet

__all__ = ["NEED_DATA", "NeedData", "ResponseParser", "decode_mailbox"]


class NeedData(enum.Enum):
    """Sentinel type: ``next_event()`` needs more bytes before it can say more."""

    NEED_DATA = "NEED_DATA"

    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA: Final = NeedData.NEED_DATA

# A line ending in a literal announcement: ``{12}``, ``{12+}`` or ``~{12}``.
_LITERAL_AT_END = re.compile(rb"~?\{(\d+)\+?\}\Z")
# Lines whose grammar ends in free text, where a trailing ``{12}`` is text,
# not a literal: continuation requests and OK/NO/BAD/BYE/PREAUTH.
_TEXT_LINE = re.compile(rb"\+|[^ ]+ +(?:OK|NO|BAD|BYE|PREAUTH)(?: |\Z)", re.IGNORECASE)

_TOKEN = re.compile(
    rb" *(?:"
    rb"(\()"  # 1: open list
    rb"|(\))"  # 2: close list
    # 3: quoted string. A '"' not followed by a delimiter is taken as content:
    # Gmail copies unescaped quotes from broken headers into ENVELOPE.
    rb'|"((?:[^"\\]|\\.|"(?![ )]|\Z))*)"'
    rb"|~?\{(\d+)\+?\}\Z"  # 4: literal, always at the end of a line segment
    rb"|((?:[^ ()\"{\[]|\[[^\]]*\]?)+)"  # 5: atom, number or NIL; [..] may hold spaces
    rb")"
)
_UNESCAPE = re.compile(rb"\\(.)", re.DOTALL)
_UNTAGGED_NUMBER = re.compile(rb"\* +(\d+) +([A-Za-z]+) *")
_UNTAGGED_WORD = re.compile(rb"\* +([^ (\[]+) *")
# A response code's name is an atom (RFC 9051 resp-text-code).
_CODE_NAME = re.compile(rb"[^\x00-\x20\x7f(){%*\"\\\]]+\Z")
_TAGGED = re.compile(rb"([^ *+][^ ]*) +([A-Za-z]+)(?: +|\Z)")
_SEARCH = re.compile(rb"[ 0-9]*")
_INTERNALDATE = re.compile(
    rb" *(\d{1,2})-([A-Za-z]{3})-(\d{4}) +(\d{1,2}):(\d{2}):(\d{2})(?: +([+-])(\d{2})(\d{2}))? *\Z"
)
_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        [
            b"JAN",
            b"FEB",
            b"MAR",
            b"APR",
            b"MAY",
            b"JUN",
            b"JUL",
            b"AUG",
            b"SEP",
            b"OCT",
            b"NOV",
            b"DEC",
        ]
    )
}


class _Frame:
    """One whole response: ``lines[i]`` is followed by ``literals[i]``."""

    __slots__ = ("lines", "literals", "offsets")

    def __init__(self, lines: list[bytes], literals: list[bytes], offsets: list[int]) -> None:
        self.lines = lines
        self.literals = literals
        self.offsets = offsets

    def raw(self) -> bytes:
        parts: list[bytes] = []
        for i, line in enumerate(self.lines):
            parts.append(line + b"\r\n")
            if i < len(self.literals):
                parts.append(self.literals[i])
        return b"".join(parts)


class _Framer:
    """Finds response boundaries in the receive buffer, within the limits."""

    __slots__ = (
        "_buf",
        "_eof",
        "_lines",
        "_lit_end",
        "_literals",
        "_offset",
        "_offsets",
        "_scan",
        "_seg",
        "limits",
    )

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._buf = bytearray()
        self._offset = 0  # stream offset of _buf[0]
        self._eof = False
        self._reset()

    def _reset(self) -> None:
        self._lines: list[bytes] = []
        self._literals: list[bytes] = []
        self._offsets: list[int] = []
        self._seg = 0  # start of the current line in _buf
        self._scan = 0  # where the search for LF resumes
        self._lit_end = -1  # end of the awaited literal, or -1

    @property
    def buffered(self) -> int:
        return len(self._buf)

    @property
    def eof(self) -> bool:
        return self._eof

    @property
    def offset(self) -> int:
        return self._offset

    def feed(self, data: bytes) -> None:
        if data:
            self._buf += data
        else:
            self._eof = True

    def _error(self, message: str, at: int) -> RemoteProtocolError:
        return RemoteProtocolError(
            message, offset=self._offset + at, snippet=snippet_at(bytes(self._buf[: at + 24]), at)
        )

    def next_frame(self) -> _Frame | None:
        buf = self._buf
        limits = self.limits
        while True:
            if self._lit_end >= 0:
                if len(buf) < self._lit_end:
                    return None
                self._literals.append(bytes(buf[self._seg : self._lit_end]))
                self._seg = self._scan = self._lit_end
                self._lit_end = -1
            seg = self._seg
            nl = buf.find(b"\n", self._scan)
            if nl < 0:
                if len(buf) - seg > limits.max_line_length:
                    raise self._error(
                        f"line longer than {limits.max_line_length} bytes without an end", seg
                    )
                if len(buf) > limits.max_response_size:
                    raise self._error(f"response larger than {limits.max_response_size} bytes", 0)
                self._scan = len(buf)
                return None
            end = nl - 1 if nl > seg and buf[nl - 1] == 0x0D else nl
            if end - seg > limits.max_line_length:
                raise self._error(f"line longer than {limits.max_line_length} bytes", seg)
            line = bytes(buf[seg:end])
            self._lines.append(line)
            self._offsets.append(self._offset + seg)
            if line.endswith(b"}") and not (seg == 0 and _TEXT_LINE.match(line)):
                m = _LITERAL_AT_END.search(line)
                if m is not None:
                    size = int(m.group(1))
                    if size > limits.max_literal_size:
                        raise self._error(
                            f"literal of {size} bytes exceeds the limit of "
                            f"{limits.max_literal_size}",
                            seg + m.start(),
                        )
                    self._seg = nl + 1
                    self._lit_end = nl + 1 + size
                    if self._lit_end > limits.max_response_size:
                        raise self._error(
                            f"response larger than {limits.max_response_size} bytes", 0
                        )
                    continue
            frame = _Frame(self._lines, self._literals, self._offsets)
            del buf[: nl + 1]
            self._offset += nl + 1
            self._reset()
            return frame


# ---------------------------------------------------------------- tokenizer


def _atom(raw: bytes) -> str:
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        return raw.decode("utf-8", "surrogateescape")


def text_of(raw: bytes) -> str:
    """Human-readable text from bytes that should be UTF-8 but may be Latin-1."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


# The generic value while parsing: lists are still Python lists.
_Raw: TypeAlias = Any


class _Cursor:
    __slots__ = ("li", "line", "lines", "literals", "max_depth", "offsets", "pos")

    def __init__(self, frame: _Frame, pos: int, max_depth: int) -> None:
        self.lines = frame.lines
        self.literals = frame.literals
        self.offsets = frame.offsets
        self.li = 0
        self.line = frame.lines[0]
        self.pos = pos
        self.max_depth = max_depth

    def error(self, message: str) -> RemoteProtocolError:
        return RemoteProtocolError(
            message,
            offset=self.offsets[self.li] + self.pos,
            snippet=snippet_at(self.line, self.pos),
        )

    def at_end(self) -> bool:
        line = self.line
        pos = self.pos
        while pos < len(line) and line[pos] == 0x20:
            pos += 1
        self.pos = pos
        return pos == len(line) and self.li == len(self.lines) - 1

    def expect_end(self) -> None:
        if not self.at_end():
            raise self.error("unexpected data at the end of the response")

    def value(self) -> _Raw:
        """Read one generic value: atom, number, NIL, string, literal or list."""
        stack: list[list[_Raw]] = []
        cur: list[_Raw] | None = None
        line = self.line
        pos = self.pos
        token = _TOKEN.match
        v: _Raw
        while True:
            m = token(line, pos)
            if m is None:
                self.line, self.pos = line, pos
                if pos >= len(line.rstrip(b" ")):
                    raise self.error("response ended in the middle of a value")
                raise self.error("unexpected character")
            pos = m.end()
            kind = m.lastindex
            if kind == 5:
                a = m.group(5)
                if a.isdigit():
                    v = int(a)
                elif len(a) == 3 and a.upper() == b"NIL":
                    v = None
                else:
                    v = _atom(a)
            elif kind == 1:
                if cur is not None:
                    stack.append(cur)
                if len(stack) >= self.max_depth:
                    self.line, self.pos = line, pos
                    raise self.error(f"lists nested deeper than {self.max_depth}")
                cur = []
                continue
            elif kind == 2:
                if cur is None:
                    self.line, self.pos = line, pos - 1
                    raise self.error("unexpected ')'")
                v = cur
                cur = stack.pop() if stack else None
            elif kind == 3:
                v = m.group(3)
                if b"\\" in v:
                    v = _UNESCAPE.sub(rb"\1", v)
            else:
                self.li += 1
                v = self.literals[self.li - 1]
                line = self.lines[self.li]
                pos = 0
            if cur is None:
                self.line, self.pos = line, pos
                return v
            cur.append(v)

    def list_value(self, what: str) -> list[_Raw]:
        v = self.value()
        if not isinstance(v, list):
            raise self.error(f"expected a parenthesized list for {what}")
        return v

    def values_to_end(self) -> list[_Raw]:
        out = []
        while not self.at_end():
            out.append(self.value())
        return out

    def rest_of_line(self) -> bytes:
        if self.li != len(self.lines) - 1:
            raise self.error("unexpected literal")
        rest = self.line[self.pos :]
        self.pos = len(self.line)
        return rest


# ---------------------------------------------------------------- value conversions


def _freeze(v: _Raw) -> Value:
    if isinstance(v, list):
        return tuple(_freeze(x) for x in v)
    return v  # type: ignore[no-any-return]


def _nstring(v: _Raw) -> bytes | None:
    """An IMAP string or NIL; atoms and numbers are tolerated in its place."""
    if v is None or isinstance(v, bytes):
        return v
    if isinstance(v, str):
        return v.encode("utf-8", "surrogateescape")
    if isinstance(v, int):
        return str(v).encode()
    raise ValueError("expected a string, got a list")


def _string_text(v: _Raw) -> str:
    b = _nstring(v)
    return "" if b is None else text_of(b)


def _number(v: _Raw) -> int:
    if isinstance(v, int):
        return v
    if isinstance(v, bytes | str) and v.strip().isdigit():
        return int(v.strip())
    raise ValueError(f"expected a number, got {_short(v)}")


def _opt_number(v: _Raw) -> int | None:
    if v is None:
        return None
    try:
        return _number(v)
    except ValueError:
        return None


def _short(v: _Raw) -> str:
    text = repr(_freeze(v))
    return text if len(text) <= 40 else text[:37] + "..."


def _atoms(v: _Raw) -> tuple[str, ...]:
    if v is None:
        return ()
    if not isinstance(v, list):
        v = [v]
    return tuple(x if isinstance(x, str) else _string_text(x) for x in v if x is not None)


def decode_mailbox(raw: bytes, utf8: bool = False) -> str:
    """Decode a mailbox name as sent by the server.

    Modified UTF-7 is the rule; UTF-8 (sent by servers with UTF8=ACCEPT on,
    and by some that ignore the rule) is the fallback, Latin-1 the last one.
    """
    name: str | None = None
    if utf8:
        try:
            name = raw.decode("utf-8")
        except UnicodeDecodeError:
            name = None
    if name is None:
        try:
            name = decode_mutf7(raw, strict=False)
        except ValueError:
            name = text_of(raw)
    return "INBOX" if name.upper() == "INBOX" else name


def _mailbox_raw(v: _Raw) -> bytes:
    b = _nstring(v)
    if b is None:
        raise ValueError("mailbox name is NIL")
    return b


# ---------------------------------------------------------------- response codes

_NUMBER_CODES = frozenset({"UIDNEXT", "UIDVALIDITY", "UNSEEN", "HIGHESTMODSEQ"})


def _parse_code(inner: bytes) -> ResponseCode:
    name_b, _, arg = inner.strip().partition(b" ")
    name = _atom(name_b).upper()
    arg = arg.strip()
    text = text_of(arg)
    if name == "CAPABILITY":
        return CapabilityCode(name=name, text=text, capabilities=_capability_set(arg))
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
    return frozenset(_atom(word).upper() for word in data.split())


def _resp_text(line: bytes, pos: int) -> tuple[ResponseCode | None, str]:
    rest = line[pos:].lstrip(b" ")
    code = None
    if rest[:1] == b"[":
        close = rest.find(b"]")
        inner = rest[1:] if close < 0 else rest[1:close]
        # A code must start with an atom; Exchange Online sends
        # [Error="..." ...], which is kept as plain text instead.
        if _CODE_NAME.match(inner.split(b" ", 1)[0]):
            code = _parse_code(inner)
            # Tolerated: an unclosed code takes the rest of the line.
            rest = b"" if close < 0 else rest[close + 1 :].lstrip(b" ")
    return code, text_of(rest.rstrip(b" "))


# ---------------------------------------------------------------- untagged data


def _parse_fetch(c: _Cursor, seq: int, utf8: bool) -> FetchData:
    items = _flatten_pairs(c.list_value("FETCH"))
    c.expect_end()
    if len(items) % 2:
        raise c.error("FETCH item without a value")
    kw: dict[str, Any] = {}
    sections: dict[str, bytes | None] = {}
    other: dict[str, Value] = {}
    for i in range(0, len(items), 2):
        key = items[i]
        if not isinstance(key, str):
            raise c.error(f"FETCH item name is not an atom: {_short(key)}")
        name = key.upper()
        value = items[i + 1]
        handler = _FETCH_ITEMS.get(name)
        try:
            if handler is not None:
                field, converted = handler(value)
                if converted is _KEEP_RAW:
                    other[name] = _freeze(value)
                else:
                    kw[field] = converted
            elif name.startswith(("BODY[", "BINARY[", "RFC822")):
                sections[name] = _nstring(value)
            else:
                other[name] = _freeze(value)
        except (ValueError, TypeError, IndexError) as exc:
            raise c.error(f"bad FETCH {name}: {exc}") from None
    return FetchData(seq=seq, sections=sections, other=other, **kw)


_KEEP_RAW: Final = object()


def _flatten_pairs(items: list[_Raw]) -> list[_Raw]:
    """Unwrap ``(NAME value)`` sublists standing where a name belongs.

    Lotus Domino wraps ENVELOPE that way inside FETCH; some servers wrap
    ESEARCH's MODSEQ.
    """
    if not any(isinstance(x, list) for x in items[::2]):
        return items
    out: list[_Raw] = []
    i = 0
    while i < len(items):
        item = items[i]
        if isinstance(item, list) and len(item) == 2 and isinstance(item[0], str):
            out.extend(item)
            i += 1
        else:
            out.extend(items[i : i + 2])
            i += 2
    return out


def _fetch_flags(v: _Raw) -> tuple[str, Any]:
    return "flags", _atoms(v)


def _fetch_uid(v: _Raw) -> tuple[str, Any]:
    return "uid", _number(v)


def _fetch_size(v: _Raw) -> tuple[str, Any]:
    return "rfc822_size", _number(v)


def _fetch_modseq(v: _Raw) -> tuple[str, Any]:
    if isinstance(v, list) and len(v) == 1:
        v = v[0]
    # Zoho Mail sends MODSEQ (-1); anything but a number is kept raw.
    return "modseq", _opt_number(v) if _opt_number(v) is not None else _KEEP_RAW


def _fetch_internaldate(v: _Raw) -> tuple[str, Any]:
    parsed = parse_internaldate(_nstring(v) or b"")
    return "internaldate", _KEEP_RAW if parsed is None else parsed


def _fetch_envelope(v: _Raw) -> tuple[str, Any]:
    return "envelope", _envelope(v)


def _fetch_body(v: _Raw) -> tuple[str, Any]:
    return "body", _body(v)


def _fetch_bodystructure(v: _Raw) -> tuple[str, Any]:
    return "bodystructure", _body(v)


def _fetch_gm_msgid(v: _Raw) -> tuple[str, Any]:
    return "gm_msgid", _number(v)


def _fetch_gm_thrid(v: _Raw) -> tuple[str, Any]:
    return "gm_thrid", _number(v)


def _fetch_gm_labels(v: _Raw) -> tuple[str, Any]:
    if v is None:
        return "gm_labels", ()
    if not isinstance(v, list):
        v = [v]
    labels = []
    for label in v:
        if isinstance(label, str):
            # Gmail sends system labels as atoms (\Inbox) and user labels as
            # modified UTF-7 strings, atoms or numbers.
            labels.append(label if label.startswith("\\") else decode_mailbox(label.encode()))
        elif label is not None:
            labels.append(decode_mailbox(_mailbox_raw(label)))
    return "gm_labels", tuple(labels)


def _object_id(v: _Raw) -> str | None:
    if isinstance(v, list):
        if not v:
            return None
        v = v[0]
    b = _nstring(v)
    return None if b is None else b.decode("ascii", "replace")


def _fetch_emailid(v: _Raw) -> tuple[str, Any]:
    return "emailid", _object_id(v)


def _fetch_threadid(v: _Raw) -> tuple[str, Any]:
    return "threadid", _object_id(v)


_FETCH_ITEMS: dict[str, Callable[[_Raw], tuple[str, Any]]] = {
    "UID": _fetch_uid,
    "FLAGS": _fetch_flags,
    "RFC822.SIZE": _fetch_size,
    "MODSEQ": _fetch_modseq,
    "INTERNALDATE": _fetch_internaldate,
    "ENVELOPE": _fetch_envelope,
    "BODY": _fetch_body,
    "BODYSTRUCTURE": _fetch_bodystructure,
    "X-GM-MSGID": _fetch_gm_msgid,
    "X-GM-THRID": _fetch_gm_thrid,
    "X-GM-LABELS": _fetch_gm_labels,
    "EMAILID": _fetch_emailid,
    "THREADID": _fetch_threadid,
}


def parse_internaldate(raw: bytes) -> datetime | None:
    """``"17-Jul-1996 02:44:25 -0700"`` as an aware datetime; ``None`` if malformed."""
    m = _INTERNALDATE.match(raw)
    if m is None:
        return None
    day, mon, year, hh, mm, ss, sign, zh, zm = m.groups()
    month = _MONTHS.get(mon.upper())
    if month is None:
        return None
    tz = UTC
    if sign is not None:
        offset = timedelta(hours=int(zh), minutes=int(zm))
        tz = timezone(-offset if sign == b"-" else offset)
    try:
        return datetime(int(year), month, int(day), int(hh), int(mm), int(ss), tzinfo=tz)
    except ValueError:
        return None


def _addresses(v: _Raw) -> tuple[Address, ...]:
    if v is None:
        return ()
    if not isinstance(v, list):
        raise ValueError("address list is not a list")
    out = []
    for a in v:
        if not isinstance(a, list):
            raise ValueError("address is not a list")
        # Tolerated: fewer than four fields (seen from broken servers).
        fields = [_nstring(x) for x in a[:4]] + [None] * (4 - len(a))
        out.append(Address(name=fields[0], adl=fields[1], mailbox=fields[2], host=fields[3]))
    return tuple(out)


def _envelope(v: _Raw) -> Envelope | None:
    if v is None:
        return None
    if not isinstance(v, list):
        raise ValueError("ENVELOPE is not a list")
    f = v + [None] * (10 - len(v))
    return Envelope(
        date=_nstring(f[0]),
        subject=_nstring(f[1]),
        from_=_addresses(f[2]),
        sender=_addresses(f[3]),
        reply_to=_addresses(f[4]),
        to=_addresses(f[5]),
        cc=_addresses(f[6]),
        bcc=_addresses(f[7]),
        in_reply_to=_nstring(f[8]),
        message_id=_nstring(f[9]),
    )


def _params(v: _Raw) -> tuple[tuple[str, str], ...]:
    if not isinstance(v, list):
        return ()  # NIL, or a stray string where a list belongs
    if v and all(isinstance(x, list) for x in v):
        # Twisted's server nests the pairs: (("name" "thing") ("key" "value")).
        v = [y for x in v for y in x[:2]]
    return tuple(
        (_string_text(v[i]).lower(), _string_text(v[i + 1])) for i in range(0, len(v) - 1, 2)
    )


def _disposition(v: _Raw) -> Disposition | None:
    if v is None:
        return None
    if not isinstance(v, list):
        return Disposition(type=_string_text(v).lower())
    if not v or v[0] is None:
        return None  # Exchange sends (NIL NIL)
    return Disposition(
        type=_string_text(v[0]).lower(), params=_params(v[1] if len(v) > 1 else None)
    )


def _language(v: _Raw) -> tuple[str, ...]:
    if v is None:
        return ()
    if isinstance(v, list):
        return tuple(_string_text(x) for x in v if x is not None)
    return (_string_text(v),)


def _body(v: _Raw) -> BodyStructure:
    if not isinstance(v, list) or not v:
        raise ValueError("body structure is not a non-empty list")
    if isinstance(v[0], list):
        return _multipart(v, _count_parts(v))
    # A multipart without parts: ("ALTERNATIVE"), ("RELATED" NIL ...) and
    # ("ALTERNATIVE" (params) NIL NIL) from Gmail, (NIL "alternative" ...) from
    # others. A single part has at least six fields, a multipart's extension
    # data at most five.
    if v[0] is None and 1 < len(v) <= 6 and isinstance(v[1], str | bytes):
        return _multipart(v[1:], 0)
    if (
        len(v) < 6
        and isinstance(v[0], str | bytes)
        and (len(v) == 1 or not isinstance(v[1], str | bytes))
    ):
        return _multipart(v, 0)
    return _singlepart(v)


def _count_parts(v: list[_Raw]) -> int:
    n = 0
    while n < len(v) and isinstance(v[n], list):
        n += 1
    return n


def _multipart(v: list[_Raw], n: int) -> MultiPart:
    parts = tuple(_body(p) for p in v[:n])
    ext = v[n:] + [None] * max(0, 5 - len(v[n:]))
    return MultiPart(
        parts=parts,
        subtype=_string_text(ext[0]).lower(),
        params=_params(ext[1]),
        disposition=_disposition(ext[2]),
        language=_language(ext[3]),
        location=_nstring(ext[4]) if not isinstance(ext[4], list) else None,
        extension=tuple(_freeze(x) for x in v[n + 5 :]),
    )


def _singlepart(v: list[_Raw]) -> SinglePart:
    if len(v) < 2:
        raise ValueError("body part needs at least a type and a subtype")
    if isinstance(v[1], list):
        # Only a subtype where type and subtype belong ("Content-Type: X-ZIP").
        v = [None, *v]
    mtype = _string_text(v[0]).lower()
    subtype = _string_text(v[1]).lower()
    f = v + [None] * max(0, 7 - len(v))
    kw: dict[str, Any] = {
        "type": mtype,
        "subtype": subtype,
        "params": _params(f[2]),
        "id": _nstring(f[3]),
        "description": _nstring(f[4]),
        # Office 365 has sent the encoding with a trailing space.
        "encoding": None if f[5] is None else _string_text(f[5]).strip().upper(),
        "size": _opt_number(f[6]),
    }
    i = 7
    if (
        mtype == "message"
        and subtype in ("rfc822", "global")
        and len(v) > 9
        and isinstance(v[7], list)
        and isinstance(v[8], list)
    ):
        kw["envelope"] = _envelope(v[7])
        # Lotus Domino sends () where the enclosed message's structure belongs.
        kw["body"] = _body(v[8]) if v[8] else None
        kw["lines"] = _opt_number(v[9])
        i = 10
    elif mtype == "text" and len(v) > 7:
        kw["lines"] = _opt_number(v[7])
        i = 8
    ext = v[i:]
    if ext:
        kw["md5"] = _nstring(ext[0]) if not isinstance(ext[0], list) else None
    if len(ext) > 1:
        kw["disposition"] = _disposition(ext[1])
    if len(ext) > 2:
        kw["language"] = _language(ext[2])
    if len(ext) > 3:
        kw["location"] = _nstring(ext[3]) if not isinstance(ext[3], list) else None
    if len(ext) > 4:
        kw["extension"] = tuple(_freeze(x) for x in ext[4:])
    return SinglePart(**kw)


def _parse_list(c: _Cursor, kind: str, utf8: bool) -> ListData:
    attributes = c.value()
    delimiter = c.value()
    c.at_end()  # skips spaces
    start, li = c.pos, c.li
    name = c.value()
    raw = b"NIL" if name is None else _mailbox_raw(name)
    if isinstance(name, str) and c.li == li and not c.at_end() and c.line[c.pos] != 0x28:
        # Lotus Notes leaves names with spaces unquoted: Folder\Subfolder 1.
        raw = c.line[start:].rstrip(b" ")
        c.pos = len(c.line)
    extended = tuple(_freeze(x) for x in c.values_to_end())
    if isinstance(delimiter, bytes | str):
        delim: str | None = text_of(delimiter) if isinstance(delimiter, bytes) else delimiter
    elif delimiter is None:
        delim = None
    else:
        raise c.error("LIST delimiter is neither a string nor NIL")
    return ListData(
        kind=kind,
        attributes=_atoms(attributes),
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
}


def _parse_status(c: _Cursor, utf8: bool) -> StatusData:
    raw = _mailbox_raw(c.value())
    rest = c.values_to_end()
    if len(rest) != 1 or not isinstance(rest[0], list):
        raise c.error("STATUS needs a mailbox and one list of items")
    items_raw = rest[0]
    items: dict[str, int] = {}
    kw: dict[str, int] = {}
    for i in range(0, len(items_raw) - 1, 2):
        name = items_raw[i]
        if not isinstance(name, str):
            raise c.error("STATUS item name is not an atom")
        number = _opt_number(items_raw[i + 1])
        if number is None:
            continue  # tolerated: an item with NIL or junk for a value
        items[name.upper()] = number
        field = _STATUS_FIELDS.get(name.upper())
        if field is not None:
            kw[field] = number
    return StatusData(mailbox=decode_mailbox(raw, utf8), raw_mailbox=raw, items=items, **kw)


def _parse_search(c: _Cursor) -> SearchData:
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


def _seqset(v: _Raw) -> SequenceSet:
    if isinstance(v, int):
        return SequenceSet(((v, v),))
    if isinstance(v, str | bytes):
        return SequenceSet.parse(v)
    raise ValueError("expected a sequence set")


def _parse_esearch(c: _Cursor) -> ESearchData:
    values = c.values_to_end()
    tag = None
    uid = False
    if values and isinstance(values[0], list):
        correlator = values.pop(0)
        if len(correlator) == 2 and str(correlator[0]).upper() == "TAG":
            tag = _string_text(correlator[1])
    if values and isinstance(values[0], str) and values[0].upper() == "UID":
        uid = True
        values.pop(0)
    values = _flatten_pairs(values)
    if len(values) % 2:
        raise c.error("ESEARCH item without a value")
    kw: dict[str, Any] = {}
    other: dict[str, Value] = {}
    try:
        for i in range(0, len(values), 2):
            name = str(values[i]).upper()
            value = values[i + 1]
            if name in ("MIN", "MAX", "COUNT", "MODSEQ"):
                kw[name.lower()] = _number(value)
            elif name == "ALL":
                kw["all"] = _seqset(value)
            else:
                other[name] = _freeze(value)
    except ValueError as exc:
        raise c.error(f"bad ESEARCH data: {exc}") from None
    return ESearchData(tag=tag, uid=uid, other=other, **kw)


def _parse_vanished(c: _Cursor) -> VanishedData:
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
        uids = _seqset(values[0])
    except ValueError as exc:
        raise c.error(f"bad VANISHED UID set: {exc}") from None
    return VanishedData(earlier=earlier, uids=uids)


# ---------------------------------------------------------------- dispatch


def _parse_untagged(frame: _Frame, max_depth: int, utf8: bool) -> Response:
    line = frame.lines[0]
    m = _UNTAGGED_NUMBER.match(line)
    if m is not None:
        number = int(m.group(1))
        word = m.group(2).upper()
        if word == b"FETCH":
            return _parse_fetch(_Cursor(frame, m.end(), max_depth), number, utf8)
        c = _Cursor(frame, m.end(), max_depth)
        if word == b"EXISTS":
            c.expect_end()
            return ExistsData(count=number)
        if word == b"EXPUNGE":
            c.expect_end()
            return ExpungeData(seq=number)
        if word == b"RECENT":
            c.expect_end()
            return RecentData(count=number)
        return UnknownData(name=_atom(word), raw=frame.raw())
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
    c = _Cursor(frame, m.end(), max_depth)
    if word == b"CAPABILITY":
        return CapabilityData(capabilities=_capability_set(c.rest_of_line()))
    if word == b"ENABLED":
        return EnabledData(capabilities=_capability_set(c.rest_of_line()))
    if word == b"FLAGS":
        flags = c.value()
        c.expect_end()
        return FlagsData(flags=_atoms(flags))
    if word in (b"LIST", b"LSUB"):
        return _parse_list(c, word.decode(), utf8)
    if word == b"STATUS":
        return _parse_status(c, utf8)
    if word == b"SEARCH":
        return _parse_search(c)
    if word == b"ESEARCH":
        return _parse_esearch(c)
    if word == b"VANISHED":
        return _parse_vanished(c)
    return UnknownData(name=_atom(word), raw=frame.raw())


_STATUSES = {s.value.encode(): s for s in ResponseStatus}
_TAGGED_STATUSES = {b"OK": ResponseStatus.OK, b"NO": ResponseStatus.NO, b"BAD": ResponseStatus.BAD}


def _parse_frame(frame: _Frame, max_depth: int, utf8: bool) -> Response:
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
            return _parse_untagged(frame, max_depth, utf8)
        except ValueError as exc:  # conversions of names and numbers
            raise RemoteProtocolError(
                str(exc), offset=frame.offsets[0], snippet=line[:48]
            ) from None
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
    return TaggedResponse(tag=_atom(m.group(1)), status=status, code=code, text=text)


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
        self._framer = _Framer(self.limits)

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as responses."""
        return self._framer.buffered

    @property
    def offset(self) -> int:
        """Stream offset of the first byte not yet returned as a response."""
        return self._framer.offset

    def receive_data(self, data: bytes) -> None:
        if self._framer.eof:
            if data:
                raise RuntimeError("receive_data() after end of file")
            return
        self._framer.feed(bytes(data))

    def next_response(self) -> Response | ConnectionClosed | Literal[NeedData.NEED_DATA]:
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
