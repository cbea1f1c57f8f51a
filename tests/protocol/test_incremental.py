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
