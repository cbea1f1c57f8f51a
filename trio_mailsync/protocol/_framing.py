"""Cutting the byte stream into whole responses, before any grammar is applied.

A response is a line, or lines with literals between them. The framer only
looks for line ends and for a literal announcement at a line's end, so the
bytes of a literal are never scanned, only sliced out of the buffer.
"""

from __future__ import annotations

import re
from typing import Any

from ._errors import RemoteProtocolError, snippet_at
from ._limits import Limits

# A line ending in a literal announcement: ``{12}``, ``{12+}`` or ``~{12}``.
_LITERAL_AT_END = re.compile(rb"~?\{(\d+)\+?\}\Z")
# Lines whose grammar ends in free text, where a trailing ``{12}`` is text,
# not a literal: continuation requests and OK/NO/BAD/BYE/PREAUTH.
_TEXT_LINE = re.compile(rb"\+|[^ ]+ +(?:OK|NO|BAD|BYE|PREAUTH)(?: |\Z)", re.IGNORECASE)


class Frame:
    """One whole response: ``lines[i]`` is followed by ``literals[i]``."""

    __slots__ = ("lines", "literals", "offsets")

    def __init__(self, lines: list[bytes], literals: list[bytes], offsets: list[int]) -> None:
        self.lines = lines
        self.literals = literals
        self.offsets = offsets

    @classmethod
    def one_line(cls, line: bytes, offset: int) -> Frame:
        """A response of one line, without literals, that starts at ``offset``."""
        return cls([line], _NO_LITERALS, [offset])

    def raw(self) -> bytes:
        """The response as it came: lines with their CRLF, literals between."""
        parts: list[bytes] = []
        for i, line in enumerate(self.lines):
            parts.append(line + b"\r\n")
            if i < len(self.literals):
                parts.append(self.literals[i])
        return b"".join(parts)


_NO_LITERALS: list[bytes] = []  # shared, never appended to


