# ruff: noqa: E501
"""Known-answer IMAP server-response vectors transcribed from the RFCs.

Every entry in VECTORS is a dict:

    {"source": "RFC 3501 6.3.1",      # RFC number + section of the example
     "lines":  [b"* 172 EXISTS", ...], # the server's responses, in order
     "note":   "..."}                  # caveats ("" when none)

Conventions
-----------
* One entry = the server side of one example exchange (normally the
  responses to one client command, including the tagged completion).
  Client lines ("C:") are never included.
* Each element of "lines" is ONE complete server response, without the
  final CRLF.  The "S: " prefix and the RFC's indentation are removed;
  all other spacing is kept exactly as printed in the RFC.
* A response carrying a literal is a single element: the line ending in
  "{n}", then b"\\r\\n", then the literal octets (with their own CRLFs
  where the RFC prints line breaks inside the literal), then the rest of
  the response line.
* Where an RFC wraps one protocol line over several printed lines for
  editorial reasons (the continuation is indented and not prefixed by
  "S:"), the pieces are joined with ONE space (or with nothing, for
  base64 that the RFC explicitly says was broken for clarity).  Such
  entries say so in "note".
* Placeholders that are not protocol data in the RFC (e.g. "...",
  "<...>") are kept verbatim and flagged in "note"; tests may want to
  skip entries whose note starts with "NOT-WIRE".
"""

from collections.abc import Iterable
from typing import TypedDict


class Vector(TypedDict):
    source: str
    lines: list[bytes]
    note: str


VECTORS: list[Vector] = []


def _v(source: str, lines: Iterable[bytes], note: str = "") -> None:
    VECTORS.append({"source": source, "lines": list(lines), "note": note})


CRLF = b"\r\n"

# ---------------------------------------------------------------------------
# RFC 3501 (IMAP4rev1) -- section 6 examples
# ---------------------------------------------------------------------------
_v(
    "RFC 3501 6.1.1",
    [
        b"* CAPABILITY IMAP4rev1 STARTTLS AUTH=GSSAPI LOGINDISABLED",
        b"abcd OK CAPABILITY completed",
    ],
    note="RFC prints the CAPABILITY line wrapped after AUTH=GSSAPI "
    "(editorial); joined with one space here.",
)
_v(
    "RFC 3501 6.1.1",
    [
        b"efgh OK STARTLS completed",
    ],
    note="'STARTLS' (sic) is a typo in the RFC's human-readable text; harmless for parsing.",
)
_v(
    "RFC 3501 6.1.1",
    [
        b"* CAPABILITY IMAP4rev1 AUTH=GSSAPI AUTH=PLAIN",
        b"ijkl OK CAPABILITY completed",
    ],
)
_v(
    "RFC 3501 6.1.2",
    [
        b"a002 OK NOOP completed",
    ],
)
_v(
    "RFC 3501 6.1.2",
    [
        b"* 22 EXPUNGE",
        b"* 23 EXISTS",
        b"* 3 RECENT",
        rb"* 14 FETCH (FLAGS (\Seen \Deleted))",
        b"a047 OK NOOP completed",
    ],
)
_v(
    "RFC 3501 6.1.3",
    [
        b"* BYE IMAP4rev1 Server logging out",
        b"A023 OK LOGOUT completed",
    ],
)
_v(
    "RFC 3501 6.2.1",
    [
        b"* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED",
        b"a001 OK CAPABILITY completed",
    ],
)
_v(
    "RFC 3501 6.2.1",
    [
        b"a002 OK Begin TLS negotiation now",
    ],
)
_v(
    "RFC 3501 6.2.1",
    [
        b"* CAPABILITY IMAP4rev1 AUTH=PLAIN",
        b"a003 OK CAPABILITY completed",
    ],
)
_v(
    "RFC 3501 6.2.1",
    [
        b"a004 OK LOGIN completed",
    ],
)
_v(
    "RFC 3501 6.2.2",
    [
        b"* OK IMAP4rev1 Server",
    ],
    note="Server greeting.",
)
_v(
    "RFC 3501 6.2.2",
    [
        b"+",
        b"+ YGgGCSqGSIb3EgECAgIAb1kwV6ADAgEFoQMCAQ+iSzBJoAMC"
        b"AQGiQgRAtHTEuOP2BXb9sBYFR4SJlDZxmg39IxmRBOhXRKdDA0"
        b"uHTCOT9Bq3OsUTXUlk0CsFLoa8j+gvGDlgHuqzWHPSQg==",
        b"+ YDMGCSqGSIb3EgECAgIBAAD/////6jcyG4GE3KkTzBeBiVHeceP2CWY0SR0fAQAgAAQEBAQ=",
        b"A001 OK GSSAPI authentication successful",
    ],
    note="GSSAPI AUTHENTICATE.  The RFC says the base64 line breaks are "
    "editorial, so the challenge pieces are joined with no separator. "
    "The first challenge is printed as a bare '+' with no trailing "
    "space; RFC 3501's continue-req ABNF ('+' SP (resp-text / base64)) "
    "requires the SP, so a strict parser rejects b'+' -- lenient "
    "parsers (and real servers sending '+ ') should be tested too.",
)
_v(
    "RFC 3501 6.2.3",
    [
        b"a001 OK LOGIN completed",
    ],
)
_v(
    "RFC 3501 6.3.1",
    [
        b"* 172 EXISTS",
        b"* 1 RECENT",
        b"* OK [UNSEEN 12] Message 12 is first unseen",
        b"* OK [UIDVALIDITY 3857529045] UIDs valid",
        b"* OK [UIDNEXT 4392] Predicted next UID",
        rb"* FLAGS (\Answered \Flagged \Deleted \Seen \Draft)",
        rb"* OK [PERMANENTFLAGS (\Deleted \Seen \*)] Limited",
        b"A142 OK [READ-WRITE] SELECT completed",
    ],
)
_v(
    "RFC 3501 6.3.2",
    [
        b"* 17 EXISTS",
        b"* 2 RECENT",
        b"* OK [UNSEEN 8] Message 8 is first unseen",
        b"* OK [UIDVALIDITY 3857529045] UIDs valid",
        b"* OK [UIDNEXT 4392] Predicted next UID",
        rb"* FLAGS (\Answered \Flagged \Deleted \Seen \Draft)",
        b"* OK [PERMANENTFLAGS ()] No permanent flags permitted",
        b"A932 OK [READ-ONLY] EXAMINE completed",
    ],
)
_v("RFC 3501 6.3.3", [b"A003 OK CREATE completed"])
_v("RFC 3501 6.3.3", [b"A004 OK CREATE completed"])
_v(
    "RFC 3501 6.3.4",
    [
        b'* LIST () "/" blurdybloop',
        rb'* LIST (\Noselect) "/" foo',
        b'* LIST () "/" foo/bar',
        b"A682 OK LIST completed",
    ],
)
_v("RFC 3501 6.3.4", [b"A683 OK DELETE completed"])
_v("RFC 3501 6.3.4", [b'A684 NO Name "foo" has inferior hierarchical names'])
_v("RFC 3501 6.3.4", [b"A685 OK DELETE Completed"])
_v(
    "RFC 3501 6.3.4",
    [
        rb'* LIST (\Noselect) "/" foo',
        b"A686 OK LIST completed",
    ],
)
_v("RFC 3501 6.3.4", [b"A687 OK DELETE Completed"])
_v(
    "RFC 3501 6.3.4",
    [
        b'* LIST () "." blurdybloop',
        b'* LIST () "." foo',
        b'* LIST () "." foo.bar',
        b"A82 OK LIST completed",
    ],
)
_v("RFC 3501 6.3.4", [b"A83 OK DELETE completed"])
_v("RFC 3501 6.3.4", [b"A84 OK DELETE Completed"])
_v(
    "RFC 3501 6.3.4",
    [
        b'* LIST () "." foo.bar',
        b"A85 OK LIST completed",
    ],
)
_v(
    "RFC 3501 6.3.4",
    [
        rb'* LIST (\Noselect) "." foo',
        b"A86 OK LIST completed",
    ],
)
_v(
    "RFC 3501 6.3.5",
    [
        b'* LIST () "/" blurdybloop',
        rb'* LIST (\Noselect) "/" foo',
        b'* LIST () "/" foo/bar',
        b"A682 OK LIST completed",
    ],
)
_v("RFC 3501 6.3.5", [b"A683 OK RENAME completed"])
_v("RFC 3501 6.3.5", [b"A684 OK RENAME Completed"])
_v(
    "RFC 3501 6.3.5",
    [
        b'* LIST () "/" sarasoop',
        rb'* LIST (\Noselect) "/" zowie',
        b'* LIST () "/" zowie/bar',
        b"A685 OK LIST completed",
    ],
)
_v(
    "RFC 3501 6.3.5",
    [
        b'* LIST () "." INBOX',
        b'* LIST () "." INBOX.bar',
        b"Z432 OK LIST completed",
    ],
)
_v("RFC 3501 6.3.5", [b"Z433 OK RENAME completed"])
_v(
    "RFC 3501 6.3.5",
    [
        b'* LIST () "." INBOX',
        b'* LIST () "." INBOX.bar',
        b'* LIST () "." old-mail',
        b"Z434 OK LIST completed",
    ],
)
_v("RFC 3501 6.3.6", [b"A002 OK SUBSCRIBE completed"])
_v("RFC 3501 6.3.7", [b"A002 OK UNSUBSCRIBE completed"])
_v(
    "RFC 3501 6.3.8",
    [
        rb'* LIST (\Noselect) "/" ""',
        b"A101 OK LIST Completed",
    ],
)
_v(
    "RFC 3501 6.3.8",
    [
        rb'* LIST (\Noselect) "." #news.',
        b"A102 OK LIST Completed",
    ],
)
_v(
    "RFC 3501 6.3.8",
    [
        rb'* LIST (\Noselect) "/" /',
        b"A103 OK LIST Completed",
    ],
)
_v(
    "RFC 3501 6.3.8",
    [
        rb'* LIST (\Noselect) "/" ~/Mail/foo',
        b'* LIST () "/" ~/Mail/meetings',
        b"A202 OK LIST completed",
    ],
)
_v(
    "RFC 3501 6.3.9",
    [
        b'* LSUB () "." #news.comp.mail.mime',
        b'* LSUB () "." #news.comp.mail.misc',
        b"A002 OK LSUB completed",
    ],
)
_v(
    "RFC 3501 6.3.9",
    [
        rb'* LSUB (\NoSelect) "." #news.comp.mail',
        b"A003 OK LSUB completed",
    ],
    note="Attribute is spelled '\\NoSelect' (mixed case) here; flag/attribute "
    "names are case-insensitive, parsers must accept it.",
)
_v(
    "RFC 3501 6.3.10",
    [
        b"* STATUS blurdybloop (MESSAGES 231 UIDNEXT 44292)",
        b"A042 OK STATUS completed",
    ],
)
_v(
    "RFC 3501 6.3.11",
    [
        b"+ Ready for literal data",
        b"A003 OK APPEND completed",
    ],
    note="Continuation request after the client's {310} literal announcement, "
    "then the tagged OK after the literal was sent.",
)
_v("RFC 3501 6.4.1", [b"FXXZ OK CHECK Completed"])
_v("RFC 3501 6.4.2", [b"A341 OK CLOSE completed"])
_v(
    "RFC 3501 6.4.3",
    [
        b"* 3 EXPUNGE",
        b"* 3 EXPUNGE",
        b"* 5 EXPUNGE",
        b"* 8 EXPUNGE",
        b"A202 OK EXPUNGE completed",
    ],
    note="Messages 3, 4, 7 and 11 had \\Deleted; sequence numbers shift "
    "after each EXPUNGE, hence 3,3,5,8.",
)
_v(
    "RFC 3501 6.4.4",
    [
        b"* SEARCH 2 84 882",
        b"A282 OK SEARCH completed",
    ],
)
_v(
    "RFC 3501 6.4.4",
    [
        b"* SEARCH",
        b"A283 OK SEARCH completed",
    ],
    note="Empty SEARCH result: bare '* SEARCH' with no numbers and no trailing space.",
)
_v(
    "RFC 3501 6.4.4",
    [
        b"* SEARCH 43",
        b"A284 OK SEARCH completed",
    ],
)
_v(
    "RFC 3501 6.4.5",
    [
        b"* 2 FETCH ....",
        b"* 3 FETCH ....",
        b"* 4 FETCH ....",
        b"A654 OK FETCH completed",
    ],
    note="NOT-WIRE: '....' is an elision in the RFC, not valid FETCH data; "
    "only the tagged line is parseable.",
)
_v(
    "RFC 3501 6.4.6",
    [
        rb"* 2 FETCH (FLAGS (\Deleted \Seen))",
        rb"* 3 FETCH (FLAGS (\Deleted))",
        rb"* 4 FETCH (FLAGS (\Deleted \Flagged \Seen))",
        b"A003 OK STORE completed",
    ],
)
_v("RFC 3501 6.4.7", [b"A003 OK COPY completed"])
_v(
    "RFC 3501 6.4.8",
    [
        rb"* 23 FETCH (FLAGS (\Seen) UID 4827313)",
        rb"* 24 FETCH (FLAGS (\Seen) UID 4827943)",
        rb"* 25 FETCH (FLAGS (\Seen) UID 4828442)",
        b"A999 OK UID FETCH completed",
    ],
)
_v(
    "RFC 3501 6.5.1",
    [
        b"* CAPABILITY IMAP4rev1 XPIG-LATIN",
        b"a441 OK CAPABILITY completed",
    ],
)
_v(
    "RFC 3501 6.5.1",
    [
        b"* XPIG-LATIN ow-nay eaking-spay ig-pay atin-lay",
        b"A442 OK XPIG-LATIN ompleted-cay",
    ],
    note="Experimental untagged response (X-prefixed atom); a generic parser "
    "should surface it as an unknown/extension response.",
)

# ---------------------------------------------------------------------------
# RFC 3501 -- section 7 examples
# ---------------------------------------------------------------------------
_v("RFC 3501 7.1.1", [b"* OK IMAP4rev1 server ready"], note="Greeting.")
_v(
    "RFC 3501 7.1.1",
    [
        b"* OK [ALERT] System shutdown in 10 minutes",
        b"A001 OK LOGIN Completed",
    ],
)
_v(
    "RFC 3501 7.1.2",
    [
        b"* NO Disk is 98% full, please delete unnecessary data",
        b"A222 OK COPY completed",
    ],
)
_v(
    "RFC 3501 7.1.2",
    [
        b"* NO Disk is 98% full, please delete unnecessary data",
        b"* NO Disk is 99% full, please delete unnecessary data",
        b"A223 NO COPY failed: disk is full",
    ],
)
_v("RFC 3501 7.1.3", [b"* BAD Command line too long"])
_v("RFC 3501 7.1.3", [b"* BAD Empty command line"])
_v(
    "RFC 3501 7.1.3",
    [
        b"* BAD Disk crash, attempting salvage to a new disk!",
        b"* OK Salvage successful, no data lost",
        b"A443 OK Expunge completed",
    ],
)
_v("RFC 3501 7.1.4", [b"* PREAUTH IMAP4rev1 server logged in as Smith"], note="Greeting.")
_v("RFC 3501 7.1.5", [b"* BYE Autologout; idle for too long"])
_v("RFC 3501 7.2.1", [b"* CAPABILITY IMAP4rev1 STARTTLS AUTH=GSSAPI XPIG-LATIN"])
_v("RFC 3501 7.2.2", [rb'* LIST (\Noselect) "/" ~/Mail/foo'])
_v("RFC 3501 7.2.3", [b'* LSUB () "." #news.comp.mail.misc'])
_v("RFC 3501 7.2.4", [b"* STATUS blurdybloop (MESSAGES 231 UIDNEXT 44292)"])
_v("RFC 3501 7.2.5", [b"* SEARCH 2 3 6"])
_v("RFC 3501 7.2.6", [rb"* FLAGS (\Answered \Flagged \Deleted \Seen \Draft)"])
_v("RFC 3501 7.3.1", [b"* 23 EXISTS"])
_v("RFC 3501 7.3.2", [b"* 5 RECENT"])
_v("RFC 3501 7.4.1", [b"* 44 EXPUNGE"])
_v("RFC 3501 7.4.2", [rb"* 23 FETCH (FLAGS (\Seen) RFC822.SIZE 44827)"])
_v(
    "RFC 3501 7.5",
    [
        b"+ Ready for additional command text",
        b"+ Ready for additional command text",
        b"A001 OK LOGIN completed",
    ],
    note="Two continuation requests (one per client literal), then the tagged OK.",
)
_v("RFC 3501 7.5", [b'A044 BAD No such command as "BLURDYBLOOP"'])

