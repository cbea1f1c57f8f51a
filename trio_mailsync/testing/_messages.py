"""Small RFC 5322 messages for tests, the demo and benchmarks."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

__all__ = ["sample_message"]


def sample_message(
    n: int,
    *,
    subject: str | None = None,
    sender: str | None = None,
    to: str = "you@example.com",
    cc: str | None = None,
    date: datetime | None = None,
    body: str | None = None,
) -> bytes:
    """Message number ``n``: a unique Message-ID, and a subject and sender made from ``n``.

    ``sender`` may hold non-ASCII text in an encoded word (RFC 2047).
    """
    lines = [
        f"From: {sender if sender is not None else f'Sender {n} <s{n}@example.com>'}",
        f"To: {to}",
        *([f"Cc: {cc}"] if cc else []),
        f"Subject: {subject if subject is not None else f'message {n}'}",
        f"Message-ID: <m{n}@example.com>",
        f"Date: {format_datetime(date or datetime(2026, 11, 23, 10, 0, tzinfo=UTC))}",
        "",
        body if body is not None else f"body {n}",
        "",
    ]
    return "\r\n".join(lines).encode()
