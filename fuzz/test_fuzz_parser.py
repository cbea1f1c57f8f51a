"""Fuzz targets: whatever the server sends, the protocol layer either parses it or raises
RemoteProtocolError, nothing else, and never holds more than its limits allow.

They run briefly in the default test suite. For a long run:

    python3 scripts/dev.py fuzz --examples 1000000

(``TRIO_MAILSYNC_FUZZ_EXAMPLES`` sets the number of examples per target.)
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.protocol.corpus import corpus
from trio_mailsync.protocol import (
    NEED_DATA,
    Client,
    Command,
    CommandCompleted,
    CommandData,
    ConnectionClosed,
    FetchData,
    Idle,
    Limits,
    List,
    Login,
    Noop,
    RemoteProtocolError,
    ResponseParser,
    Select,
    Status,
    UidFetch,
)

EXAMPLES = int(os.environ.get("TRIO_MAILSYNC_FUZZ_EXAMPLES", "300"))
fuzz = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
LIMITS = Limits(max_line_length=4096, max_literal_size=4096, max_response_size=16384, max_depth=16)
SLACK = 4096  # one chunk may arrive on top of a full buffer before the parser sees it

RESPONSES = corpus().split(b"\r\n")
TOKENS = [
    b"* ",
    b"+ ",
    b"A1 ",
    b"OK",
    b"NO",
    b"BAD",
    b"BYE",
    b"(",
    b")",
    b"[",
    b"]",
    b" ",
    b'"',
    b"\\",
    b"NIL",
    b"FETCH",
    b"BODY[",
    b"BODYSTRUCTURE",
    b"ENVELOPE",
    b"LIST",
    b"STATUS",
    b"SEARCH",
    b"ESEARCH",
    b"VANISHED",
    b"(EARLIER)",
    b"UID",
    b"FLAGS",
    b"1",
    b"42",
    b"4294967296",
    b"-1",
    b"{0}\r\n",
    b"{3}\r\n",
    b"{5+}\r\n",
    b"~{2}\r\n",
    b"{99999}\r\n",
    b"\r\n",
    b"\n",
    b"\xff",
    b"\xc3\xa9",
    b"&-",
    b"&AOk-",
    b"1:*",
    b"CAPABILITY",
    b"EXISTS",
    b"EXPUNGE",
    b"[UIDNEXT 5]",
    b"[COPYUID 1 2:3 4:5]",
    b"<0>",
    b"MODSEQ",
    b"X-GM-LABELS",
    b"\x00",
]


def consume(parser: ResponseParser, chunks: list[bytes]) -> None:
    """Feed chunks and read every response; only RemoteProtocolError may escape."""
    error = _consume(parser, chunks)
    assert error is None or str(error)


def _consume(parser: ResponseParser, chunks: list[bytes]) -> RemoteProtocolError | None:
    try:
        for chunk in chunks:
            if not chunk:
                continue  # b"" would mean end of file
            parser.receive_data(chunk)
            while (r := parser.next_response()) is not NEED_DATA:
                assert not isinstance(r, ConnectionClosed)
                read_deferred(r)
            assert parser.buffered <= LIMITS.max_response_size + SLACK
        parser.receive_data(b"")
        while not isinstance(parser.next_response(), ConnectionClosed):
            pass
    except RemoteProtocolError as exc:
        return exc
    return None


def read_deferred(response: object) -> None:
    """Read a FETCH's deferred values: each decodes or raises a content error, nothing else."""
    if not isinstance(response, FetchData):
        return
    errors = []
    for name in ("envelope", "body", "bodystructure"):
        try:
            getattr(response, name)
        except RemoteProtocolError as exc:
            errors.append(exc)
    assert not any(exc.limit or not str(exc) for exc in errors)
    assert repr(response)


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True) if b > a]


@fuzz
@given(st.binary(max_size=3000), st.lists(st.integers(0, 10**6), max_size=20))
def test_random_bytes(data: bytes, cuts: list[int]) -> None:
    consume(ResponseParser(limits=LIMITS), split(data, cuts))


@fuzz
@given(
    st.lists(st.sampled_from(TOKENS), max_size=200), st.lists(st.integers(0, 10**6), max_size=20)
)
def test_token_soup(tokens: list[bytes], cuts: list[int]) -> None:
    data = b"".join(tokens)
    consume(ResponseParser(limits=LIMITS), split(data, cuts))


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(RESPONSES)) + b"\r\n")
    for _ in range(draw(st.integers(1, 6))):
        pos = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["insert", "delete", "replace", "token"]))
        if action == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=4))
        elif action == "delete":
            del data[pos : pos + draw(st.integers(1, 8))]
        elif action == "replace" and pos < len(data):
            data[pos] = draw(st.integers(0, 255))
        else:
            data[pos:pos] = draw(st.sampled_from(TOKENS))
    return bytes(data)


@fuzz
@given(st.lists(mutated(), min_size=1, max_size=5))
def test_mutated_real_responses(responses: list[bytes]) -> None:
    consume(ResponseParser(limits=LIMITS), responses)


@fuzz
@given(st.lists(mutated(), min_size=1, max_size=6), st.integers(0, 4))
def test_client_state_machine_survives_anything(responses: list[bytes], setup: int) -> None:
    """Bytes into a client with commands in flight: events, or RemoteProtocolError."""
    client = Client(limits=LIMITS)
    client.receive_data(b"* OK [CAPABILITY IMAP4rev1 IDLE SASL-IR LITERAL+] hi\r\n")
    client.next_event()
    scenarios: list[list[Command]] = [
        [Login("u", "p")],
        [Login("u", "p"), Select("INBOX"), UidFetch("1:*", ("UID", "FLAGS", "ENVELOPE"))],
        [Login("u", "p"), List(), Status("INBOX"), Status("Sent")],
        [Login("u", "p"), Select("INBOX"), Idle()],
        [Noop()],
    ]
    for command in scenarios[setup]:
        client.send(command)
    error = _drive(client, responses)
    assert error is None or (client.broken and str(error))


def _drive(client: Client, responses: list[bytes]) -> RemoteProtocolError | None:
    try:
        for data in responses:
            if not data:
                continue  # b"" would mean end of file
            client.receive_data(data)
            while (event := client.next_event()) is not NEED_DATA:
                assert not isinstance(event, ConnectionClosed)
                if isinstance(event, CommandData):
                    read_deferred(event.response)
                elif isinstance(event, CommandCompleted):
                    for response in event.data:
                        read_deferred(response)
                else:
                    read_deferred(event)
                client.data_to_send()
        client.receive_data(b"")
        while not isinstance(client.next_event(), ConnectionClosed):
            pass
    except RemoteProtocolError as exc:
        return exc
    return None


@pytest.mark.parametrize(
    "chunks",
    [
        # Found by a long run: an IndexError escaped from the LIST reader.
        [
            b'* LIST (\x00\x00) "\x00\x00\x00/"\x00\x00 "Fruit"[',
            b"{0}\r\n* CAPABILITY IMAP4rev1 STARTTLS AUTH=GSSAPI LOGINDISABLED\r\n",
        ],
    ],
)
def test_regressions(chunks: list[bytes]) -> None:
    consume(ResponseParser(limits=LIMITS), chunks)


def test_bodystructure_nested_ten_thousand_deep() -> None:
    data = b"* 1 FETCH (BODYSTRUCTURE " + b"(" * 10_000 + b'"TEXT" "PLAIN"' + b")" * 10_000
    parser = ResponseParser()
    parser.receive_data(data + b")\r\n")
    with pytest.raises(RemoteProtocolError, match="nested deeper than"):
        parser.next_response()