# ---------------------------------------------------------------------------
# RFC 3501 -- section 8 sample connection
# ---------------------------------------------------------------------------
_v("RFC 3501 8", [b"* OK IMAP4rev1 Service Ready"], note="Greeting.")
_v("RFC 3501 8", [b"a001 OK LOGIN completed"])
_v(
    "RFC 3501 8",
    [
        b"* 18 EXISTS",
        rb"* FLAGS (\Answered \Flagged \Deleted \Seen \Draft)",
        b"* 2 RECENT",
        b"* OK [UNSEEN 17] Message 17 is the first unseen message",
        b"* OK [UIDVALIDITY 3857529045] UIDs valid",
        b"a002 OK [READ-WRITE] SELECT completed",
    ],
)
_v(
    "RFC 3501 8",
    [
        rb'* 12 FETCH (FLAGS (\Seen) INTERNALDATE "17-Jul-1996 02:44:25 -0700"'
        rb' RFC822.SIZE 4286 ENVELOPE ("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)"'
        rb' "IMAP4rev1 WG mtg summary and minutes"'
        rb' (("Terry Gray" NIL "gray" "cac.washington.edu"))'
        rb' (("Terry Gray" NIL "gray" "cac.washington.edu"))'
        rb' (("Terry Gray" NIL "gray" "cac.washington.edu"))'
        rb' ((NIL NIL "imap" "cac.washington.edu"))'
        rb' ((NIL NIL "minutes" "CNRI.Reston.VA.US")'
        rb'("John Klensin" NIL "KLENSIN" "MIT.EDU")) NIL NIL'
        rb' "<B27397-0100000@cac.washington.edu>")'
        rb' BODY ("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 3028'
        rb" 92))",
        b"a003 OK FETCH completed",
    ],
    note="FETCH FULL.  The RFC says this long line is 'broken for editorial "
    "clarity' over 11 printed lines.  Breaks are re-joined with one SP, "
    "EXCEPT the break between the two addresses of the cc list "
    "('...\"CNRI.Reston.VA.US\")' / '(\"John Klensin\"...'), which is "
    'joined with no space because the ABNF env-cc = "(" 1*address ")" '
    "has no SP between addresses.  A naive one-space join yields "
    "') (' there, which strict parsers reject and lenient ones accept.",
)
_v(
    "RFC 3501 8",
    [
        b"* 12 FETCH (BODY[HEADER] {342}"
        + CRLF
        + b"Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)"
        + CRLF
        + b"From: Terry Gray <gray@cac.washington.edu>"
        + CRLF
        + b"Subject: IMAP4rev1 WG mtg summary and minutes"
        + CRLF
        + b"To: imap@cac.washington.edu"
        + CRLF
        + b"cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>"
        + CRLF
        + b"Message-Id: <B27397-0100000@cac.washington.edu>"
        + CRLF
        + b"MIME-Version: 1.0"
        + CRLF
        + b"Content-Type: TEXT/PLAIN; CHARSET=US-ASCII"
        + CRLF
        + CRLF
        + b")",
        b"a004 OK FETCH completed",
    ],
    note="Literal {342}: the 8 header lines plus the empty line, each "
    "terminated by CRLF, are exactly 342 octets (checked), so the count "
    "is consistent.  The closing ')' is printed on its own 'S:' line in "
    "the RFC; on the wire it directly follows the literal.",
)
_v(
    "RFC 3501 8",
    [
        rb"* 12 FETCH (FLAGS (\Seen \Deleted))",
        b"a005 OK +FLAGS completed",
    ],
)
_v(
    "RFC 3501 8",
    [
        b"* BYE IMAP4rev1 server terminating connection",
        b"a006 OK LOGOUT completed",
    ],
)

