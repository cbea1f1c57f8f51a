"""What the testing server reads from a client: written from the RFCs, nothing shared.

The client's protocol layer (``trio_mailsync.protocol``) writes commands; if this
server read them with the same code, a bug in one would be mirrored in the
other and no test would see it. So this module is the server's own, from the
grammar of RFC 3501 section 9 (and RFC 9051, RFC 7888 LITERAL+, RFC 6855 UTF-8),
and it is strict where a client's serializer could go wrong: exactly one space
between arguments, no space after "(" or before ")", quoted strings with only
``\\"`` and ``\\\\`` escaped, no 8-bit byte in an atom, a literal's announcement
only at the end of a line. What it refuses, the server answers with BAD.

Also here: sequence sets, modified UTF-7 mailbox names (RFC 3501 5.1.3, on the
standard library's UTF-7 codec) and IMAP's date-time, the server's way.

A command's arguments come as generic values: atoms as ``str``, numbers as
``int``, quoted strings and literals as ``bytes``, NIL as ``None``,
parenthesized lists as ``list``. An atom may carry a bracketed section with
spaces in it, as FETCH's ``BODY.PEEK[HEADER.FIELDS (DATE FROM)]<0.100>``; digits are a
number only when written as one (``007`` stays an atom).
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import TypeAlias

__all__ = [
    "CommandSyntaxError",
    "Value",
    "decode_mailbox",
    "encode_mailbox",
    "format_date_time",
    "format_sequence_set",
    "in_sequence_set",
    "parse_command",
    "parse_date_time",
    "parse_sequence_set",
    "tag_of",
]

Value: TypeAlias = "str | int | bytes | list[Value] | None"

#: Parenthesized lists nest at most this deep in a command (SEARCH keys do, a little).
MAX_DEPTH = 32
_SP, _LPAREN, _RPAREN, _DQUOTE, _BACKSLASH, _LBRACE = 0x20, 0x28, 0x29, 0x22, 0x5C, 0x7B
# ATOM-CHAR: any CHAR but atom-specials ( ) { SP CTL list-wildcards quoted-specials
# resp-specials. Sequence sets and LIST patterns are read as atoms here, so * % ] are
# let through; "[" opens a section read to its "]".
_ATOM_STOP = frozenset(b'(){ "\\') | frozenset(range(0x20)) | {0x7F}
#: The fetch-att names that take a section in brackets (RFC 3501 9, RFC 3516 BINARY).
_SECTIONED = frozenset({b"BODY", b"BODY.PEEK", b"BINARY", b"BINARY.PEEK", b"BINARY.SIZE"})
_LITERAL_MARK = re.compile(rb"\{(\d+)(\+?)\}\Z")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DATE_TIME = re.compile(
    r"([ \d]\d)-([A-Z][a-z]{2})-(\d{4}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})\Z"
)


class CommandSyntaxError(ValueError):
    """What a client sent is not a command in the grammar; the server answers BAD."""


class _Reader:
    """Reads one command's lines and the literals between them, byte by byte."""

    def __init__(self, lines: list[bytes], literals: list[bytes]) -> None:
        if len(literals) != len(lines) - 1:
            raise CommandSyntaxError("a literal was announced but not sent")
        self.lines = lines
        self.literals = literals
        self.line = 0
        self.pos = 0
        # Only FETCH's arguments hold sections (``BODY[HEADER.FIELDS (A B)]``); in any
        # other command "[" is an ordinary ATOM-CHAR, so ``BINARY[`` is a legal password.
        self.sections = False

    @property
    def text(self) -> bytes:
        return self.lines[self.line]

    def peek(self) -> int | None:
        text = self.text
        return text[self.pos] if self.pos < len(text) else None

    def at_end(self) -> bool:
        return self.line == len(self.lines) - 1 and self.pos == len(self.text)

    def fail(self, what: str) -> CommandSyntaxError:
        shown = self.text[max(0, self.pos - 20) : self.pos + 20].decode("ascii", "replace")
        return CommandSyntaxError(f"{what} at byte {self.pos} of line {self.line + 1}: {shown!r}")

    def space(self) -> None:
        if self.peek() != _SP:
            raise self.fail("expected one space")
        self.pos += 1
        if self.peek() == _SP:
            raise self.fail("two spaces")

    def atom(self) -> str:
        text, start = self.text, self.pos
        if self.peek() == _BACKSLASH:  # a flag: "\" atom (RFC 3501 flag-extension)
            self.pos += 1
        while self.pos < len(text):
            c = text[self.pos]
            if c == 0x5B and self.sections and text[start : self.pos].upper() in _SECTIONED:
                # FETCH's section: spaces and parentheses allowed, to its "]".
                end = text.find(b"]", self.pos)
                if end < 0:
                    raise self.fail("unclosed [")
                self.pos = end + 1
                continue
            if c in _ATOM_STOP:
                break
            if c > 0x7F:
                raise self.fail("an 8-bit byte in an atom (it must be quoted or a literal)")
            self.pos += 1
        if self.pos == start or text[start : self.pos] == b"\\":
            raise self.fail("expected an atom")
        return text[start : self.pos].decode("ascii")

    def quoted(self) -> bytes:
        text = self.text
        self.pos += 1  # the opening quote
        out = bytearray()
        while True:
            if self.pos >= len(text):
                raise self.fail("unterminated quoted string")
            c = text[self.pos]
            self.pos += 1
            if c == _DQUOTE:
                return bytes(out)
            if c == _BACKSLASH:
                escaped = text[self.pos] if self.pos < len(text) else None
                if escaped not in (_DQUOTE, _BACKSLASH):
                    raise self.fail('in a quoted string, only \\" and \\\\ are escapes')
                out.append(escaped)
                self.pos += 1
            elif c in (0x0D, 0x0A, 0):
                raise self.fail("CR, LF or NUL in a quoted string")
            else:
                out.append(c)

    def literal(self) -> bytes:
        m = _LITERAL_MARK.match(self.text, self.pos)
        if m is None or self.line == len(self.lines) - 1:
            raise self.fail("a literal must be announced as {n} or {n+} at the end of a line")
        data = self.literals[self.line]
        if len(data) != int(m.group(1)):
            raise self.fail("the literal's length differs from its announcement")
        self.line += 1
        self.pos = 0
        return data

    def value(self, depth: int = 0) -> Value:
        c = self.peek()
        if c == _LPAREN:
            if depth >= MAX_DEPTH:
                raise self.fail("lists nested too deep")
            self.pos += 1
            items: list[Value] = []
            if self.peek() == _RPAREN:
                self.pos += 1
                return items
            if self.peek() == _SP:
                raise self.fail('a space after "("')
            while True:
                items.append(self.value(depth + 1))
                if self.peek() == _RPAREN:
                    self.pos += 1
                    return items
                self.space()
                if self.peek() == _RPAREN:
                    raise self.fail('a space before ")"')
        if c == _DQUOTE:
            return self.quoted()
        if c == _LBRACE:
            return self.literal()
        word = self.atom()
        if word.upper() == "NIL":
            return None
        # A number only as numbers are written: "007" is an atom (a password, say).
        return int(word) if word.isdigit() and word == str(int(word)) else word


