"""Known answers for every response kind the parser models, many taken from RFC examples."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from trio_mailsync.protocol import (
    Address,
    AppendUidCode,
    CapabilityCode,
    CapabilityData,
    ContinuationRequest,
    CopyUidCode,
    Disposition,
    EnabledData,
    Envelope,
    ESearchData,
    ExistsData,
    ExpungeData,
    FetchData,
    FlagsCode,
    FlagsData,
    IdData,
    ListData,
    MetadataData,
    ModifiedCode,
    MultiPart,
    Namespace,
    NamespaceData,
    NumberCode,
    QuotaData,
    QuotaResource,
    QuotaRootData,
    RecentData,
    RemoteProtocolError,
    ResponseCode,
    ResponseStatus,
    SearchData,
    SequenceSet,
    SinglePart,
    StatusData,
    TaggedResponse,
    UnknownData,
    UnparsedResponse,
    UntaggedStatus,
    VanishedData,
)

from .helpers import parse_all, parse_one
from .rfc_vectors import VECTORS

OK = ResponseStatus.OK

# ---------------------------------------------------------------- status responses


def test_greeting_with_capabilities() -> None:
    r = parse_one(b"* OK [CAPABILITY IMAP4rev1 LITERAL+ SASL-IR AUTH=PLAIN] Dovecot ready.")
    assert r == UntaggedStatus(
        status=OK,
        code=CapabilityCode(
            name="CAPABILITY",
            text="IMAP4rev1 LITERAL+ SASL-IR AUTH=PLAIN",
            capabilities=frozenset({"IMAP4REV1", "LITERAL+", "SASL-IR", "AUTH=PLAIN"}),
        ),
        text="Dovecot ready.",
    )


@pytest.mark.parametrize(
    ("line", "status"),
    [
        (
            b"* PREAUTH IMAP4rev1 server logged in as Smith",
            ResponseStatus.PREAUTH,
        ),  # RFC 3501 7.1.4
        (b"* BYE Autologout; idle for too long", ResponseStatus.BYE),  # RFC 3501 7.1.5
        (b"* NO Disk is 98% full, please delete unnecessary data", ResponseStatus.NO),
        (b"* BAD Command line too long", ResponseStatus.BAD),
    ],
)
def test_untagged_status(line: bytes, status: ResponseStatus) -> None:
    r = parse_one(line)
    assert isinstance(r, UntaggedStatus)
    assert r.status is status
    assert r.code is None
    assert r.text == line.split(b" ", 2)[2].decode()


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"a001 OK LOGIN completed", TaggedResponse(tag="a001", status=OK, text="LOGIN completed")),
        (
            b"A2 NO [AUTHENTICATIONFAILED] Invalid credentials",
            TaggedResponse(
                tag="A2",
                status=ResponseStatus.NO,
                code=ResponseCode(name="AUTHENTICATIONFAILED"),
                text="Invalid credentials",
            ),
        ),
        (
            b"A3 BAD [CLIENTBUG] unknown command",
            TaggedResponse(
                tag="A3",
                status=ResponseStatus.BAD,
                code=ResponseCode(name="CLIENTBUG"),
                text="unknown command",
            ),
        ),
        (  # lower-case status words are legal
            b"x1 ok [read-write] done",
            TaggedResponse(tag="x1", status=OK, code=ResponseCode(name="READ-WRITE"), text="done"),
        ),
    ],
)
def test_tagged(line: bytes, expected: TaggedResponse) -> None:
    assert parse_one(line) == expected


@pytest.mark.parametrize(
    ("text", "code"),
    [
        (b"[ALERT] System shutdown in 10 minutes", ResponseCode(name="ALERT")),
        (b"[READ-ONLY] EXAMINE completed", ResponseCode(name="READ-ONLY")),
        (b"[READ-WRITE] SELECT completed", ResponseCode(name="READ-WRITE")),
        (b"[TRYCREATE] no such mailbox", ResponseCode(name="TRYCREATE")),
        (b"[UIDNEXT 4392] Predicted next UID", NumberCode(name="UIDNEXT", text="4392", value=4392)),
        (
            b"[UIDVALIDITY 3857529045] UIDs valid",
            NumberCode(name="UIDVALIDITY", text="3857529045", value=3857529045),
        ),
        (b"[UNSEEN 12] Message 12 is first unseen", NumberCode(name="UNSEEN", text="12", value=12)),
        (
            b"[HIGHESTMODSEQ 715194045007] Highest",
            NumberCode(name="HIGHESTMODSEQ", text="715194045007", value=715194045007),
        ),
        (
            b"[NOMODSEQ] Sorry, this mailbox format doesn't support modsequences",
            ResponseCode(name="NOMODSEQ"),
        ),
        (
            b"[PERMANENTFLAGS (\\Deleted \\Seen \\*)] Limited",
            FlagsCode(
                name="PERMANENTFLAGS",
                text="(\\Deleted \\Seen \\*)",
                flags=("\\Deleted", "\\Seen", "\\*"),
            ),
        ),
        (
            b"[APPENDUID 38505 3955] APPEND completed",
            AppendUidCode(
                name="APPENDUID",
                text="38505 3955",
                uidvalidity=38505,
                uids=SequenceSet.parse("3955"),
            ),
        ),
        (
            b"[COPYUID 38505 304,319:320 3956:3958] Done",
            CopyUidCode(
                name="COPYUID",
                text="38505 304,319:320 3956:3958",
                uidvalidity=38505,
                source=SequenceSet.parse("304,319:320"),
                destination=SequenceSet.parse("3956:3958"),
            ),
        ),
        (b"[CLOSED] Previous mailbox closed", ResponseCode(name="CLOSED")),
        (b"[UNAVAILABLE] Try again later", ResponseCode(name="UNAVAILABLE")),
        (b"[THROTTLED] Slow down", ResponseCode(name="THROTTLED")),
        (b"[AUTHENTICATIONFAILED] nope", ResponseCode(name="AUTHENTICATIONFAILED")),
        (
            b"[BADCHARSET (UTF-8 US-ASCII)] unsupported",
            ResponseCode(name="BADCHARSET", text="(UTF-8 US-ASCII)"),
        ),
        (  # any other atom, its text kept
            b"[X-WEIRD-CODE some text here] ok",
            ResponseCode(name="X-WEIRD-CODE", text="some text here"),
        ),
    ],
)
def test_response_codes(text: bytes, code: ResponseCode) -> None:
    r = parse_one(b"* OK " + text)
    assert isinstance(r, UntaggedStatus)
    assert r.code == code
    assert r.text == text.split(b"] ", 1)[1].decode()


def test_continuation_requests() -> None:
    assert parse_one(b"+ Ready for additional command text") == ContinuationRequest(
        data=b"Ready for additional command text"
    )
    assert parse_one(b"+ idling").text == "idling"  # type: ignore[union-attr]
    assert parse_one(b"+ eyJzdGF0dXMiOiI0MDAifQ==") == ContinuationRequest(
        data=b"eyJzdGF0dXMiOiI0MDAifQ=="
    )
    # A trailing {n} in free text is text, not a literal.
    assert parse_one(b"+ send {5}") == ContinuationRequest(data=b"send {5}")
    assert parse_one(b"* OK hello {5}") == UntaggedStatus(status=OK, text="hello {5}")


# ---------------------------------------------------------------- mailbox data


def test_capability_and_enabled() -> None:
    assert parse_one(
        b"* CAPABILITY IMAP4rev1 STARTTLS AUTH=GSSAPI LOGINDISABLED"
    ) == CapabilityData(
        capabilities=frozenset({"IMAP4REV1", "STARTTLS", "AUTH=GSSAPI", "LOGINDISABLED"})
    )
    assert parse_one(b"* ENABLED CONDSTORE QRESYNC") == EnabledData(
        capabilities=frozenset({"CONDSTORE", "QRESYNC"})
    )
    assert parse_one(b"* ENABLED") == EnabledData(capabilities=frozenset())


def test_flags() -> None:
    assert parse_one(b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)") == FlagsData(
        flags=("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")
    )
    assert parse_one(b"* FLAGS ()") == FlagsData(flags=())


def test_numeric_data() -> None:
    assert parse_one(b"* 23 EXISTS") == ExistsData(count=23)
    assert parse_one(b"* 5 RECENT") == RecentData(count=5)
    assert parse_one(b"* 44 EXPUNGE") == ExpungeData(seq=44)
    assert parse_one(b"* 0 EXISTS") == ExistsData(count=0)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            b'* LIST (\\Noselect) "/" ~/Mail/foo',
            ListData(
                kind="LIST",
                attributes=("\\Noselect",),
                delimiter="/",
                mailbox="~/Mail/foo",
                raw_mailbox=b"~/Mail/foo",
            ),
        ),
        (
            b'* LIST () "." #news.comp.mail.misc',
            ListData(
                kind="LIST",
                attributes=(),
                delimiter=".",
                mailbox="#news.comp.mail.misc",
                raw_mailbox=b"#news.comp.mail.misc",
            ),
        ),
        (
            b'* LIST (\\Noselect) NIL ""',
            ListData(
                kind="LIST", attributes=("\\Noselect",), delimiter=None, mailbox="", raw_mailbox=b""
            ),
        ),
        (
            b'* LSUB () "." #news.comp.mail.mime',
            ListData(
                kind="LSUB",
                attributes=(),
                delimiter=".",
                mailbox="#news.comp.mail.mime",
                raw_mailbox=b"#news.comp.mail.mime",
            ),
        ),
        (  # INBOX in any case is INBOX
            b'* LIST (\\HasNoChildren) "/" inbox',
            ListData(
                kind="LIST",
                attributes=("\\HasNoChildren",),
                delimiter="/",
                mailbox="INBOX",
                raw_mailbox=b"inbox",
            ),
        ),
        (  # modified UTF-7, quoted
            b'* LIST (\\HasNoChildren) "/" "Entw&APw-rfe"',
            ListData(
                kind="LIST",
                attributes=("\\HasNoChildren",),
                delimiter="/",
                mailbox="Entwürfe",
                raw_mailbox=b"Entw&APw-rfe",
            ),
        ),
        (  # name as a literal
            b'* LIST () "/" {11}\r\nfoo "bar"/x',
            ListData(
                kind="LIST",
                attributes=(),
                delimiter="/",
                mailbox='foo "bar"/x',
                raw_mailbox=b'foo "bar"/x',
            ),
        ),
        (  # RFC 9051 extended data is kept
            b'* LIST (\\Subscribed) "/" "Foo" ("CHILDINFO" ("SUBSCRIBED"))',
            ListData(
                kind="LIST",
                attributes=("\\Subscribed",),
                delimiter="/",
                mailbox="Foo",
                raw_mailbox=b"Foo",
                extended=((b"CHILDINFO", (b"SUBSCRIBED",)),),
            ),
        ),
        (  # a quoted, escaped delimiter
            b'* LIST () "\\\\" Folder',
            ListData(
                kind="LIST", attributes=(), delimiter="\\", mailbox="Folder", raw_mailbox=b"Folder"
            ),
        ),
    ],
)
def test_list(line: bytes, expected: ListData) -> None:
    assert parse_one(line) == expected


def test_digit_atoms_keep_leading_zeros() -> None:
    # Found by the round-trip test: digits are text where the grammar says atom.
    r = parse_one(b'* LIST () "/" 007')
    assert isinstance(r, ListData)
    assert (r.mailbox, r.raw_mailbox) == ("007", b"007")
    assert parse_one(b"* 1 FETCH (EMAILID (00) UID 007)") == FetchData(seq=1, emailid="00", uid=7)
    assert parse_one(b"* 1 FETCH (EMAILID (NIL) THREADID NIL)") == FetchData(seq=1, emailid="NIL")
    r = parse_one(b"* STATUS 42 (MESSAGES 007)")
    assert isinstance(r, StatusData)
    assert (r.mailbox, r.messages) == ("42", 7)


def test_list_special_use() -> None:
    r = parse_one(b'* LIST (\\HasNoChildren \\Sent) "/" "Sent Items"')
    assert isinstance(r, ListData)
    assert r.special_use == "sent"
    assert r.selectable
    r = parse_one(b'* LIST (\\Noselect \\HasChildren) "/" "[Gmail]"')
    assert isinstance(r, ListData)
    assert r.special_use is None
    assert not r.selectable


def test_status() -> None:
    assert parse_one(b"* STATUS blurdybloop (MESSAGES 231 UIDNEXT 44292)") == StatusData(
        mailbox="blurdybloop",
        raw_mailbox=b"blurdybloop",
        messages=231,
        uidnext=44292,
        items={"MESSAGES": 231, "UIDNEXT": 44292},
    )
    r = parse_one(
        b'* STATUS "INBOX" (MESSAGES 17 UNSEEN 16 UIDNEXT 18 UIDVALIDITY 1 RECENT 2 '
        b"HIGHESTMODSEQ 90060128194045007 SIZE 44421 DELETED 3)"
    )
    assert isinstance(r, StatusData)
    assert (r.mailbox, r.messages, r.unseen, r.uidnext, r.uidvalidity, r.recent) == (
        "INBOX",
        17,
        16,
        18,
        1,
        2,
    )
    assert (r.highestmodseq, r.size, r.deleted) == (90060128194045007, 44421, 3)


def test_search() -> None:
    assert parse_one(b"* SEARCH 2 84 882") == SearchData(ids=(2, 84, 882))
    assert parse_one(b"* SEARCH") == SearchData(ids=())
    assert parse_one(b"* SEARCH 2 5 6 7 11 12 18 19 20 23 (MODSEQ 917162500)") == SearchData(
        ids=(2, 5, 6, 7, 11, 12, 18, 19, 20, 23), modseq=917162500
    )


def test_esearch() -> None:
    # RFC 4731 section 3.1
    assert parse_one(b'* ESEARCH (TAG "A282") MIN 2 COUNT 3') == ESearchData(
        tag="A282", min=2, count=3
    )
    assert parse_one(b'* ESEARCH (TAG "A283") ALL 2,10:11') == ESearchData(
        tag="A283", all=SequenceSet.parse("2,10:11")
    )
    assert parse_one(b'* ESEARCH (TAG "A285") UID MIN 7 MAX 3800') == ESearchData(
        tag="A285", uid=True, min=7, max=3800
    )
    assert parse_one(b'* ESEARCH (TAG "A286") COUNT 15') == ESearchData(tag="A286", count=15)
    assert parse_one(b"* ESEARCH UID COUNT 17 ALL 4:18,21,28") == ESearchData(
        uid=True, count=17, all=SequenceSet.parse("4:18,21,28")
    )
    # RFC 7162 section 3.1.5 (MODSEQ in ESEARCH)
    r = parse_one(b'* ESEARCH (TAG "a") ALL 1:3,5 MODSEQ 1236')
    assert r == ESearchData(tag="a", all=SequenceSet.parse("1:3,5"), modseq=1236)
    assert parse_one(b'* ESEARCH (TAG "A1")') == ESearchData(tag="A1")


def test_vanished() -> None:
    assert parse_one(b"* VANISHED (EARLIER) 300:310,405,411") == VanishedData(
        earlier=True, uids=SequenceSet.parse("300:310,405,411")
    )
    r = parse_one(b"* VANISHED 405,407,410,425")
    assert r == VanishedData(earlier=False, uids=SequenceSet.parse("405,407,410,425"))
    assert isinstance(r, VanishedData)
    assert list(r.uids) == [405, 407, 410, 425]
    big = parse_one(b"* VANISHED (EARLIER) 1:4000000000")
    assert isinstance(big, VanishedData)
    assert 3999999999 in big.uids  # not expanded


def test_unknown_untagged_is_an_event_not_an_error() -> None:
    assert parse_one(b"* 3 XFOO bar") == UnknownData(name="XFOO", raw=b"* 3 XFOO bar\r\n")
    line = b"* XSTUFF (1 2) NIL"
    assert parse_one(line) == UnknownData(name="XSTUFF", raw=line + b"\r\n")


def test_namespace_rfc_2342_examples() -> None:
    assert parse_one(b'* NAMESPACE (("" "/")) NIL NIL') == NamespaceData(
        personal=(Namespace(prefix="", delimiter="/"),), other=None, shared=None
    )
    r = parse_one(
        b'* NAMESPACE (("" "/")) (("~" "/")) (("#shared/" "/")("#public/" "/")("#ftp/" "/")'
        b'("#news." "."))'
    )
    assert isinstance(r, NamespaceData)
    assert r.other == (Namespace(prefix="~", delimiter="/"),)
    assert [n.prefix for n in r.shared or ()] == ["#shared/", "#public/", "#ftp/", "#news."]
    # RFC 4466 extension data is kept as sent.
    r = parse_one(b'* NAMESPACE (("" "/" "X-PARAM" ("FLAG1" "FLAG2"))) NIL NIL')
    assert isinstance(r, NamespaceData)
    assert r.personal == (
        Namespace(prefix="", delimiter="/", extensions=(b"X-PARAM", (b"FLAG1", b"FLAG2"))),
    )


def test_id_rfc_2971_examples() -> None:
    r = parse_one(
        b'* ID ("name" "Cyrus" "version" "1.5" "os" "sunos" "os-version" "5.5" '
        b'"support-url" "mailto:cyrus-bugs+@andrew.cmu.edu")'
    )
    assert isinstance(r, IdData)
    assert r.fields is not None
    assert (r.fields["name"], r.fields["support-url"]) == (
        "Cyrus",
        "mailto:cyrus-bugs+@andrew.cmu.edu",
    )
    assert parse_one(b"* ID NIL") == IdData(fields=None)
    assert parse_one(b'* ID ("name" {3}\r\nabc "date" NIL)') == IdData(
        fields={"name": "abc", "date": None}
    )


def test_quota_rfc_9208_examples() -> None:
    assert parse_one(b'* QUOTAROOT INBOX ""') == QuotaRootData(mailbox="INBOX", roots=("",))
    assert parse_one(b"* QUOTAROOT comp.mail.mime") == QuotaRootData(
        mailbox="comp.mail.mime", roots=()
    )
    assert parse_one(b'* QUOTA "" (STORAGE 10 512 MESSAGE 2 100)') == QuotaData(
        root="",
        resources=(
            QuotaResource(name="STORAGE", usage=10, limit=512),
            QuotaResource(name="MESSAGE", usage=2, limit=100),
        ),
    )


def test_metadata_rfc_5464_examples() -> None:
    assert parse_one(b'* METADATA "" (/shared/comment "Shared comment")') == MetadataData(
        mailbox="", entries={"/shared/comment": b"Shared comment"}
    )
    r = parse_one(b'* METADATA "INBOX" (/private/comment {14}\r\nMy own comment /shared/x NIL)')
    assert r == MetadataData(
        mailbox="INBOX", entries={"/private/comment": b"My own comment", "/shared/x": None}
    )
    # Unsolicited: only the names of what changed.
    assert parse_one(b'* METADATA "" /shared/comment /private/comment') == MetadataData(
        mailbox="", entries={"/shared/comment": None, "/private/comment": None}
    )


def test_status_keeps_every_item() -> None:
    r = parse_one(
        b"* STATUS INBOX (MESSAGES 3 SIZE 12345 DELETED 1 APPENDLIMIT NIL "
        b"MAILBOXID (F2212ea87-6097-4256-9d51-71338625) X-NEW 7)"
    )
    assert isinstance(r, StatusData)
    assert (r.messages, r.size, r.deleted, r.mailboxid) == (
        3,
        12345,
        1,
        "F2212ea87-6097-4256-9d51-71338625",
    )
    assert r.appendlimit is None
    assert "APPENDLIMIT" in r.items  # sent as NIL: no limit, not "unknown"
    assert r.items["X-NEW"] == 7
    limited = parse_one(b"* STATUS INBOX (APPENDLIMIT 1048576)")
    assert isinstance(limited, StatusData)
    assert limited.appendlimit == 1048576
    absent = parse_one(b"* STATUS INBOX (MESSAGES 1)")
    assert isinstance(absent, StatusData)
    assert "APPENDLIMIT" not in absent.items


def test_capabilities_keep_their_order_and_case_beside_the_set() -> None:
    r = parse_one(b"* CAPABILITY IMAP4rev1 LITERAL+ Idle AUTH=PLAIN")
    assert isinstance(r, CapabilityData)
    assert r.as_sent == ("IMAP4rev1", "LITERAL+", "Idle", "AUTH=PLAIN")
    assert "IDLE" in r.capabilities
    ok = parse_one(b"* OK [CAPABILITY IMAP4rev1 Sasl-IR] hi")
    assert isinstance(ok, UntaggedStatus)
    assert isinstance(ok.code, CapabilityCode)
    assert ok.code.as_sent == ("IMAP4rev1", "Sasl-IR")


def test_a_mailbox_called_nil_is_a_name_wherever_a_mailbox_stands() -> None:
    listed = parse_one(b'* LIST () "/" NIL')
    assert isinstance(listed, ListData)
    status = parse_one(b"* STATUS NIL (MESSAGES 2)")
    assert isinstance(status, StatusData)
    roots = parse_one(b"* QUOTAROOT NIL NIL")
    assert (listed.mailbox, status.mailbox, roots) == (
        "NIL",
        "NIL",
        QuotaRootData(mailbox="NIL", roots=("NIL",)),
    )


def test_a_code_is_read_to_its_own_bracket_not_one_inside_its_argument() -> None:
    r = parse_one(b'A1 NO [BADCHARSET ("UTF]8" x-odd)] no such charset')
    assert isinstance(r, TaggedResponse)
    assert r.code == ResponseCode(name="BADCHARSET", text='("UTF]8" x-odd)')
    assert r.text == "no such charset"
    # Unbalanced: the first "]" is the best guess, as before.
    odd = parse_one(b'* OK [ALERT "oops] then text')
    assert isinstance(odd, UntaggedStatus)
    assert (odd.code, odd.text) == (ResponseCode(name="ALERT", text='"oops'), "then text")


def test_status_takes_an_unquoted_name_with_spaces_as_list_does() -> None:
    # Lotus Notes leaves such names unquoted in LIST (test_deviations); STATUS alike.
    r = parse_one(b"* STATUS Folder\\Subfolder 1 (MESSAGES 4 UIDNEXT 9)")
    assert isinstance(r, StatusData)
    assert (r.mailbox, r.messages, r.uidnext) == ("Folder\\Subfolder 1", 4, 9)
    archive = parse_one(b"* STATUS Archive 2024 (MESSAGES 1)")
    assert isinstance(archive, StatusData)
    assert archive.mailbox == "Archive 2024"


def test_xlist_reads_as_list() -> None:
    r = parse_one(b'* XLIST (\\HasNoChildren \\Inbox) "/" "Inbox"')
    assert isinstance(r, ListData)
    assert (r.kind, r.mailbox) == ("XLIST", "INBOX")
    assert r.attributes == ("\\HasNoChildren", "\\Inbox")


def test_modified_code_is_typed() -> None:
    r = parse_one(b"A3 OK [MODIFIED 7,9:11] Conditional STORE failed")
    assert isinstance(r, TaggedResponse)
    assert r.code == ModifiedCode(
        name="MODIFIED", text="7,9:11", modified=SequenceSet.parse("7,9:11")
    )


# ---------------------------------------------------------------- FETCH


def test_fetch_flags_uid() -> None:
    assert parse_one(b"* 12 FETCH (FLAGS (\\Seen) UID 4827313)") == FetchData(
        seq=12, flags=("\\Seen",), uid=4827313
    )
    assert parse_one(b"* 1 FETCH (FLAGS ())") == FetchData(seq=1, flags=())


def test_fetch_rfc3501_example() -> None:
    # RFC 3501 section 7.4.2, with the ENVELOPE of the sample session.
    data = (
        b'* 12 FETCH (FLAGS (\\Seen) INTERNALDATE "17-Jul-1996 02:44:25 -0700" '
        b'RFC822.SIZE 4286 ENVELOPE ("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)" '
        b'"IMAP4rev1 WG mtg summary and minutes" '
        b'(("Terry Gray" NIL "gray" "cac.washington.edu")) '
        b'(("Terry Gray" NIL "gray" "cac.washington.edu")) '
        b'(("Terry Gray" NIL "gray" "cac.washington.edu")) '
        b'((NIL NIL "imap" "cac.washington.edu")) '
        b'((NIL NIL "minutes" "CNRI.Reston.VA.US")'
        b'("John Klensin" NIL "KLENSIN" "MIT.EDU")) NIL NIL '
        b'"<B27397-0100000@cac.washington.edu>") '
        b'BODY ("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 3028 92))'
    )
    terry = Address(name=b"Terry Gray", mailbox=b"gray", host=b"cac.washington.edu")
    assert parse_one(data) == FetchData(
        seq=12,
        flags=("\\Seen",),
        internaldate=datetime(1996, 7, 17, 2, 44, 25, tzinfo=timezone(timedelta(hours=-7))),
        rfc822_size=4286,
        envelope=Envelope(
            date=b"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)",
            subject=b"IMAP4rev1 WG mtg summary and minutes",
            from_=(terry,),
            sender=(terry,),
            reply_to=(terry,),
            to=(Address(mailbox=b"imap", host=b"cac.washington.edu"),),
            cc=(
                Address(mailbox=b"minutes", host=b"CNRI.Reston.VA.US"),
                Address(name=b"John Klensin", mailbox=b"KLENSIN", host=b"MIT.EDU"),
            ),
            message_id=b"<B27397-0100000@cac.washington.edu>",
        ),
        body=SinglePart(
            type="text",
            subtype="plain",
            params=(("charset", "US-ASCII"),),
            encoding="7BIT",
            size=3028,
            lines=92,
        ),
    )
    terry_email = terry.email
    assert terry_email == "gray@cac.washington.edu"


def test_fetch_body_sections() -> None:
    r = parse_one(
        b"* 2 FETCH (UID 9 BODY[HEADER.FIELDS (SUBJECT FROM)] {20}\r\n"
        b'Subject: hi\r\nFrom: x BODY[]<0> {3}\r\nabc BODY[1.MIME] NIL RFC822.HEADER "H: v")'
    )
    assert r == FetchData(
        seq=2,
        uid=9,
        sections={
            "BODY[HEADER.FIELDS (SUBJECT FROM)]": b"Subject: hi\r\nFrom: x",
            "BODY[]<0>": b"abc",
            "BODY[1.MIME]": None,
            "RFC822.HEADER": b"H: v",
        },
    )
    assert isinstance(r, FetchData)
    assert r.rfc822_header == b"H: v"


def test_fetch_literal_with_crlf_and_parens_inside() -> None:
    body = b'line (one)\r\n"quoted" {5}\r\n)))\r\n'
    r = parse_one(b"* 7 FETCH (BODY[] {%d}\r\n%s UID 3)" % (len(body), body))
    assert r == FetchData(seq=7, uid=3, sections={"BODY[]": body})


def test_fetch_condstore_gmail_objectid() -> None:
    r = parse_one(
        b"* 4 FETCH (UID 8 MODSEQ (12121231000) X-GM-MSGID 1278455344230334865 "
        b'X-GM-THRID 1266894439832287888 X-GM-LABELS (\\Inbox \\Sent Important "Muy Importante" '
        b'"&AOk-t&AOk-") EMAILID (M6d99ac3275bb4e) THREADID (T64b478a75b7ea9))'
    )
    assert r == FetchData(
        seq=4,
        uid=8,
        modseq=12121231000,
        gm_msgid=1278455344230334865,
        gm_thrid=1266894439832287888,
        gm_labels=("\\Inbox", "\\Sent", "Important", "Muy Importante", "été"),
        emailid="M6d99ac3275bb4e",
        threadid="T64b478a75b7ea9",
    )
    assert parse_one(b"* 1 FETCH (THREADID NIL)") == FetchData(seq=1, threadid=None)


def test_fetch_unknown_items_kept_raw() -> None:
    r = parse_one(b'* 1 FETCH (UID 1 XAOL.SPAM.REASON "x" X-FOO (1 (2 NIL) "s"))')
    assert r == FetchData(
        seq=1, uid=1, other={"XAOL.SPAM.REASON": b"x", "X-FOO": (1, (2, None), b"s")}
    )


def test_fetch_multipart_bodystructure_with_extensions() -> None:
    r = parse_one(
        b'* 3 FETCH (BODYSTRUCTURE (("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 1152 23 '
        b'NIL NIL NIL NIL)("TEXT" "PLAIN" ("CHARSET" "US-ASCII" "NAME" "cc.diff") '
        b'"<960723163407.20117h@cac.washington.edu>" "Compiler diff" "BASE64" 4554 73 '
        b'"Q1lXN0VlZA==" ("ATTACHMENT" ("FILENAME" "cc.diff")) ("EN" "DE") "loc")'
        b' "MIXED" ("BOUNDARY" "x") ("INLINE" NIL) "EN" NIL))'
    )
    assert isinstance(r, FetchData)
    assert r.bodystructure == MultiPart(
        parts=(
            SinglePart(
                type="text",
                subtype="plain",
                params=(("charset", "US-ASCII"),),
                encoding="7BIT",
                size=1152,
                lines=23,
            ),
            SinglePart(
                type="text",
                subtype="plain",
                params=(("charset", "US-ASCII"), ("name", "cc.diff")),
                id=b"<960723163407.20117h@cac.washington.edu>",
                description=b"Compiler diff",
                encoding="BASE64",
                size=4554,
                lines=73,
                md5=b"Q1lXN0VlZA==",
                disposition=Disposition(type="attachment", params=(("filename", "cc.diff"),)),
                language=("EN", "DE"),
                location=b"loc",
            ),
        ),
        subtype="mixed",
        params=(("boundary", "x"),),
        disposition=Disposition(type="inline"),
        language=("EN",),
    )


def test_fetch_message_rfc822_part() -> None:
    r = parse_one(
        b'* 1 FETCH (BODYSTRUCTURE ("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 300 '
        b'("date" "subj" NIL NIL NIL NIL NIL NIL NIL "<id>") '
        b'("TEXT" "PLAIN" NIL NIL NIL "7BIT" 20 1) 12 NIL NIL NIL NIL))'
    )
    assert isinstance(r, FetchData)
    assert r.bodystructure == SinglePart(
        type="message",
        subtype="rfc822",
        encoding="7BIT",
        size=300,
        lines=12,
        envelope=Envelope(date=b"date", subject=b"subj", message_id=b"<id>"),
        body=SinglePart(type="text", subtype="plain", encoding="7BIT", size=20, lines=1),
    )


def test_internaldate_forms() -> None:
    r = parse_one(b'* 1 FETCH (INTERNALDATE " 7-Feb-1994 21:52:25 -0800")')
    assert isinstance(r, FetchData)
    assert r.internaldate == datetime(1994, 2, 7, 21, 52, 25, tzinfo=timezone(timedelta(hours=-8)))
    # Unparseable dates are kept raw rather than refused.
    r = parse_one(b'* 1 FETCH (INTERNALDATE "yesterday")')
    assert r == FetchData(seq=1, other={"INTERNALDATE": b"yesterday"})


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("data", "message", "kind", "uid"),
    [
        (b"* 1 FETCH (UID)\r\n", "FETCH item without a value", "FETCH", None),
        (b"* 1 FETCH (UID 1\r\n", "ended in the middle", "FETCH", 1),
        (b"* 1 FETCH (UID 1))\r\n", "unexpected data at the end", "FETCH", 1),
        (b"* 1 FETCH (UID abc)\r\n", "bad FETCH UID", "FETCH", None),
        (b"* 1 FETCH UID 1\r\n", "expected a parenthesized list", "FETCH", 1),
        (b'* LIST (\\Noselect) "/"\r\n', "ended in the middle", "LIST", None),
        (b"* STATUS INBOX MESSAGES 1\r\n", "STATUS needs", "STATUS", None),
        (b"* SEARCH 1 2 x\r\n", "unexpected data in SEARCH", "SEARCH", None),
        (b"* VANISHED (LATER) 1\r\n", "EARLIER", "VANISHED", None),
    ],
)
def test_an_unreadable_untagged_response_is_kept_and_the_stream_goes_on(
    data: bytes, message: str, kind: str, uid: int | None
) -> None:
    """A content error costs that response only: the next one is read as usual."""
    first, after = parse_all(data + b"* 7 EXISTS\r\n")
    assert isinstance(first, UnparsedResponse)
    assert message in first.reason
    assert (first.kind, first.uid, first.offset, first.raw) == (kind, uid, 0, data)
    assert after == ExistsData(count=7)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"A1 MAYBE done\r\n", "not OK, NO or BAD"),
        (b"\r\n", "expected a tagged"),
        (b"* 1 FETCH (BODY (" + b"(" * 70 + b")\r\n", "nested deeper"),
        (b"* 1 FETCH (BODY[] {3}\r\nab", None),
    ],
)
def test_malformed_framing_raises_remote_protocol_error(data: bytes, message: str | None) -> None:
    """What cannot be tied to a command, or breaks a limit, is fatal for the stream."""
    if message is None:
        # Incomplete, not malformed: the parser waits.
        assert parse_all_incomplete(data)
        return
    with pytest.raises(RemoteProtocolError, match=message) as info:
        parse_all(data)
    assert info.value.offset is not None


def parse_all_incomplete(data: bytes) -> bool:
    from trio_mailsync.protocol import NEED_DATA, ResponseParser

    parser = ResponseParser()
    parser.receive_data(data)
    return parser.next_response() is NEED_DATA


def test_an_unreadable_response_has_its_offset_in_the_stream_and_a_redacted_repr() -> None:
    data = b"* 1 EXISTS\r\n* 2 FETCH (UID x BODY[] {40}\r\n" + b"A" * 40 + b")\r\n"
    _, unparsed = parse_all(data)
    assert isinstance(unparsed, UnparsedResponse)
    assert unparsed.offset == 12
    assert unparsed.number == 2
    assert unparsed.raw == data[12:]
    assert "A" * 30 not in repr(unparsed)


# ---------------------------------------------------------------- RFC examples, in bulk

_KIND = {
    b"CAPABILITY": CapabilityData,
    b"ENABLED": EnabledData,
    b"FLAGS": FlagsData,
    b"LIST": ListData,
    b"LSUB": ListData,
    b"STATUS": StatusData,
    b"SEARCH": SearchData,
    b"ESEARCH": ESearchData,
    b"VANISHED": VanishedData,
    b"EXISTS": ExistsData,
    b"RECENT": RecentData,
    b"EXPUNGE": ExpungeData,
    b"FETCH": FetchData,
    b"OK": UntaggedStatus,
    b"NO": UntaggedStatus,
    b"BAD": UntaggedStatus,
    b"BYE": UntaggedStatus,
    b"PREAUTH": UntaggedStatus,
    b"XLIST": ListData,
    b"NAMESPACE": NamespaceData,
    b"ID": IdData,
    b"QUOTA": QuotaData,
    b"QUOTAROOT": QuotaRootData,
    b"METADATA": MetadataData,
}


def _expected_kind(line: bytes) -> type:
    if line.startswith(b"+"):
        return ContinuationRequest
    words = line.split(b" ", 3)
    if words[0] != b"*":
        return TaggedResponse
    word = words[2] if words[1].isdigit() else words[1]
    return _KIND.get(word.upper(), UnknownData)


_WIRE_VECTORS = [
    pytest.param(line, id=f"{v['source']}#{i}")
    for v in VECTORS
    if not v["note"].startswith("NOT-WIRE")
    for i, line in enumerate(v["lines"])
]


@pytest.mark.parametrize("line", _WIRE_VECTORS)
def test_rfc_example_parses_to_its_kind(line: bytes) -> None:
    response = parse_one(line)
    assert type(response) is _expected_kind(line)


def test_rfc_examples_cover_every_modelled_kind() -> None:
    seen = {_expected_kind(p.values[0]) for p in _WIRE_VECTORS}  # type: ignore[arg-type]
    # RFC 9208 is not in the vector file: its examples are in test_quota_rfc_9208_examples.
    own_examples = {QuotaData, QuotaRootData}
    wanted = set(_KIND.values()) | {ContinuationRequest, TaggedResponse, UnknownData}
    assert wanted - own_examples <= seen
