"""IMAP sequence sets (``1:4,7,9:*``), kept as ranges so huge sets stay small."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import attrs

__all__ = ["SequenceSet"]

#: Stands for ``*``, the largest number in use.
STAR = None

_Range = tuple[int, int | None]


def _normalize(ranges: Iterable[_Range]) -> tuple[_Range, ...]:
    out: list[_Range] = []
    for start, end in ranges:
        if start <= 0 or (end is not None and end <= 0):
            raise ValueError("sequence numbers and UIDs start at 1")
        if end is not None and end < start:
            start, end = end, start
        out.append((start, end))
    if not out:
        raise ValueError("a sequence set cannot be empty")
    return tuple(out)


@attrs.frozen
class SequenceSet:
    """An immutable set of message numbers or UIDs.

    ``end`` of ``None`` in a range means ``*``. Ranges are kept in the order
    given; use :meth:`from_ids` to build a compact set from numbers.
    """

    ranges: tuple[_Range, ...] = attrs.field(converter=_normalize)

    @classmethod
    def from_ids(cls, ids: Iterable[int]) -> SequenceSet:
        """Compress numbers into the fewest ranges: ``[1, 2, 3, 7]`` → ``1:3,7``."""
        ranges: list[_Range] = []
        start = prev = -1
        for n in sorted(set(ids)):
            if n == prev + 1:
                prev = n
                continue
            if start > 0:
                ranges.append((start, prev))
            start = prev = n
        if start > 0:
            ranges.append((start, prev))
        return cls(tuple(ranges))

    @classmethod
    def parse(cls, text: str | bytes) -> SequenceSet:
        """Parse the wire form; raises :class:`ValueError` if it is not one."""
        if isinstance(text, bytes):
            text = text.decode("ascii")
        ranges: list[_Range] = []
        for part in text.split(","):
            first, sep, last = part.partition(":")
            a = _number(first)
            if sep:
                b = _number(last)
                if a is None:
                    a, b = b, a
                if a is None:
                    raise ValueError(f"bad sequence set {text!r}")
                ranges.append((a, b))
            elif a is None:
                raise ValueError(f"bare '*' is not supported in {text!r}")
            else:
                ranges.append((a, a))
        return cls(tuple(ranges))

    @classmethod
    def range(cls, start: int, end: int | None = STAR) -> SequenceSet:
        """``start:end``; ``end`` defaults to ``*``."""
        return cls(((start, end),))

    @property
    def has_star(self) -> bool:
        return any(end is None for _, end in self.ranges)

    def __str__(self) -> str:
        parts = []
        for start, end in self.ranges:
            if end == start:
                parts.append(str(start))
            else:
                parts.append(f"{start}:{'*' if end is None else end}")
        return ",".join(parts)

    def _finite(self) -> tuple[tuple[int, int], ...]:
        if self.has_star:
            raise ValueError("a set containing '*' has no definite members")
        return tuple((s, e) for s, e in self.ranges if e is not None)

    def __iter__(self) -> Iterator[int]:
        seen: set[int] = set()
        for start, end in self._finite():
            for n in range(start, end + 1):
                if n not in seen:
                    seen.add(n)
                    yield n

    def __contains__(self, n: object) -> bool:
        if not isinstance(n, int):
            return False
        return any(s <= n and (e is None or n <= e) for s, e in self.ranges)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _number(text: str) -> int | None:
    if text == "*":
        return None
    if not text.isascii() or not text.isdigit():
        raise ValueError(f"bad sequence number {text!r}")
    return int(text)
