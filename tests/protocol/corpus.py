"""A byte stream with every response kind, for tests that compare ways of feeding it."""

from __future__ import annotations

from .rfc_vectors import VECTORS

_EXTRA = [
    b"* OK [CAPABILITY IMAP4rev1 LITERAL+ IDLE] ready",
    b"* 1 FETCH (UID 5 BODY[] {12}\r\nhello\r\nworld FLAGS (\\Seen))",
    b"* 2 FETCH (BODY[HEADER] {0}\r\n UID 6)",
    b"* 3 FETCH (BODY[1] {5}\r\n{1}\r\n BODY[2] {4}\r\n(((( UID 7)",
    b'* LIST () "/" {5}\r\na\r\nbc',
    b"* SEARCH 1 2 3 ",
    b"+",
    b"* OK hello {5}",
    b"A1 OK [COPYUID 1 2:4 7:9] done",
    b"* 4 FETCH (UID 1)\n* 5 EXISTS",
]


def corpus() -> bytes:
    lines = [line for v in VECTORS if not v["note"].startswith("NOT-WIRE") for line in v["lines"]]
    return b"".join(line + b"\r\n" for line in lines + _EXTRA)
