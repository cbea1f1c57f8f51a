"""Modified UTF-7 and sequence sets."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trio_mailsync.protocol import SequenceSet, decode_mutf7, encode_mutf7


@pytest.mark.parametrize(
    ("text", "wire"),
    [
        ("INBOX", b"INBOX"),
        ("Entwürfe", b"Entw&APw-rfe"),
        ("R&D", b"R&-D"),
        ("~peter/mail/台北/日本語", b"~peter/mail/&U,BTFw-/&ZeVnLIqe-"),  # RFC 3501 5.1.3
        ("Входящие", b"&BBIERQQ+BDQETwRJBDgENQ-"),
        ("&", b"&-"),
        ("", b""),
        ("😀", b"&2D3eAA-"),
    ],
)
def test_mutf7_known_answers(text: str, wire: bytes) -> None:
    assert encode_mutf7(text) == wire
    assert decode_mutf7(wire) == text


@given(st.text())
def test_mutf7_round_trip(text: str) -> None:
    encoded = encode_mutf7(text)
    assert all(0x20 <= b <= 0x7E for b in encoded)
    assert decode_mutf7(encoded) == text


@pytest.mark.parametrize(
    "wire",
    [b"&", b"a&bad", b"&AGE-", b"caf\xc3\xa9", b"&A/E-", b"&A=E-", b"&!!-"],
)
def test_mutf7_rejects_invalid(wire: bytes) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        decode_mutf7(wire)


def test_mutf7_lenient_accepts_ascii_in_base64_run() -> None:
    assert decode_mutf7(b"&AGE-", strict=False) == "a"


@pytest.mark.parametrize(
    ("text", "ranges", "members"),
    [
        ("1", ((1, 1),), [1]),
        ("1:3,7", ((1, 3), (7, 7)), [1, 2, 3, 7]),
        ("5:2", ((2, 5),), [2, 3, 4, 5]),
        ("4:*", ((4, None),), None),
        ("*:4", ((4, None),), None),
    ],
)
def test_sequence_set_parse(
    text: str, ranges: tuple[tuple[int, int | None], ...], members: list[int] | None
) -> None:
    s = SequenceSet.parse(text)
    assert s.ranges == ranges
    if members is None:
        assert s.has_star
        with pytest.raises(ValueError):  # noqa: PT011
            list(s)
        assert 10**9 in s
    else:
        assert list(s) == members
        assert len(s) == len(members)


@pytest.mark.parametrize("text", ["", "0", "a", "1:", "1,,2", "*", "-1", "1:2:3"])
def test_sequence_set_rejects(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        SequenceSet.parse(text)


@given(st.sets(st.integers(min_value=1, max_value=10**6), min_size=1, max_size=200))
def test_sequence_set_from_ids_round_trip(ids: set[int]) -> None:
    s = SequenceSet.from_ids(ids)
    assert set(s) == ids
    assert SequenceSet.parse(str(s)) == s
    assert all(a <= b for a, b in s.ranges if b is not None)


def test_sequence_set_compresses() -> None:
    assert str(SequenceSet.from_ids([5, 1, 2, 3, 9, 10])) == "1:3,5,9:10"
    assert str(SequenceSet.range(100)) == "100:*"
