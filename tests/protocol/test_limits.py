"""Limits on line length, literal size, response size and nesting, and what happens past them."""

from __future__ import annotations

import pytest

from trio_mailsync.protocol import (
    NEED_DATA,
    Client,
    CommandCompleted,
    CommandData,
    FetchData,
    Limits,
    RemoteProtocolError,
    ResponseParser,
    Select,
    Status,
    UidFetch,
)

from .helpers import parse_all

SMALL = Limits(max_line_length=100, max_literal_size=1000, max_response_size=5000, max_depth=8)


def feed_until_error(parser: ResponseParser, chunks: list[bytes]) -> RemoteProtocolError:
    for chunk in chunks:
        parser.receive_data(chunk)
        try:
            while parser.next_response() is not NEED_DATA:
                pass
        except RemoteProtocolError as exc:
            return exc
    raise AssertionError("no error raised")


def test_line_without_end_is_refused_and_memory_stays_bounded() -> None:
    parser = ResponseParser(limits=SMALL)
    exc = feed_until_error(parser, [b"* OK " + b"x" * 30] * 100)
    assert "without an end" in str(exc)
    assert parser.buffered <= SMALL.max_line_length + 40


def test_long_line_in_one_piece_is_refused() -> None:
    with pytest.raises(RemoteProtocolError, match="longer than 100"):
        parse_all(b"* OK " + b"x" * 200 + b"\r\n", limits=SMALL)


def test_line_at_the_limit_is_accepted() -> None:
    line = b"* OK " + b"x" * 95
    assert len(line) == SMALL.max_line_length
    assert len(parse_all(line + b"\r\n", limits=SMALL)) == 1


def test_literal_over_the_limit_is_refused_before_it_arrives() -> None:
    parser = ResponseParser(limits=SMALL)
    exc = feed_until_error(parser, [b"* 1 FETCH (BODY[] {1001}\r\n"])
    assert "literal of 1001 bytes exceeds the limit of 1000" in str(exc)
    assert exc.offset is not None


def test_literal_at_the_limit_is_accepted() -> None:
    body = b"a" * 1000
    (r,) = parse_all(b"* 1 FETCH (BODY[] {1000}\r\n" + body + b")\r\n", limits=SMALL)
    assert isinstance(r, FetchData)
    assert r.sections["BODY[]"] == body


def test_endless_stream_of_small_literals_hits_the_response_limit() -> None:
    parser = ResponseParser(limits=SMALL)
    exc = feed_until_error(parser, [b"* 1 FETCH (X {900}\r\n" + b"a" * 900] * 10)
    assert "response larger than 5000" in str(exc)
    assert parser.buffered <= SMALL.max_response_size + 1000


def test_nesting_past_the_limit_is_refused() -> None:
    ok = b"* 1 FETCH (X " + b"(" * 7 + b")" * 7 + b")\r\n"
    assert len(parse_all(ok, limits=SMALL)) == 1
    deep = b"* 1 FETCH (X " + b"(" * 8 + b")" * 8 + b")\r\n"
    with pytest.raises(RemoteProtocolError, match="nested deeper than 8"):
        parse_all(deep, limits=SMALL)


def test_bodystructure_ten_thousand_deep_is_a_clean_error() -> None:
    data = (
        b"* 1 FETCH (BODYSTRUCTURE " + b"(" * 10_000 + b'"TEXT" "PLAIN"' + b")" * 10_000 + b")\r\n"
    )
    with pytest.raises(RemoteProtocolError, match="nested deeper than 64"):
        parse_all(data)


def test_deep_bodystructure_within_the_limit_parses() -> None:
    part = b'("TEXT" "PLAIN" NIL NIL NIL "7BIT" 1 1)'
    body = part
    for _ in range(60):
        body = b"(" + body + b' "MIXED")'
    (r,) = parse_all(b"* 1 FETCH (BODYSTRUCTURE " + body + b")\r\n")
    assert isinstance(r, FetchData)


@pytest.mark.parametrize(
    "kwargs",
    [{"max_line_length": 0}, {"max_literal_size": -1}, {"max_depth": 0}, {"max_depth": 100_000}],
)
def test_limits_are_validated(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        Limits(**kwargs)


def test_big_literal_is_sliced_whole() -> None:
    body = bytes(range(256)) * 4096  # 1 MiB with every byte value, CR and LF included
    data = b"* 1 FETCH (BODY[] {%d}\r\n%s)\r\n" % (len(body), body)
    chunks = [65536] * (len(data) // 65536 + 1)
    (r,) = parse_all(data, chunks=chunks)
    assert isinstance(r, FetchData)
    assert r.sections["BODY[]"] == body


def _pump(client: Client, data: bytes) -> list[object]:
    """Feed ``data`` a byte at a time; the events, or the error, as it comes."""
    out: list[object] = []
    for i in range(len(data)):
        client.receive_data(data[i : i + 1])
        while (event := client.next_event()) is not NEED_DATA:
            out.append(event)
    return out


def test_a_command_sent_endless_data_it_claims_is_refused() -> None:
    # Issue 17, finding 4: a server answering one STATUS with an endless stream of STATUS
    # data grew the command's data (memory) until the sync timeout.
    client = Client(limits=Limits(max_command_data=10_000))
    _pump(client, b"* PREAUTH ready\r\n")
    status = Status("INBOX", ("MESSAGES",))
    client.send(status)
    line = b'* STATUS "INBOX" (MESSAGES 1)\r\n'
    with pytest.raises(RemoteProtocolError, match=r"STATUS was sent more than 10000 bytes"):
        _pump(client, line * 20)  # 20 x (31 + 512) > 10,000
    assert client.broken


def test_the_budget_is_per_command_and_streamed_data_is_not_counted() -> None:
    client = Client(limits=Limits(max_command_data=10_000))
    _pump(client, b"* PREAUTH ready\r\n")
    client.send(Select("INBOX"))
    _pump(client, b"A1 OK [READ-ONLY] done\r\n")
    fetch = UidFetch("1:*", ("UID", "FLAGS"), stream=True)
    client.send(fetch)
    many = b"".join(b"* %d FETCH (UID %d FLAGS ())\r\n" % (n, n) for n in range(1, 200))
    events = _pump(client, many + b"A2 OK done\r\n")
    assert len([e for e in events if isinstance(e, CommandData)]) == 199
    for tag in ("A3", "A4"):  # 15 x (31 + 512): under the budget, each on its own
        status = Status("INBOX", ("MESSAGES",))
        client.send(status)
        line = b'* STATUS "INBOX" (MESSAGES 1)\r\n'
        done = _pump(client, line * 15 + tag.encode() + b" OK done\r\n")
        assert isinstance(done[-1], CommandCompleted)
        assert done[-1].ok
