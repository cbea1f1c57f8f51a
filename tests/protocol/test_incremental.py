"""Feeding input whole, byte by byte or in any chunks yields the same responses."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trio_mailsync.protocol import (
    NEED_DATA,
    ConnectionClosed,
    RemoteProtocolError,
    ResponseParser,
    UnparsedResponse,
)

from .corpus import corpus
from .helpers import parse_all

CORPUS = corpus()
WHOLE = parse_all(CORPUS)


def test_corpus_is_rich() -> None:
    assert len(WHOLE) > 1000


def test_byte_by_byte_equals_whole() -> None:
    assert parse_all(CORPUS, chunks=[1] * len(CORPUS)) == WHOLE


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=300), min_size=1, max_size=400))
def test_random_chunks_equal_whole(sizes: list[int]) -> None:
    # The sizes repeat until the corpus is consumed.
    repeated = (sizes * (len(CORPUS) // len(sizes) + 1))[: len(CORPUS)]
    assert parse_all(CORPUS, chunks=repeated) == WHOLE


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_any_prefix_waits_then_completes(data: st.DataObject) -> None:
    """A response cut anywhere gives NEED_DATA, never an error, until it is whole."""
    cut = data.draw(st.integers(min_value=1, max_value=len(CORPUS) - 1))
    parser = ResponseParser()
    parser.receive_data(CORPUS[:cut])
    got = []
    while (r := parser.next_response()) is not NEED_DATA:
        got.append(r)
    assert got == WHOLE[: len(got)]
    parser.receive_data(CORPUS[cut:])
    while (r := parser.next_response()) is not NEED_DATA:
        got.append(r)
    assert got == WHOLE


def test_eof_after_whole_responses_is_clean() -> None:
    parser = ResponseParser()
    parser.receive_data(b"* 1 EXISTS\r\n")
    parser.receive_data(b"")
    assert parser.next_response() is not NEED_DATA
    assert isinstance(parser.next_response(), ConnectionClosed)
    assert isinstance(parser.next_response(), ConnectionClosed)


def test_eof_inside_a_literal_is_an_error() -> None:
    parser = ResponseParser()
    parser.receive_data(b"* 1 FETCH (BODY[] {10}\r\nabc")
    assert parser.next_response() is NEED_DATA
    parser.receive_data(b"")
    with pytest.raises(RemoteProtocolError, match="closed in the middle"):
        parser.next_response()


def _boundaries() -> list[int]:
    """The offsets where each response of the corpus ends."""
    parser = ResponseParser()
    parser.receive_data(CORPUS)
    ends = []
    while parser.next_response() is not NEED_DATA:
        ends.append(parser.offset)
    return ends


BOUNDARIES = _boundaries()
GARBLED = (
    b'* 3 FETCH (UID 5 FLAGS () ENVELOPE ("date" ("unbalanced) BODY[] {5}\r\nhello)\r\n',
    b"* STATUS INBOX MESSAGES 1\r\n",
    b"* 2 FETCH (UID)\r\n",
    b"* SEARCH 1 2 x\r\n",
)


@settings(max_examples=100, deadline=None)
@given(
    st.integers(min_value=0, max_value=len(BOUNDARIES) - 1),
    st.sampled_from(GARBLED),
    st.lists(st.integers(min_value=1, max_value=300), min_size=1, max_size=50),
)
def test_an_unreadable_response_loses_nothing_around_it(
    at: int, garbled: bytes, sizes: list[int]
) -> None:
    """Inserted anywhere, in any chunking: itself unparsed, every other response intact."""
    cut = BOUNDARIES[at]
    data = CORPUS[:cut] + garbled + CORPUS[cut:]
    repeated = (sizes * (len(data) // len(sizes) + 1))[: len(data)]
    got = parse_all(data, chunks=repeated)
    before, (odd, *after) = got[: at + 1], got[at + 1 :]
    assert isinstance(odd, UnparsedResponse)
    assert (odd.raw, odd.offset) == (garbled, cut)
    assert before + after == WHOLE
