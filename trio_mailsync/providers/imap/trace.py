"""A wire trace: what each IMAP connection sent and received, for a user to capture an odd server.

``--trace FILE`` on ``check``, ``sync`` and ``serve`` (or ``[service] trace``) writes
one record per line::

    2026-12-02T10:00:00.123+00:00 work C A1 LOGIN <redacted>\\r\\n
    2026-12-02T10:00:00.140+00:00 work S A1 OK LOGIN completed\\r\\n

time, connection (the account), ``C`` (client) or ``S`` (server), and the bytes
with Python's escapes (``codecs.escape_encode``: CR, LF, backslash and anything not
printable ASCII escaped), a record per line of the wire. The bytes are those inside
TLS. What a LOGIN or AUTHENTICATE sends (and anything the client sends while one is
in flight: a literal password, SASL responses) is written as ``<redacted>``.
``trio-mailsync parse FILE`` reads such a file back (the server's side).

Records are written as they happen, from the event loop: it is a debugging aid,
not for every day.
"""

from __future__ import annotations

import codecs
import os
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

__all__ = ["REDACTED", "WireTrace", "is_trace", "server_bytes"]

REDACTED = b"<redacted>\r\n"


class WireTrace:
    """Where connections write their records; one per process, shared by all of them."""

    def __init__(self, file: BinaryIO) -> None:
        self._file = file

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> WireTrace:
        """Append to ``path`` (created readable by its owner only: it holds mail headers)."""
        fd = os.open(Path(path).expanduser(), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        return cls(os.fdopen(fd, "ab"))

    def write(self, connection: str, direction: str, data: bytes | bytearray) -> None:
        """Record ``data`` going one way (``"C"`` or ``"S"``) on ``connection``."""
        now = datetime.now(UTC).isoformat(timespec="milliseconds").encode()
        head = now + b" " + connection.encode("utf-8", "replace") + b" " + direction.encode()
        for line in data.splitlines(keepends=True):
            escaped, _ = codecs.escape_encode(bytes(line))
            self._file.write(head + b" " + escaped + b"\n")
        self._file.flush()

    def close(self) -> None:
        """Close the file; connections must not write afterwards."""
        self._file.close()


def is_trace(first_line: bytes) -> bool:
    """Whether a file that starts with ``first_line`` is a wire trace (not raw server bytes)."""
    parts = first_line.split(b" ", 3)
    if len(parts) < 4 or parts[2] not in (b"C", b"S"):
        return False
    try:
        datetime.fromisoformat(parts[0].decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return False
    return True


def server_bytes(lines: Iterable[bytes]) -> dict[str, bytes]:
    """What the server sent on each connection of a trace, in order."""
    received: dict[str, bytearray] = {}
    for line in lines:
        parts = line.rstrip(b"\n").split(b" ", 3)
        if len(parts) == 4 and parts[2] == b"S":
            data, _ = codecs.escape_decode(parts[3])
            received.setdefault(parts[1].decode("utf-8", "replace"), bytearray()).extend(data)
    return {name: bytes(data) for name, data in received.items()}