# ---------------------------------------------------------------------------
# RFC 9051 (IMAP4rev2) -- section 6 examples
# ---------------------------------------------------------------------------
_PLUS_NOTE = (
    "RFC 9051 text prints 'S: +' but states (6.2.2) 'there is a space "
    'following the "+" from the server\' -- the trailing SP was lost '
    "to RFC formatting (trailing whitespace is stripped), so the wire "
    "form is b'+ '."
)
_v(
    "RFC 9051 6.1.1",
    [
        b"* CAPABILITY IMAP4rev2 STARTTLS AUTH=GSSAPI LOGINDISABLED",
        b"abcd OK CAPABILITY completed",
    ],
    note="RFC prints the CAPABILITY line wrapped before LOGINDISABLED "
    "(editorial); joined with one space.",
)
_v("RFC 9051 6.1.1", [b"efgh OK STARTTLS completed"])
_v(
    "RFC 9051 6.1.1",
    [
        b"* CAPABILITY IMAP4rev2 AUTH=GSSAPI AUTH=PLAIN",
        b"ijkl OK CAPABILITY completed",
    ],
)
_v("RFC 9051 6.1.2", [b"a002 OK NOOP completed"])
_v(
    "RFC 9051 6.1.2",
    [
        b"* 22 EXPUNGE",
        b"* 23 EXISTS",
        rb"* 14 FETCH (UID 1305 FLAGS (\Seen \Deleted))",
        b"a047 OK NOOP completed",
    ],
)
_v(
    "RFC 9051 6.1.3",
    [
        b"* BYE IMAP4rev2 Server logging out",
        b"A023 OK LOGOUT completed",
    ],
)
_v(
    "RFC 9051 6.2.1",
    [
        b"* CAPABILITY IMAP4rev2 STARTTLS LOGINDISABLED",
        b"a001 OK CAPABILITY completed",
    ],
)
_v("RFC 9051 6.2.1", [b"a002 OK Begin TLS negotiation now"])
_v(
    "RFC 9051 6.2.1",
    [
        b"* CAPABILITY IMAP4rev2 AUTH=PLAIN",
        b"a003 OK CAPABILITY completed",
    ],
)
_v("RFC 9051 6.2.1", [b"a004 OK Success (tls protection)"])
_v(
    "RFC 9051 6.2.2",
    [
        b"* OK [CAPABILITY IMAP4rev2 STARTTLS AUTH=GSSAPI] Capabilities",
    ],
    note="Greeting with CAPABILITY response code; printed wrapped before "
    "'Capabilities' (editorial), joined with one space.",
)
_v(
    "RFC 9051 6.2.2",
    [
        b"+ ",
        b"+ YGgGCSqGSIb3EgECAgIAb1kwV6ADAgEFoQMCAQ+iSzBJoAMC"
        b"AQGiQgRAtHTEuOP2BXb9sBYFR4SJlDZxmg39IxmRBOhXRKdDA0"
        b"uHTCOT9Bq3OsUTXUlk0CsFLoa8j+gvGDlgHuqzWHPSQg==",
        b"+ YDMGCSqGSIb3EgECAgIBAAD/////6jcyG4GE3KkTzBeBiVHeceP2CWY0SR0fAQAgAAQEBAQ=",
        b"A001 OK GSSAPI authentication successful",
    ],
    note="GSSAPI; base64 line breaks are editorial per the RFC and are "
    "joined with no separator.  " + _PLUS_NOTE,
)
_v(
    "RFC 9051 6.2.2",
    [
        b"* OK [CAPABILITY IMAP4rev2 STARTTLS AUTH=GSSAPI LOGINDISABLED] Server ready",
    ],
    note="Greeting; printed wrapped before 'LOGINDISABLED]' (editorial), joined with one space.",
)
_v("RFC 9051 6.2.2", [b"A01 OK STARTTLS completed"])
_v(
    "RFC 9051 6.2.2",
    [
        b"* CAPABILITY IMAP4rev2 AUTH=GSSAPI AUTH=PLAIN",
        b"A02 OK CAPABILITY completed",
    ],
)
_v("RFC 9051 6.2.2", [b"A03 OK Success (tls protection)"])
_v(
    "RFC 9051 6.2.2",
    [
        b"* CAPABILITY IMAP4rev2 AUTH=PLAIN",
        b"C01 OK Completed",
    ],
)
_v(
    "RFC 9051 6.2.2",
    [
        b"+ ",
        b"A01 OK Success (tls protection)",
    ],
    note=_PLUS_NOTE + "  (This is the example the note refers to.)",
)
_v(
    "RFC 9051 6.2.2",
    [
        b"* CAPABILITY IMAP4rev2 AUTH=PLAIN AUTH=EXTERNAL",
        b"C01 OK Completed",
    ],
)
_v(
    "RFC 9051 6.2.2",
    [b"A01 OK Success (tls protection)"],
    note="AUTHENTICATE EXTERNAL with empty initial response '='.",
)
_v("RFC 9051 6.2.3", [b"a001 OK LOGIN completed"])
_v(
    "RFC 9051 6.3.1",
    [
        b"* CAPABILITY IMAP4rev2 ID LITERAL+ X-GOOD-IDEA",
        b"t1 OK foo",
    ],
)
_v(
    "RFC 9051 6.3.1",
    [
        b"* ENABLED X-GOOD-IDEA",
        b"t2 OK foo",
    ],
    note="Response to 'ENABLE CONDSTORE X-GOOD-IDEA': only X-GOOD-IDEA is reported enabled.",
)
_v(
    "RFC 9051 6.3.1",
    [
        b"* CAPABILITY IMAP4rev2 ID LITERAL+ X-GOOD-IDEA",
        b"t3 OK foo again",
    ],
)
_v(
    "RFC 9051 6.3.1",
    [
        b"* ENABLED CONDSTORE",
        b"a1 OK Conditional Store enabled",
    ],
)
_v(
    "RFC 9051 6.3.2",
    [
        b"* 172 EXISTS",
        b"* OK [UIDVALIDITY 3857529045] UIDs valid",
        b"* OK [UIDNEXT 4392] Predicted next UID",
        rb"* FLAGS (\Answered \Flagged \Deleted \Seen \Draft)",
        rb"* OK [PERMANENTFLAGS (\Deleted \Seen \*)] Limited",
        b'* LIST () "/" INBOX',
        b"A142 OK [READ-WRITE] SELECT completed",
    ],
)
_v(
    "RFC 9051 6.3.2",
    [
        b"* 172 EXISTS",
        b"* OK [UIDVALIDITY 3857529045] UIDs valid",
        b"* OK [UIDNEXT 4392] Predicted next UID",
        rb"* FLAGS (\Answered \Flagged \Deleted \Seen \Draft)",
        rb"* OK [PERMANENTFLAGS (\Deleted \Seen \*)] Limited",
        b"A142 OK [READ-WRITE] SELECT completed",
    ],
    note="Second SELECT example (part 1).  Note it omits the LIST response "
    "that the same section says is REQUIRED.",
)
_v(
    "RFC 9051 6.3.2",
    [
        b"* OK [CLOSED] Previous mailbox is now closed",
        b"* 5 EXISTS",
        b"* OK [UIDVALIDITY 9877410381] UIDs valid",
        b"* OK [UIDNEXT 102] Predicted next UID",
        b'* LIST () "/" Drafts',
        rb"* FLAGS (\Answered \Flagged \Deleted \Seen \Draft)",
        rb"* OK [PERMANENTFLAGS (\Deleted \Seen \Answered \Flagged \Draft \*)]"
        rb" System flags and keywords allowed",
        b"A143 OK [READ-WRITE] SELECT completed",
    ],
    note="PERMANENTFLAGS line printed wrapped after '\\Answered' "
    "(editorial), joined with one space.  UIDVALIDITY 9877410381 "
    "exceeds 2**32-1 (4294967295): nz-number in RFC 9051 is 32-bit "
    "(uniqueid/nz-number < 4,294,967,296), so the RFC's own example "
    "value is out of range -- parsers that range-check will reject it.",
)
_v(
    "RFC 9051 6.3.3",
    [
        b"* 17 EXISTS",
        b"* OK [UIDVALIDITY 3857529045] UIDs valid",
        b"* OK [UIDNEXT 4392] Predicted next UID",
        b'* LIST () "/" blurdybloop',
        rb"* FLAGS (\Answered \Flagged \Deleted \Seen \Draft)",
        b"* OK [PERMANENTFLAGS ()] No permanent flags permitted",
        b"A932 OK [READ-ONLY] EXAMINE completed",
    ],
)
_v("RFC 9051 6.3.4", [b"A003 OK CREATE completed"])
_v("RFC 9051 6.3.4", [b"A004 OK CREATE completed"])
_v(
    "RFC 9051 6.3.4",
    [
        b'* LIST () "/" "Normalized" ("OLDNAME" ("NonNormalized"))',
        b"A005 OK CREATE completed",
    ],
    note="LIST with extended data item OLDNAME.",
)
_v(
    "RFC 9051 6.3.5",
    [
        b'* LIST () "/" blurdybloop',
        rb'* LIST (\Noselect) "/" foo',
        b'* LIST () "/" foo/bar',
        b"A682 OK LIST completed",
    ],
)
_v("RFC 9051 6.3.5", [b"A683 OK DELETE completed"])
_v("RFC 9051 6.3.5", [b'A684 NO Name "foo" has inferior hierarchical names'])
_v("RFC 9051 6.3.5", [b"A685 OK DELETE Completed"])
_v(
    "RFC 9051 6.3.5",
    [
        rb'* LIST (\Noselect) "/" foo',
        b"A686 OK LIST completed",
    ],
)
_v("RFC 9051 6.3.5", [b"A687 OK DELETE Completed"])
_v(
    "RFC 9051 6.3.5",
    [
        b'* LIST () "." blurdybloop',
        b'* LIST () "." foo',
        b'* LIST () "." foo.bar',
        b"A82 OK LIST completed",
    ],
)
_v("RFC 9051 6.3.5", [b"A83 OK DELETE completed"])
_v("RFC 9051 6.3.5", [b"A84 OK DELETE Completed"])
_v(
    "RFC 9051 6.3.5",
    [
        b'* LIST () "." foo.bar',
        b"A85 OK LIST completed",
    ],
)
_v(
    "RFC 9051 6.3.5",
    [
        rb'* LIST (\Noselect) "." foo',
        b"A86 OK LIST completed",
    ],
)
_v(
    "RFC 9051 6.3.6",
    [
        b'* LIST () "/" blurdybloop',
        rb'* LIST (\Noselect) "/" foo',
        b'* LIST () "/" foo/bar',
        b"A682 OK LIST completed",
    ],
)
_v("RFC 9051 6.3.6", [b"A683 OK RENAME completed"])
_v("RFC 9051 6.3.6", [b"A684 OK RENAME Completed"])
_v(
    "RFC 9051 6.3.6",
    [
        b'* LIST () "/" sarasoop',
        rb'* LIST (\Noselect) "/" zowie',
        b'* LIST () "/" zowie/bar',
        b"A685 OK LIST completed",
    ],
)
_v(
    "RFC 9051 6.3.6",
    [
        b'* LIST () "." INBOX',
        b'* LIST () "." INBOX.bar',
        b"Z432 OK LIST completed",
    ],
)
_v("RFC 9051 6.3.6", [b"Z433 OK RENAME completed"])
_v(
    "RFC 9051 6.3.6",
    [
        b'* LIST () "." INBOX',
        b'* LIST () "." INBOX.bar',
        b'* LIST () "." old-mail',
        b"Z434 OK LIST completed",
    ],
)
_v("RFC 9051 6.3.7", [b"A002 OK SUBSCRIBE completed"])
_v("RFC 9051 6.3.8", [b"A002 OK UNSUBSCRIBE completed"])
_v("RFC 9051 6.3.9.3", [rb'* LIST (\Subscribed \NonExistent) "/" "Fruit/Peach"'])
_v("RFC 9051 6.3.9.7", [rb'* LIST (\NonExistent) "." "INBOX.DeletedMailbox"'])
_v("RFC 9051 6.3.9.7", [b'* LIST () "/" "NewMailbox" ("OLDNAME" ("OldMailbox"))'])
_v(
    "RFC 9051 6.3.9.8",
    [
        rb'* LIST (\Noselect) "/" ""',
        b"A101 OK LIST Completed",
    ],
)
_v(
    "RFC 9051 6.3.9.8",
    [
        rb'* LIST (\Noselect) "." #news.',
        b"A102 OK LIST Completed",
    ],
)
_v(
    "RFC 9051 6.3.9.8",
    [
        rb'* LIST (\Noselect) "/" /',
        b"A103 OK LIST Completed",
    ],
)
_v(
    "RFC 9051 6.3.9.8",
    [
        rb'* LIST (\Noselect) "/" ~/Mail/foo',
        b'* LIST () "/" ~/Mail/meetings',
        b"A202 OK LIST completed",
    ],
)
_v(
    "RFC 9051 6.3.9.8",
    [
        rb'* LIST (\Marked \NoInferiors) "/" "inbox"',
        b'* LIST () "/" "Fruit"',
        b'* LIST () "/" "Fruit/Apple"',
        b'* LIST () "/" "Fruit/Banana"',
        b'* LIST () "/" "Tofu"',
        b'* LIST () "/" "Vegetable"',
        b'* LIST () "/" "Vegetable/Broccoli"',
        b'* LIST () "/" "Vegetable/Corn"',
        b"A01 OK done",
    ],
    note="Extended example 1.",
)
_v(
    "RFC 9051 6.3.9.8",
    [
        rb'* LIST (\Marked \NoInferiors \Subscribed) "/" "inbox"',
        rb'* LIST (\Subscribed) "/" "Fruit/Banana"',
        rb'* LIST (\Subscribed \NonExistent) "/" "Fruit/Peach"',
        rb'* LIST (\Subscribed) "/" "Vegetable"',
        rb'* LIST (\Subscribed) "/" "Vegetable/Broccoli"',
        b"A02 OK done",
    ],
    note="Extended example 2: LIST (SUBSCRIBED).",
)
_v(
    "RFC 9051 6.3.9.8",
    [
        rb'* LIST (\Marked \NoInferiors) "/" "inbox"',
        rb'* LIST (\HasChildren) "/" "Fruit"',
        rb'* LIST (\HasNoChildren) "/" "Tofu"',
        rb'* LIST (\HasChildren) "/" "Vegetable"',
        b"A03 OK done",
    ],
    note="Extended example 3: RETURN (CHILDREN).",
)
_v(
    "RFC 9051 6.3.9.8",
    [
        rb'* LIST (\Marked \NoInferiors) "/" "inbox"',
        rb'* LIST (\HasChildren) "/" "Fruit"',
        rb'* LIST (\HasNoChildren) "/" "Tofu"',
        rb'* LIST (\HasChildren) "/" "Vegetable"',
        rb'* LIST (\Remote \HasNoChildren) "/" "Bread"',
        rb'* LIST (\HasChildren \Remote) "/" "Meat"',
        b"A04 OK done",
    ],
    note="Extended example 4: LIST (REMOTE).",
)
_v(
    "RFC 9051 6.3.9.8",
    [
        rb'* LIST (\Marked \NoInferiors \Subscribed) "/" "inbox"',
        rb'* LIST (\Subscribed) "/" "Fruit/Banana"',
        rb'* LIST (\Subscribed \NonExistent) "/" "Fruit/Peach"',
        rb'* LIST (\Subscribed) "/" "Vegetable"',
        rb'* LIST (\Subscribed) "/" "Vegetable/Broccoli"',
        rb'* LIST (\Remote \Subscribed) "/" "Bread"',
        b"A05 OK done",
    ],
    note="Extended example 5.",
)
_v(
    "RFC 9051 6.3.9.8",
    [
        rb'* LIST (\Marked \NoInferiors \Subscribed) "/" "inbox"',
        b'* LIST () "/" "Fruit"',
        b'* LIST () "/" "Fruit/Apple"',
        rb'* LIST (\Subscribed) "/" "Fruit/Banana"',
        b'* LIST () "/" "Tofu"',
        rb'* LIST (\Subscribed) "/" "Vegetable"',
        rb'* LIST (\Subscribed) "/" "Vegetable/Broccoli"',
        b'* LIST () "/" "Vegetable/Corn"',
        rb'* LIST (\Remote \Subscribed) "/" "Bread"',
        rb'* LIST (\Remote) "/" "Meat"',
        b"A06 OK done",
    ],
    note="Extended example 6.",
)
_v(
    "RFC 9051 6.3.9.8",
    [
        rb'* LIST (\Marked \NoInferiors) "/" "inbox"',
        b'* LIST () "/" "Foo"',
        b'* LIST () "/" "Foo/Bar"',
        b'* LIST () "/" "Foo/Baz"',
        b'* LIST () "/" "Moo"',
        b"C01 OK done",
    ],
    note="Extended example 7.",
)
_v(
    "RFC 9051 6.3.9.8",
    [
        rb'* LIST (\Marked \NoInferiors) "/" "inbox"',
        rb'* LIST (\HasChildren) "/" "Foo"',
        rb'* LIST (\HasNoChildren) "/" "Moo"',
        b"CA3 OK done",
    ],
    note="Extended example 7.",
)
_v(
    "RFC 9051 6.3.9.8",
    [
        rb'* LIST (\Subscribed) "/" "Foo/Baz"',
        b"C02 OK done",
    ],
    note="Extended example 7 A.",
)
_v(
    "RFC 9051 6.3.9.8",
    [
        b'* LIST () "/" "Foo" ("CHILDINFO" ("SUBSCRIBED"))',
        b"C04 OK done",
    ],
    note="Extended example 7 A: CHILDINFO extended data.",
)
_v(
    "RFC 9051 6.3.9.8",
    [
        rb'* LIST (\Subscribed) "/" "Foo" ("CHILDINFO" ("SUBSCRIBED"))',
        b"C04 OK done",
    ],
    note="Extended example 7 A1; LIST line printed wrapped before "
    "'(\"SUBSCRIBED\"))' (editorial), joined with one space.",
)
_v(
    "RFC 9051 6.3.9.8",
    [
        rb'* LIST (\Subscribed \HasChildren) "/" "Foo" ("CHILDINFO" ("SUBSCRIBED"))',
        b"C04 OK done",
    ],
    note="Extended example 7 A1 (alternative); printed wrapped before "
    "'(\"CHILDINFO\"' (editorial), joined with one space.",
)
_v(
    "RFC 9051 6.3.9.8",
    [
        rb'* LIST (\NonExistent) "/" "Foo" ("CHILDINFO" ("SUBSCRIBED"))',
        b"C04 OK done",
    ],
    note="Extended example 7 A2; printed wrapped before '(\"SUBSCRIBED\"))' "
    "(editorial), joined with one space.",
)
_v(
    "RFC 9051 6.3.9.8",
    [
        rb'* LIST (\HasChildren \Subscribed) "/" "Foo"',
        rb'* LIST (\HasNoChildren \Subscribed) "/" "Moo"',
        b"C04 OK done",
    ],
    note="Extended example 7 C.",
)
_v(
    "RFC 9051 6.3.9.8",
    [
        rb'* LIST (\Marked \NoInferiors) "/" "inbox"',
        b'* LIST () "/" "foo2"',
        b'* LIST () "/" "foo2/bar1"',
        b'* LIST () "/" "foo2/bar2"',
        b'* LIST () "/" "baz2"',
        b'* LIST () "/" "baz2/bar2"',
        b'* LIST () "/" "baz2/bar22"',
        b'* LIST () "/" "baz2/bar222"',
        b'* LIST () "/" "eps2"',
        b'* LIST () "/" "eps2/mamba"',
        b'* LIST () "/" "qux2/bar2"',
        b"D01 OK done",
    ],
    note="Extended example 8.",
)
_v(
    "RFC 9051 6.3.9.8",
    [
        rb'* LIST (\Subscribed) "/" "foo2/bar1"',
        rb'* LIST (\Subscribed) "/" "foo2/bar2"',
        rb'* LIST (\Subscribed) "/" "baz2/bar2"',
        rb'* LIST (\Subscribed) "/" "baz2/bar22"',
        rb'* LIST (\Subscribed) "/" "baz2/bar222"',
        rb'* LIST (\Subscribed) "/" "eps2"',
        rb'* LIST (\Subscribed) "/" "eps2/mamba"',
        rb'* LIST (\Subscribed) "/" "qux2/bar2"',
        b"D02 OK done",
    ],
    note="Extended example 8.",
)
_v(
    "RFC 9051 6.3.9.8",
    [
        b'* LIST () "/" "foo2" ("CHILDINFO" ("SUBSCRIBED"))',
        rb'* LIST (\Subscribed) "/" "foo2/bar2"',
        rb'* LIST (\Subscribed) "/" "baz2/bar2"',
        rb'* LIST (\Subscribed) "/" "baz2/bar22"',
        rb'* LIST (\Subscribed) "/" "baz2/bar222"',
        rb'* LIST (\Subscribed) "/" "eps2" ("CHILDINFO" ("SUBSCRIBED"))',
        rb'* LIST (\Subscribed) "/" "qux2/bar2"',
        b"D03 OK done",
    ],
    note='Extended example 8: LIST (RECURSIVEMATCH SUBSCRIBED) "" "*2".',
)
_v(
    "RFC 9051 6.3.9.8",
    [
        b'* LIST () "/" "baz2" ("CHILDINFO" ("SUBSCRIBED"))',
        rb'* LIST (\NonExistent) "/" "qux2" ("CHILDINFO" ("SUBSCRIBED"))',
    ],
    note="Extended example 8: optional extra responses the server 'may also "
    "include' (the RFC notes they would be redundant CHILDINFO).",
)
_v(
    "RFC 9051 6.3.9.8",
    [
        b'* LIST () "/" "foo2" ("CHILDINFO" ("SUBSCRIBED"))',
        rb'* LIST (\Subscribed) "/" "foo2/bar1"',
        rb'* LIST (\Subscribed) "/" "foo2/bar2"',
        b'* LIST () "/" "baz2" ("CHILDINFO" ("SUBSCRIBED"))',
        rb'* LIST (\Subscribed) "/" "baz2/bar2"',
        rb'* LIST (\Subscribed) "/" "baz2/bar22"',
        rb'* LIST (\Subscribed) "/" "baz2/bar222"',
        rb'* LIST (\Subscribed) "/" "eps2" ("CHILDINFO" ("SUBSCRIBED"))',
        rb'* LIST (\Subscribed) "/" "eps2/mamba"',
        rb'* LIST (\Subscribed) "/" "qux2/bar2"',
        b"D03 OK done",
    ],
    note='Extended example 8: pattern "*".',
)
_v(
    "RFC 9051 6.3.9.8",
    [
        b'* LIST () "/" foo',
        b"a1 OK done",
    ],
    note="Extended example 9.",
)
_v(
    "RFC 9051 6.3.9.8",
    [
        rb'* LIST (\Subscribed \NonExistent) "/" foo/bar',
        b"a2 OK done",
    ],
    note="Extended example 9.",
)
_v(
    "RFC 9051 6.3.9.8",
    [
        rb'* LIST (\HasNoChildren) "/" foo ("CHILDINFO" ("SUBSCRIBED"))',
        b"a3 OK done",
    ],
    note="Extended example 9: CHILDINFO with unquoted (atom) mailbox name.",
)
_v(
    "RFC 9051 6.3.9.8",
    [
        b'* LIST () "/" music/rock',
        rb'* LIST (\Remote) "/" also/jazz',
        b"a1 OK done",
    ],
    note="Extended example 10.",
)
_v(
    "RFC 9051 6.3.9.8",
    [
        rb'* LIST (\NonExistent \HasChildren) "/" music',
        b"a2 OK done",
    ],
    note="Extended example 10.",
)
_v(
    "RFC 9051 6.3.9.8",
    [
        rb'* LIST (\NonExistent \HasChildren) "/" music',
        rb'* LIST (\NonExistent \HasChildren) "/" also',
        b"a3 OK done",
    ],
    note="Extended example 10.",
)
_v(
    "RFC 9051 6.3.9.8",
    [
        b'* LIST () "/" music/rock',
        b"a3.1 OK done",
    ],
    note="Extended example 10 (tag 'a3.1' contains a dot; legal tag chars).",
)
_v(
    "RFC 9051 6.3.9.8",
    [
        b'* LIST () "."  "INBOX"',
        b'* STATUS "INBOX" (MESSAGES 17 UNSEEN 16)',
        b'* LIST () "." "foo"',
        b'* STATUS "foo" (MESSAGES 30 UNSEEN 29)',
        rb'* LIST (\NoSelect) "." "bar"',
        b"A01 OK List completed.",
    ],
    note="Extended example 11 (LIST RETURN (STATUS ...)).  KNOWN TEXT DEFECT: "
    'the first line has TWO spaces between the delimiter "." and '
    '"INBOX" (kept verbatim); the ABNF requires exactly one SP, so a '
    "strict parser must reject it.  Decide whether your parser is "
    "lenient here.",
)
_v(
    "RFC 9051 6.3.9.8",
    [
        rb'* LIST (\Subscribed) "."  "INBOX"',
        b'* STATUS "INBOX" (MESSAGES 17)',
        b'* LIST () "." "foo" (CHILDINFO ("SUBSCRIBED"))',
        b"A02 OK List completed.",
    ],
    note="Extended example 11.  KNOWN TEXT DEFECT: double space before "
    '"INBOX" (kept verbatim; not ABNF-valid).  Also the CHILDINFO '
    'tag is an unquoted atom here but quoted ("CHILDINFO") everywhere '
    "else; both are valid astring forms.",
)
_v(
    "RFC 9051 6.3.10",
    [
        b'* NAMESPACE (("" "/")) NIL NIL',
        b"A001 OK NAMESPACE command completed",
    ],
    note="Example 1.",
)
_v(
    "RFC 9051 6.3.10",
    [
        b'* NAMESPACE NIL NIL (("" "."))',
        b"A001 OK NAMESPACE command completed",
    ],
    note="Example 2.",
)
_v(
    "RFC 9051 6.3.10",
    [
        b'* NAMESPACE (("" "/")) NIL (("Public Folders/" "/"))',
        b"A001 OK NAMESPACE command completed",
    ],
    note="Example 3.",
)
_v(
    "RFC 9051 6.3.10",
    [
        b'* NAMESPACE (("" "/")) (("~" "/")) (("#shared/" "/")'
        b'("#public/" "/")("#ftp/" "/")("#news." "."))',
        b"A001 OK NAMESPACE command completed",
    ],
    note='Example 4.  Printed wrapped after \'("#shared/" "/")\' '
    "(editorial).  Joined with NO space because the ABNF "
    '(Namespace = nil / "(" 1*Namespace-Descr ")") has no SP between '
    "descriptors and the rest of the line also has none; a one-space "
    "join gives a non-conforming ') ('.",
)
_v(
    "RFC 9051 6.3.10",
    [
        b'* NAMESPACE (("INBOX." ".")) NIL  NIL',
        b"A001 OK NAMESPACE command completed",
    ],
    note="Example 5.  KNOWN TEXT DEFECT: two spaces between 'NIL' and "
    "'NIL' (kept verbatim); not ABNF-valid (exactly one SP).",
)
_v("RFC 9051 6.3.10", [b"A002 OK CREATE command completed"])
_v(
    "RFC 9051 6.3.10",
    [
        b'* NAMESPACE (("" "/")("#mh/" "/" "X-PARAM" ("FLAG1" "FLAG2"))) NIL NIL',
        b"A001 OK NAMESPACE command completed",
    ],
    note="Example 6: namespace extension parameter.  Printed wrapped after "
    "'\"X-PARAM\"' (editorial), joined with one space (the ABNF "
    "Namespace-Response-Extension requires SP there).",
)
_v(
    "RFC 9051 6.3.10",
    [
        rb'* LIST (\NonExistent \Archive) "/" Archives',
        rb'* LIST (\NonExistent \Drafts) "/" Drafts',
        rb'* LIST (\NonExistent \Junk) "/" Junk',
        rb'* LIST (\NonExistent \Sent) "/" "Sent Mail"',
        rb'* LIST (\NonExistent \Trash) "/" "Deleted Items"',
        b"A002 OK LIST Completed",
    ],
    note="Example 6: LIST (SPECIAL-USE) with special-use attributes.",
)
_v(
    "RFC 9051 6.3.10",
    [
        rb'* LIST (\NonExistent \Archive) "/" "#mh/Archives"',
        rb'* LIST (\NonExistent \Drafts) "/" "#mh/Drafts"',
        rb'* LIST (\NonExistent \Junk) "/" "#mh/Junk"',
        rb'* LIST (\NonExistent \Sent) "/" "#mh/Sent Mail"',
        rb'* LIST (\NonExistent \Trash) "/" "#mh/Deleted Items"',
        b"A003 OK LIST Completed",
    ],
    note="Example 6.",
)
_v("RFC 9051 6.3.10", [b"A004 OK CREATE command completed"])
_v("RFC 9051 6.3.10", [b"A005 OK CREATE command completed"])
_v("RFC 9051 6.3.10", [b"A006 OK CREATE command completed"])
_v(
    "RFC 9051 6.3.10",
    [
        b'* NAMESPACE (("" "/")) (("Other Users/" "/")) NIL',
        b"A001 OK NAMESPACE command completed",
    ],
    note="Example 7.",
)
_v(
    "RFC 9051 6.3.10",
    [
        b'* LIST () "/" "Other Users/Mike"',
        b'* LIST () "/" "Other Users/Karen"',
        b'* LIST () "/" "Other Users/Matthew"',
        b'* LIST () "/" "Other Users/Tesa"',
        b"A002 OK LIST command completed",
    ],
    note="Example 7.",
)
_v(
    "RFC 9051 6.3.10",
    [
        b'* NAMESPACE (("" "/")) (("#Users/" "/")) NIL',
        b"A001 OK NAMESPACE command completed",
    ],
    note="Example 8.",
)
_v("RFC 9051 6.3.10", [b"A002 NO The requested item could not be found."], note="Example 8.")
_v(
    "RFC 9051 6.3.10",
    [
        b'* LIST () "/" "#Users/Mike/INBOX"',
        b'* LIST () "/" "#Users/Mike/Foo"',
        b"A003 OK LIST command completed.",
    ],
    note="Example 8.",
)
_v(
    "RFC 9051 6.3.10",
    [
        b'* NAMESPACE (("" "/")) (("~" "/")) NIL',
        b"A001 OK NAMESPACE command completed",
    ],
    note="Example 9.",
)
_v(
    "RFC 9051 6.3.10",
    [
        b'* LIST () "/" "~mark/INBOX"',
        b'* LIST () "/" "~mark/foo"',
        b"A002 OK LIST command completed",
    ],
    note="Example 9.",
)
_v(
    "RFC 9051 6.3.11",
    [
        b"* STATUS blurdybloop (MESSAGES 231 UIDNEXT 44292)",
        b"A042 OK STATUS completed",
    ],
)
_v(
    "RFC 9051 6.3.12",
    [
        b"+ Ready for literal data",
        b"A003 OK APPEND completed",
    ],
)
_v(
    "RFC 9051 6.3.12",
    [
        b"A003 OK [APPENDUID 38505 3955] APPEND completed",
    ],
    note="After a non-synchronizing literal {297+}: no continuation request.",
)
_v("RFC 9051 6.3.12", [b"A004 OK [COPYUID 38505 304,319:320 3956:3958] Done"])
_v("RFC 9051 6.3.12", [b"A005 OK No matching messages, so nothing copied"])
_v("RFC 9051 6.3.12", [b"A006 OK Done"])
_v(
    "RFC 9051 6.3.12",
    [
        b"* 1 EXISTS",
        b"* OK [UIDVALIDITY 3857529045] Validity session-only",
        b"* OK [UIDNEXT 2] Predicted next UID",
        b"* NO [UIDNOTSTICKY] Non-persistent UIDs",
        rb"* FLAGS (\Answered \Flagged \Deleted \Seen \Draft)",
        rb"* OK [PERMANENTFLAGS (\Deleted \Seen)] Limited",
        b'* LIST () "." funny',
        b"A007 OK [READ-WRITE] SELECT completed",
    ],
    note="UIDNOTSTICKY response code in an untagged NO.",
)
_v(
    "RFC 9051 6.3.13",
    [
        rb"* FLAGS (\Deleted \Seen \Flagged)",
        rb"* OK [PERMANENTFLAGS (\Deleted \Seen \Flagged)] Limited",
        b"* 3 EXISTS",
        b"* OK [UIDVALIDITY 1]",
        b"* OK [UIDNEXT 1]",
        b'* LIST () "/" INBOX',
        b"A001 OK [READ-WRITE] SELECT completed",
    ],
    note="'* OK [UIDVALIDITY 1]' / '* OK [UIDNEXT 1]' have a response code "
    "and NO human-readable text (and no SP after ']').  RFC 3501's "
    "resp-text requires text; RFC 9051 9 has resp-text = "
    '["[" resp-text-code "]" SP] [text]: text optional, but the SP '
    "after ']' is still required (probably lost to RFC trailing-"
    "whitespace stripping).  Good leniency test.",
)
_v(
    "RFC 9051 6.3.13",
    [
        b"+ idling",
        b"* 4 EXISTS",
        b"A002 OK IDLE terminated",
    ],
    note="IDLE: continuation, unsolicited EXISTS, then tagged OK after the client's DONE.",
)
_v(
    "RFC 9051 6.3.13",
    [
        b"* 4 FETCH (...)",
        b"A003 OK FETCH completed",
    ],
    note="NOT-WIRE: '(...)' is an elision in the RFC.",
)
_v(
    "RFC 9051 6.3.13",
    [
        b"* 2 EXPUNGE",
        b"* 3 EXISTS",
        b"+ idling",
        b"* 3 EXPUNGE",
        b"* 2 EXISTS",
        b"* 3 EXISTS",
        b"A004 OK IDLE terminated",
    ],
    note="Untagged data both before and after the IDLE continuation request.",
)
_v(
    "RFC 9051 6.3.13",
    [
        b"* 3 FETCH (...)",
        b"A005 OK FETCH completed",
    ],
    note="NOT-WIRE: '(...)' is an elision in the RFC.",
)
_v("RFC 9051 6.4.1", [b"A341 OK CLOSE completed"])
_v("RFC 9051 6.4.2", [b"A342 OK Unselect completed"])
_v(
    "RFC 9051 6.4.3",
    [
        b"* 3 EXPUNGE",
        b"* 3 EXPUNGE",
        b"* 5 EXPUNGE",
        b"* 8 EXPUNGE",
        b"A202 OK EXPUNGE completed",
    ],
)
_v(
    "RFC 9051 6.4.4",
    [
        b'* ESEARCH (TAG "A282") MIN 2 COUNT 3',
        b"A282 OK SEARCH completed",
    ],
)
_v(
    "RFC 9051 6.4.4",
    [
        b'* ESEARCH (TAG "A283") ALL 2,10:11',
        b"A283 OK SEARCH completed",
    ],
)
_v(
    "RFC 9051 6.4.4",
    [
        b'* ESEARCH (TAG "A284")',
        b"A284 OK SEARCH completed",
    ],
    note="ESEARCH with no result data (no matches, no COUNT requested).",
)
_v(
    "RFC 9051 6.4.4",
    [
        b"+ Ready for literal text",
        b'* ESEARCH (TAG "A285") ALL 43',
        b"A285 OK SEARCH completed",
    ],
    note="Client literal {12} carries 6 Cyrillic letters (12 UTF-8 octets) -- consistent.",
)
_v(
    "RFC 9051 6.4.4",
    [
        b'* ESEARCH (TAG "A284") MIN 4',
        b"A284 OK SEARCH completed",
    ],
)
_v(
    "RFC 9051 6.4.4",
    [
        b'* ESEARCH (TAG "A285") UID MIN 7 MAX 3800',
        b"A285 OK SEARCH completed",
    ],
)
_v(
    "RFC 9051 6.4.4",
    [
        b'* ESEARCH (TAG "A286") COUNT 15',
        b"A286 OK SEARCH completed",
    ],
)
_v("RFC 9051 6.4.4.4", [b"A282 OK SEARCH completed, result saved"], note="SAVE example 1.")
_v(
    "RFC 9051 6.4.4.4",
    [
        b"* 2 FETCH (UID 14 ...",
        b"* 84 FETCH (UID 100 ...",
        b"* 882 FETCH (UID 1115 ...",
        b"A283 OK completed",
    ],
    note="NOT-WIRE: FETCH lines are truncated with '...' in the RFC.",
)
_v(
    "RFC 9051 6.4.4.4",
    [
        b"A282 OK SEARCH completed",
        b"* 2 FETCH (UID 14 ...",
        b"* 84 FETCH (UID 100 ...",
        b"* 882 FETCH (UID 1115 ...",
        b"A283 OK completed",
    ],
    note="NOT-WIRE (FETCH lines truncated).  SAVE example 2: pipelined "
    "commands; two tagged completions in one stream.",
)
_v("RFC 9051 6.4.4.4", [b"A300 OK SEARCH completed"])
_v(
    "RFC 9051 6.4.4.4",
    [
        b'* ESEARCH (TAG "A301") UID ALL 17,900,901',
        b"A301 OK completed",
    ],
)
_v("RFC 9051 6.4.4.4", [b"P282 OK SEARCH completed"])
_v(
    "RFC 9051 6.4.4.4",
    [
        b'* ESEARCH (TAG "P283") ALL 882,1102,3003,3005:3006',
        b"P283 OK completed",
    ],
)
_v("RFC 9051 6.4.4.4", [b"B282 OK SEARCH completed"])
_v(
    "RFC 9051 6.4.4.4",
    [b"B283 NO [BADCHARSET UTF-8] KOI8-R is not supported"],
    note="BADCHARSET with a charset list written WITHOUT parentheses. "
    'RFC 9051 ABNF: "BADCHARSET" [SP "(" charset *(SP charset) ")"] '
    "-- so this example does not match its own grammar (same text is in "
    "RFC 5182).  Lenient parsers may accept it.",
)
_v(
    "RFC 9051 6.4.4.4",
    [
        b"E282 OK SEARCH completed",
        b"E283 OK COPY completed, nothing copied",
    ],
)
_v(
    "RFC 9051 6.4.4.4",
    [
        b"F282 OK SEARCH completed",
        b"F283 OK COPY completed",
        b"F284 OK STORE completed",
    ],
)
_v(
    "RFC 9051 6.4.4.4",
    [
        b'* ESEARCH (TAG "G283") ALL 3:15,27,29:103',
        b"G283 OK SEARCH completed",
        b"G282 OK SEARCH completed",
    ],
    note="Tagged completions out of command order.",
)
_v(
    "RFC 9051 6.4.4.4",
    [
        b"H282 OK SEARCH completed",
        b"H283 OK SEARCH completed",
    ],
)
_v(
    "RFC 9051 6.4.4.4",
    [
        b'* ESEARCH (TAG "C283") ALL 2,10:15,21',
        b"C282 OK SEARCH completed",
    ],
    note="KNOWN TEXT DEFECT: response to command C282 carries "
    '(TAG "C283") -- the ESEARCH correlator does not match the command '
    "tag (inherited from RFC 5182).  A client correlating ESEARCH by TAG "
    "would mis-attribute it.",
)
_v(
    "RFC 9051 6.4.4.4",
    [
        b'* ESEARCH (TAG "C283") ALL 2,10:15,21',
        b"C283 OK SEARCH completed",
    ],
)
_v(
    "RFC 9051 6.4.4.4",
    [
        b'* ESEARCH (TAG "C284") MIN 2',
        b"C284 OK SEARCH completed",
    ],
)
_v(
    "RFC 9051 6.4.4.4",
    [
        b'* ESEARCH (TAG "C285") MIN 2 MAX 21',
        b"C285 OK SEARCH completed",
    ],
)
_v(
    "RFC 9051 6.4.4.4",
    [
        b'* ESEARCH (TAG "C286") MIN 2 MAX 21 COUNT 8',
        b"C286 OK SEARCH completed",
    ],
)
_v(
    "RFC 9051 6.4.4.4",
    [
        b'* ESEARCH (TAG "C286") MIN 2 ALL 2,10:15,21',
        b"C286 OK SEARCH completed",
    ],
    note="The RFC reuses tag C286 for a second command (probably meant "
    "C287); harmless for a parser, but a client tracking tags sees a "
    "duplicate.",
)
_v(
    "RFC 9051 6.4.5",
    [
        b"* 2 FETCH ....",
        b"* 3 FETCH ....",
        b"* 4 FETCH ....",
        b"A654 OK FETCH completed",
    ],
    note="NOT-WIRE: '....' is an elision in the RFC.",
)
_v(
    "RFC 9051 6.4.6",
    [
        rb"* 2 FETCH (FLAGS (\Deleted \Seen))",
        rb"* 3 FETCH (FLAGS (\Deleted))",
        rb"* 4 FETCH (FLAGS (\Deleted \Flagged \Seen))",
        b"A003 OK STORE completed",
    ],
)
_v(
    "RFC 9051 6.4.7",
    [
        b"A003 OK [COPYUID 38505 304,319:320 3956:3958] COPY completed",
    ],
)
_v(
    "RFC 9051 6.4.8",
    [
        b"* OK [COPYUID 432432 42:69 1202:1229]",
        b"* 22 EXPUNGE",
        b"a OK Done",
    ],
    note="UID MOVE.  The RFC elides further EXPUNGEs ('...More EXPUNGE "
    "responses...').  '* OK [COPYUID ...]' has no human-readable text "
    "and no SP after ']' -- strictly invalid even under RFC 9051 "
    "resp-text (SP required after ']'); leniency test.",
)
_v(
    "RFC 9051 6.4.9",
    [
        b"* 3 EXPUNGE",
        b"* 3 EXPUNGE",
        b"* 3 EXPUNGE",
        b"A003 OK UID EXPUNGE completed",
    ],
)
_v(
    "RFC 9051 6.4.9",
    [
        rb"* 23 FETCH (FLAGS (\Seen) UID 4827313)",
        rb"* 24 FETCH (FLAGS (\Seen) UID 4827943)",
        rb"* 25 FETCH (FLAGS (\Seen) UID 4828442)",
        b"A999 OK UID FETCH completed",
    ],
)
_v(
    "RFC 9051 6.5",
    [
        b"* CAPABILITY IMAP4rev2 XPIG-LATIN",
        b"a441 OK CAPABILITY completed",
    ],
)
_v(
    "RFC 9051 6.5",
    [
        b"* XPIG-LATIN ow-nay eaking-spay ig-pay atin-lay",
        b"A442 OK XPIG-LATIN ompleted-cay",
    ],
)

