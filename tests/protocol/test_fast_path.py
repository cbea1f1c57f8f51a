"""The fast paths of FETCH (issue 11's speed work) give what the general path gives.

``parse_fast_fetch`` cuts a one-line FETCH into items with regexes and keeps ENVELOPE,
BODY and BODYSTRUCTURE as ``Deferred`` bytes; ``UID_FLAGS_LINE`` takes the hottest line
straight from the receive buffer. Whatever they accept must read exactly as the general
path (tokenizer and readers) reads it, and a value the general path refuses must raise
when it is read, never come back as something else.
"""

from __future__ import annotations

import random

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trio_mailsync.protocol import (
    CommandCompleted,
    Deferred,
    FetchData,
    Limits,
    RemoteProtocolError,
    UidFetch,
    UnparsedResponse,
)
from trio_mailsync.protocol._fetch import FAST_DEPTH, parse_fast_fetch, parse_fetch
from trio_mailsync.protocol._framing import Frame
from trio_mailsync.protocol._parser import _parse_untagged, parse_fast_status
from trio_mailsync.protocol._responses import quick_constructor

from .corpus import corpus
from .helpers import parse_all, parse_one, ready_client
from .strategies import Encoder, fetches

DEFERRED = ("envelope", "body", "bodystructure")
ENVELOPE = (
    b'("Mon, 7 Feb 2026 21:52:25 -0800" "Re: (notes) \\"q\\"" (("Ann" NIL "ann" "a.example")) '
    b'NIL NIL (("Bob" NIL "bob" "b.example")) NIL NIL NIL "<1@a.example>")'
)
STRUCTURE = (
    b'(("TEXT" "PLAIN" ("CHARSET" "UTF-8") NIL NIL "7BIT" 20 2 NIL NIL NIL NIL)'
    b'("APPLICATION" "PDF" ("NAME" "r.pdf") NIL NIL "BASE64" 400 NIL '
    b'("ATTACHMENT" ("FILENAME" "r.pdf")) NIL NIL) "MIXED" ("BOUNDARY" "b1") NIL NIL NIL)'
)


def general(line: bytes) -> FetchData:
    """The general path's reading of a one-line ``* n FETCH (...)``."""
    head, _, _ = line.partition(b"(")
    seq = int(head.split()[1])
    return parse_fetch(Frame.one_line(line, 0), len(head), seq, FAST_DEPTH + 1)


def read_all(fetch: FetchData) -> None:
    for name in DEFERRED:
        getattr(fetch, name)


def check_same(line: bytes) -> bool:
    """Assert that the fast path agrees with the general one; whether it took the line."""
    refused: RemoteProtocolError | None = None
    try:
        fast = parse_fast_fetch(line, 0)
    except RemoteProtocolError as exc:
        refused = exc
    if refused is not None:
        assert not refused.limit
        with pytest.raises(RemoteProtocolError):
            general(line)
        return True
    if fast is None:
        return False
    try:
        expected = general(line)
    except RemoteProtocolError:
        # Refused by the general path: the fast one raises when the value is read.
        with pytest.raises(RemoteProtocolError):
            read_all(fast)
        return True
    read_all(fast)
    assert fast == expected
    assert all(getattr(fast, n) == getattr(expected, n) for n in DEFERRED)
    return True


def test_envelope_and_bodystructure_are_kept_as_bytes_until_read() -> None:
    line = b"* 7 FETCH (UID 9 ENVELOPE %s BODYSTRUCTURE %s)" % (ENVELOPE, STRUCTURE)
    fetch = parse_one(line)
    assert isinstance(fetch, FetchData)
    raw = attrs.fields_dict(FetchData)["_envelope"]
    deferred = getattr(fetch, raw.name)
    assert isinstance(deferred, Deferred)
    assert deferred.raw == ENVELOPE
    assert deferred.offset == line.index(ENVELOPE)
    assert fetch.envelope is not None
    assert fetch.envelope.subject == b'Re: (notes) "q"'
    assert fetch.envelope is fetch.envelope, "decoded once, then kept"
    assert fetch.bodystructure == general(line).bodystructure
    assert fetch.body is None
    assert check_same(line)


def test_a_value_the_readers_refuse_raises_where_it_is_read() -> None:
    bad = b'("date" "subject" "not a list" NIL NIL NIL NIL NIL NIL NIL)'
    data = b"* 1 OK hi\r\n* 3 FETCH (UID 5 FLAGS (\\Seen) ENVELOPE %s)\r\n" % bad
    _, fetch = parse_all(data)
    assert isinstance(fetch, FetchData)
    assert (fetch.uid, fetch.flags) == (5, ("\\Seen",))
    for _ in range(2):  # every access, not only the first
        with pytest.raises(RemoteProtocolError, match="bad FETCH ENVELOPE: address list") as e:
            _ = fetch.envelope
        assert e.value.offset is not None
        assert not e.value.limit
        assert e.value.offset >= data.index(bad)
    assert "unreadable" in repr(fetch)
    assert fetch == fetch
    # The general path says the same at once: the response is unparsed there.
    with pytest.raises(RemoteProtocolError, match="bad FETCH ENVELOPE: address list"):
        general(data.splitlines()[1])


