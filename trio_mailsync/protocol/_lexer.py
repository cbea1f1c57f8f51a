"""Tokens and generic values of one framed response.

A line is cut into tokens by one regex ``findall`` (a single C call); the
tokens are then assembled into generic values with an explicit stack, so
nesting depth is a counted limit, never a RecursionError. Generic values
are: atoms as ``str``, numbers as ``int``, strings (quoted or literal) as
``bytes``, NIL as ``None`` and parenthesized lists as ``list``.
"""

from __future__ import annotations

import re
from typing import Any, TypeAlias

from ._errors import RemoteProtocolError, snippet_at
from ._framing import Frame
from ._mutf7 import decode_mutf7
from ._responses import Value
from ._seqset import SequenceSet

# The generic value while parsing: lists are still Python lists.
Raw: TypeAlias = Any

# Alternatives are ordered by frequency in ENVELOPE and BODYSTRUCTURE; the
# order changes nothing else, as no two of them match at the same place.
TOKENS = re.compile(
    rb"[()]"
    # quoted string; a '"' not followed by a delimiter is content (Gmail copies
    # unescaped quotes from broken headers into ENVELOPE)
    rb'|"[^"\\]*(?:(?:\\.|"(?![ )]|\Z))[^"\\]*)*"'
    rb"|NIL(?=[ )]|\Z)"
    rb"|~?\{\d+\+?\}\Z"  # literal announcement, always the end of a line segment
    rb"|[^ ()\"{\[]+(?:\[[^\]]*\]?[^ ()\"{\[]*)*"  # atom; BODY[HEADER.FIELDS (A B)] is one
    rb"|\[[^\]]*\]?[^ ()\"{\[]*(?:\[[^\]]*\]?[^ ()\"{\[]*)*"  # atom starting with [
    rb"|\S"  # anything else, refused when read
)
_LITERAL_TOKEN = re.compile(rb"~?\{\d+\+?\}\Z")
_UNESCAPE = re.compile(rb"\\(.)", re.DOTALL)


def atom_text(raw: bytes) -> str:
    """An atom's text: ASCII, or UTF-8 with undecodable bytes kept as surrogates."""
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


class Cursor:
    """Reads generic values from a frame, token by token, across literals."""

    __slots__ = ("frame", "li", "max_depth", "pos", "ti", "toks")

    def __init__(self, frame: Frame, pos: int, max_depth: int) -> None:
        self.frame = frame
        self.li = 0  # current line segment
        self.pos = pos  # where tokens of the first segment start
        self.toks: list[bytes] | None = None  # tokens of the current segment
        self.ti = 0  # next token
        self.max_depth = max_depth

    def _tokens(self) -> list[bytes]:
        if self.toks is None:
            self.toks = TOKENS.findall(self.frame.lines[self.li], self.pos if self.li == 0 else 0)
        return self.toks

    def error(self, message: str, *, limit: bool = False) -> RemoteProtocolError:
        """A ``RemoteProtocolError`` at the current token (``limit``: a limit was passed)."""
        line = self.frame.lines[self.li]
        start = self.pos if self.li == 0 else 0
        pos = start
        if self.toks is not None:
            for i, m in enumerate(TOKENS.finditer(line, start)):
                pos = m.start()
                if i >= self.ti:
                    break
            else:
                pos = len(line)
        return RemoteProtocolError(
            message,
            offset=self.frame.offsets[self.li] + pos,
            snippet=snippet_at(line, pos),
            limit=limit,
        )

    def at_end(self) -> bool:
        """Whether every token of the response has been read."""
        return self.ti >= len(self._tokens()) and self.li == len(self.frame.lines) - 1

    def expect_end(self) -> None:
        """Raise unless every token of the response has been read."""
        if not self.at_end():
            raise self.error("unexpected data at the end of the response")

    def peek(self) -> bytes | None:
        """The next raw token of this line segment, if any."""
        toks = self._tokens()
        return toks[self.ti] if self.ti < len(toks) else None

    def value(self) -> Raw:
        """Read one generic value: atom, number, NIL, string, literal or list."""
        toks = self._tokens()
        i = self.ti
        n = len(toks)
        max_depth = self.max_depth
        # Open lists and their bound append methods; `add` appends to the innermost.
        stack: list[tuple[list[Raw], Any]] = []
        cur: list[Raw] | None = None
        add: Any = None
        depth = 0
        v: Raw
        # Branches are ordered by how often ENVELOPE and BODYSTRUCTURE use them.
        while True:
            if i >= n:
                self.ti = i
                raise self.error("response ended in the middle of a value")
            t = toks[i]
            i += 1
            c = t[0]
            if c == 34:  # "
                if t == b'"':
                    self.ti = i - 1
                    raise self.error("unterminated quoted string")
                v = t[1:-1]
                if 92 in v:
                    v = _UNESCAPE.sub(rb"\1", v)
            elif c == 40:  # (
                if depth:
                    stack.append((cur, add))  # type: ignore[arg-type]
                depth += 1
                if depth > max_depth:
                    self.ti = i
                    raise self.error(f"lists nested deeper than {max_depth}", limit=True)
                cur = []
                add = cur.append
                continue
            elif c == 41:  # )
                if not depth:
                    self.ti = i - 1
                    raise self.error("unexpected ')'")
                depth -= 1
                v = cur
                if depth:
                    cur, add = stack.pop()
                else:
                    self.ti = i
                    return v
            elif t == b"NIL":
                v = None
            elif c < 58 and t.isdigit():
                # "007" may be a mailbox name or an object id: keep it text.
                v = int(t) if c != 48 or len(t) == 1 else t.decode("ascii")
            elif c == 123 or c == 126:  # { ~
                if i == n and _LITERAL_TOKEN.match(t):
                    frame = self.frame
                    v = frame.literals[self.li]
                    self.li += 1
                    toks = self.toks = TOKENS.findall(frame.lines[self.li])
                    i = 0
                    n = len(toks)
                elif c == 123:
                    self.ti = i - 1
                    raise self.error("unexpected '{'")
                else:
                    v = atom_text(t)
            else:
                try:
                    v = t.decode("ascii")
                except UnicodeDecodeError:
                    v = t.decode("utf-8", "surrogateescape")
                if len(v) == 3 and v.upper() == "NIL":
                    v = None
            if not depth:
                self.ti = i
                return v
            add(v)

    def list_value(self, what: str) -> list[Raw]:
        """Read one parenthesized list; ``what`` names it in the error otherwise."""
        v = self.value()
        if not isinstance(v, list):
            raise self.error(f"expected a parenthesized list for {what}")
        return v

    def values_to_end(self) -> list[Raw]:
        """Read every remaining value of the response."""
        out = []
        while not self.at_end():
            out.append(self.value())
        return out

    def rest_of_line(self) -> bytes:
        """The raw rest of a one-line response, for forms read without tokens."""
        if len(self.frame.lines) > 1:
            raise self.error("unexpected literal")
        return self.frame.lines[0][self.pos :]