# ---------------------------------------------------------------------------
# RFC 9051 -- section 7 examples
# ---------------------------------------------------------------------------
_v("RFC 9051 7.1", [b'o356 NO [ALREADYEXISTS] Mailbox "that" already exists'])
_v("RFC 9051 7.1", [b"b NO [AUTHENTICATIONFAILED] Authentication failed"])
_v("RFC 9051 7.1", [b"c1 NO [AUTHORIZATIONFAILED] No such authorization-ID"])
_v("RFC 9051 7.1", [b"c2 NO [AUTHORIZATIONFAILED] Authenticator is not an admin"])
_v("RFC 9051 7.1", [b"l NO [CANNOT] Adjacent slashes are not supported"])
_v("RFC 9051 7.1", [b"k1 OK [READ-ONLY] Done"])
_v("RFC 9051 7.1", [b"k2 OK [CLIENTBUG] Done"])
_v(
    "RFC 9051 7.1",
    [b"e NO [CONTACTADMIN]"],
    note="Response code with NO human-readable text and no SP after ']'. "
    "Invalid under RFC 3501 resp-text (text required); under RFC 9051 "
    '(resp-text = ["[" resp-text-code "]" SP] [text]) the SP after '
    "']' is still required.  Leniency test.",
)
_v("RFC 9051 7.1", [b"i NO [CORRUPTION] Cannot open mailbox"])
_v("RFC 9051 7.1", [b"d NO [EXPIRED] That password isn't valid any more"])
_v(
    "RFC 9051 7.1",
    [
        b'* ESEARCH (TAG "h") ALL 1:3,5,8,13,21,42',
        b"h OK [EXPUNGEISSUED] Search completed",
    ],
)
_v(
    "RFC 9051 7.1",
    [
        b'o356 NO [HASCHILDREN] Mailbox "Notes" has children that need to be deleted first',
    ],
    note="KNOWN TEXT DEFECT: the client command is tagged 'm356' but the "
    "response is tagged 'o356' (copy/paste from the ALREADYEXISTS "
    "example, whose tag is o356; RFC 5530 has no HASCHILDREN example).  "
    "The line is printed wrapped before "
    "'that need...' (editorial); joined with one space.",
)
_v("RFC 9051 7.1", [b"g NO [INUSE] Mailbox in use"])
_v("RFC 9051 7.1", [b"m NO [LIMIT] At most 32 flags in one mailbox supported"])
_v("RFC 9051 7.1", [b"p NO [NONEXISTENT] No such mailbox"])
_v("RFC 9051 7.1", [b"f NO [NOPERM] Access denied"])
_v("RFC 9051 7.1", [b"n1 NO [OVERQUOTA] Sorry"])
_v("RFC 9051 7.1", [b"n2 OK [OVERQUOTA] You are now over your soft quota"])
_v("RFC 9051 7.1", [b"d NO [PRIVACYREQUIRED] Connection offers no privacy"])
_v("RFC 9051 7.1", [b"d NO [PRIVACYREQUIRED] Connection offers no privacy"])
_v("RFC 9051 7.1", [b"j NO [SERVERBUG] This should not happen"])
_v("RFC 9051 7.1", [b"a NO [UNAVAILABLE] User's backend down for maintenance"])
_v("RFC 9051 7.1.1", [b"* OK IMAP4rev2 server ready"], note="Greeting.")
_v(
    "RFC 9051 7.1.1",
    [
        b"* OK [ALERT] System shutdown in 10 minutes",
        b"A001 OK LOGIN Completed",
    ],
)
_v(
    "RFC 9051 7.1.2",
    [
        b"* NO Disk is 98% full, please delete unnecessary data",
        b"A222 OK COPY completed",
    ],
)
_v(
    "RFC 9051 7.1.2",
    [
        b"* NO Disk is 98% full, please delete unnecessary data",
        b"* NO Disk is 99% full, please delete unnecessary data",
        b"A223 NO COPY failed: disk is full",
    ],
)
_v("RFC 9051 7.1.3", [b"* BAD Command line too long"])
_v("RFC 9051 7.1.3", [b"* BAD Empty command line"])
_v(
    "RFC 9051 7.1.3",
    [
        b"* BAD Disk crash, attempting salvage to a new disk!",
        b"* OK Salvage successful, no data lost",
        b"A443 OK Expunge completed",
    ],
)
_v("RFC 9051 7.1.4", [b"* PREAUTH IMAP4rev2 server logged in as Smith"], note="Greeting.")
_v("RFC 9051 7.1.5", [b"* BYE Autologout; idle for too long"])
_v("RFC 9051 7.2.1", [b"* ENABLED CONDSTORE QRESYNC"])
_v(
    "RFC 9051 7.2.2",
    [
        b"* CAPABILITY STARTTLS AUTH=GSSAPI IMAP4rev2 LOGINDISABLED XPIG-LATIN",
    ],
    note="Printed wrapped before XPIG-LATIN (editorial); joined with one "
    "space.  IMAP4rev2 is not the first capability (allowed).",
)
_v("RFC 9051 7.3.1", [rb'* LIST (\Noselect) "/" ~/Mail/foo'])
_v(
    "RFC 9051 7.3.1",
    [
        rb'* LIST (\Marked) ":" Tables (tablecloth (("edge" "lacy") ("color" "red")) Sample "text")',
        b'* LIST () ":" Tables:new (tablecloth ("edge" "lacy") Sample ("text" "more text"))',
    ],
    note="LIST with generic extended data (tagged-ext-val), example taken "
    "over from RFC 5258.  Both lines are printed wrapped (editorial) and "
    'joined with one space; the SP between \'("edge" "lacy")\' and '
    '\'("color" "red")\' is required by tagged-ext-comp.  Unsolicited '
    "extension tags ('tablecloth', 'Sample') must be skipped by clients.",
)
_v("RFC 9051 7.3.2", [b'* NAMESPACE (("" "/")) (("~" "/")) NIL'])
_v(
    "RFC 9051 7.3.3",
    [b"* STATUS blurdybloop (MESSAGES 231 UIDNEXT 44292)"],
    note="RFC 9051 has no STATUS example using SIZE or DELETED (they appear "
    "only in the status-att-val ABNF); see RFC 8438 entries for SIZE.",
)
_v(
    "RFC 9051 7.3.4",
    [b"* ESEARCH UID COUNT 17 ALL 4:18,21,28"],
    note="ESEARCH without search correlator (unsolicited / not tied to a tag).",
)
_v("RFC 9051 7.3.4", [b'* ESEARCH (TAG "a567") UID COUNT 17 ALL 4:18,21,28'])
_v("RFC 9051 7.3.4", [b"* ESEARCH COUNT 18 ALL 1:17,21"])
_v("RFC 9051 7.3.5", [rb"* FLAGS (\Answered \Flagged \Deleted \Seen \Draft)"])
_v("RFC 9051 7.4.1", [b"* 23 EXISTS"])
_v("RFC 9051 7.5.1", [b"* 44 EXPUNGE"])
_v("RFC 9051 7.5.2", [rb"* 23 FETCH (FLAGS (\Seen) RFC822.SIZE 44827 UID 447)"])
_v(
    "RFC 9051 7.6",
    [
        b"+ Ready for additional command text",
        b"+ Ready for additional command text",
        b"A001 OK LOGIN completed",
    ],
)
_v("RFC 9051 7.6", [b'A044 BAD No such command as "BLURDYBLOOP"'])

