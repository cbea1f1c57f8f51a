"""What each command looks like on the wire."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from trio_mailsync.protocol import (
    Append,
    Authenticate,
    Capability,
    Close,
    Command,
    Create,
    Delete,
    Enable,
    Examine,
    Expunge,
    Idle,
    List,
    LocalProtocolError,
    Login,
    Logout,
    Noop,
    Plain,
    QResync,
    Select,
    SequenceSet,
    StartTLS,
    Status,
    UidExpunge,
    UidFetch,
    UidSearch,
    UidStore,
    Unselect,
    XOAuth2,
)
from trio_mailsync.protocol._commands import EncodeContext, Literal, encode_command


def wire(command: Command, ctx: EncodeContext | None = None) -> bytes:
    parts = encode_command(command, "A1", ctx or EncodeContext())
    return b"".join(p.data if isinstance(p, Literal) else p for p in parts)


def fragments(command: Command, ctx: EncodeContext | None = None) -> list[bytes | Literal]:
    return encode_command(command, "A1", ctx or EncodeContext())


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (Capability(), b"A1 CAPABILITY"),
        (Noop(), b"A1 NOOP"),
        (Logout(), b"A1 LOGOUT"),
        (StartTLS(), b"A1 STARTTLS"),
        (Close(), b"A1 CLOSE"),
        (Unselect(), b"A1 UNSELECT"),
        (Expunge(), b"A1 EXPUNGE"),
        (Idle(), b"A1 IDLE"),
        (Login("alice", "s3cret"), b"A1 LOGIN alice s3cret"),
        (Login("a b", 'p"w\\d'), b'A1 LOGIN "a b" "p\\"w\\\\d"'),
        (Login("nil", ""), b'A1 LOGIN "nil" ""'),
        (Enable("CONDSTORE", "QRESYNC"), b"A1 ENABLE CONDSTORE QRESYNC"),
        (Select("INBOX"), b"A1 SELECT INBOX"),
        (Select("inbox"), b"A1 SELECT INBOX"),
        (Select("Sent Items"), b'A1 SELECT "Sent Items"'),
        (Select("Entwürfe", condstore=True), b"A1 SELECT Entw&APw-rfe (CONDSTORE)"),
        (Select(b"&BBAEMQQyACYEMwQ0BDU-"), b"A1 SELECT &BBAEMQQyACYEMwQ0BDU-"),
        (
            Examine(
                "INBOX", qresync=QResync(67890007, 90060115194045000, SequenceSet.parse("41:211"))
            ),
            b"A1 EXAMINE INBOX (QRESYNC (67890007 90060115194045000 41:211))",
        ),
        (Select("[Gmail]/All Mail"), b'A1 SELECT "[Gmail]/All Mail"'),
        (Select("[Gmail]/Sent"), b"A1 SELECT [Gmail]/Sent"),
        (Create("a(b)"), b'A1 CREATE "a(b)"'),
        (Delete("x"), b"A1 DELETE x"),
        (List(), b'A1 LIST "" *'),
        (List(pattern="%"), b'A1 LIST "" %'),
        (List(pattern="Work/*"), b'A1 LIST "" Work/*'),
        (List(special_use=True), b'A1 LIST "" * RETURN (SPECIAL-USE)'),
        (
            List(special_use=True, status_items=("MESSAGES", "UIDNEXT")),
            b'A1 LIST "" * RETURN (SPECIAL-USE STATUS (MESSAGES UIDNEXT))',
        ),
        (Status("INBOX"), b"A1 STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY)"),
        (
            Status("Archive", ("UIDNEXT", "HIGHESTMODSEQ")),
            b"A1 STATUS Archive (UIDNEXT HIGHESTMODSEQ)",
        ),
        (UidSearch(), b"A1 UID SEARCH ALL"),
        (UidSearch("UID", SequenceSet.range(101)), b"A1 UID SEARCH UID 101:*"),
        (UidSearch("MODSEQ", 620162338), b"A1 UID SEARCH MODSEQ 620162338"),
        (UidSearch("SUBJECT", b"hello world"), b'A1 UID SEARCH SUBJECT "hello world"'),
        (UidSearch("OR", ("SEEN",), ("FLAGGED",)), b"A1 UID SEARCH OR (SEEN) (FLAGGED)"),
        (
            UidSearch("ALL", return_=("MIN", "MAX", "COUNT")),
            b"A1 UID SEARCH RETURN (MIN MAX COUNT) ALL",
        ),
        (UidSearch("ALL", charset="UTF-8"), b"A1 UID SEARCH CHARSET UTF-8 ALL"),
        (UidFetch("1:*"), b"A1 UID FETCH 1:* (UID FLAGS)"),
        (UidFetch(SequenceSet.from_ids([1, 2, 3, 9]), ("FAST",)), b"A1 UID FETCH 1:3,9 FAST"),
        (
            UidFetch("300:*", ("UID", "BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)]", "BODY[]<0.100>")),
            b"A1 UID FETCH 300:* (UID BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)] BODY[]<0.100>)",
        ),
        (
            UidFetch("1:*", ("FLAGS",), changedsince=12345, vanished=True),
            b"A1 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345 VANISHED)",
        ),
        (
            UidStore("4", "+FLAGS", ("\\Seen", "$Label1")),
            b"A1 UID STORE 4 +FLAGS.SILENT (\\Seen $Label1)",
        ),
        (
            UidStore("4:5", "FLAGS", (), silent=False, unchangedsince=7),
            b"A1 UID STORE 4:5 (UNCHANGEDSINCE 7) FLAGS ()",
        ),
        (UidExpunge("3000:3002"), b"A1 UID EXPUNGE 3000:3002"),
        (Authenticate(Plain("u", "p")), b"A1 AUTHENTICATE PLAIN"),
    ],
)
def test_wire_form(command: Command, expected: bytes) -> None:
    assert wire(command) == expected


def test_sasl_ir_inline() -> None:
    ctx = EncodeContext(sasl_ir=True)
    assert wire(Authenticate(Plain("tim", "tanstaaftanstaaf")), ctx) == (
        b"A1 AUTHENTICATE PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm"  # RFC 4616 example
    )
    token = wire(
        Authenticate(
            XOAuth2("someuser@example.com", "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg")
        ),
        ctx,
    )
    # Google's documented example of the XOAUTH2 initial client response.
    assert token == (
        b"A1 AUTHENTICATE XOAUTH2 dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRm"
        b"dDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ=="
    )


def test_literal_chosen_by_content() -> None:
    assert fragments(Login("u", "pässword")) == [
        b"A1 LOGIN",
        b" ",
        b"u",
        b" ",
        Literal("pässword".encode()),
    ]
    assert fragments(Login("u", "a\r\nb"))[-1] == Literal(b"a\r\nb")
    assert fragments(Login("u", "x " * 1000))[-1] == Literal(b"x " * 1000)
    assert fragments(Login("u", "x" * 2000))[-1] == b"x" * 2000  # an atom has no length limit
    # With UTF8=ACCEPT, 8-bit text may be quoted.
    assert fragments(Login("u", "pässword"), EncodeContext(utf8=True))[-1] == '"pässword"'.encode()


def test_utf8_mailbox_names_when_enabled() -> None:
    assert wire(Select("Entwürfe"), EncodeContext(utf8=True)) == 'A1 SELECT "Entwürfe"'.encode()


def test_append() -> None:
    when = datetime(1994, 2, 7, 21, 52, 25, tzinfo=timezone(timedelta(hours=-8)))
    parts = fragments(Append("saved-messages", b"Subject: x\r\n\r\nhi\r\n", ("\\Seen",), when))
    assert b"".join(p for p in parts if isinstance(p, bytes)) == (
        b'A1 APPEND saved-messages (\\Seen) " 7-Feb-1994 21:52:25 -0800" '
    )
    assert parts[-1] == Literal(b"Subject: x\r\n\r\nhi\r\n")
    assert "bytes" in repr(Append("INBOX", b"secret content"))
    assert "secret content" not in repr(Append("INBOX", b"secret content"))


@pytest.mark.parametrize(
    "command",
    [
        Login("u", "a\0b"),
        Enable(),
        Enable("NOT AN ATOM"),
        Status("INBOX", ()),
        UidFetch("1", ()),
        UidFetch("1", ("FLAGS\r\nA2 LOGOUT",)),
        UidFetch("x"),
        UidFetch("1", ("FLAGS",), vanished=True),
        UidSearch("SUBJECT", "two words"),
        UidSearch("UID", -1),
        UidStore("1", "REPLACE", ("\\Seen",)),
        UidStore("1", "+FLAGS", ("bad flag",)),
        Append("INBOX", b"a\0b"),
        Append("INBOX", b"x", internaldate=datetime(2020, 1, 1)),
    ],
)
def test_invalid_commands_raise_local_protocol_error(command: Command) -> None:
    with pytest.raises(LocalProtocolError):
        wire(command)


def test_commands_compare_by_identity() -> None:
    a, b = Noop(), Noop()
    assert a != b
    assert a == a
    assert len({a, b}) == 2


def test_notify_set_and_none() -> None:
    """RFC 5465's grammar: SET [STATUS] event groups, a filter's names, NONE."""
    from trio_mailsync.protocol import Notify, NotifyGroup

    command = Notify(
        (
            NotifyGroup(mailboxes="selected", events=("MessageNew", "MessageExpunge")),
            NotifyGroup(mailboxes="subtree", names=("Work", "Café"), events=("MessageNew",)),
            NotifyGroup(mailboxes="mailboxes", names=("Sent",), events=()),
        ),
        status=True,
    )
    assert wire(command) == (
        b"A1 NOTIFY SET STATUS (selected (MessageNew MessageExpunge)) "
        b"(subtree (Work Caf&AOk-) (MessageNew)) (mailboxes (Sent) NONE)"
    )
    assert wire(Notify()) == b"A1 NOTIFY NONE"
    for bad in (
        NotifyGroup(mailboxes="subtree", events=("MessageNew",)),  # names missing
        NotifyGroup(mailboxes="personal", names=("x",), events=()),  # names not taken
        NotifyGroup(mailboxes="everything", events=()),
        NotifyGroup(mailboxes="personal", events=("Message New",)),
    ):
        with pytest.raises(LocalProtocolError):
            wire(Notify((bad,)))