class Framer:
    """Finds response boundaries in the receive buffer, within the limits.

    Lines are cut out of a ``bytearray``. A literal that is not in the buffer
    yet is collected chunk by chunk in a list and joined once, so a 64 MiB
    literal costs two copies, not one per chunk.
    """

    __slots__ = (
        "_buf",
        "_eof",
        "_held",
        "_lines",
        "_lit_have",
        "_lit_need",
        "_lit_parts",
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
        self._seg = 0  # start of the current line (or awaited literal) in _buf
        self._scan = 0  # where the search for LF resumes
        self._lit_need = -1  # size of the awaited literal, or -1
        self._lit_parts: list[bytes] | None = None  # the literal's chunks, once streaming
        self._lit_have = 0
        self._held = 0  # bytes of this response already taken out of _buf

    @property
    def buffered(self) -> int:
        """Bytes received and not yet returned in a frame."""
        return len(self._buf) + self._held

    @property
    def eof(self) -> bool:
        """Whether the server closed the connection (``feed(b"")``)."""
        return self._eof

    @property
    def offset(self) -> int:
        """Stream offset of the first byte not yet returned in a frame."""
        return self._offset - self._held

    def feed(self, data: bytes) -> None:
        """Take bytes from the stream; ``b""`` means end of file."""
        if not data:
            self._eof = True
            return
        parts = self._lit_parts
        if parts is None:
            self._buf += data
            return
        need = self._lit_need - self._lit_have
        taken = data if len(data) <= need else data[:need]
        parts.append(taken)
        self._lit_have += len(taken)
        self._held += len(taken)
        self._offset += len(taken)
        if self._lit_have == self._lit_need:
            self._literals.append(b"".join(parts))
            self._lit_parts = None
            self._lit_need = -1
            self._buf += data[need:]

    def _error(self, message: str, at: int) -> RemoteProtocolError:
        return RemoteProtocolError(
            message, offset=self._offset + at, snippet=snippet_at(bytes(self._buf[: at + 24]), at)
        )

    def take_line(self, pattern: re.Pattern[bytes]) -> tuple[Any, ...] | None:
        """Match ``pattern`` against the next response and take it, if it is one whole line.

        ``pattern`` must match the line with its end (``\\r?\\n``) and nothing past it; its
        groups are returned, and the line is gone from the buffer as if ``next_frame`` had
        returned it. The hot path of a flag resync: no line is copied and no frame built.
        ``None`` (mid-response, no match, a line over the limit) changes nothing.
        """
        if self._lines or self._lit_need >= 0:
            return None
        m = pattern.match(self._buf)
        if m is None:
            return None
        end = m.end()
        if end > self.limits.max_line_length:
            return None  # next_frame() says why
        groups = m.groups()  # before the buffer changes: a match reads the buffer lazily
        del self._buf[:end]
        self._offset += end
        self._scan = 0
        return groups

    def next_frame(self) -> Frame | None:
        """The next whole response, or ``None`` until more bytes come.

        RemoteProtocolError past a limit (line, literal, response size).
        """
        buf = self._buf
        limits = self.limits
        if self._lit_need < 0 and not self._lines:
            # At the start of a response: the common one-line case, kept short.
            nl = buf.find(b"\n", self._scan)
            if 0 <= nl <= limits.max_line_length:
                end = nl - 1 if nl and buf[nl - 1] == 0x0D else nl
                if end and buf[end - 1] != 0x7D:  # no "}": no literal announced
                    line = bytes(buf[:end])
                    del buf[: nl + 1]
                    offset = self._offset
                    self._offset = offset + nl + 1
                    self._scan = 0
                    return Frame.one_line(line, offset)
        while True:
            if self._lit_parts is not None:
                return None  # streaming a literal: feed() completes it
            seg = self._seg
            need = self._lit_need
            if need >= 0:
                if len(buf) - seg < need:
                    # Take what there is out of the buffer; feed() collects the rest.
                    self._lit_parts = [bytes(buf[seg:])]
                    self._lit_have = len(buf) - seg
                    self._held += len(buf)
                    self._offset += len(buf)
                    buf.clear()
                    self._seg = self._scan = 0
                    return None
                self._literals.append(bytes(buf[seg : seg + need]))
                self._seg = self._scan = seg = seg + need
                self._lit_need = -1
            nl = buf.find(b"\n", self._scan)
            if nl < 0:
                if len(buf) - seg > limits.max_line_length:
                    raise self._error(
                        f"line longer than {limits.max_line_length} bytes without an end", seg
                    )
                if self._held + len(buf) > limits.max_response_size:
                    raise self._error(f"response larger than {limits.max_response_size} bytes", 0)
                self._scan = len(buf)
                return None
            end = nl - 1 if nl > seg and buf[nl - 1] == 0x0D else nl
            if end - seg > limits.max_line_length:
                raise self._error(f"line longer than {limits.max_line_length} bytes", seg)
            line = bytes(buf[seg:end])
            self._lines.append(line)
            self._offsets.append(self._offset + seg)
            if line.endswith(b"}") and not (len(self._lines) == 1 and _TEXT_LINE.match(line)):
                m = _LITERAL_AT_END.search(line)
                if m is not None:
                    size = int(m.group(1))
                    if size > limits.max_literal_size:
                        raise self._error(
                            f"literal of {size} bytes exceeds the limit of "
                            f"{limits.max_literal_size}",
                            seg + m.start(),
                        )
                    if self._held + nl + 1 + size > limits.max_response_size:
                        raise self._error(
                            f"response larger than {limits.max_response_size} bytes", 0
                        )
                    self._seg = self._scan = nl + 1
                    self._lit_need = size
                    continue
            frame = Frame(self._lines, self._literals, self._offsets)
            del buf[: nl + 1]
            self._offset += nl + 1
            self._reset()
            return frame