# ---------------------------------------------------------------------------
# RFC 9051 -- section 8 sample connection
# ---------------------------------------------------------------------------
_v(
    "RFC 9051 8",
    [
        b"* OK [CAPABILITY STARTTLS AUTH=SCRAM-SHA-256 LOGINDISABLED IMAP4rev2]"
        b" IMAP4rev2 Service Ready",
    ],
    note="Greeting; printed wrapped before 'IMAP4rev2]' (editorial), joined with one space.",
)
_v("RFC 9051 8", [b"a000 OK Proceed with TLS negotiation"])
_v(
    "RFC 9051 8",
    [
        b"+ cj1yT3ByTkdmd0ViZVJXZ2JORWtxTyVodllEcFdVYTJSYVRDQWZ1eEZJbGopaE"
        b"5sRiRrMCxzPVcyMlphSjBTTlk3c29Fc1VFamI2Z1E9PSxpPTQwOTY=",
        b"+ dj02cnJpVFJCaTIzV3BSUi93dHVwK21NaFVaVW4vZEI1bkxUSlJzamw5NUc0PQ==",
        b"A001 OK SCRAM-SHA-256 authentication successful",
    ],
    note="SCRAM-SHA-256 challenges; the base64 is broken over two printed "
    "lines (editorial) and joined with no separator.  Decodes to "
    "'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
    "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096' and "
    "'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=' (checked).",
)
_v(
    "RFC 9051 8",
    [
        b"* ENABLED IMAP4rev2",
        b"babc OK Some capabilities enabled",
    ],
)
_v(
    "RFC 9051 8",
    [
        b"* 18 EXISTS",
        rb"* FLAGS (\Answered \Flagged \Deleted \Seen \Draft)",
        b"* OK [UIDVALIDITY 3857529045] UIDs valid",
        b'* LIST () "/" INBOX ("OLDNAME" ("inbox"))',
        b"a002 OK [READ-WRITE] SELECT completed",
    ],
    note="LIST with OLDNAME extended item (client selected 'inbox').  The "
    "sample omits PERMANENTFLAGS and UIDNEXT although 6.3.2 lists them "
    "as REQUIRED.",
)
_v(
    "RFC 9051 8",
    [
        rb"* 12 FETCH (FLAGS (\Seen) INTERNALDATE"
        rb' "17-Jul-1996 02:44:25 -0700" RFC822.SIZE 4286 ENVELOPE ('
        rb'"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)"'
        rb' "IMAP4rev2 WG mtg summary and minutes"'
        rb' (("Terry Gray" NIL "gray" "cac.washington.edu"))'
        rb' (("Terry Gray" NIL "gray" "cac.washington.edu"))'
        rb' (("Terry Gray" NIL "gray" "cac.washington.edu"))'
        rb' ((NIL NIL "imap" "cac.washington.edu"))'
        rb' ((NIL NIL "minutes" "CNRI.Reston.VA.US")'
        rb'("John Klensin" NIL "KLENSIN" "MIT.EDU")) NIL NIL'
        rb' "<B27397-0100000@cac.washington.ed>")'
        rb' BODY ("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT"'
        rb" 3028 92))",
        b"a003 OK FETCH completed",
    ],
    note="FETCH FULL, printed over 14 lines ('broken for editorial "
    "clarity').  Re-joined with one SP except (a) after 'ENVELOPE (' "
    "(the RFC breaks right after the open paren; a one-space join "
    "would give '( \"Wed...' which the ABNF forbids) and (b) between "
    "the two cc addresses (no SP between addresses in env-cc).  "
    "KNOWN TEXT DEFECT: the envelope message-id is "
    "'<B27397-0100000@cac.washington.ed>' (truncated 'ed') while the "
    "header literal fetched next says '...washington.edu>'; kept "
    "verbatim.",
)
_v(
    "RFC 9051 8",
    [
        b"* 12 FETCH (BODY[HEADER] {342}"
        + CRLF
        + b"Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)"
        + CRLF
        + b"From: Terry Gray <gray@cac.washington.edu>"
        + CRLF
        + b"Subject: IMAP4rev2 WG mtg summary and minutes"
        + CRLF
        + b"To: imap@cac.washington.edu"
        + CRLF
        + b"cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>"
        + CRLF
        + b"Message-Id: <B27397-0100000@cac.washington.edu>"
        + CRLF
        + b"MIME-Version: 1.0"
        + CRLF
        + b"Content-Type: TEXT/PLAIN; CHARSET=US-ASCII"
        + CRLF
        + CRLF
        + b")",
        b"a004 OK FETCH completed",
    ],
    note="Literal {342}: 8 header lines + blank line with CRLFs = 342 octets "
    "(checked; 'IMAP4rev2' has the same length as 'IMAP4rev1').  The "
    "closing ')' follows the literal directly on the wire.",
)
_v(
    "RFC 9051 8",
    [
        rb"* 12 FETCH (FLAGS (\Seen \Deleted))",
        b"a005 OK +FLAGS completed",
    ],
)
_v(
    "RFC 9051 8",
    [
        b"* BYE IMAP4rev2 server terminating connection",
        b"a006 OK LOGOUT completed",
    ],
)

# ---------------------------------------------------------------------------
# RFC 2177 (IDLE)
# ---------------------------------------------------------------------------
_v(
    "RFC 2177 3",
    [
        b"* FLAGS (Deleted Seen)",
        b"* 3 EXISTS",
        b"* 0 RECENT",
        b"* OK [UIDVALIDITY 1]",
        b"A001 OK SELECT completed",
    ],
    note="KNOWN TEXT DEFECTS: (1) '* FLAGS (Deleted Seen)' lacks the "
    "backslashes, so as written these are keywords 'Deleted'/'Seen', "
    "not the system flags \\Deleted/\\Seen (RFC 9051 6.3.13 reprints "
    "the example with backslashes).  (2) '* OK [UIDVALIDITY 1]' has "
    "no resp-text text, which RFC 2060/3501 require (text = 1*TEXT-CHAR).",
)
_v(
    "RFC 2177 3",
    [
        b"+ idling",
        b"* 4 EXISTS",
        b"A002 OK IDLE terminated",
    ],
)
_v(
    "RFC 2177 3",
    [
        b"* 4 FETCH (...)",
        b"A003 OK FETCH completed",
    ],
    note="NOT-WIRE: '(...)' is an elision.",
)
_v(
    "RFC 2177 3",
    [
        b"* 2 EXPUNGE",
        b"* 3 EXISTS",
        b"+ idling",
        b"* 3 EXPUNGE",
        b"* 2 EXISTS",
        b"* 3 EXISTS",
        b"A004 OK IDLE terminated",
    ],
)
_v(
    "RFC 2177 3",
    [
        b"* 3 FETCH (...)",
        b"A005 OK FETCH completed",
    ],
    note="NOT-WIRE: '(...)' is an elision.",
)

# ---------------------------------------------------------------------------
# RFC 4315 (UIDPLUS)
# ---------------------------------------------------------------------------
_v(
    "RFC 4315 2.1",
    [
        b"* 3 EXPUNGE",
        b"* 3 EXPUNGE",
        b"* 3 EXPUNGE",
        b"A003 OK UID EXPUNGE completed",
    ],
)
_v(
    "RFC 4315 3",
    [b"A003 OK [APPENDUID 38505 3955] APPEND completed"],
    note="KNOWN TEXT DEFECT: the client sends a synchronizing literal {297} "
    "but the example shows no '+' continuation from the server before "
    "the literal data (RFC 9051 6.3.12 reprints it as {297+}).  The "
    "count itself is consistent (297 octets, the last empty C: line "
    "being the command's terminating CRLF).",
)
_v("RFC 4315 3", [b"A004 OK [COPYUID 38505 304,319:320 3956:3958] Done"])
_v("RFC 4315 3", [b"A005 OK No matching messages, so nothing copied"])
_v("RFC 4315 3", [b"A006 OK Done"])
_v(
    "RFC 4315 3",
    [
        b"* 1 EXISTS",
        b"* 1 RECENT",
        b"* OK [UNSEEN 1] Message 1 is first unseen",
        b"* OK [UIDVALIDITY 3857529045] Validity session-only",
        b"* OK [UIDNEXT 2] Predicted next UID",
        b"* NO [UIDNOTSTICKY] Non-persistent UIDs",
        rb"* FLAGS (\Answered \Flagged \Deleted \Seen \Draft)",
        rb"* OK [PERMANENTFLAGS (\Deleted \Seen)] Limited",
        b"A007 OK [READ-WRITE] SELECT completed",
    ],
)