def parse_command(lines: list[bytes], literals: list[bytes]) -> tuple[str, str, list[Value]]:
    """``(tag, name, arguments)`` of one command: its lines (without CRLF) and the literals
    announced at the end of each line but the last. ``name`` is upper case, and ``UID x``
    for UID commands."""
    r = _Reader(lines, literals)
    tag = r.atom()
    if "+" in tag or "]" in tag or "*" in tag or "%" in tag:
        raise CommandSyntaxError(f"{tag!r} is not a tag")
    r.space()
    name = r.atom().upper()
    if name == "UID":
        r.space()
        name = f"UID {r.atom().upper()}"
    r.sections = name in ("FETCH", "UID FETCH")
    args: list[Value] = []
    while not r.at_end():
        r.space()
        args.append(r.value())
    return tag, name, args


def tag_of(line: bytes) -> str:
    """The tag of a line that could not be read, for the BAD answer (``*`` if none)."""
    word = line.split(b" ", 1)[0]
    return word.decode("ascii", "replace") if word and word.isascii() else "*"


# ---------------------------------------------------------------- sequence sets


def parse_sequence_set(text: str, star: int) -> list[tuple[int, int]]:
    """The ranges of a sequence set (``1:4,7,9:*``), ``*`` standing for ``star``; each
    range low to high."""
    ranges = []
    for part in text.split(","):
        ends = part.split(":")
        if not part or len(ends) > 2:
            raise CommandSyntaxError(f"{text!r} is not a sequence set")
        numbers = []
        for end in ends:
            if end == "*":
                numbers.append(star)
            elif end.isdigit() and int(end) > 0:
                numbers.append(int(end))
            else:
                raise CommandSyntaxError(f"{text!r} is not a sequence set")
        low, high = min(numbers), max(numbers)  # "4:2" is 2:4 (RFC 3501 9)
        ranges.append((low, high))
    return ranges


