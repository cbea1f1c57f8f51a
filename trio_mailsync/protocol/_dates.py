"""IMAP's date-time (RFC 3501 ``date-time``, RFC 9051 section 9), both ways.

``"17-Jul-1996 02:44:25 -0700"``: INTERNALDATE in FETCH responses and the
optional date of APPEND. The day is written space-padded (``date-day-fixed``
allows ``SP DIGIT`` or two digits; the RFCs' examples and most servers use the
space); either form is read.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from ._errors import LocalProtocolError

__all__ = ["format_internaldate", "parse_internaldate"]

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH_NUMBERS = {m.upper().encode(): i for i, m in enumerate(MONTHS, 1)}
_INTERNALDATE = re.compile(
    rb" *(\d{1,2})-([A-Za-z]{3})-(\d{4}) +(\d{1,2}):(\d{2}):(\d{2})"
    rb"(?: +([+-])(\d{2})(\d{2}))? *\Z"
)


def parse_internaldate(raw: bytes) -> datetime | None:
    """``"17-Jul-1996 02:44:25 -0700"`` as an aware datetime; ``None`` if malformed.

    A missing zone (seen from some servers) is read as UTC.
    """
    m = _INTERNALDATE.match(raw)
    if m is None:
        return None
    day, mon, year, hh, mm, ss, sign, zh, zm = m.groups()
    month = _MONTH_NUMBERS.get(mon.upper())
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


def format_internaldate(when: datetime) -> bytes:
    """An aware datetime as IMAP's date-time, without the quotes."""
    if when.tzinfo is None:
        raise LocalProtocolError("an IMAP date-time must be timezone-aware")
    offset = when.utcoffset()
    assert offset is not None
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    minutes = abs(minutes)
    return (
        f"{when.day:2d}-{MONTHS[when.month - 1]}-{when.year:04d} "
        f"{when.hour:02d}:{when.minute:02d}:{when.second:02d} "
        f"{sign}{minutes // 60:02d}{minutes % 60:02d}"
    ).encode()