# ---------------------------------------------------------------------------
# RFC 4731 (ESEARCH)
# ---------------------------------------------------------------------------
_v(
    "RFC 4731 3.1",
    [
        b'* ESEARCH (TAG "A282") MIN 2 COUNT 3',
        b"A282 OK SEARCH completed",
    ],
)
_v(
    "RFC 4731 3.1",
    [
        b'* ESEARCH (TAG "A283") ALL 2,10:11',
        b"A283 OK SEARCH completed",
    ],
)
_v(
    "RFC 4731 3.1",
    [
        b'* ESEARCH (TAG "A284") MIN 4',
        b"A284 OK SEARCH completed",
    ],
)
_v(
    "RFC 4731 3.1",
    [
        b'* ESEARCH (TAG "A285") UID MIN 7 MAX 3800',
        b"A285 OK SEARCH completed",
    ],
)
_v(
    "RFC 4731 3.1",
    [
        b'* ESEARCH (TAG "A286") COUNT 15',
        b"A286 OK SEARCH completed",
    ],
)
_v(
    "RFC 4731 3.2",
    [
        b'* ESEARCH (TAG "a1") MIN 2 MODSEQ 917162488',
        b"a1 OK Search complete",
    ],
    note="ESEARCH with CONDSTORE MODSEQ return data.",
)
_v(
    "RFC 4731 3.2",
    [
        b'* ESEARCH (TAG "a2") MAX 23 MODSEQ 907162321',
        b"a2 OK Search complete",
    ],
)
_v(
    "RFC 4731 3.2",
    [
        b'* ESEARCH (TAG "a3") MIN 2 MAX 23 MODSEQ 917162488',
        b"a3 OK Search complete",
    ],
)
_v(
    "RFC 4731 3.2",
    [
        b'* ESEARCH (TAG "a4") MIN 2 COUNT 10 MODSEQ 917162500',
        b"a4 OK Search complete",
    ],
)

# ---------------------------------------------------------------------------
# RFC 5161 (ENABLE)
# ---------------------------------------------------------------------------
_v(
    "RFC 5161 3.1",
    [
        b"* CAPABILITY IMAP4rev1 ID LITERAL+ ENABLE X-GOOD-IDEA",
        b"t1 OK foo",
    ],
)
_v(
    "RFC 5161 3.1",
    [
        b"* ENABLED X-GOOD-IDEA",
        b"t2 OK foo",
    ],
    note="Reply to 'ENABLE CONDSTORE X-GOOD-IDEA'.",
)
_v(
    "RFC 5161 3.1",
    [
        b"* CAPABILITY IMAP4rev1 ID LITERAL+ ENABLE X-GOOD-IDEA",
        b"t3 OK foo again",
    ],
)
_v(
    "RFC 5161 3.1",
    [
        b"* ENABLED CONDSTORE",
        b"a1 OK Conditional Store enabled",
    ],
)

# ---------------------------------------------------------------------------
# RFC 6154 (SPECIAL-USE)
# ---------------------------------------------------------------------------
_v(
    "RFC 6154 5.1",
    [
        rb'* LIST (\Marked \HasNoChildren) "/" Inbox',
        rb'* LIST (\HasNoChildren) "/" ToDo',
        rb'* LIST (\HasChildren) "/" Projects',
        rb'* LIST (\Sent \HasNoChildren) "/" SentMail',
        rb'* LIST (\Marked \Drafts \HasNoChildren) "/" MyDrafts',
        rb'* LIST (\Trash \HasNoChildren) "/" Trash',
        b"t1 OK done",
    ],
    note="Mailbox 'Inbox' in mixed case (INBOX is case-insensitive).",
)
_v(
    "RFC 6154 5.2",
    [
        b"* CAPABILITY IMAP4rev1 SPECIAL-USE",
        b"t1 OK done",
    ],
)
_v(
    "RFC 6154 5.2",
    [
        rb'* LIST (\Marked) "/" Inbox',
        b'* LIST () "/" ToDo',
        b'* LIST () "/" Projects',
        rb'* LIST (\Sent) "/" SentMail',
        rb'* LIST (\Marked \Drafts) "/" MyDrafts',
        rb'* LIST (\Trash) "/" Trash',
        b"t2 OK done",
    ],
    note="LIST ... RETURN (SPECIAL-USE).",
)
_v(
    "RFC 6154 5.2",
    [
        rb'* LIST (\Sent) "/" SentMail',
        rb'* LIST (\Marked \Drafts) "/" MyDrafts',
        rb'* LIST (\Trash) "/" Trash',
        b"t3 OK done",
    ],
    note="LIST (SPECIAL-USE) selection option.",
)
_v(
    "RFC 6154 5.3",
    [
        b"* CAPABILITY IMAP4rev1 CREATE-SPECIAL-USE",
        b"t1 OK done",
    ],
)
_v("RFC 6154 5.3", [b"t2 OK MySpecial created"])
_v(
    "RFC 6154 5.3",
    [rb"t3 NO [USEATTR] \All not supported"],
    note="USEATTR response code; human text starts with a backslash.",
)
_v(
    "RFC 6154 5.4",
    [
        rb'* LIST (\Sent) "/" SentMail',
        rb'* LIST (\Drafts) "/" MyDrafts',
        b'* LIST () "/" SavedDrafts',
        rb'* LIST (\Trash) "/" Trash',
        b"t1 OK done",
    ],
)
_v(
    "RFC 6154 5.4",
    [
        rb'* METADATA "MyDrafts" (/private/specialuse "\\Drafts")',
        b"t2 OK done",
    ],
    note="METADATA (RFC 5464) response; the quoted value contains an "
    "escaped backslash (decodes to \\Drafts).",
)
_v(
    "RFC 6154 5.4",
    [
        b'* METADATA "MyDrafts" (/private/specialuse NIL)',
        b"t3 OK SETMETADATA complete",
    ],
    note="Unsolicited METADATA change notification.",
)
_v("RFC 6154 5.4", [b"t4 OK SETMETADATA complete"])
_v(
    "RFC 6154 5.4",
    [
        b'* LIST () "/" SentMail',
        b'* LIST () "/" MyDrafts',
        rb'* LIST (\Drafts) "/" SavedDrafts',
        rb'* LIST (\Trash) "/" Trash',
        b"t5 OK done",
    ],
)

# ---------------------------------------------------------------------------
# RFC 5530 (IMAP Response Codes)
# ---------------------------------------------------------------------------
_v("RFC 5530 3", [b"a NO [UNAVAILABLE] User's backend down for maintenance"])
_v("RFC 5530 3", [b"b NO [AUTHENTICATIONFAILED] Authentication failed"])
_v("RFC 5530 3", [b"c1 NO [AUTHORIZATIONFAILED] No such authorization-ID"])
_v("RFC 5530 3", [b"c2 NO [AUTHORIZATIONFAILED] Authenticator is not an admin"])
_v("RFC 5530 3", [b"d NO [EXPIRED] That password isn't valid any more"])
_v("RFC 5530 3", [b"d NO [PRIVACYREQUIRED] Connection offers no privacy"])
_v("RFC 5530 3", [b"d NO [PRIVACYREQUIRED] Connection offers no privacy"])
_v(
    "RFC 5530 3",
    [b"e OK [CONTACTADMIN]"],
    note="As printed in RFC 5530 the status is OK (RFC 9051 7.1 reprints it "
    "as 'e NO [CONTACTADMIN]'); a failed login with OK is clearly a "
    "text defect.  Also no human-readable text after the code, which "
    "RFC 3501's resp-text requires -- leniency test.",
)
_v("RFC 5530 3", [b"f NO [NOPERM] Access denied"])
_v("RFC 5530 3", [b"g NO [INUSE] Mailbox in use"])
_v(
    "RFC 5530 3",
    [
        b"* SEARCH 1 2 3 5 8 13 21 42",
        b"h OK [EXPUNGEISSUED] Search completed",
    ],
)
_v("RFC 5530 3", [b"i NO [CORRUPTION] Cannot open mailbox"])
_v("RFC 5530 3", [b"j NO [SERVERBUG] This should not happen"])
_v("RFC 5530 3", [b"k1 OK [READ-ONLY] Done"])
_v("RFC 5530 3", [b"k2 OK [CLIENTBUG] Done"])
_v("RFC 5530 3", [b"l NO [CANNOT] Adjacent slashes are not supported"])
_v("RFC 5530 3", [b"m NO [LIMIT] At most 32 flags in one mailbox supported"])
_v("RFC 5530 3", [b"n1 NO [OVERQUOTA] Sorry"])
_v("RFC 5530 3", [b"n2 OK [OVERQUOTA] You are now over your soft quota"])
_v("RFC 5530 3", [b'o NO [ALREADYEXISTS] Mailbox "that" already exists'])
_v("RFC 5530 3", [b"p NO [NONEXISTENT] No such mailbox"])

# ---------------------------------------------------------------------------
# RFC 5819 (LIST-STATUS)
# ---------------------------------------------------------------------------
_v(
    "RFC 5819 3",
    [
        b'* LIST () "."  "INBOX"',
        b'* STATUS "INBOX" (MESSAGES 17 UNSEEN 16)',
        b'* LIST () "." "foo"',
        b'* STATUS "foo" (MESSAGES 30 UNSEEN 29)',
        rb'* LIST (\NoSelect) "." "bar"',
        b"A01 OK List completed.",
    ],
    note='KNOWN TEXT DEFECT: two spaces between "." and "INBOX" in the '
    "first LIST line (kept verbatim; not ABNF-valid).  Same text was "
    "copied into RFC 9051 6.3.9.8 example 11.",
)
_v(
    "RFC 5819 3",
    [
        rb'* LIST (\Subscribed) "."  "INBOX"',
        b'* STATUS "INBOX" (MESSAGES 17)',
        b'* LIST () "." "foo" (CHILDINFO ("SUBSCRIBED"))',
        b"A02 OK List completed.",
    ],
    note='KNOWN TEXT DEFECT: double space before "INBOX" (kept verbatim). '
    "(The client command in the RFC also lacks a space: "
    "'(SUBSCRIBED RECURSIVEMATCH)\"\"'.)",
)

# ---------------------------------------------------------------------------
# RFC 8474 (OBJECTID)
# ---------------------------------------------------------------------------
_v(
    "RFC 8474 4.1",
    [b"3 OK [MAILBOXID (F2212ea87-6097-4256-9d51-71338625)] Completed"],
    note="Numeric tag '3'.",
)
_v("RFC 8474 4.1", [b"4 OK [MAILBOXID (F6352ae03-b7f5-463c-896f-d8b48ee3)] Completed"])
_v("RFC 8474 4.1", [b"5 NO Mailbox already exists"])
_v(
    "RFC 8474 4.2",
    [
        b"* OK [MAILBOXID (F2212ea87-6097-4256-9d51-71338625)] Ok",
        b"27 OK [READ-WRITE] Completed",
    ],
    note="The RFC elides the other SELECT responses with '[...]'.",
)
_v(
    "RFC 8474 4.3",
    [
        b"* STATUS foo (MAILBOXID (F2212ea87-6097-4256-9d51-71338625))",
        b"6 OK Completed",
    ],
)
_v(
    "RFC 8474 4.3",
    [
        b"* STATUS bar (MAILBOXID (F6352ae03-b7f5-463c-896f-d8b48ee3))",
        b"7 OK Completed",
    ],
)
_v(
    "RFC 8474 4.3",
    [
        b"* OK rename foo renamed",
        b"8 OK Completed",
    ],
)
_v(
    "RFC 8474 4.3",
    [
        b"* STATUS renamed (MAILBOXID (F2212ea87-6097-4256-9d51-71338625))",
        b"9 OK Completed",
    ],
)
_v(
    "RFC 8474 4.3",
    [
        b"* STATUS bar (MAILBOXID (F6352ae03-b7f5-463c-896f-d8b48ee3))",
        b"10 OK Completed",
    ],
)
_v(
    "RFC 8474 4.3",
    [
        rb'* LIST (\HasNoChildren) "." INBOX',
        b"* STATUS INBOX (MAILBOXID (Ff8e3ead4-9389-4aff-adb1-d8d89efd8cbf))",
        rb'* LIST (\HasNoChildren) "." bar',
        b"* STATUS bar (MAILBOXID (F6352ae03-b7f5-463c-896f-d8b48ee3))",
        rb'* LIST (\HasNoChildren) "." renamed',
        b"* STATUS renamed (MAILBOXID (F2212ea87-6097-4256-9d51-71338625))",
        b"11 OK Completed (0.001 secs 3 calls)",
    ],
    note="LIST-STATUS combined with MAILBOXID.",
)
_v("RFC 8474 5.3", [b"5 OK [APPENDUID 1521475658 1] Completed"])
_v("RFC 8474 5.3", [b"11 OK [APPENDUID 1521475658 2] Completed"])
_v("RFC 8474 5.3", [b"17 OK [APPENDUID 1521475658 3] Completed"])
_v(
    "RFC 8474 5.3",
    [
        b"* 1 FETCH (EMAILID (M6d99ac3275bb4e) THREADID (T64b478a75b7ea9))",
        b"* 2 FETCH (EMAILID (M288836c4c7a762) THREADID (T64b478a75b7ea9))",
        b"* 3 FETCH (EMAILID (M5fdc09b49ea703) THREADID (T11863d02dd95b5))",
        b"22 OK Completed (0.000 sec)",
    ],
)
_v(
    "RFC 8474 5.3",
    [
        b"* OK [COPYUID 1521475659 2 1] Completed",
        b"* 2 EXPUNGE",
        b"23 OK Completed",
    ],
    note="MOVE with COPYUID in an untagged OK.",
)
_v(
    "RFC 8474 5.3",
    [
        b"* 1 FETCH (EMAILID (M6d99ac3275bb4e) THREADID (T64b478a75b7ea9))",
        b"* 2 FETCH (EMAILID (M5fdc09b49ea703) THREADID (T11863d02dd95b5))",
        b"24 OK Completed (0.000 sec)",
    ],
)
_v(
    "RFC 8474 5.3",
    [b"25 OK [READ-WRITE] Completed"],
    note="The RFC prints the client line 'C: 25 select \"foo\"' twice and "
    "elides the SELECT data with '[...]'.",
)
_v(
    "RFC 8474 5.3",
    [
        b"* 1 FETCH (EMAILID (M288836c4c7a762) THREADID (T64b478a75b7ea9))",
        b"26 OK Completed (0.000 sec)",
    ],
)
_v(
    "RFC 8474 5.3",
    [
        b"* 1 FETCH (EMAILID (M00000001) THREADID NIL)",
        b"* 2 FETCH (EMAILID (M00000002) THREADID NIL)",
        b"26 OK Completed (0.000 sec)",
    ],
    note="Server without THREADID support: THREADID NIL.",
)
_v(
    "RFC 8474 6",
    [
        b"* SEARCH 1",
        b"27 OK Completed (1 msgs in 0.000 secs)",
    ],
)
_v(
    "RFC 8474 6",
    [
        b"* SEARCH 1 2",
        b"28 OK Completed (2 msgs in 0.000 secs)",
    ],
)