def in_sequence_set(number: int, ranges: list[tuple[int, int]]) -> bool:
    """Is ``number`` in one of ``ranges``?"""
    return any(low <= number <= high for low, high in ranges)


def format_sequence_set(numbers: list[int]) -> str:
    """The shortest sequence set of ``numbers`` (``1:3,7``)."""
    parts: list[str] = []
    ordered = sorted(set(numbers))
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}:{ordered[j]}")
        i = j + 1
    return ",".join(parts)


# ---------------------------------------------------------------- mailbox names


def encode_mailbox(name: str) -> bytes:
    """A mailbox name in modified UTF-7 (RFC 3501 5.1.3)."""
    out = bytearray()
    pending: list[str] = []

    def flush() -> None:
        if pending:
            data = base64.b64encode("".join(pending).encode("utf-16-be"))
            out.extend(b"&" + data.rstrip(b"=").replace(b"/", b",") + b"-")
            pending.clear()

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.extend(b"&-" if ch == "&" else ch.encode("ascii"))
        else:
            pending.append(ch)
    flush()
    return bytes(out)


def decode_mailbox(raw: bytes) -> str:
    """A mailbox name as a client sent it: modified UTF-7, or UTF-8 (RFC 6855) when 8-bit.

    INBOX in any case is INBOX. A malformed modified UTF-7 name is a syntax error.
    """
    if raw.upper() == b"INBOX":
        return "INBOX"
    if any(b > 0x7F for b in raw):
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise CommandSyntaxError("a mailbox name that is neither UTF-8 nor ASCII") from None
    out: list[str] = []
    text = raw.decode("ascii")
    i = 0
    while i < len(text):
        amp = text.find("&", i)
        if amp < 0:
            out.append(text[i:])
            break
        out.append(text[i:amp])
        dash = text.find("-", amp)
        if dash < 0:
            raise CommandSyntaxError(f"{text!r}: '&' without its '-'")
        if dash == amp + 1:
            out.append("&")
        else:
            b64 = text[amp + 1 : dash].replace(",", "/")
            try:
                data = base64.b64decode(b64 + "=" * (-len(b64) % 4), validate=True)
                out.append(data.decode("utf-16-be"))
            except (binascii.Error, UnicodeDecodeError):
                raise CommandSyntaxError(f"{text!r} is not modified UTF-7") from None
        i = dash + 1
    return "".join(out)


# ---------------------------------------------------------------- dates


def parse_date_time(raw: bytes) -> datetime:
    """IMAP's date-time without its quotes (``17-Jul-1996 02:44:25 -0700``; the day may be
    space-padded, RFC 3501's date-day-fixed)."""
    m = _DATE_TIME.match(raw.decode("ascii", "replace"))
    if m is None or m.group(2) not in _MONTHS:
        raise CommandSyntaxError(f"{raw!r} is not an IMAP date-time")
    day, month, year, hh, mm, ss, sign, zh, zm = m.groups()
    offset = timedelta(hours=int(zh), minutes=int(zm))
    zone = UTC if not offset else timezone(-offset if sign == "-" else offset)
    try:
        return datetime(
            int(year), _MONTHS.index(month) + 1, int(day), int(hh), int(mm), int(ss), tzinfo=zone
        )
    except ValueError:
        raise CommandSyntaxError(f"{raw!r} is not a date") from None


def format_date_time(when: datetime) -> bytes:
    """A datetime as IMAP's date-time, quoted, the day in two digits (either form is allowed;
    the client writes it space-padded, so a reader that takes only one form fails a test)."""
    offset = when.utcoffset()
    minutes = 0 if offset is None else int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    minutes = abs(minutes)
    return (
        f'"{when.day:02d}-{_MONTHS[when.month - 1]}-{when.year:04d} {when:%H:%M:%S} '
        f'{sign}{minutes // 60:02d}{minutes % 60:02d}"'
    ).encode()