# ---------------------------------------------------------------- conversions


def freeze(v: Raw) -> Value:
    """A raw value with its lists made tuples (hashable, immutable)."""
    if isinstance(v, list):
        return tuple(freeze(x) for x in v)
    return v  # type: ignore[no-any-return]


def nstring(v: Raw) -> bytes | None:
    """An IMAP string or NIL; atoms and numbers are tolerated in its place."""
    if v is None or v.__class__ is bytes:
        return v
    if isinstance(v, str):
        return v.encode("utf-8", "surrogateescape")
    if isinstance(v, int):
        return str(v).encode()
    raise ValueError("expected a string, got a list")


def string_text(v: Raw) -> str:
    """A string value as text: UTF-8, else Latin-1; NIL as the empty string."""
    if v.__class__ is bytes:
        try:
            return v.decode("utf-8")
        except UnicodeDecodeError:
            return v.decode("latin-1")
    b = nstring(v)
    return "" if b is None else text_of(b)


def number(v: Raw) -> int:
    """A number value (digits in a string or atom accepted); ``ValueError`` otherwise."""
    if isinstance(v, int):
        return v
    if isinstance(v, bytes | str) and v.strip().isdigit():
        return int(v.strip())
    raise ValueError(f"expected a number, got {short(v)}")


def opt_number(v: Raw) -> int | None:
    """A number value, or ``None`` for NIL or anything that is not a number."""
    if v.__class__ is int:
        return v
    if v is None:
        return None
    try:
        return number(v)
    except ValueError:
        return None


def short(v: Raw) -> str:
    """A value shortened for an error message."""
    text = repr(freeze(v))
    return text if len(text) <= 40 else text[:37] + "..."


def atoms(v: Raw) -> tuple[str, ...]:
    """A list of atoms (flags, attributes) as text; strings in their place taken as text."""
    if v is None:
        return ()
    if not isinstance(v, list):
        v = [v]
    return tuple(x if isinstance(x, str) else string_text(x) for x in v if x is not None)


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


def mailbox_raw(v: Raw) -> bytes:
    """A mailbox name as sent. The grammar makes it an astring, never nil: an atom ``NIL``
    is a folder called NIL, the same in LIST, STATUS, QUOTAROOT, METADATA and the rest."""
    b = nstring(v)
    return b"NIL" if b is None else b


def flatten_pairs(items: list[Raw]) -> list[Raw]:
    """Unwrap ``(NAME value)`` sublists standing where a name belongs.

    Lotus Domino wraps ENVELOPE that way inside FETCH; some servers wrap
    ESEARCH's MODSEQ.
    """
    if not any(isinstance(x, list) for x in items[::2]):
        return items
    out: list[Raw] = []
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


def seqset_value(v: Raw) -> SequenceSet:
    """A sequence-set value (a number, or a set in a string or atom)."""
    if isinstance(v, int):
        return SequenceSet(((v, v),))
    if isinstance(v, str | bytes):
        return SequenceSet.parse(v)
    raise ValueError("expected a sequence set")