# ---------------------------------------------------------------------------
# RFC 7162 (CONDSTORE / QRESYNC)
#   RFC 7162 section 2: "If a single "C:" or "S:" label applies to multiple
#   lines, then the line breaks between those lines are for editorial
#   clarity only" -- such lines are joined with one SP below.
# ---------------------------------------------------------------------------
_NOTEXT = (
    "Status response with a response code but NO human-readable text "
    "(and no SP after ']'): invalid under RFC 3501 (text required); "
    "RFC 9051 makes text optional but still requires the SP.  "
    "Real servers send this; parsers should accept it."
)
_v(
    "RFC 7162 3.1.2.1",
    [
        b"* 172 EXISTS",
        b"* 1 RECENT",
        b"* OK [UNSEEN 12] Message 12 is first unseen",
        b"* OK [UIDVALIDITY 3857529045] UIDs valid",
        b"* OK [UIDNEXT 4392] Predicted next UID",
        rb"* FLAGS (\Answered \Flagged \Deleted \Seen \Draft)",
        rb"* OK [PERMANENTFLAGS (\Deleted \Seen \*)] Limited",
        b"* OK [HIGHESTMODSEQ 715194045007]",
        b"A142 OK [READ-WRITE] SELECT completed",
    ],
    note="Example 1 (HIGHESTMODSEQ).  " + _NOTEXT,
)
_v(
    "RFC 7162 3.1.2.2",
    [
        b"* 172 EXISTS",
        b"* 1 RECENT",
        b"* OK [UNSEEN 12] Message 12 is first unseen",
        b"* OK [UIDVALIDITY 3857529045] UIDs valid",
        b"* OK [UIDNEXT 4392] Predicted next UID",
        rb"* FLAGS (\Answered \Flagged \Deleted \Seen \Draft)",
        rb"* OK [PERMANENTFLAGS (\Deleted \Seen \*)] Limited",
        b"* OK [NOMODSEQ] Sorry, this mailbox format doesn't support modsequences",
        b"A142 OK [READ-WRITE] SELECT completed",
    ],
    note="Example 2 (NOMODSEQ); NOMODSEQ line printed wrapped (editorial), joined with one space.",
)
_v(
    "RFC 7162 3.1.3",
    [
        b"* 1 FETCH (UID 4 MODSEQ (12121231000))",
        b"* 2 FETCH (UID 6 MODSEQ (12121230852))",
        b"* 4 FETCH (UID 8 MODSEQ (12121230956))",
        b"a103 OK Conditional Store completed",
    ],
    note="Example 3: UID STORE ... UNCHANGEDSINCE; FETCH with MODSEQ.",
)
_v(
    "RFC 7162 3.1.3",
    [
        b"* 50 FETCH (MODSEQ (12111230047))",
        b"a104 OK Store (conditional) completed",
    ],
    note="Example 4.",
)
_v(
    "RFC 7162 3.1.3",
    [
        b"* OK [HIGHESTMODSEQ 12111230047]",
        b"* 50 FETCH (MODSEQ (12111230048))",
        b"c101 OK Store (conditional) completed",
    ],
    note="Example 5.  " + _NOTEXT,
)
_v(
    "RFC 7162 3.1.3",
    [
        b"* 5 FETCH (MODSEQ (320162350))",
        b"d105 OK [MODIFIED 7,9] Conditional STORE failed",
    ],
    note="Example 6: MODIFIED response code with a sequence set.",
)
_v(
    "RFC 7162 3.1.3",
    [
        rb"* 7 FETCH (MODSEQ (320162342) FLAGS (\Seen \Deleted))",
        b"* 5 FETCH (MODSEQ (320162350))",
        rb"* 9 FETCH (MODSEQ (320162349) FLAGS (\Answered))",
        b"d105 OK [MODIFIED 7,9] Conditional STORE failed",
    ],
    note="Example 7.",
)
_v("RFC 7162 3.1.3", [b"a102 OK [MODIFIED 12] Conditional STORE failed"], note="Example 8.")
_v(
    "RFC 7162 3.1.3",
    [
        b"* 100 FETCH (MODSEQ (303181230852))",
        b"* 102 FETCH (MODSEQ (303181230852))",
        b"* 150 FETCH (MODSEQ (303181230852))",
        b"a106 OK [MODIFIED 101] Conditional STORE failed",
    ],
    note="Example 9.  The RFC elides the FETCH lines between 102 and 150 with '...'.",
)
_v(
    "RFC 7162 3.1.3",
    [
        b"* 101 FETCH (MODSEQ (303011130956) FLAGS ($Processed))",
        b"a107 OK",
    ],
    note="Example 9.  Tagged 'a107 OK' has no text at all (no SP either): "
    "invalid under RFC 3501 resp-text; valid under RFC 9051 "
    "(resp-text = [...] [text]).  Leniency test.",
)
_v(
    "RFC 7162 3.1.3",
    [
        rb"* 101 FETCH (MODSEQ (303011130956) FLAGS (\Deleted \Answered))",
        b"b107 OK",
    ],
    note="Example 9.  Bare 'b107 OK' (no text) -- leniency test.",
)
_v(
    "RFC 7162 3.1.3",
    [
        b"* 101 FETCH (MODSEQ (303181230852))",
        b"b108 OK Conditional Store completed",
    ],
    note="Example 9 (also repeated verbatim in Example 10).",
)
_v(
    "RFC 7162 3.1.3",
    [
        b"* 100 FETCH (MODSEQ (303181230852))",
        b"* 101 FETCH (MODSEQ (303011130956) FLAGS ($Processed))",
        b"* 102 FETCH (MODSEQ (303181230852))",
        b"* 150 FETCH (MODSEQ (303181230852))",
        b"a106 OK [MODIFIED 101] Conditional STORE failed",
    ],
    note="Example 10 (first variant); '...' elision between 102 and 150.",
)
_v(
    "RFC 7162 3.1.3",
    [
        b"* 100 FETCH (MODSEQ (303181230852))",
        rb"* 101 FETCH (MODSEQ (303011130956) FLAGS (\Deleted \Answered))",
        b"* 102 FETCH (MODSEQ (303181230852))",
        b"* 150 FETCH (MODSEQ (303181230852))",
        b"a106 OK [MODIFIED 101] Conditional STORE failed",
    ],
    note="Example 10 (second variant); '...' elision between 102 and 150.",
)
_v(
    "RFC 7162 3.1.3",
    [
        b"* 100 FETCH (MODSEQ (303181230852))",
        rb"* 101 FETCH (MODSEQ (303011130956) FLAGS ($Processed \Deleted \Answered))",
        b"* 102 FETCH (MODSEQ (303181230852))",
        b"* 150 FETCH (MODSEQ (303181230852))",
        b"a106 OK Conditional STORE completed",
    ],
    note="Example 10 (third variant); the 101 FETCH line is printed wrapped "
    "(editorial), joined with one space; '...' elision between 102 and "
    "150.",
)
_v(
    "RFC 7162 3.1.3",
    [
        rb"* 1 FETCH (MODSEQ (320172342) FLAGS (\SEEN))",
        rb"* 3 FETCH (MODSEQ (320172342) FLAGS (\SEEN))",
        b"B001 NO [MODIFIED 2] Some of the messages no longer exist.",
    ],
    note="Example 11: MODIFIED in a tagged NO.  Flag spelled '\\SEEN' "
    "(upper case; flags are case-insensitive).",
)
_v(
    "RFC 7162 3.1.3",
    [
        b"* 4 EXPUNGE",
        b"* 4 EXPUNGE",
        b"* 4 EXPUNGE",
        b"* 4 EXPUNGE",
        rb"* 2 FETCH (MODSEQ (320172340) FLAGS (\Deleted \Answered))",
        b"B002 OK NOOP Completed.",
    ],
    note="Example 11.",
)
_v(
    "RFC 7162 3.1.3",
    [
        rb"* 2 FETCH (MODSEQ (320180050) FLAGS (\SEEN \Flagged))",
        b"b003 OK Conditional Store completed",
    ],
    note="Example 11.  Semantically odd (not a syntax problem): after "
    "'+FLAGS (\\Seen)' on a message whose flags were "
    "(\\Deleted \\Answered), the result shows (\\SEEN \\Flagged).",
)
_v(
    "RFC 7162 3.1.4.1",
    [
        rb"* 1 FETCH (UID 4 MODSEQ (65402) FLAGS (\Seen))",
        rb"* 2 FETCH (UID 6 MODSEQ (75403) FLAGS (\Deleted))",
        b"* 4 FETCH (UID 8 MODSEQ (29738) FLAGS ($NoJunk $AutoJunk $MDNSent))",
        b"s100 OK FETCH completed",
    ],
    note="Example 12 (CHANGEDSINCE); the UID 8 line is printed wrapped "
    "(editorial), joined with one space.",
)
_v(
    "RFC 7162 3.1.4.2",
    [
        b"* 1 FETCH (MODSEQ (624140003))",
        b"* 2 FETCH (MODSEQ (624140007))",
        b"* 3 FETCH (MODSEQ (624140005))",
        b"a OK Fetch complete",
    ],
    note="Example 13.",
)
_v(
    "RFC 7162 3.1.4.2",
    [
        rb"* FLAGS (\Answered \Flagged \Deleted \Seen \Draft)",
        rb"* OK [PERMANENTFLAGS (\Answered \Deleted \Seen \*)] Limited",
    ],
    note="Example 14, session 1 SELECT -- the RFC elides the rest of the SELECT output with '...'.",
)
_v(
    "RFC 7162 3.1.4.2",
    [
        b"* 7 FETCH (MODSEQ (2121231000))",
        b"A160 OK Store completed",
    ],
    note="Example 14.  KNOWN TEXT DEFECT: MODSEQ 2121231000 here, but the "
    "same change is reported as MODSEQ 12121231000 in sessions 2 and 3 "
    "(missing leading digit).",
)
_v(
    "RFC 7162 3.1.4.2",
    [
        rb"* 7 FETCH (FLAGS (\Deleted \Answered) MODSEQ (12121231000))",
        b"C180 OK Noop completed",
    ],
    note="Example 14, session 2.",
)
_v(
    "RFC 7162 3.1.4.2",
    [
        rb"* 7 FETCH (FLAGS (\Deleted \Answered) MODSEQ (12121231000))",
        b"D210 OK Noop completed",
    ],
    note="Example 14, session 3.",
)
_v(
    "RFC 7162 3.1.4.2",
    [
        b"* 7 FETCH (MODSEQ (12121231777))",
        b"A240 OK Store completed",
    ],
    note="Example 14.",
)
_v(
    "RFC 7162 3.1.4.2",
    [
        rb"* 7 FETCH (FLAGS (\Deleted \Answered \Seen) MODSEQ (12121231777))",
        b"C270 OK Noop completed",
    ],
    note="Example 14; FETCH printed wrapped before '(12121231777))' "
    "(editorial), joined with one space.",
)
_v("RFC 7162 3.1.4.2", [b"D300 OK Noop completed"], note="Example 14.")
_v(
    "RFC 7162 3.1.4.2",
    [
        b"* 7 FETCH (MODSEQ (12121245160))",
        b"A330 OK Store completed",
    ],
    note="Example 14.",
)
_v(
    "RFC 7162 3.1.4.2",
    [
        rb"* 7 FETCH (FLAGS (\Deleted) MODSEQ (12121245160))",
        b"C360 OK Noop completed",
    ],
    note="Example 14.",
)
_v(
    "RFC 7162 3.1.4.2",
    [
        rb"* 7 FETCH (FLAGS (\Deleted) MODSEQ (12121245160))",
        b"D390 OK Noop completed",
    ],
    note="Example 14.",
)
_v(
    "RFC 7162 3.1.5",
    [
        b"* SEARCH 2 5 6 7 11 12 18 19 20 23 (MODSEQ 917162500)",
        b"a OK Search complete",
    ],
    note="Example 15: SEARCH response with trailing (MODSEQ n).",
)
_v(
    "RFC 7162 3.1.5",
    [
        b"* SEARCH",
        b"t OK Search complete, nothing found",
    ],
    note="Example 16: empty SEARCH result, no MODSEQ.",
)
_v(
    "RFC 7162 3.1.7",
    [
        b"* STATUS blurdybloop (MESSAGES 231 UIDNEXT 44292 HIGHESTMODSEQ 7011231777)",
        b"A042 OK STATUS completed",
    ],
    note="Example 17: STATUS HIGHESTMODSEQ; printed wrapped (editorial), joined with one space.",
)
_v(
    "RFC 7162 3.1.8",
    [
        b"* 172 EXISTS",
        b"* 1 RECENT",
        b"* OK [UNSEEN 12] Message 12 is first unseen",
        b"* OK [UIDVALIDITY 3857529045] UIDs valid",
        b"* OK [UIDNEXT 4392] Predicted next UID",
        rb"* FLAGS (\Answered \Flagged \Deleted \Seen \Draft)",
        rb"* OK [PERMANENTFLAGS (\Deleted \Seen \*)] Limited",
        b"* OK [HIGHESTMODSEQ 715194045007]",
        b"A142 OK [READ-WRITE] SELECT completed, CONDSTORE is now enabled",
    ],
    note="Example 18.  " + _NOTEXT,
)
_v(
    "RFC 7162 3.1.10",
    [
        b'* ESEARCH (TAG "a") ALL 1:3,5 MODSEQ 1236',
        b"a OK Extended SEARCH completed",
    ],
    note="Example 19.",
)
_v(
    "RFC 7162 3.1.10",
    [
        b'* ESEARCH (TAG "a") ALL 5,3,2,1 MODSEQ 1236',
        b"a OK Extended SORT completed",
    ],
    note="Example 20 (ESORT): ALL sequence-set in sort order, not ascending.",
)
_v(
    "RFC 7162 3.1.12",
    [
        rb"* 101 FETCH (MODSEQ (303011130956) FLAGS ($Processed \Deleted \Answered))",
    ],
    note="Printed wrapped (editorial); joined with one space.",
)
_v(
    "RFC 7162 3.2.5",
    [
        b"* 464 EXISTS",
        b"* 3 RECENT",
        b"* OK [UIDVALIDITY 3857529045] UIDVALIDITY",
        b"* OK [UIDNEXT 550] Predicted next UID",
        b"* OK [HIGHESTMODSEQ 90060128194045007] Highest mailbox mod-sequence",
        b"* OK [UNSEEN 12] Message 12 is first unseen",
        rb"* FLAGS (\Answered \Flagged \Draft \Deleted \Seen)",
        rb"* OK [PERMANENTFLAGS (\Answered \Flagged \Draft \Deleted \Seen \*)]"
        rb" Permanent flags",
        b"A02 OK [READ-WRITE] Sorry, UIDVALIDITY mismatch",
    ],
    note="QRESYNC SELECT with UIDVALIDITY mismatch.  HIGHESTMODSEQ and "
    "PERMANENTFLAGS lines printed wrapped (editorial), joined with one "
    "space.  HIGHESTMODSEQ value exceeds 32 bits (needs 63-bit "
    "mod-sequence parsing).",
)
_v(
    "RFC 7162 3.2.5.1",
    [
        b"* OK [CLOSED]",
        b"* 100 EXISTS",
        b"* 11 RECENT",
        b"* OK [UIDVALIDITY 67890007] UIDVALIDITY",
        b"* OK [UIDNEXT 600] Predicted next UID",
        b"* OK [HIGHESTMODSEQ 90060115205545359] Highest mailbox mod-sequence",
        b"* OK [UNSEEN 7] There are some unseen messages in the mailbox",
        rb"* FLAGS (\Answered \Flagged \Draft \Deleted \Seen)",
        rb"* OK [PERMANENTFLAGS (\Answered \Flagged \Draft \Deleted \Seen \*)]"
        rb" Permanent flags",
        b"* VANISHED (EARLIER) 41,43:116,118,120:211,214:540",
        rb"* 49 FETCH (UID 117 FLAGS (\Seen \Answered) MODSEQ (90060115194045001))",
        rb"* 50 FETCH (UID 119 FLAGS (\Draft $MDNSent) MODSEQ (90060115194045308))",
        rb"* 51 FETCH (UID 541 FLAGS (\Seen $Forwarded) MODSEQ (90060115194045001))",
        b"A03 OK [READ-WRITE] mailbox selected",
    ],
    note="QRESYNC SELECT: CLOSED, VANISHED (EARLIER), FETCH with UID+MODSEQ. "
    "Several lines printed wrapped (editorial), joined with one space. "
    "'* OK [CLOSED]' has no text -- " + _NOTEXT,
)
_v(
    "RFC 7162 3.2.5.2",
    [
        b"* 10003 EXISTS",
        b"* 4 RECENT",
        b"* OK [UIDVALIDITY 67890007] UIDVALIDITY",
        b"* OK [UIDNEXT 30013] Predicted next UID",
        b"* OK [HIGHESTMODSEQ 90060115205545359] Highest mailbox mod-sequence",
        b"* OK [UNSEEN 7] There are some unseen messages in the mailbox",
        rb"* FLAGS (\Answered \Flagged \Draft \Deleted \Seen)",
        rb"* OK [PERMANENTFLAGS (\Answered \Flagged \Draft \Deleted \Seen \*)]"
        rb" Permanent flags",
        b"* VANISHED (EARLIER) 1:2,4:5,7:8,10:11,13:14,[...],29668:29669,29671:29996",
        rb"* 1 FETCH (UID 3 FLAGS (\Seen \Answered $Important) MODSEQ (90060115194045001))",
        rb"* 9889 FETCH (UID 29667 FLAGS (\Seen \Answered) MODSEQ (90060115194045027))",
        rb"* 9890 FETCH (UID 29670 FLAGS (\Draft $MDNSent) MODSEQ (90060115194045028))",
        rb"* 9999 FETCH (UID 29997 FLAGS (\Seen $Forwarded) MODSEQ (90060115194045031))",
        b"A04 OK [READ-WRITE] mailbox selected",
    ],
    note="NOT-WIRE: the VANISHED (EARLIER) UID set contains the elision "
    "'[...]' (and the RFC omits FETCH lines with 'S: ...'); all other "
    "lines are valid.  Wrapped lines joined with one space (the "
    "VANISHED set is joined with nothing after the ',').",
)
_v(
    "RFC 7162 3.2.5.2",
    [
        b"* 10003 EXISTS",
        b"* 4 RECENT",
        b"* OK [UIDVALIDITY 67890007] UIDVALIDITY",
        b"* OK [UIDNEXT 30013] Predicted next UID",
        b"* OK [HIGHESTMODSEQ 90060115205545359] Highest mailbox mod-sequence",
        b"* OK [UNSEEN 7] There are some unseen messages in the mailbox",
        rb"* FLAGS (\Answered \Flagged \Draft \Deleted \Seen)",
        rb"* OK [PERMANENTFLAGS (\Answered \Flagged \Draft \Deleted \Seen \*)]"
        rb" Permanent flags",
        rb"* 1 FETCH (UID 3 FLAGS (\Seen \Answered $Important) MODSEQ (90060115194045001))",
        rb"* 9889 FETCH (UID 29667 FLAGS (\Seen \Answered) MODSEQ (90060115194045027))",
        rb"* 9890 FETCH (UID 29670 FLAGS (\Draft $MDNSent) MODSEQ (90060115194045028))",
        rb"* 9999 FETCH (UID 29997 FLAGS (\Seen $Forwarded) MODSEQ (90060115194045031))",
        b"B04 OK [READ-WRITE] mailbox selected",
    ],
    note="QRESYNC with sequence match data: no VANISHED needed.  FETCH "
    "lines between are elided in the RFC ('S: ...').  The HIGHESTMODSEQ "
    "text is printed as 'mod-' / 'sequence' across a line break; it is "
    "joined WITHOUT a space ('mod-sequence', as in the A04 example) -- "
    "a naive one-space join would give 'mod- sequence' (harmless, it "
    "is human text).",
)
_v(
    "RFC 7162 3.2.6",
    [
        rb"* 1 FETCH (UID 404 MODSEQ (65402) FLAGS (\Seen))",
        rb"* 2 FETCH (UID 406 MODSEQ (75403) FLAGS (\Deleted))",
        b"* 4 FETCH (UID 408 MODSEQ (29738) FLAGS ($NoJunk $AutoJunk $MDNSent))",
        b"s100 OK FETCH completed",
    ],
    note="Without VANISHED modifier; UID 408 line printed wrapped, joined with one space.",
)
_v(
    "RFC 7162 3.2.6",
    [
        b"* SEARCH 404 406 407 408 410 412",
        b"s101 OK search completed",
    ],
)
_v(
    "RFC 7162 3.2.6",
    [
        b"* VANISHED (EARLIER) 300:310,405,411",
        rb"* 1 FETCH (UID 404 MODSEQ (65402) FLAGS (\Seen))",
        rb"* 2 FETCH (UID 406 MODSEQ (75403) FLAGS (\Deleted))",
        b"* 4 FETCH (UID 408 MODSEQ (29738) FLAGS ($NoJunk $AutoJunk $MDNSent))",
        b"s100 OK FETCH completed",
    ],
    note="UID FETCH ... (CHANGEDSINCE 12345 VANISHED): VANISHED (EARLIER) "
    "before the FETCH responses.",
)
_v(
    "RFC 7162 3.2.7",
    [
        b"* 3 EXPUNGE",
        b"* 3 EXPUNGE",
        b"* 5 EXPUNGE",
        b"* 8 EXPUNGE",
        b"A202 OK [HIGHESTMODSEQ 20010715194045319] expunged",
    ],
    note="HIGHESTMODSEQ in the tagged OK of EXPUNGE.",
)
_v(
    "RFC 7162 3.2.7",
    [
        b"* VANISHED 405,407,410,425",
        b"B202 OK [HIGHESTMODSEQ 20010715194045319] expunged",
    ],
    note="VANISHED without EARLIER (QRESYNC enabled) replaces EXPUNGE.",
)
_v("RFC 7162 3.2.8", [b"A202 OK done"])
_v(
    "RFC 7162 3.2.9",
    [
        b"* 3 EXPUNGE",
        b"* 3 EXPUNGE",
        b"* 3 EXPUNGE",
        b". OK [HIGHESTMODSEQ 20010715194045319] Ok",
    ],
    note="Tag is a single '.' (legal tag character).",
)
_v(
    "RFC 7162 3.2.10.2",
    [
        b"* VANISHED 505,507,510,625",
        b"A202 OK EXPUNGE completed",
    ],
)
_v(
    "RFC 7162 3.2.10.2",
    [
        b"* 3 EXPUNGE",
        b"* 3 EXPUNGE",
        b"* 5 EXPUNGE",
        b"* 8 EXPUNGE",
        b"A202 OK EXPUNGE completed",
    ],
    note="Same expunge without QRESYNC.",
)
_v(
    "RFC 7162 3.2.10.2",
    [
        b"* VANISHED 504,508",
        b"A210 OK EXPUNGE completed",
    ],
)
_v(
    "RFC 7162 3.2.10.2",
    [b"* VANISHED 1"],
    note="Syntactically valid, but given as an example of a BROKEN server "
    "(UID 1 is not in the mailbox, so VANISHED without EARLIER is wrong).",
)
_v(
    "RFC 7162 3.2.10.2",
    [b"* VANISHED 3"],
    note="Syntactically valid; example of a BROKEN server response.",
)
_v(
    "RFC 7162 3.2.10.2",
    [b"* VANISHED 5"],
    note="Syntactically valid; example of a BROKEN server response.",
)
_v(
    "RFC 7162 6",
    [
        b"* 1 FETCH (UID 6 MODSEQ (103))",
        b"* 2 FETCH (UID 7 MODSEQ (101))",
        b"* OK [HIGHESTMODSEQ 99] VANISHED reply with MODSEQ 100 is delayed",
        b"A150 OK [MODIFIED 3] done",
    ],
    note="Untagged OK HIGHESTMODSEQ lower than FETCH MODSEQs (deliberate). "
    "Oddity: the command was 'STORE 1:2' but MODIFIED reports 3, which "
    "was not in the set.",
)
_v(
    "RFC 7162 6",
    [
        b"* 3 FETCH (UID 8 MODSEQ (104))",
        b"A151 OK [HIGHESTMODSEQ 99] Still delaying VANISHED",
    ],
)
_v(
    "RFC 7162 6",
    [
        b"* VANISHED 8",
        b"A153 OK [HIGHESTMODSEQ 104] done",
    ],
    note="KNOWN TEXT DEFECT: the command is tagged A152 (NOOP) but the "
    "completion is tagged A153.  A client matching tags would treat it "
    "as a completion for an unknown command.",
)
_v(
    "RFC 7162 6",
    [
        b"* 172 EXISTS",
        b"* 1 RECENT",
        b"* OK [UNSEEN 12] Message 12 is first unseen",
        b"* OK [UIDVALIDITY 3857529045] UIDs valid",
        b"* OK [UIDNEXT 201] Predicted next UID",
        rb"* FLAGS (\Answered \Flagged \Deleted \Seen \Draft)",
        rb"* OK [PERMANENTFLAGS (\Deleted \Seen \*)] Limited",
        b"* OK [HIGHESTMODSEQ 20010715194045007] Highest mailbox mod-sequence",
        b"* VANISHED (EARLIER) 1:5,7:8,10:15",
        rb"* 2 FETCH (UID 6 MODSEQ (20010715205008000) FLAGS (\Deleted))",
        b"* 5 FETCH (UID 9 MODSEQ (20010715195517000) FLAGS ($NoJunk $AutoJunk $MDNSent))",
        b"A142 OK [READ-WRITE] SELECT completed",
    ],
    note="QRESYNC resync.  Wrapped lines joined with one space; further "
    "FETCHes elided ('...').  Semantic inconsistencies in the RFC text "
    "(syntax is fine): the FETCH MODSEQs (20010715205008000, "
    "20010715195517000) exceed the reported HIGHESTMODSEQ "
    "20010715194045007; and with UIDs 1:5 and 7:8 reported vanished, UID 6 "
    "should be message 1 and UID 9 message 2, not 2 and 5.",
)

