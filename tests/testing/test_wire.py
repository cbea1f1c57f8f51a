"""The testing server's own reading of commands: the grammar, strictly, from the RFCs' examples."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trio_mailsync.testing._wire import (
    CommandSyntaxError,
    Value,
    decode_mailbox,
    encode_mailbox,
    format_sequence_set,
    in_sequence_set,
    parse_command,
    parse_date_time,
    parse_sequence_set,
)


def one(line: bytes, *literals: bytes) -> tuple[str, str, list[Value]]:
    lines = line.split(b"\r\n")
    return parse_command(lines, list(literals))


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"a001 CAPABILITY", ("a001", "CAPABILITY", [])),
        (b'A1 LOGIN alice "pw \\"x\\" \\\\"', ("A1", "LOGIN", ["alice", b'pw "x" \\'])),
        (b"A2 SELECT INBOX (CONDSTORE)", ("A2", "SELECT", ["INBOX", ["CONDSTORE"]])),
        (
            b"A3 uid fetch 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (DATE FROM)]<0.100>)"
            b" (CHANGEDSINCE 42 VANISHED)",
            (
                "A3",
                "UID FETCH",
                [
                    "1:*",
                    ["UID", "FLAGS", "BODY.PEEK[HEADER.FIELDS (DATE FROM)]<0.100>"],
                    ["CHANGEDSINCE", 42, "VANISHED"],
                ],
            ),
        ),
        (
            b"A4 UID STORE 7 +FLAGS.SILENT (\\Seen $Label1)",
            ("A4", "UID STORE", [7, "+FLAGS.SILENT", ["\\Seen", "$Label1"]]),
        ),
        (
            b'A5 LIST "" "*" RETURN (SPECIAL-USE STATUS (MESSAGES))',
            ("A5", "LIST", [b"", b"*", "RETURN", ["SPECIAL-USE", "STATUS", ["MESSAGES"]]]),
        ),
        (
            b"A6 UID SEARCH RETURN () UID 1:5 NOT DELETED",
            ("A6", "UID SEARCH", ["RETURN", [], "UID", "1:5", "NOT", "DELETED"]),
        ),
        (b"A7 STATUS NIL (MESSAGES)", ("A7", "STATUS", [None, ["MESSAGES"]])),
        (
            b'A8 STATUS "Gr\xc3\xbc\xc3\x9fe" (UIDNEXT)',
            ("A8", "STATUS", ["Gr\xfc\xdfe".encode(), ["UIDNEXT"]]),
        ),
    ],
)
def test_commands_as_the_grammar_reads_them(line: bytes, expected: tuple[object, ...]) -> None:
    assert one(line) == expected


def test_literals_between_lines() -> None:
    assert one(b"A1 LOGIN {5}\r\n {3+}\r\n", b"alice", b"p\r\n") == (
        "A1",
        "LOGIN",
        [b"alice", b"p\r\n"],
    )
    assert one(b'A2 APPEND INBOX (\\Seen) " 1-Jul-2026 10:00:00 +0200" {2}\r\n', b"hi")[2] == [
        "INBOX",
        ["\\Seen"],
        b" 1-Jul-2026 10:00:00 +0200",
        b"hi",
    ]


@pytest.mark.parametrize(
    ("line", "literals", "why"),
    [
        (b"A1  NOOP", [], "two spaces"),
        (b"A1 NOOP ", [], "expected an atom"),
        (b"A1 SELECT ( INBOX)", [], 'a space after "("'),
        (b"A1 SELECT (INBOX )", [], 'a space before ")"'),
        (b"A1 SELECT (INBOX", [], "expected one space"),
        (b'A1 LOGIN a "b\\c"', [], "only"),
        (b'A1 LOGIN a "b', [], "unterminated"),
        (b"A1 LOGIN a b\xc3\xa9", [], "8-bit"),
        (b"A1 LOGIN a {3} b\r\n", [b"abc"], "at the end of a line"),
        (b"A1 LOGIN a {4}\r\n", [b"abc"], "differs"),
        (b"+ NOOP", [], "not a tag"),
        (b"A1", [], "expected one space"),
        (b"A1 FETCH 1 BODY[TEXT", [], "unclosed ["),
    ],
)
def test_what_the_grammar_refuses(line: bytes, literals: list[bytes], why: str) -> None:
    with pytest.raises(CommandSyntaxError, match=re.escape(why)):
        parse_command(line.split(b"\r\n"), literals)


def test_lists_are_bounded() -> None:
    with pytest.raises(CommandSyntaxError, match="too deep"):
        one(b"A1 X " + b"(" * 40 + b")" * 40)


def test_mailbox_names_rfc_3501_example() -> None:
    # RFC 3501 5.1.3: "~peter/mail/&U,BTFw-/&ZeVnLIqe-" is "~peter/mail/台北/日本語".
    raw = b"~peter/mail/&U,BTFw-/&ZeVnLIqe-"
    assert decode_mailbox(raw) == "~peter/mail/\u53f0\u5317/\u65e5\u672c\u8a9e"
    assert encode_mailbox(decode_mailbox(raw)) == raw
    assert decode_mailbox(b"A&-B") == "A&B"
    assert decode_mailbox(b"inbox") == "INBOX"
    assert decode_mailbox("Entwürfe".encode()) == "Entwürfe"  # UTF-8 (RFC 6855)
    with pytest.raises(CommandSyntaxError):
        decode_mailbox(b"&AOQ")


@given(st.text(min_size=1, max_size=30))
def test_mailbox_names_round_trip(name: str) -> None:
    assert decode_mailbox(encode_mailbox(name)) == ("INBOX" if name.upper() == "INBOX" else name)


def test_sequence_sets() -> None:
    ranges = parse_sequence_set("1:3,7,9:*,12:10", star=20)
    assert ranges == [(1, 3), (7, 7), (9, 20), (10, 12)]
    assert [n for n in range(1, 22) if in_sequence_set(n, ranges)] == [1, 2, 3, 7, *range(9, 21)]
    assert format_sequence_set([7, 1, 2, 3, 9, 10]) == "1:3,7,9:10"
    for bad in ("", "0", "1:", "a", "1:2:3", "1,,2"):
        with pytest.raises(CommandSyntaxError):
            parse_sequence_set(bad, star=5)


def test_date_time_either_day_form() -> None:
    zone = timezone(-timedelta(hours=7))
    assert parse_date_time(b"17-Jul-1996 02:44:25 -0700") == datetime(
        1996, 7, 17, 2, 44, 25, tzinfo=zone
    )
    assert parse_date_time(b" 1-Jan-2026 00:00:00 +0000") == datetime(2026, 1, 1, tzinfo=UTC)
    for bad in (
        b"1-Jan-2026 00:00:00 +0000",
        b"01-Foo-2026 00:00:00 +0000",
        b"31-Feb-2026 00:00:00 +0000",
    ):
        with pytest.raises(CommandSyntaxError):
            parse_date_time(bad)