def test_a_deferred_value_that_cannot_be_read_leaves_the_command_alone() -> None:
    client = ready_client(selected=True)
    tag = client.send(UidFetch("1:*", ("UID", "ENVELOPE"))).split()[0]
    client.receive_data(
        b'* 1 FETCH (UID 1 ENVELOPE ("d" "s" "x" NIL NIL NIL NIL NIL NIL NIL))\r\n'
        b'* 2 FETCH (UID 2 ENVELOPE ("d" "ok" NIL NIL NIL NIL NIL NIL NIL NIL))\r\n'
        + tag
        + b" OK done\r\n"
    )
    done = client.next_event()
    assert isinstance(done, CommandCompleted)
    assert done.ok
    assert not client.broken
    first, second = done.data
    assert isinstance(first, FetchData)
    assert isinstance(second, FetchData)
    with pytest.raises(RemoteProtocolError):
        _ = first.envelope
    assert second.envelope is not None
    assert second.envelope.subject == b"ok"


@pytest.mark.parametrize(
    ("line", "taken"),
    [
        (b"* 1 FETCH (UID 5 FLAGS (\\Seen NIL))", False),  # NIL flag: the general path drops it
        (b"* 1 FETCH (UID 5 FLAGS (\\Seen nil))", False),
        (b"* 1 FETCH (UID 5  FLAGS (\\Seen))", False),  # two spaces
        (b"* 1 FETCH (UID 5 BODY[HEADER] NIL)", False),  # a section name
        (b'* 1 FETCH (UID 5 ENVELOPE ("d" "s" NIL NIL NIL NIL NIL NIL NIL "[x]"))', True),
        (b"* 1 FETCH (UID 5 ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL [x]))", False),
        (b'* 1 FETCH (UID 5 ENVELOPE ("d" "s" "unterminated))', False),
        (b'* 1 FETCH (UID 5 ENVELOPE "not a list")', True),  # refused by both
        (b"* 1 FETCH (UID 5 ENVELOPE NIL BODY NIL)", True),
        (b'* 1 FETCH (UID 5 INTERNALDATE "not a date")', False),  # kept raw by the general
        (b'* 1 FETCH (uid 5 internaldate "07-Feb-2026 21:52:25 -0800" modseq (7))', True),
        (b'* 1 FETCH (UID 5 X-GM-LABELS (\\Inbox "Work") X-GM-MSGID 12)', True),
        (b"* 1 FETCH (UID 5 EMAILID (M1) THREADID NIL UNKNOWN (a (b)))", True),
        (b'* 1 FETCH (UID 5 RFC822.HEADER "a: b")', True),
        (b"* 1 FETCH (UID (5))", True),  # refused by both
        (b"* 1 FETCH (UID 5 FLAGS (\\Seen) ENVELOPE " + ENVELOPE + b")", True),
        (b'* 1 FETCH (ENVELOPE ("a"b" "c"))', True),  # Gmail's unescaped quote
        (b"* 1 FETCH ()", False),
    ],
)
def test_each_line_is_read_alike_by_both_paths(line: bytes, taken: bool) -> None:
    assert check_same(line) is taken


def nested(depth: int) -> bytes:
    part = b'("TEXT" "PLAIN" NIL NIL NIL "7BIT" 1 1)'
    for _ in range(depth - 1):
        part = b'(%s "MIXED")' % part
    return part


def test_nesting_past_the_fast_depth_takes_the_general_path() -> None:
    assert check_same(b"* 1 FETCH (BODY %s)" % nested(FAST_DEPTH))
    assert not check_same(b"* 1 FETCH (BODY %s)" % nested(FAST_DEPTH + 1))
    deep = parse_one(b"* 1 FETCH (BODY %s)" % nested(FAST_DEPTH + 1))
    assert isinstance(deep, FetchData)
    assert deep.body is not None
    # With a lower limit the fast path is not taken (a deferred value would cross it):
    # the limit is enforced when the response is read, as before.
    with pytest.raises(RemoteProtocolError, match="nested deeper") as e:
        parse_all(
            b"* 1 FETCH (BODY %s)\r\n" % nested(FAST_DEPTH), limits=Limits(max_depth=FAST_DEPTH)
        )
    assert e.value.limit


def test_the_hot_line_is_taken_from_the_buffer_in_any_chunking() -> None:
    data = b"".join(
        b"* %d FETCH (UID %d FLAGS (\\Seen %s))\r\n" % (n, n + 100, b"NIL" if n == 3 else b"")
        for n in range(1, 6)
    )
    whole = parse_all(data)
    assert [r.flags for r in whole if isinstance(r, FetchData)] == [("\\Seen",)] * 5
    for size in (1, 2, 7, 40):
        assert parse_all(data, chunks=[size] * len(data)) == whole
    # The line-length limit holds on the hot path too.
    long = b"* 1 FETCH (UID 1 FLAGS (%s))\r\n" % (b"\\Seen " * 20)
    with pytest.raises(RemoteProtocolError, match="line longer"):
        parse_all(long, limits=Limits(max_line_length=64))


