"""The two ways a protocol exchange can go wrong: our side misused it, or the server did."""

from __future__ import annotations

import re

__all__ = ["LocalProtocolError", "ProtocolError", "RemoteProtocolError"]

# Long runs of base64-ish characters look like tokens or SASL blobs; a snippet
# in an error message must never carry one.
_SECRETISH = re.compile(rb"[A-Za-z0-9+/=_\-]{24,}")
_SNIPPET_RADIUS = 24


class ProtocolError(Exception):
    """Base class of every error raised by the protocol layer."""


class LocalProtocolError(ProtocolError):
    """The caller asked for something the protocol does not allow in this state."""


class RemoteProtocolError(ProtocolError):
    """The server sent something we cannot accept.

    ``offset`` is the position of the fault in the bytes received on this
    connection, counted from the first byte; ``snippet`` is a short, redacted
    excerpt around it. ``limit`` is true when the server went past one of the
    :class:`Limits` (line, literal, depth, a command's data): never recovered from,
    even inside an otherwise readable response.
    """

    def __init__(
        self, message: str, *, offset: int | None = None, snippet: bytes = b"", limit: bool = False
    ) -> None:
        self.message = message
        self.offset = offset
        self.snippet = redact(snippet)
        self.limit = limit
        super().__init__(message, offset, self.snippet)

    def __str__(self) -> str:
        where = "" if self.offset is None else f" at byte {self.offset}"
        near = f" near {self.snippet!r}" if self.snippet else ""
        return f"{self.message}{where}{near}"


def redact(data: bytes) -> bytes:
    """Shorten ``data`` and blank out anything that could be a credential."""
    if len(data) > 2 * _SNIPPET_RADIUS:
        data = data[: 2 * _SNIPPET_RADIUS]
    return _SECRETISH.sub(b"<redacted>", data)


def snippet_at(data: bytes, pos: int) -> bytes:
    """The bytes of ``data`` around ``pos``, for an error message."""
    return data[max(0, pos - _SNIPPET_RADIUS) : pos + _SNIPPET_RADIUS]
