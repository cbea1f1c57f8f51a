"""Real servers deviate from the RFCs. Each test pins one deviation we tolerate.

Every case names the server and a public source that reported it; examples
marked "constructed" were built from the source's description.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from trio_mailsync.protocol import (
    NEED_DATA,
    CapabilityData,
    ContinuationRequest,
    CopyUidCode,
    Disposition,
    ESearchData,
    ExistsData,
    FetchData,
    FlagsCode,
    FlagsData,
    IdData,
    ListData,
    MultiPart,
    RemoteProtocolError,
    ResponseCode,
    ResponseParser,
    ResponseStatus,
    SearchData,
    SequenceSet,
    SinglePart,
    StatusData,
    TaggedResponse,
    UnknownData,
    UntaggedStatus,
)

from .helpers import parse_all, parse_one


def fetch(line: bytes) -> FetchData:
    r = parse_one(line)
    assert isinstance(r, FetchData)
    return r


def single(body: object) -> SinglePart:
    assert isinstance(body, SinglePart)
    return body


def multi(body: object) -> MultiPart:
    assert isinstance(body, MultiPart)
    return body


# ---------------------------------------------------------------- whitespace


def test_yahoo_search_trailing_space() -> None:
    # ruby/net-imap fixtures (quirky_servers: Yahoo); djc/imap-proto#108
    assert parse_one(b"* SEARCH 1 2 3 ") == SearchData(ids=(1, 2, 3))
    # GreenMail: empty result with a trailing space (greenmail#264)
    assert parse_one(b"* SEARCH ") == SearchData(ids=())


def test_exchange_status_trailing_space() -> None:
    # djc/tokio-imap tests ("Outlook server"); imap-codec quirk_trailing_space_status
    assert parse_one(b"* STATUS Sent (UIDNEXT 107) ") == StatusData(
        mailbox="Sent", raw_mailbox=b"Sent", uidnext=107, items={"UIDNEXT": 107}
    )


def test_tencent_exmail_capability_trailing_space() -> None:
    # emersion/go-imap#571; modern-email/defects#21
    r = parse_one(b"* CAPABILITY IMAP4 IMAP4rev1 XLIST MOVE IDLE XAPPLEPUSHSERVICE UIDPLUS ")
    assert isinstance(r, CapabilityData)
    assert "UIDPLUS" in r.capabilities
    assert "" not in r.capabilities


def test_qq_mail_space_before_closing_paren_of_fetch() -> None:
    # jakartaee/mail-api#209 (imap.qq.com)
    assert fetch(b"* 11487 FETCH (UID 19436 )") == FetchData(seq=11487, uid=19436)


def test_davmail_two_spaces_after_star() -> None:
    # python/cpython#117152; mguessan/davmail#122
    assert parse_one(b"*  1843 EXISTS") == ExistsData(count=1843)


def test_davmail_two_spaces_before_literal() -> None:
    # djc/tokio-imap test_uid_fetch_extra_space
    r = fetch(b"* 4 FETCH (UID 71372 RFC822.HEADER  {5}\r\nH: v\n)")
    assert r.rfc822_header == b"H: v\n"


def test_outlook_space_between_envelope_addresses() -> None:
    # ruby/net-imap quirky_behaviors.yml ("outlook.com puts an extra SP in ENVELOPE address lists")
    r = fetch(
        b'* 24 FETCH (UID 60 ENVELOPE ("date" "Zoom" (("A" NIL "a" "x.test")) NIL NIL '
        b'(("r" NIL "risa" "h.test") ("s" NIL "shella" "k.test")) NIL NIL NIL "<id@x>"))'
    )
    assert r.envelope is not None
    assert [a.email for a in r.envelope.to] == ["risa@h.test", "shella@k.test"]


def test_dovecot_space_inside_nested_body() -> None:
    # MailKit TestParseExampleMultiLevelDovecotBodyStructure; angus-mail BODYSTRUCTURE.java
    r = fetch(
        b'* 1 FETCH (BODYSTRUCTURE ( ("text" "plain" NIL NIL NIL "7bit" 28 2 NIL NIL NIL NIL) '
        b'("text" "html" NIL NIL NIL "7bit" 17 1 NIL NIL NIL NIL) "alternative" NIL NIL NIL NIL))'
    )
    assert [p.subtype for p in multi(r.bodystructure).parts] == ["plain", "html"]


# ---------------------------------------------------------------- missing text


def test_gmail_response_code_without_text() -> None:
    # modern-email/defects#28 (imap.gmail.com); imap-codec quirk_missing_text
    r = parse_one(b"* OK [HIGHESTMODSEQ 13637]")
    assert isinstance(r, UntaggedStatus)
    assert r.code is not None
    assert r.code.name == "HIGHESTMODSEQ"
    assert r.text == ""


def test_qq_mail_unseen_code_without_text() -> None:
    # MailKit#233 (imap.qq.com)
    r = parse_one(b"* OK [UNSEEN 25]")
    assert isinstance(r, UntaggedStatus)
    assert r.code is not None
    assert r.code.name == "UNSEEN"


def test_icloud_bye_without_text() -> None:
    # ruby/net-imap#229, djc/imap-proto#131 ("iCloud ... sends a `* BYE\r\n` on logout")
    assert parse_one(b"* BYE") == UntaggedStatus(status=ResponseStatus.BYE)


def test_exchange_tagged_ok_without_text() -> None:
    # OfflineIMAP/offlineimap#623; mscdex/node-imap#539 (ppops.net)
    assert parse_one(b"IOMC1 OK") == TaggedResponse(tag="IOMC1", status=ResponseStatus.OK)


def test_yandex_continuation_without_space() -> None:
    # djc/imap-proto#67 ("short version, sent by yandex"); imap-codec quirk_empty_continue_req
    assert parse_one(b"+") == ContinuationRequest(data=b"")


# ---------------------------------------------------------------- framing and codes


def test_exchange_2013_bare_copyuid_line() -> None:
    # ruby/net-imap#250, domainaware/parsedmarc#80 ("Exchange 2013 CU 22")
    r = parse_one(b"[COPYUID 124 10 233]")
    assert isinstance(r, UntaggedStatus)
    assert r.status is ResponseStatus.OK
    assert isinstance(r.code, CopyUidCode)
    assert (r.code.uidvalidity, list(r.code.source), list(r.code.destination)) == (124, [10], [233])


def test_home_pl_untagged_code_without_ok() -> None:
    # MailKit ImapEngine.cs ("broken IMAP servers such as home.pl"); constructed
    r = parse_one(b"* [COPYUID 1234 5 17] Moved")
    assert isinstance(r, UntaggedStatus)
    assert isinstance(r.code, CopyUidCode)
    assert r.text == "Moved"


def test_outlook_copyuid_without_uid_sets() -> None:
    # MailKit#555 (imap-mail.outlook.com): kept as a plain code, not an error
    r = parse_one(b"* OK [COPYUID 14  ]")
    assert isinstance(r, UntaggedStatus)
    assert r.code == ResponseCode(name="COPYUID", text="14")


def test_exchange_online_code_that_is_not_an_atom() -> None:
    # ruby/net-imap quirky_behaviors.yml, ruby/net-imap#597: falls back to plain text
    line = (
        b'RUBY0001 OK [Error="Microsoft.Exchange.Data.Storage.WrongServerException: Cross '
        b'Server access is not allowed" Service=Imap4] AUTHENTICATE completed.'
    )
    r = parse_one(line)
    assert isinstance(r, TaggedResponse)
    assert r.status is ResponseStatus.OK
    assert r.code is None
    assert r.text.startswith('[Error="Microsoft')


def test_office365_items_right_after_a_literal() -> None:
    # qnikst/HaskellNet#15 (Office 365, Exchange 2010+); response head constructed
    body = b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    r = fetch(b"* 12 FETCH (BODY[] {%d}\r\n%sUID 12 FLAGS (\\Seen))" % (len(body), body))
    assert (r.uid, r.flags, r.sections) == (12, ("\\Seen",), {"BODY[]": body})


def test_domino_extra_parens_around_envelope() -> None:
    # MailKit#943 ("Domino IMAP4 Server"), MailKit ImapFolderFetch.cs
    r = fetch(
        b"* 2 FETCH (UID 14935 (ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)) "
        b'BODYSTRUCTURE ("TEXT" "PLAIN" NIL NIL NIL "7BIT" 0 0 NIL))'
    )
    assert r.uid == 14935
    assert r.envelope is not None
    assert r.envelope.subject is None
    assert single(r.bodystructure).subtype == "plain"


def test_datamail_stray_plus_after_id() -> None:
    # apple/swift-nio-imap#740 (datamail.in): the stray "+" after the list is ignored
    r = parse_one(b'* ID ("name" "Imap" "version" "1.5")+')
    assert r == IdData(fields={"name": "Imap", "version": "1.5"})


# ---------------------------------------------------------------- numbers


def test_exchange_2007_negative_octets() -> None:
    # javaee/javamail Exchange.md, MailKit TestParseBodyStructureWithNegativeOctetValue
    r = fetch(
        b'* 1 FETCH (BODYSTRUCTURE ("multipart" "signed" ("boundary" "_9bc3_") NIL NIL "7BIT" -1 '
        b"NIL NIL NIL NIL))"
    )
    part = single(r.bodystructure)
    assert (part.type, part.subtype, part.size) == ("multipart", "signed", None)


def test_dovecot_negative_octets_and_lines() -> None:
    # duesee/imap-codec#287 (Dovecot), modern-email/defects#27; constructed
    r = fetch(
        b'* 1 FETCH (BODYSTRUCTURE ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" -1 -1 '
        b"NIL NIL NIL NIL))"
    )
    part = single(r.bodystructure)
    assert (part.size, part.lines) == (None, None)


def test_zoho_negative_modseq() -> None:
    # MailKit#1686 (Zoho Mail); constructed: kept raw, not an error
    r = fetch(b"* 7 FETCH (UID 42 MODSEQ (-1) FLAGS (\\Seen))")
    assert (r.uid, r.modseq, r.flags) == (42, None, ("\\Seen",))
    assert r.other == {"MODSEQ": ("-1",)}


def test_dynadot_uidvalidity_beyond_32_bits() -> None:
    # emersion/go-imap#612 (dynadot.com), greenmail#247
    r = parse_one(b"* OK [UIDVALIDITY 1713632002544]")
    assert isinstance(r, UntaggedStatus)
    assert r.code is not None
    assert getattr(r.code, "value", None) == 1713632002544


def test_twisted_quoted_numbers_and_nested_params() -> None:
    # twisted/twisted#3947
    r = fetch(
        b'* 0 FETCH (BODYSTRUCTURE ("text" "plain" (("name" "thing") ("key" "value")) '
        b'"this-is-the-content-id" "describing-the-content-goes-here!" "8BIT" "20" "4" '
        b"NIL NIL NIL))"
    )
    part = single(r.bodystructure)
    assert part.params == (("name", "thing"), ("key", "value"))
    assert (part.size, part.lines, part.encoding) == (20, 4, "8BIT")


# ---------------------------------------------------------------- body structures


def test_gmail_message_rfc822_without_envelope() -> None:
    # MailKit#59, angus-mail BODYSTRUCTURE.java ("Gmail handles nested messages just like
    # simple body parts")
    r = fetch(
        b'* 1 FETCH (BODYSTRUCTURE (("TEXT" "PLAIN" ("CHARSET" "koi8-r") NIL NIL '
        b'"QUOTED-PRINTABLE" 4452 113 NIL NIL NIL)("MESSAGE" "RFC822" ("NAME" "x.eml") NIL NIL '
        b'"7BIT" 23379 NIL '
        b'("ATTACHMENT" ("FILENAME" "x.eml")) NIL) "MIXED" ("BOUNDARY" "b") NIL NIL))'
    )
    attached = single(multi(r.bodystructure).parts[1])
    assert (attached.type, attached.subtype, attached.envelope, attached.body) == (
        "message",
        "rfc822",
        None,
        None,
    )
    assert attached.disposition == Disposition(type="attachment", params=(("filename", "x.eml"),))


def test_gmail_nested_multipart_child_without_parts() -> None:
    # MailKit#205 ("Invalid BODYSTRUCTURE returned by GMail ... nested multiparts with the
    # same boundary")
    r = fetch(
        b'* 1 FETCH (BODYSTRUCTURE (("ALTERNATIVE" ("BOUNDARY" "==alt") NIL NIL)("TEXT" "HTML" '
        b'("CHARSET" "iso-8859-1") NIL NIL "7BIT" 6769 171 NIL NIL NIL) "ALTERNATIVE" '
        b'("BOUNDARY" "==alt") NIL NIL))'
    )
    first = multi(multi(r.bodystructure).parts[0])
    assert (first.parts, first.subtype, first.params) == (
        (),
        "alternative",
        (("boundary", "==alt"),),
    )


def test_gmail_related_children_without_parts() -> None:
    # MailKit#777, MailKit#371
    r = fetch(
        b'* 1 FETCH (BODYSTRUCTURE (("TEXT" "PLAIN" NIL NIL NIL "BASE64" 10 1 NIL NIL NIL)'
        b'("RELATED" NIL ("ATTACHMENT" NIL) NIL)("RELATED" NIL ("ATTACHMENT" NIL) NIL) "MIXED" '
        b'("BOUNDARY" "b") NIL NIL))'
    )
    parts = multi(r.bodystructure).parts
    assert [type(p).__name__ for p in parts] == ["SinglePart", "MultiPart", "MultiPart"]
    assert multi(parts[1]).disposition == Disposition(type="attachment")


def test_gmail_empty_multipart_in_body() -> None:
    # MailKit#1841 ("(\"ALTERNATIVE\") ... clearly meant to be an empty multipart/alternative")
    r = fetch(
        b'* 51 FETCH (MODSEQ (18812) BODY (("TEXT" "PLAIN" NIL NIL NIL "QUOTED-PRINTABLE" 211 5)'
        b'("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 2942 ("Sat, 3 Jan 2015" "Re: MPG" NIL NIL NIL NIL '
        b'NIL NIL NIL "<id@x>") ("ALTERNATIVE") 51) "REPORT"))'
    )
    inner = single(multi(r.body).parts[1])
    assert inner.body == MultiPart(parts=(), subtype="alternative")
    assert inner.lines == 51
    assert parse_one(b'* 1038 FETCH (BODY ("MIXED"))') == FetchData(
        seq=1038, body=MultiPart(parts=(), subtype="mixed")
    )


def test_gmx_multipart_as_single_part_with_params_in_md5_slot() -> None:
    # MailKit#878 (gmx.net)
    r = fetch(
        b'* 58056 FETCH (UID 168531 BODYSTRUCTURE (("multipart" "related" ("boundary" "b1") NIL '
        b'NIL "7BIT" 400 ("boundary" "b1") NIL NIL NIL)("TEXT" "html" ("charset" "UTF8") NIL NIL '
        b'"7BIT" 1115 70 NIL NIL NIL NIL) "mixed" ("boundary" "b2") NIL NIL NIL) FLAGS ())'
    )
    first = single(multi(r.bodystructure).parts[0])
    assert (first.type, first.subtype, first.md5) == ("multipart", "related", None)
    assert r.flags == ()


def test_exchange_365_bare_disposition_string() -> None:
    # jakartaee/mail-api#31, javaee/javamail Exchange.md, MailKit#919
    r = fetch(
        b'* 3099 FETCH (BODYSTRUCTURE ("text" "plain" ("charset" "utf-8") NIL NIL '
        b'"quoted-printable" 802 19 NIL "inline" NIL NIL))'
    )
    assert single(r.bodystructure).disposition == Disposition(type="inline")


def test_exchange_2016_description_in_multipart_disposition_slot() -> None:
    # javaee/javamail#278, Exchange.md ("S/MIME encrypted message")
    r = fetch(
        b'* 1 FETCH (BODYSTRUCTURE (("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 21 0 '
        b'NIL ("inline" NIL) NIL NIL)("application" "octet-stream" ("name" "private.txt") NIL NIL '
        b'"base64" 690 NIL ("attachment" ("filename" "private.txt")) NIL NIL) "mixed" '
        b'("boundary" "----=_Part_0") "S/MIME Encrypted Message" NIL))'
    )
    body = multi(r.bodystructure)
    assert len(body.parts) == 2
    assert body.disposition == Disposition(type="s/mime encrypted message")


def test_exchange_nil_nil_disposition() -> None:
    # MailKit TestParseBodyStructureWithNilNilBodyFldDsp ("an Exchange bug")
    r = fetch(
        b'* 1 FETCH (BODYSTRUCTURE ("application" "msword" NIL NIL NIL "base64" 50446 NIL '
        b"(NIL NIL) NIL NIL))"
    )
    assert single(r.bodystructure).disposition is None


def test_mail_ru_nil_parameter_value() -> None:
    # kisli/vmime#159 (imap.mail.ru), modern-email/defects#50; Exchange 2010 does it too
    r = fetch(
        b'* 4 FETCH (BODYSTRUCTURE (("text" "plain" ("charset" "utf-8") NIL NIL "8bit" 536 0 NIL '
        b'NIL NIL NIL) "alternative" ("boundary" NIL)))'
    )
    assert multi(r.bodystructure).params == (("boundary", ""),)


def test_exchange_2010_unquoted_encoding() -> None:
    # javaee/javamail Exchange.md ("fails to quote the encoding value"); constructed
    r = fetch(
        b'* 1 FETCH (BODYSTRUCTURE ("text" "plain" ("charset" "us-ascii") NIL NIL 7BIT 1152 23 '
        b"NIL NIL NIL NIL))"
    )
    assert single(r.bodystructure).encoding == "7BIT"


def test_office365_encoding_with_trailing_space() -> None:
    # angus-mail BODYSTRUCTURE.java ("bug in office365.com ... trailing space"); constructed
    r = fetch(
        b'* 1 FETCH (BODYSTRUCTURE ("text" "plain" ("charset" "utf-8") NIL NIL "7bit " 120 3 '
        b"NIL NIL NIL NIL))"
    )
    assert single(r.bodystructure).encoding == "7BIT"


def test_icloud_nil_encoding() -> None:
    # djc/imap-proto#205 (Apple iCloud), modern-email/defects#41 (maddy)
    r = fetch(
        b'* 80 FETCH (UID 111 BODYSTRUCTURE (("text" "plain" ("CHARSET" "UTF-8") NIL NIL NIL 1694 '
        b'51 NIL NIL NIL NIL)("text" "html" ("CHARSET" "UTF-8") NIL NIL "quoted-printable" 5750 77 '
        b'NIL NIL NIL NIL) "alternative" ("BOUNDARY" "b1") NIL NIL NIL))'
    )
    assert single(multi(r.bodystructure).parts[0]).encoding is None


def test_domino_empty_body_of_attached_message_and_double_spaces() -> None:
    # MailKit#944 (Domino IMAP4 Server), angus-mail BODYSTRUCTURE.java
    r = fetch(
        b'* 9125 FETCH (UID 23064 BODYSTRUCTURE (("text" "plain"  ("charset" "UTF-8") NIL NIL '
        b'"base64" 232 4 NIL NIL NIL)("message" "delivery-status"  NIL NIL NIL "7BIT" 421 NIL NIL '
        b'NIL)("message" "rfc822"  NIL NIL NIL "7BIT" 787 (NIL NIL NIL NIL NIL NIL NIL NIL NIL '
        b'NIL) () 0 NIL NIL NIL) "report" ("report-type" "delivery-status") NIL NIL) '
        b"FLAGS (\\Seen))"
    )
    attached = single(multi(r.bodystructure).parts[2])
    assert attached.envelope is not None
    assert attached.body is None
    assert attached.lines == 0


def test_unnamed_server_subtype_without_type() -> None:
    # MailKit#371 and ImapUtils.cs ("Content-Type: X-ZIP ... only send a media-subtype token")
    r = fetch(
        b'* 1 FETCH (BODYSTRUCTURE (("TEXT" "PLAIN" ("CHARSET" "windows-1251") NIL NIL "base64" '
        b'356 5)( "X-ZIP" ("BOUNDARY" "") NIL NIL "base64" 4096) "MIXED" ("BOUNDARY" "b") NIL NIL))'
    )
    zip_part = single(multi(r.bodystructure).parts[1])
    assert (zip_part.type, zip_part.subtype, zip_part.size) == ("", "x-zip", 4096)


def test_mailkit_1393_multipart_with_nil_instead_of_parts() -> None:
    # MailKit#1393 (labelled server-bug; server not named)
    r = fetch(b'* 1 FETCH (BODY (NIL "alternative" ("boundary" "Apple-Mail=_35") NIL NIL NIL))')
    assert r.body == MultiPart(
        parts=(), subtype="alternative", params=(("boundary", "Apple-Mail=_35"),)
    )


# ---------------------------------------------------------------- envelopes


def test_mail_ru_and_yahoo_empty_address_list() -> None:
    # apple/swift-nio-imap#821 (Mail.ru), angus-mail ENVELOPE.java ("broken servers (e.g.,
    # Yahoo Mail) return an empty list instead of NIL")
    r = fetch(
        b'* 1 FETCH (ENVELOPE ("Wed, 11 Oct 2023" "subj" (("Tn" NIL "info" "geekbrains.ru")) '
        b'NIL NIL () NIL NIL "<a>" "<b>"))'
    )
    assert r.envelope is not None
    assert r.envelope.to == ()
    assert r.envelope.message_id == b"<b>"


def test_yahoo_spaces_inside_address() -> None:
    # angus-mail ENVELOPE.java ("bogus spaces inserted by Yahoo IMAP server"); constructed
    r = fetch(
        b'* 1 FETCH (ENVELOPE ("d" "s" (("A" NIL "a" "example.com")) NIL NIL '
        b'((NIL NIL "undisclosed-recipients" NIL )(NIL NIL NIL NIL )) NIL NIL NIL "<x@e>"))'
    )
    assert r.envelope is not None
    assert [a.mailbox for a in r.envelope.to] == [b"undisclosed-recipients", None]


def test_gmail_unescaped_quotes_in_envelope() -> None:
    # MailKit TestParseGMailMalformedSenderInEnvelope, MailKit#485
    r = fetch(
        b'* 1 FETCH (ENVELOPE ("Mon, 10 Apr 2017" "subject" (("From" NIL "from" "domain.com")) '
        b'(("<sender@domain.com>" NIL "=?UTF-8?Q?"Dummy=C3=ADa_Algo"?=" NIL)) NIL '
        b'(("To" NIL "to" "domain.com")) NIL NIL NIL "<id@message.id>"))'
    )
    assert r.envelope is not None
    (sender,) = r.envelope.sender
    assert sender.mailbox == b'=?UTF-8?Q?"Dummy=C3=ADa_Algo"?='
    assert r.envelope.message_id == b"<id@message.id>"


def test_qq_mail_envelope_with_nine_fields() -> None:
    # MailKit#669, MailKit#932
    r = fetch(
        b'* 1 FETCH (ENVELOPE ("Mon, 30 Oct 2017" "=?GBK?B?u7bTrQ==?=" (("q" NIL "10000" "qq.com"))'
        b' (("q" NIL "10000" "qq.com")) (("q" NIL "10000" "qq.com")) NIL NIL NIL NIL))'
    )
    assert r.envelope is not None
    assert r.envelope.message_id is None
    assert r.envelope.from_[0].email == "10000@qq.com"


def test_proton_bridge_raw_utf8_in_quoted_strings() -> None:
    # modern-email/defects#38 (Proton Bridge v3.6.1)
    r = fetch(
        b'* 2 FETCH (UID 4 ENVELOPE ("Thu, 22 Aug 2024" "Test" (("Cl\xc3\xa9ment" NIL "c" "l")) '
        b"NIL NIL NIL NIL NIL NIL NIL))"
    )
    assert r.envelope is not None
    name = r.envelope.from_[0].name
    assert name is not None
    assert name.decode() == "Clément"


def test_exchange_address_with_nil_mailbox() -> None:
    # MailKit TestParseEnvelopeWithNilMailbox (#1451), Exchange's stub message
    r = fetch(
        b'* 3 FETCH (ENVELOPE (NIL "Retrieval failed" (("Microsoft Exchange Server" NIL NIL '
        b'".MISSING-HOST-NAME.")) NIL NIL (("u@t.com" NIL "u" "t.com")) NIL NIL NIL NIL))'
    )
    assert r.envelope is not None
    assert r.envelope.from_[0].host == b".MISSING-HOST-NAME."
    assert r.envelope.from_[0].email is None


# ---------------------------------------------------------------- flags and labels


def test_gmail_flags_with_brackets_and_spaces() -> None:
    # ruby/net-imap quirky_behaviors.yml (issuetracker.google.com/issues/315160951)
    r = parse_one(b"* FLAGS (\\Seen $NotJunk OIB-Seen-[Google Mail]/Alle Nachrichten)")
    assert isinstance(r, FlagsData)
    assert r.flags[:3] == ("\\Seen", "$NotJunk", "OIB-Seen-[Google Mail]/Alle")


def test_zoho_star_in_flags() -> None:
    # djc/tokio-imap test_flags ("FLAGS can't include \\*") from Zoho Mail server
    assert parse_one(b"* FLAGS (\\Answered \\Seen \\*)") == FlagsData(
        flags=("\\Answered", "\\Seen", "\\*")
    )


def test_gmail_nil_label() -> None:
    # MailKit#244 (Gmail)
    r = fetch(
        b'* 316 FETCH (X-GM-THRID 1507843069465059557 X-GM-LABELS ("\\\\Starred" NIL) UID 346 '
        b"MODSEQ (112817))"
    )
    assert r.gm_labels == ("\\Starred",)
    assert (r.uid, r.modseq) == (346, 112817)


def test_gmail_unquoted_bracketed_label() -> None:
    # MailKit#51 (Gmail): [Mailbox] is an astring, not an atom
    assert fetch(b"* 1 FETCH (X-GM-LABELS ([Mailbox]))").gm_labels == ("[Mailbox]",)


# ---------------------------------------------------------------- mailbox names


def test_exchange_unquoted_name_with_tabs() -> None:
    # MailKit ImapUtils.cs ReadFolderName, MailKit#945
    r = parse_one(b'* LIST (\\HasNoChildren) "/" INBOX/Da\tOggetto\tRicevuto\t')
    assert isinstance(r, ListData)
    assert r.mailbox == "INBOX/Da\tOggetto\tRicevuto\t"


def test_lotus_notes_unquoted_name_with_space() -> None:
    # IndySockets/Indy#329 (Lotus Notes)
    r = parse_one(b'* LIST (\\HasNoChildren) "\\\\" Folder\\Subfolder 1')
    assert isinstance(r, ListData)
    assert (r.delimiter, r.mailbox, r.raw_mailbox) == (
        "\\",
        "Folder\\Subfolder 1",
        b"Folder\\Subfolder 1",
    )


def test_yandex_ampersand_inside_base64_run() -> None:
    # modern-email/defects#46 (imap.yandex.com)
    r = parse_one(b'* LIST (\\HasNoChildren) "|" "&BBAEMQQyACYEMwQ0BDU-"')
    assert isinstance(r, ListData)
    assert r.mailbox == "Абв&где"
    assert r.raw_mailbox == b"&BBAEMQQyACYEMwQ0BDU-"  # what to send back to select it


def test_raw_utf8_mailbox_name_without_utf8_accept() -> None:
    # Defensive, no server named: Proton Bridge sends raw UTF-8 in quoted strings
    # (modern-email/defects#38), so a raw UTF-8 name is read as UTF-8, not refused.
    r = parse_one(
        b'* LIST () "/" "\xd0\x92\xd1\x85\xd0\xbe\xd0\xb4\xd1\x8f\xd1\x89\xd0\xb8\xd0\xb5"'
    )
    assert isinstance(r, ListData)
    assert r.mailbox == "Входящие"


def test_mailbox_named_nil() -> None:
    # MailKit#482: an atom NIL is a valid mailbox name in LIST
    r = parse_one(b'* LIST (\\HasNoChildren) "/" NIL')
    assert isinstance(r, ListData)
    assert r.mailbox == "NIL"


def test_mail_163_empty_status_list() -> None:
    # djc/tokio-imap tests ("mail.163.com sends a STATUS response with an empty list")
    assert parse_one(b'* STATUS "INBOX" ()') == StatusData(mailbox="INBOX", raw_mailbox=b"INBOX")


def test_seznam_nil_delimiter() -> None:
    # emersion/go-imap#329 (seznam.cz): valid but surprising
    r = parse_one(b'* LIST (\\NoInferiors) NIL "INBOX"')
    assert isinstance(r, ListData)
    assert r.delimiter is None


def test_tobit_lowercase_keyword() -> None:
    # MailKit#422 (Tobit David.fx): keywords are case-insensitive
    assert parse_all(b"* 3 Recent\r\n* 4 exists\r\n")[1] == ExistsData(count=4)


# ---------------------------------------------------------------- dates and line ends


def test_domino_zero_internaldate() -> None:
    # MailKit TestParseInvalidInternalDates ("taken from an actual response from a Domino IMAP
    # server"); kept raw instead of failing the whole FETCH
    r = fetch(b'* 1 FETCH (UID 1 INTERNALDATE "00-Jan-0000 00:00:00 +0000")')
    assert r.internaldate is None
    assert r.other == {"INTERNALDATE": b"00-Jan-0000 00:00:00 +0000"}


def test_bare_lf_line_endings() -> None:
    # duesee/imap-codec#260 (quirk_crlf_relaxed); MailKit ImapStream.cs accepts "}\n"
    responses = parse_all(b"* OK ready\n* 1 FETCH (BODY[] {2}\nhi)\nA1 OK done\n")
    assert responses[1] == FetchData(seq=1, sections={"BODY[]": b"hi"})
    assert isinstance(responses[2], TaggedResponse)


def test_esearch_with_parenthesized_modseq() -> None:
    # MailKit#323
    assert parse_one(b'* ESEARCH (TAG "A12") UID ALL 33866,33897 (MODSEQ 284535)') == ESearchData(
        tag="A12", uid=True, all=SequenceSet.parse("33866,33897"), modseq=284535
    )


def test_internaldate_without_zone() -> None:
    # Defensive, no server named: a date without its zone is read as UTC, not refused
    r = fetch(b'* 1 FETCH (INTERNALDATE "17-Jul-1996 02:44:25")')
    assert isinstance(r.internaldate, datetime)
    assert r.internaldate.utcoffset() is not None


@pytest.mark.parametrize(
    "line",
    [
        b"* 1 FETCH (UID 1 XAOL-MSGID 12345 XAOL.SPAM.REASON NIL)",  # AOL (MailKit)
        b"* 5 FETCH (X-GM-MSGID 1 X-GM-LABELS ())",  # Gmail, empty labels
    ],
)
def test_vendor_fetch_items_do_not_fail(line: bytes) -> None:
    assert isinstance(parse_one(line), FetchData)


# ---------------------------------------------------------------- more servers (issue 11)


def test_dovecot_unquoted_mailbox_names_in_list() -> None:
    # Dovecot sends names as atoms when it can (modoboa/modoboa#436)
    r = parse_one(b'* LIST (\\HasNoChildren) "." INBOX.Sent')
    assert isinstance(r, ListData)
    assert (r.delimiter, r.mailbox) == (".", "INBOX.Sent")


def test_yandex_escaped_quotes_in_a_mailbox_name() -> None:
    # Yandex: a quoted name with escaped quotes inside (ikvk/imap_tools#240)
    r = parse_one(b'* LIST (\\HasNoChildren) "|" "zz|\\"123\\""')
    assert isinstance(r, ListData)
    assert (r.mailbox, r.raw_mailbox) == ('zz|"123"', b'zz|"123"')


def test_top_level_folder_starting_with_plus_unquoted() -> None:
    # "+" is an atom character: a name may start with it (jstedfast/MailKit#1914)
    r = parse_one(b'* LIST (\\HasNoChildren) "/" +Archive')
    assert isinstance(r, ListData)
    assert r.mailbox == "+Archive"


def test_yandex_appenduid_with_none_for_a_uid() -> None:
    # A server claiming UIDPLUS answered APPEND with [APPENDUID 1493194087 none]
    # (OfflineIMAP/offlineimap#455): a plain code, so no UID is believed.
    r = parse_one(b"A5 OK [APPENDUID 1493194087 none] APPEND completed")
    assert isinstance(r, TaggedResponse)
    assert r.code == ResponseCode(name="APPENDUID", text="1493194087 none")


def test_xeams_fetch_items_after_the_closing_parenthesis_are_refused_clearly() -> None:
    # Xeams (Synametrics) closes the FETCH after BODY[] and sends the other items as a
    # line of their own, with no "*" (paperless-ngx/paperless-ngx#13412). The stray line
    # is no response at all, so no command can be told it ended: a clear, fatal error
    # (the FETCH before it is read).
    data = b"* 1 FETCH (UID 5 BODY[] {2}\r\nhi)\r\nFLAGS (\\Seen) RFC822.SIZE 2)\r\n"
    with pytest.raises(RemoteProtocolError, match="expected a tagged, untagged") as info:
        parse_all(data)
    assert info.value.offset == data.index(b"FLAGS")


def test_hydroxide_empty_lists_for_absent_addresses() -> None:
    # hydroxide (a ProtonMail bridge): () instead of NIL for empty address lists and ""
    # for In-Reply-To (jonhoo/rust-imap#166)
    r = fetch(
        b'* 6 FETCH (UID 6 ENVELOPE ("Mon, 20 May 2019 14:03:14 +0200" "Activation" '
        b'(("42 Alumni" NIL "alumni" "42.fr")) () () (("Kiyan" NIL "k" "protonmail.com")) '
        b'() () "" "<c20696ea@42.fr>"))'
    )
    assert r.envelope is not None
    assert (r.envelope.sender, r.envelope.cc, r.envelope.in_reply_to) == ((), (), b"")
    assert [a.mailbox for a in r.envelope.to] == [b"k"]
    assert r.envelope.message_id == b"<c20696ea@42.fr>"


def test_raw_latin_1_in_an_envelope_name_is_kept() -> None:
    # An address name with raw 8-bit Latin-1 ("G\xfcnstiger") in a quoted string, which
    # stopped Delta Chat's IDLE (chatmail/core#652): read, the bytes kept as sent
    r = fetch(
        b'* 9 FETCH (UID 9 ENVELOPE (NIL "Angebot" (("HUK24 AG - Digital. Einfach. '
        b'G\xfcnstiger." NIL "info" "huk24-service.de")) NIL NIL NIL NIL NIL NIL NIL))'
    )
    assert r.envelope is not None
    assert r.envelope.from_[0].name == b"HUK24 AG - Digital. Einfach. G\xfcnstiger."


def test_unescaped_quotes_inside_a_message_id() -> None:
    # iCloud (MailCore/mailcore2#1967, "the eternal sync bug") and another server
    # (jakartaee/mail-api#669) leave the quotes of a Message-ID's local part unescaped
    # inside the quoted string, and the whole FETCH failed there: a quote that
    # is not followed by a delimiter does not end the string, so the id is read whole.
    r = fetch(
        b'* 364 FETCH (ENVELOPE ("Wed, 6 Apr 2022 17:10:18 +0800" "subject" NIL NIL NIL NIL '
        b'NIL NIL NIL "<17639.JavaMail."cv@notice.zhipin.com"@v-01>") RFC822.SIZE 1103217)'
    )
    assert r.envelope is not None
    assert r.envelope.message_id == b'<17639.JavaMail."cv@notice.zhipin.com"@v-01>'
    assert r.rfc822_size == 1103217


def test_airmail_brackets_in_an_unquoted_mailbox_name() -> None:
    # Airmail creates INBOX.[Airmail].Snooze; the server lists it unquoted
    # (postalsys/imapflow#204)
    r = parse_one(b'* LIST (\\UnMarked) "." INBOX.[Airmail].Snooze')
    assert isinstance(r, ListData)
    assert r.mailbox == "INBOX.[Airmail].Snooze"


def test_a_keyword_with_brackets_inside_permanentflags() -> None:
    # A keyword "[css3-page]" inside the PERMANENTFLAGS code's list
    # (emailjs/emailjs-imap-handler#6): the code ends at its own bracket
    r = parse_one(
        b"* OK [PERMANENTFLAGS (\\Answered \\Seen $label1 [css3-page] \\*)] Flags permitted."
    )
    assert isinstance(r, UntaggedStatus)
    assert isinstance(r.code, FlagsCode)
    assert r.code.flags == ("\\Answered", "\\Seen", "$label1", "[css3-page]", "\\*")
    assert r.text == "Flags permitted."


def test_status_of_a_mailbox_with_spaces_unquoted() -> None:
    # Seen by Nylas in production (mjs/imapclient#223): STATUS with a name with spaces
    r = parse_one(b"* STATUS Sent Items (MESSAGES 3 UNSEEN 0)")
    assert isinstance(r, StatusData)
    assert (r.mailbox, r.messages) == ("Sent Items", 3)


def test_an_smtp_greeting_is_a_clear_error() -> None:
    # A client pointed at an SMTP port gets "220 ... ESMTP" (postalsys/imapflow#214)
    with pytest.raises(RemoteProtocolError, match="expected a tagged, untagged") as info:
        parse_all(b"220 mail.somehost.net ESMTP NO UCE\r\n")
    assert b"ESMTP" in info.value.snippet


def test_greenmail_no_space_between_a_section_and_its_literal() -> None:
    # GreenMail 1.5.3: BODY[HEADER]{4169}, no space, for BODY[HEADER]<0.30> asked
    # (greenmail-mail-test/greenmail#187)
    (r,) = parse_all(b"* 1 FETCH (FLAGS (\\Recent \\Seen) BODY[HEADER]{5}\r\nabcde)\r\n")
    assert isinstance(r, FetchData)
    assert r.sections == {"BODY[HEADER]": b"abcde"}


def test_nil_as_the_size_of_a_body_part() -> None:
    # A server sends NIL for body-fld-octets, a number (thunderbird/thunderbird-android#4227,
    # where K-9 silently stopped syncing)
    r = fetch(b'* 1378 FETCH (UID 29357 BODYSTRUCTURE ("TEXT" "PLAIN" NIL NIL NIL "7BIT" NIL 0))')
    part = single(r.bodystructure)
    assert (part.subtype, part.size, part.lines) == ("plain", None, 0)


def test_a_control_character_in_a_flag_is_kept() -> None:
    # A ^D (0x04) in the flags of an EXAMINE answer (thunderbird/thunderbird-android#4925,
    # where K-9's parser stopped; the bytes constructed from its log): kept as sent
    assert parse_one(b"* FLAGS (\\Answered \\Seen \x04Junk)") == FlagsData(
        flags=("\\Answered", "\\Seen", "\x04Junk")
    )


def test_uidvalidity_beyond_32_bits_in_status() -> None:
    # STATUS with UIDVALIDITY 1666390893380 (neomutt/neomutt#3830, where every folder
    # looked empty): the number
    r = parse_one(b'* STATUS "folder_0" (UIDNEXT 1 UIDVALIDITY 1666390893380 UNSEEN 0)')
    assert isinstance(r, StatusData)
    assert r.uidvalidity == 1666390893380


def test_greenmail_wildcard_flag_in_flags() -> None:
    # GreenMail: \* (allowed in PERMANENTFLAGS only) in FLAGS (ruby/net-imap#228)
    assert parse_one(b"* FLAGS (\\Answered \\Seen \\*)") == FlagsData(
        flags=("\\Answered", "\\Seen", "\\*")
    )


def test_interia_untagged_bad_alert_in_place_of_a_tagged_no() -> None:
    # poczta.interia.pl answers LIST with an untagged BAD [ALERT] and no tagged reply at
    # all (jstedfast/MailKit#860): read as an alert (the command itself then waits for
    # its timeout, as for any server that never answers)
    r = parse_one(b"* BAD [ALERT] Please enable IMAP access in your account settings first.")
    assert isinstance(r, UntaggedStatus)
    assert (r.status, r.code) == (ResponseStatus.BAD, ResponseCode(name="ALERT"))
    assert r.text.startswith("Please enable IMAP access")


def test_exchange_2003_stray_line_after_a_tagged_ok_is_refused_clearly() -> None:
    # Exchange 2003 follows "1 OK CAPABILITY completed." with "CAPABILITY completed."
    # (dinhvh/libetpan#45): the OK is read, the stray line is a clear, fatal error
    data = b"1 OK CAPABILITY completed.\r\nCAPABILITY completed.\r\n"
    with pytest.raises(RemoteProtocolError, match="expected a tagged, untagged") as info:
        parse_all(data)
    assert info.value.offset is not None
    assert info.value.offset >= data.index(b"CAPABILITY completed.\r\n", 5)


def test_icewarp_nil_size_and_a_date_in_1899() -> None:
    # IceWarp: RFC822.SIZE NIL and INTERNALDATE in 1899 (imapsync/imapsync#271, where
    # every such message was skipped): no size, the date as sent
    r = fetch(
        b'* 438 FETCH (UID 438 RFC822.SIZE NIL INTERNALDATE "30-Dec-1899 00:00:00 +0530" FLAGS ())'
    )
    assert (r.uid, r.rfc822_size, r.flags) == (438, None, ())
    assert r.internaldate is not None
    assert r.internaldate.year == 1899


def test_icewarp_intrusion_prevention_greeting_is_an_error_that_quotes_it() -> None:
    # IceWarp greets a blocked address with " NO LOGOUT Intrusion prevention active for
    # <ip>": no "*", a leading space (jstedfast/MailKit#1073). Fatal, and the error shows
    # the server's words, which say what to do
    with pytest.raises(RemoteProtocolError) as info:
        parse_all(b" NO LOGOUT Intrusion prevention active for 192.0.2.1\r\n")
    assert b"Intrusion prevention" in info.value.snippet


def test_courier_message_number_zero() -> None:
    # Courier-IMAP (2004) answers UID STORE with "* 0 FETCH" (jstedfast/MailKit#428):
    # message numbers start at 1, but the UID and flags are what count
    r = fetch(b"* 0 FETCH (UID 16334 FLAGS ())")
    assert (r.seq, r.uid, r.flags) == (0, 16334, ())


def test_zimbra_untagged_noop() -> None:
    # Zimbra sends "* NOOP" during a long command (ruby/net-imap#2): an unknown response,
    # not an error
    assert parse_one(b"* NOOP") == UnknownData(name="NOOP", raw=b"* NOOP\r\n")


def test_a_zero_length_literal() -> None:
    # A zero-length literal ({0}) for an empty header section tripped a client
    # (emailjs/emailjs-imap-handler#20; constructed from its description)
    (r,) = parse_all(b"* 1 FETCH (UID 5 BODY[HEADER.FIELDS (X-FOO)] {0}\r\n)\r\n")
    assert isinstance(r, FetchData)
    assert (r.uid, r.sections) == (5, {"BODY[HEADER.FIELDS (X-FOO)]": b""})


def test_yahoo_lists_its_inbox_as_inbox_in_mixed_case() -> None:
    # Yahoo: * LIST (\Inbox \HasNoChildren) "/" "Inbox" (jstedfast/MailKit#358): INBOX is
    # case-insensitive, so this is INBOX
    r = parse_one(b'* LIST (\\Inbox \\HasNoChildren) "/" "Inbox"')
    assert isinstance(r, ListData)
    assert (r.mailbox, r.attributes) == ("INBOX", ("\\Inbox", "\\HasNoChildren"))


def test_purelymail_min_zero_in_esearch() -> None:
    # Purelymail: MIN 0 (never a valid number) and a wrong COUNT for UNSEEN
    # (Purelymail/purelymail-issues#445): read as sent; we ask for ALL only
    r = parse_one(b'* ESEARCH (TAG "d") MIN 0 COUNT 1')
    assert r == ESearchData(tag="d", min=0, count=1)


def test_esearch_answer_to_uid_search_without_its_uid_marker() -> None:
    # Purelymail (abhinavxd/libredesk#282) and Cyrus 2.4 when nothing matched
    # (cyrusimap/cyrus-imapd#1725) leave out "UID" in the answer to UID SEARCH. We send
    # UID SEARCH only, and take the numbers of its own answer (by TAG) as UIDs.
    r = parse_one(b'* ESEARCH (TAG "A5") ALL 590:597')
    assert r == ESearchData(tag="A5", uid=False, all=SequenceSet.parse("590:597"))
    assert parse_one(b'* ESEARCH (TAG "A6")') == ESearchData(tag="A6")


def test_gmail_label_starting_with_plus() -> None:
    # Gmail: X-GM-LABELS (+IMNews), an unquoted label starting with "+"
    # (jstedfast/MailKit#195)
    assert fetch(b"* 1 FETCH (X-GM-LABELS (+IMNews) UID 948871)").gm_labels == ("+IMNews",)


def test_gmail_flags_with_brackets() -> None:
    # Gmail sends keywords with "[" and "]" in FLAGS, not atom characters
    # (apple/swift-nio-imap#738)
    r = parse_one(b"* FLAGS (\\Answered $NotJunk OIB-Seen-[Gmail]/Important Redirected)")
    assert r == FlagsData(
        flags=("\\Answered", "$NotJunk", "OIB-Seen-[Gmail]/Important", "Redirected")
    )


def test_gmail_labels_quoted_with_escapes_and_parentheses() -> None:
    # Gmail (valid, and mis-read by others): "\\Sent" is the system label \Sent
    # (eclipse-ee4j/angus-mail#165); a quoted label may hold parentheses
    # (OfflineIMAP/offlineimap#545)
    r = fetch(b'* 1 FETCH (X-GM-LABELS ("\\\\Sent" CustomLabel "Webserver (RW.net)") UID 9)')
    assert r.gm_labels == ("\\Sent", "CustomLabel", "Webserver (RW.net)")


def test_exchange_bare_string_as_a_disposition() -> None:
    # Exchange: "inline" where a disposition must be ("inline" params)
    # (jstedfast/MailKit#919)
    r = fetch(
        b'* 37 FETCH (UID 67 BODYSTRUCTURE (("text" "plain" ("charset" "ISO-8859-1") NIL NIL '
        b'"QUOTED-PRINTABLE" 850 31 NIL "inline" NIL NIL)("text" "html" ("charset" '
        b'"ISO-8859-1") NIL NIL "QUOTED-PRINTABLE" 14692 502 NIL "inline" NIL NIL) '
        b'"alternative" ("boundary" "x") NIL NIL))'
    )
    parts = multi(r.bodystructure).parts
    assert [single(p).disposition for p in parts] == [
        Disposition(type="inline", params=()),
        Disposition(type="inline", params=()),
    ]


def test_home_pl_bare_backslash_attribute_in_xlist() -> None:
    # home.pl (Dovecot): XLIST with a bare "\" among the attributes
    # (Foundry376/Mailspring#1795): the folder, and the odd attribute kept as sent
    r = parse_one(b'* XLIST (\\HasNoChildren \\) "." "Argos"')
    assert isinstance(r, ListData)
    assert (r.mailbox, r.attributes) == ("Argos", ("\\HasNoChildren", "\\"))


def test_protonmail_bridge_atoms_in_id() -> None:
    # ProtonMail Bridge: ID fields and values as atoms, a URL among them
    # (Foundry376/Mailspring#429)
    r = parse_one(
        b"* ID (support-url https://protonmail.com/support name ProtonMail "
        b'vendor "Proton Technologies AG")'
    )
    assert r == IdData(
        fields={
            "support-url": "https://protonmail.com/support",
            "name": "ProtonMail",
            "vendor": "Proton Technologies AG",
        }
    )


def test_qip_empty_fetch_list() -> None:
    # QIP answers STORE with "* n FETCH ()" (dinhvh/libetpan#260)
    assert fetch(b"* 5 FETCH ()") == FetchData(seq=5)


def test_rambler_literal_shorter_than_announced_waits_for_the_rest() -> None:
    # Rambler announces {100} and sends 9 bytes, then the rest of the line and the tagged
    # OK (dinhvh/libetpan#240). No client can tell: the parser waits for the 100 bytes
    # (the command is then cut off by the sync's timeout and the connection dropped,
    # that account's sync failing, no other's); it never makes up a response.
    parser = ResponseParser()
    parser.receive_data(b"* 140 FETCH (BODY[2] {100}\r\n123456789 UID 2)\r\n1 OK completed\r\n")
    assert parser.next_response() is NEED_DATA


def test_a_stray_nil_inside_an_address_list() -> None:
    # (NIL (name NIL mailbox host)): a NIL before the address, the name a literal
    # (jstedfast/MailKit#991; the server unnamed). The NIL stands for no address.
    (r,) = parse_all(
        b'* 3001 FETCH (UID 3001 ENVELOPE ("Thu, 18 Jul 2019 01:29:32 -0300" "Xxx" '
        b'(NIL ({5}\r\nAnn B NIL "ann" "example.com")) NIL NIL ((NIL NIL "to" "example.org")) '
        b'NIL NIL NIL "<0A9F@X>"))\r\n'
    )
    assert isinstance(r, FetchData)
    assert r.envelope is not None
    assert [(a.name, a.email) for a in r.envelope.from_] == [(b"Ann B", "ann@example.com")]


def test_asimap_rfc_2822_internaldate_is_kept_raw() -> None:
    # asimap sent INTERNALDATE in RFC 2822 form, which iOS 18 refused (scanner/asimap#458):
    # not a date-time of the grammar, so kept as sent in `other`, the message read
    r = fetch(b'* 1 FETCH (UID 5 INTERNALDATE "Mon, 09 Feb 2026 10:00:00 +0000")')
    assert (r.uid, r.internaldate) == (5, None)
    assert r.other == {"INTERNALDATE": b"Mon, 09 Feb 2026 10:00:00 +0000"}


def test_an_impossible_envelope_date_is_kept_as_text() -> None:
    # ENVELOPE date "6/31/2005" (a day that does not exist; jstedfast/MailKit#254, where
    # the FETCH failed): the Date header is text to us, never parsed in the protocol layer
    r = fetch(
        b'* 4034 FETCH (UID 8589 ENVELOPE ("6/31/2005" "subj" NIL NIL NIL NIL NIL NIL NIL NIL))'
    )
    assert r.envelope is not None
    assert r.envelope.date == b"6/31/2005"


def test_qiye_163_unescaped_quotes_in_a_body_description() -> None:
    # qiye.163.com: a body description of """" (an empty header's quotes unescaped;
    # emersion/go-imap#659, where the FETCH failed): read as the text between the outer
    # quotes, every other field in place
    r = fetch(
        b'* 150 FETCH (UID 1733220355 BODY (("text" "html" ("charset" "UTF-8") NIL NIL '
        b'"quoted-printable" 1224 16)("application" "octet-stream" ("name" "a.pdf") NIL '
        b'"""" "base64" 65322) "MIXED"))'
    )
    pdf = single(multi(r.body).parts[1])
    assert (pdf.description, pdf.encoding, pdf.size) == (b'""', "BASE64", 65322)


def test_icloud_answer_without_an_item_that_was_asked_for() -> None:
    # iCloud answers FETCH (RFC822) with a FETCH that lacks RFC822 (modern-email/defects
    # #36): the items it did send; what is missing stays None (we never ask for RFC822,
    # and a record built from an answer without ENVELOPE has empty headers, not an error)
    r = fetch(b"* 1 FETCH (UID 5 FLAGS (\\Seen))")
    assert (r.uid, r.flags, r.envelope, r.sections) == (5, ("\\Seen",), None, {})