def _fetch_lines() -> list[bytes]:
    return [
        line
        for line in corpus().split(b"\r\n")
        if line.startswith(b"* ") and b" FETCH " in line[:16] and not line.endswith(b"}")
    ]


CORPUS_FETCHES = _fetch_lines()


def test_every_one_line_fetch_of_the_corpus_reads_alike() -> None:
    taken = [check_same(line) for line in CORPUS_FETCHES]
    assert sum(taken) > len(taken) // 2, "the fast path takes most of them"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fetches(), st.randoms(use_true_random=False))
def test_encoded_fetches_read_alike(model: FetchData, rnd: random.Random) -> None:
    data = Encoder(lambda: rnd.random() < 0.3).response(model)
    if data.count(b"\n") == 1:  # literals take the general path anyway
        check_same(data.rstrip(b"\r\n"))


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_fetches_read_alike(data: st.DataObject) -> None:
    line = bytearray(data.draw(st.sampled_from(CORPUS_FETCHES)))
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(line)))
        what = data.draw(st.sampled_from([b"(", b")", b'"', b"\\", b" ", b"NIL", b"", b"x"]))
        cut = data.draw(st.integers(0, 3))
        line[pos : pos + cut] = what
    check_same(bytes(line))


def test_the_quick_constructor_builds_what_init_builds() -> None:
    make = quick_constructor(FetchData, "seq", "uid", "flags")
    assert make(1, 2, ("\\Seen",)) == FetchData(seq=1, uid=2, flags=("\\Seen",))
    quick = make(1, 2, ())
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        quick.uid = 3  # type: ignore[misc]

    @attrs.frozen
    class WithFactory:
        items: list[int] = attrs.field(factory=list)

    with pytest.raises(TypeError, match="needs a value"):
        quick_constructor(WithFactory)


def test_an_unreadable_hot_line_is_still_unparsed_alone() -> None:
    (odd, fine) = parse_all(b"* 1 FETCH (UID 5 FLAGS (\\Seen) X)\r\n* 2 FETCH (UID 6 FLAGS ())\r\n")
    assert isinstance(odd, UnparsedResponse)
    assert odd.uid == 5
    assert isinstance(fine, FetchData)
    assert fine.uid == 6


# ---------------------------------------------------------------- STATUS

STATUS_ITEMS = ("MESSAGES", "UIDNEXT", "UIDVALIDITY", "HIGHESTMODSEQ", "unseen", "Size", "X")
ATOM_BYTES = b"AZaz09!#$&'+,./:;<=>?@^_`|~-%*]{}\\\"() \x00\x7f\xe4"


@st.composite
def status_lines(draw: st.DrawFn) -> bytes:
    """``* STATUS`` lines, mostly well formed, some not: both paths must agree."""
    if draw(st.booleans()):
        mailbox = draw(st.binary(min_size=0, max_size=8).map(lambda b: b.translate(None, b"\r\n")))
        mailbox = draw(st.sampled_from([mailbox, bytes(c for c in mailbox if c in ATOM_BYTES)]))
    else:
        text = draw(st.binary(max_size=8).map(lambda b: b.translate(None, b"\r\n")))
        mailbox = b'"' + text.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
    pairs = draw(
        st.lists(
            st.tuples(
                st.sampled_from(STATUS_ITEMS),
                st.one_of(st.integers(0, 2**70).map(str), st.sampled_from(["NIL", "x", ""])),
            ),
            max_size=5,
        )
    )
    items = " ".join(f"{name} {value}" for name, value in pairs).encode()
    space = draw(st.sampled_from([b" ", b"  "]))
    return b"* STATUS " + mailbox + space + b"(" + items + b")"


def general_status(line: bytes) -> object:
    try:
        return _parse_untagged(Frame.one_line(line, 0), 20, False)
    except RemoteProtocolError:
        return "refused"


@given(line=status_lines())
@settings(max_examples=2000, suppress_health_check=[HealthCheck.too_slow])
def test_status_lines_read_alike_by_both_paths(line: bytes) -> None:
    fast = parse_fast_status(line, False)
    if fast is not None:
        assert fast == general_status(line)


def test_the_usual_status_answers_take_the_fast_path() -> None:
    for line in (
        b"* STATUS INBOX (MESSAGES 0 UIDNEXT 1 UIDVALIDITY 1000 HIGHESTMODSEQ 1)",
        b'* STATUS "Sent Items" (MESSAGES 12 UIDNEXT 40 UIDVALIDITY 7)',
        b'* STATUS "a\\"b\\\\c" (UNSEEN 3)',
        b"* STATUS &AOQ-rger ()",
    ):
        fast = parse_fast_status(line, False)
        assert fast is not None
        assert fast == general_status(line)
    # Not the usual shape: the general path reads it.
    for line in (
        b"* STATUS {5}",
        b"* STATUS INBOX (MAILBOXID (F2212ea8))",
        b"* STATUS INBOX (APPENDLIMIT NIL)",
        b"* status INBOX (MESSAGES 1)",
    ):
        assert parse_fast_status(line, False) is None