# ---------------------------------------------------------------------------
# Gmail IMAP extensions (X-GM-EXT-1)
#   https://developers.google.com/workspace/gmail/imap/imap-extensions
#   (examples on that page are unprefixed transcripts; only the server lines
#   are kept here)
# ---------------------------------------------------------------------------
_v(
    "Gmail imap-extensions: presence of extensions",
    [
        b"* OK Gimap ready for requests from 127.0.0.1 k2if6111336rvb.0",
    ],
    note="Greeting.",
)
_v(
    "Gmail imap-extensions: presence of extensions",
    [
        b"a001 OK username@gmail.com authenticated (Success)",
        b"a001 OK Login successful",
    ],
    note="QUIRK AS DOCUMENTED: two tagged OK completions with the same tag "
    "for a single LOGIN.  A client that retires a tag on its first "
    "completion sees the second as a response to an unknown tag.",
)
_v(
    "Gmail imap-extensions: presence of extensions",
    [
        b"* CAPABILITY IMAP4rev1 UNSELECT LITERAL+ IDLE NAMESPACE QUOTA ID XLIST CHILDREN X-GM-EXT-1",
        b"a002 OK Success",
    ],
)
_v(
    "Gmail imap-extensions: presence of extensions",
    [
        b'* ID ("name" "GImap" "vendor" "Google, Inc." "support-url" '
        b'"http://mail.google.com/support" "remote-host" "127.0.0.1")',
        b"a003 OK Success",
    ],
    note="RFC 2971 ID response.",
)
_v(
    "Gmail imap-extensions: Special-Use LIST",
    [
        rb'* LIST (\HasNoChildren) "/" "INBOX"',
        rb'* LIST (\Noselect \HasChildren) "/" "[Gmail]"',
        rb'* LIST (\HasNoChildren \All) "/" "[Gmail]/All Mail"',
        rb'* LIST (\HasNoChildren \Drafts) "/" "[Gmail]/Drafts"',
        rb'* LIST (\HasNoChildren \Important) "/" "[Gmail]/Important"',
        rb'* LIST (\HasNoChildren \Sent) "/" "[Gmail]/Sent Mail"',
        rb'* LIST (\HasNoChildren \Junk) "/" "[Gmail]/Spam"',
        rb'* LIST (\HasNoChildren \Flagged) "/" "[Gmail]/Starred"',
        rb'* LIST (\HasNoChildren \Trash) "/" "[Gmail]/Trash"',
        b"a004 OK Success",
    ],
    note="\\Important is the RFC 8457 attribute (Gmail Priority Inbox).",
)
_v(
    "Gmail imap-extensions: X-GM-RAW",
    [
        b"* SEARCH 123 12344 5992",
        b"a005 OK SEARCH (Success)",
    ],
)
_v(
    "Gmail imap-extensions: X-GM-MSGID",
    [
        b"* 1 FETCH (X-GM-MSGID 1278455344230334865)",
        b"a006 OK FETCH (Success)",
    ],
    note="X-GM-MSGID is an unsigned 64-bit decimal (exceeds 32 bits).",
)
_v(
    "Gmail imap-extensions: X-GM-MSGID",
    [
        b"* SEARCH 1",
        b"a007 OK SEARCH (Success)",
    ],
)
_v(
    "Gmail imap-extensions: X-GM-THRID",
    [
        b"* 1 FETCH (X-GM-THRID 1278455344230334865)",
        b"* 2 FETCH (X-GM-THRID 1266894439832287888)",
        b"* 3 FETCH (X-GM-THRID 1266894439832287888)",
        b"* 4 FETCH (X-GM-THRID 1266894439832287888)",
        b"a008 OK FETCH (Success)",
    ],
)
_v(
    "Gmail imap-extensions: X-GM-THRID",
    [
        b"* SEARCH 2 3 4",
        b"a009 OK Search (Success)",
    ],
)
_v(
    "Gmail imap-extensions: X-GM-LABELS",
    [
        rb'* 1 FETCH (X-GM-LABELS (\Inbox \Sent Important "Muy Importante"))',
        b"* 2 FETCH (X-GM-LABELS (foo))",
        b"* 3 FETCH (X-GM-LABELS ())",
        rb"* 4 FETCH (X-GM-LABELS (\Drafts))",
        b"a010 OK FETCH (Success)",
    ],
    note="The page says labels are a list of ASTRINGs, but system labels "
    "are sent as backslash-prefixed tokens (\\Inbox, \\Sent, \\Drafts), "
    "which are not valid astrings ('\\' is a quoted-special, not an "
    "ATOM-CHAR): parse them like flags ('\\' atom / astring).  Also an "
    "empty list '()'.",
)
_v(
    "Gmail imap-extensions: X-GM-LABELS",
    [
        rb'* 1 FETCH (X-GM-LABELS (\Inbox \Sent Important "Muy Importante" foo))',
        b"a011 OK STORE (Success)",
    ],
)
_v(
    "Gmail imap-extensions: X-GM-LABELS",
    [
        b"* SEARCH 1 2",
        b"a012 OK SEARCH (Success)",
    ],
)

# ---------------------------------------------------------------------------
# RFC 8438 (STATUS=SIZE) -- added because RFC 9051 itself has no STATUS
# example using SIZE (or DELETED); SIZE is the same item RFC 9051 adopted.
# ---------------------------------------------------------------------------
_v(
    "RFC 8438 3",
    [
        b"* STATUS frop (MESSAGES 8 SIZE 44421 UIDNEXT 242344)",
        b"A01 OK STATUS completed",
    ],
    note="STATUS SIZE (number64).  SIZE 44421 equals the sum of the eight "
    "RFC822.SIZE values in the next example (checked).",
)
_v(
    "RFC 8438 3",
    [
        rb"* FLAGS (\Answered \Flagged \Deleted \Seen \Draft)",
        b"* 8 EXISTS",
        b"* 1 RECENT",
        b"* OK [UNSEEN 7] First unseen.",
        b"* OK [UIDVALIDITY 1364851417] UIDs valid",
        b"* OK [UIDNEXT 242344] Predicted next UID",
        b"* OK [HIGHESTMODSEQ 3914] Highest",
        b"A02 OK [READ-WRITE] Select completed.",
    ],
)
_v(
    "RFC 8438 3",
    [
        b"* 1 FETCH (RFC822.SIZE 3224)",
        b"* 2 FETCH (RFC822.SIZE 1222)",
        b"* 3 FETCH (RFC822.SIZE 444)",
        b"* 4 FETCH (RFC822.SIZE 4516)",
        b"* 5 FETCH (RFC822.SIZE 544)",
        b"* 6 FETCH (RFC822.SIZE 922)",
        b"* 7 FETCH (RFC822.SIZE 31126)",
        b"* 8 FETCH (RFC822.SIZE 2423)",
        b"A03 OK Fetch completed.",
    ],
)
_v(
    "RFC 8438 3",
    [
        b'* LIST () "." "INBOX"',
        b'* STATUS "INBOX" (MESSAGES 17 SIZE 16234)',
        b'* LIST () "." "frop"',
        b'* STATUS "frop" (MESSAGES 8 SIZE 44421)',
        b"A04 OK List completed.",
    ],
    note="LIST-STATUS with SIZE.",
)
