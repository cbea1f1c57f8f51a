"""Hypothesis strategies for response models, and a test-side encoder that writes them.

The encoder is independent of the parser: it writes the RFC 9051 grammar
from the models, choosing between quoted strings and literals at random,
so that parsing its output must give back the model.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

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
    ListData,
    MultiPart,
    NumberCode,
    RecentData,
    Response,
    ResponseCode,
    ResponseStatus,
    SearchData,
    SequenceSet,
    SinglePart,
    StatusData,
    TaggedResponse,
    UntaggedStatus,
    Value,
    VanishedData,
    encode_mutf7,
)

# ---------------------------------------------------------------- leaves

_ATOM_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.$"
numbers = st.integers(min_value=1, max_value=2**63 - 1)
small = st.integers(min_value=0, max_value=2**32 - 1)
atoms = st.text(_ATOM_ALPHABET, min_size=1, max_size=12).filter(
    lambda a: a[0].isalpha() and a.upper() != "NIL"
)
caps = atoms.map(str.upper)


def _text_alphabet(ascii_only: bool) -> st.SearchStrategy[str]:
    if ascii_only:
        return st.characters(min_codepoint=0x20, max_codepoint=0x7E)
    return st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\u2028\u2029")


def human_text(ascii_only: bool = False) -> st.SearchStrategy[str]:
    """resp-text: no CR/LF, no leading '[', no surrounding spaces.

    IMAP4rev1 (and imap-codec, for the ASCII subset) wants at least one character.
    """
    return (
        st.text(_text_alphabet(ascii_only), min_size=1 if ascii_only else 0, max_size=30)
        .map(str.strip)
        .filter(lambda t: not t.startswith("[") and (t or not ascii_only))
    )


def strings(ascii_only: bool = False) -> st.SearchStrategy[bytes]:
    if ascii_only:
        return st.binary(max_size=40).map(lambda b: bytes(c for c in b if 0x20 <= c < 0x7F))
    return st.binary(max_size=40).filter(lambda b: b"\0" not in b)


def nstrings(ascii_only: bool = False) -> st.SearchStrategy[bytes | None]:
    return st.none() | strings(ascii_only)


system_flags = st.sampled_from(["\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft"])
flags = st.lists(system_flags | atoms, max_size=5, unique=True).map(tuple)
mailbox_names = st.text(_text_alphabet(False), min_size=1, max_size=20).filter(
    lambda n: n.upper() != "INBOX"
)


def seqsets(max_value: int = 10**9) -> st.SearchStrategy[SequenceSet]:
    return st.sets(st.integers(min_value=1, max_value=max_value), min_size=1, max_size=20).map(
        SequenceSet.from_ids
    )


# ---------------------------------------------------------------- response codes


def response_codes(ascii_only: bool = False) -> st.SearchStrategy[ResponseCode]:
    plain = st.sampled_from(["ALERT", "PARSE", "READ-ONLY", "READ-WRITE", "TRYCREATE"]).map(
        lambda n: ResponseCode(name=n)
    )
    other = st.tuples(atoms.map(lambda a: "X-" + a.upper()), human_text(True)).map(
        lambda p: ResponseCode(name=p[0], text=p[1].replace("]", "").strip())
    )
    number = st.tuples(st.sampled_from(["UIDNEXT", "UIDVALIDITY", "UNSEEN"]), small).map(
        lambda p: NumberCode(name=p[0], text=str(p[1]), value=p[1])
    )
    capability = st.lists(caps, min_size=1, max_size=6, unique=True).map(
        lambda cs: CapabilityCode(name="CAPABILITY", text=" ".join(cs), capabilities=frozenset(cs))
    )
    permanent = st.lists(system_flags | atoms, max_size=4, unique=True).map(
        lambda fs: FlagsCode(name="PERMANENTFLAGS", text="(" + " ".join(fs) + ")", flags=tuple(fs))
    )
    appenduid = st.tuples(small.filter(bool), st.integers(1, 10**6)).map(
        lambda p: AppendUidCode(
            name="APPENDUID",
            text=f"{p[0]} {p[1]}",
            uidvalidity=p[0],
            uids=SequenceSet(((p[1], p[1]),)),
        )
    )
    copyuid = st.tuples(small.filter(bool), seqsets(), seqsets()).map(
        lambda p: CopyUidCode(
            name="COPYUID",
            text=f"{p[0]} {p[1]} {p[2]}",
            uidvalidity=p[0],
            source=p[1],
            destination=p[2],
        )
    )
    codes = plain | other | number | capability | permanent | appenduid | copyuid
    if not ascii_only:
        codes |= st.builds(
            lambda v: NumberCode(name="HIGHESTMODSEQ", text=str(v), value=v), numbers
        )
    return codes


# ---------------------------------------------------------------- bodies and envelopes


def addresses(ascii_only: bool) -> st.SearchStrategy[tuple[Address, ...]]:
    address = st.builds(
        Address,
        name=nstrings(ascii_only),
        adl=st.none(),
        mailbox=strings(ascii_only),
        host=strings(ascii_only),
    )
    return st.lists(address, max_size=3).map(tuple)


def envelopes(ascii_only: bool = False) -> st.SearchStrategy[Envelope]:
    a = addresses(ascii_only)
    return st.builds(
        Envelope,
        date=nstrings(ascii_only),
        subject=nstrings(ascii_only),
        from_=a,
        sender=a,
        reply_to=a,
        to=a,
        cc=a,
        bcc=a,
        in_reply_to=nstrings(ascii_only),
        message_id=nstrings(ascii_only),
    )


_token = st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=10).filter(
    lambda t: t[0].isalpha() and t not in ("nil",)
)


def params(ascii_only: bool) -> st.SearchStrategy[tuple[tuple[str, str], ...]]:
    value = st.text(_text_alphabet(ascii_only), max_size=15)
    return st.lists(st.tuples(_token, value), max_size=3).map(tuple)


def dispositions(ascii_only: bool) -> st.SearchStrategy[Disposition | None]:
    return st.none() | st.builds(Disposition, type=_token, params=params(ascii_only))


def _maybe_nil(values: st.SearchStrategy[Any], strict: bool) -> st.SearchStrategy[Any]:
    return values if strict else st.none() | values


def _part_fields(ascii_only: bool) -> dict[str, Any]:
    return {
        "params": params(ascii_only),
        "id": nstrings(True),
        "description": nstrings(ascii_only),
        # NIL encoding and size are deviations; the strict (ASCII) subset never sends them.
        "encoding": _maybe_nil(
            st.sampled_from(["7BIT", "8BIT", "BASE64", "QUOTED-PRINTABLE"]), ascii_only
        ),
        "size": _maybe_nil(small, ascii_only),
        "md5": nstrings(True),
        "disposition": dispositions(ascii_only),
        "language": st.lists(_token, max_size=2).map(tuple),
        "location": nstrings(True),
    }


def bodies(
    ascii_only: bool = False, max_leaves: int = 6
) -> st.SearchStrategy[SinglePart | MultiPart]:
    f = _part_fields(ascii_only)
    text_part = st.builds(
        SinglePart, type=st.just("text"), subtype=_token, lines=_maybe_nil(small, ascii_only), **f
    )
    basic_part = st.builds(
        SinglePart, type=_token.filter(lambda t: t not in ("text", "message")), subtype=_token, **f
    )
    mf = {k: f[k] for k in ("params", "disposition", "language", "location")}

    def extend(
        children: st.SearchStrategy[SinglePart | MultiPart],
    ) -> st.SearchStrategy[SinglePart | MultiPart]:
        multipart = st.builds(
            MultiPart,
            parts=st.lists(children, min_size=1, max_size=3).map(tuple),
            subtype=_token,
            **mf,
        )
        message = st.builds(
            SinglePart,
            type=st.just("message"),
            subtype=st.just("rfc822"),
            envelope=envelopes(ascii_only),
            body=children,
            lines=small,
            **f,
        )
        return multipart | message

    return st.recursive(text_part | basic_part, extend, max_leaves=max_leaves)


# ---------------------------------------------------------------- responses

_section_names = st.sampled_from(
    [
        "",
        "TEXT",
        "HEADER",
        "1",
        "1.2",
        "2.MIME",
        "1.HEADER",
        "HEADER.FIELDS (SUBJECT FROM)",
        "HEADER.FIELDS.NOT (X-SPAM)",
    ]
)


def sections(ascii_only: bool) -> st.SearchStrategy[dict[str, bytes | None]]:
    key = st.tuples(_section_names, st.none() | st.integers(0, 10**6)).map(
        lambda p: f"BODY[{p[0]}]" + ("" if p[1] is None else f"<{p[1]}>")
    )
    rfc = st.sampled_from(["RFC822", "RFC822.HEADER", "RFC822.TEXT"])
    if not ascii_only:
        key |= st.sampled_from(["BINARY[1]", "BINARY[2.1]"])
    data = strings(True) if ascii_only else st.binary(max_size=60)
    return st.dictionaries(key | rfc, st.none() | data, max_size=3)


def internaldates() -> st.SearchStrategy[datetime]:
    return st.builds(
        lambda dt, minutes: dt.replace(tzinfo=timezone(timedelta(minutes=minutes)), microsecond=0),
        st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1)),
        st.integers(-12 * 60, 14 * 60),
    )


def fetches(ascii_only: bool = False) -> st.SearchStrategy[FetchData]:
    # NIL in any case reads as NIL (case-insensitive, RFC 9051 9); "NIL" alone,
    # in parentheses, is kept as an object id.
    objectid = st.text(
        _ATOM_ALPHABET.replace("$", "").replace(".", ""), min_size=1, max_size=20
    ).filter(lambda o: o.upper() != "NIL" or o == "NIL")
    fields: dict[str, st.SearchStrategy[Any]] = {
        "uid": numbers.map(lambda n: n % 2**32 or 1),
        "flags": flags,
        "internaldate": internaldates(),
        "rfc822_size": small,
        "envelope": envelopes(ascii_only),
        "body": bodies(ascii_only),
        "bodystructure": bodies(ascii_only),
    }
    if not ascii_only:
        fields |= {
            "modseq": numbers,
            "gm_msgid": numbers,
            "gm_thrid": numbers,
            "gm_labels": st.lists(
                system_flags | mailbox_names.filter(lambda n: not n.startswith("\\")), max_size=3
            ).map(tuple),
            "emailid": objectid,
            "threadid": st.none() | objectid,
        }
    chosen = st.fixed_dictionaries({}, optional=fields)
    known = {"X-GM-MSGID", "X-GM-THRID", "X-GM-LABELS"}
    other = (
        st.just({})
        if ascii_only
        else st.dictionaries(
            atoms.map(lambda a: "X-" + a.upper()).filter(lambda k: k not in known),
            values(),
            max_size=2,
        )
    )
    fetch = st.builds(
        lambda seq, kw, secs, oth: FetchData(seq=seq, sections=secs, other=oth, **kw),
        st.integers(1, 10**6),
        chosen,
        sections(ascii_only),
        other,
    )
    if ascii_only:  # FETCH () is not IMAP4rev1
        fetch = fetch.filter(lambda f: f != FetchData(seq=f.seq))
    return fetch


def values(depth: int = 3) -> st.SearchStrategy[Value]:
    leaf: st.SearchStrategy[Value] = st.none() | small | st.binary(max_size=10) | atoms
    return st.recursive(leaf, lambda inner: st.lists(inner, max_size=3).map(tuple), max_leaves=8)


def lists(ascii_only: bool = False) -> st.SearchStrategy[ListData]:
    attrs_ = st.lists(
        st.sampled_from(
            [
                "\\HasNoChildren",
                "\\HasChildren",
                "\\Noselect",
                "\\Marked",
                "\\Sent",
                "\\Trash",
                "\\Junk",
            ]
        ),
        max_size=3,
        unique=True,
    ).map(tuple)
    name = mailbox_names.filter(lambda n: n.isascii()) if ascii_only else mailbox_names
    extended = (
        st.just(())
        if ascii_only
        else st.lists(
            st.tuples(
                st.binary(min_size=1, max_size=8),
                st.lists(st.binary(max_size=8), max_size=2).map(tuple),
            ),
            max_size=2,
        ).map(tuple)
    )
    return st.builds(
        lambda kind, a, d, n, e: ListData(
            kind=kind, attributes=a, delimiter=d, mailbox=n, raw_mailbox=encode_mutf7(n), extended=e
        ),
        st.sampled_from(["LIST", "LSUB"]),
        attrs_,
        st.none() | st.sampled_from(["/", ".", "\\", "|"]),
        name,
        extended,
    )


_STATUS_ITEMS = [
    "MESSAGES",
    "RECENT",
    "UIDNEXT",
    "UIDVALIDITY",
    "UNSEEN",
    "DELETED",
    "SIZE",
    "HIGHESTMODSEQ",
]


def statuses(ascii_only: bool = False) -> st.SearchStrategy[StatusData]:
    names = _STATUS_ITEMS[:5] if ascii_only else _STATUS_ITEMS
    name = mailbox_names.filter(lambda n: n.isascii()) if ascii_only else mailbox_names
    return st.builds(
        lambda n, items: StatusData(
            mailbox=n,
            raw_mailbox=encode_mutf7(n),
            items=items,
            **{k.lower(): v for k, v in items.items()},
        ),
        name,
        st.dictionaries(st.sampled_from(names), small, max_size=len(names)),
    )


def responses(ascii_only: bool = False) -> st.SearchStrategy[Response]:
    codes = st.none() | response_codes(ascii_only)
    text = human_text(ascii_only)
    tagged = st.builds(
        TaggedResponse,
        tag=atoms,
        status=st.sampled_from([ResponseStatus.OK, ResponseStatus.NO, ResponseStatus.BAD]),
        code=codes,
        text=text,
    )
    untagged_kinds = [ResponseStatus.OK, ResponseStatus.NO, ResponseStatus.BAD, ResponseStatus.BYE]
    untagged = st.builds(
        UntaggedStatus, status=st.sampled_from(untagged_kinds), code=codes, text=text
    )
    data: st.SearchStrategy[Response] = st.one_of(
        tagged,
        untagged,
        st.builds(
            ContinuationRequest,
            data=st.text(_text_alphabet(True), max_size=30).map(
                lambda t: t.strip().lstrip("[").encode()
            ),
        ),
        st.builds(CapabilityData, capabilities=st.frozensets(caps, min_size=1, max_size=8)),
        st.builds(FlagsData, flags=flags),
        lists(ascii_only),
        statuses(ascii_only),
        st.builds(ExistsData, count=small),
        st.builds(RecentData, count=small),
        st.builds(ExpungeData, seq=small.filter(bool)),
        st.builds(SearchData, ids=st.lists(small.filter(bool), max_size=10).map(tuple)),
        fetches(ascii_only),
    )
    if not ascii_only:
        data |= st.one_of(
            st.builds(EnabledData, capabilities=st.frozensets(caps, max_size=4)),
            st.builds(
                SearchData,
                ids=st.lists(small.filter(bool), min_size=1, max_size=10).map(tuple),
                modseq=numbers,
            ),
            st.builds(
                ESearchData,
                tag=st.none() | atoms,
                uid=st.booleans(),
                min=st.none() | small,
                max=st.none() | small,
                count=st.none() | small,
                all=st.none() | seqsets(),
                modseq=st.none() | numbers,
            ),
            st.builds(VanishedData, earlier=st.booleans(), uids=seqsets()),
            st.builds(
                UntaggedStatus, status=st.just(ResponseStatus.PREAUTH), code=codes, text=text
            ),
        )
    return data


# ---------------------------------------------------------------- the encoder

Choose = Callable[[], bool]


class Encoder:
    """Writes models as server responses. ``choose()`` picks literal over quoted when both work."""

    def __init__(self, choose: Choose) -> None:
        self.choose = choose

    def string(self, data: bytes) -> bytes:
        quotable = b"\r" not in data and b"\n" not in data and b"\0" not in data
        if quotable and not self.choose():
            return b'"' + data.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
        return b"{%d}\r\n" % len(data) + data

    def quoted(self, data: bytes) -> bytes:
        return b'"' + data.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'

    def nstring(self, data: bytes | None) -> bytes:
        return b"NIL" if data is None else self.string(data)

    def text(self, text: str) -> bytes:
        return self.string(text.encode())

    def paren(self, items: list[bytes]) -> bytes:
        return b"(" + b" ".join(items) + b")"

    def code(self, code: ResponseCode | None) -> bytes:
        if code is None:
            return b""
        inner = code.name.encode() + (b" " + code.text.encode() if code.text else b"")
        return b"[" + inner + b"] "

    def value(self, v: Value) -> bytes:
        if v is None:
            return b"NIL"
        if isinstance(v, int):
            return b"%d" % v
        if isinstance(v, str):
            return v.encode()
        if isinstance(v, bytes):
            return self.string(v)
        return self.paren([self.value(x) for x in v])

    def params(self, params: tuple[tuple[str, str], ...]) -> bytes:
        if not params:
            return b"NIL"
        return self.paren([self.text(x) for pair in params for x in pair])

    def disposition(self, d: Disposition | None) -> bytes:
        if d is None:
            return b"NIL"
        return self.paren([self.text(d.type), self.params(d.params)])

    def language(self, language: tuple[str, ...]) -> bytes:
        if not language:
            return b"NIL"
        if len(language) == 1 and self.choose():
            return self.text(language[0])
        return self.paren([self.text(x) for x in language])

    def addresses(self, addresses: tuple[Address, ...]) -> bytes:
        if not addresses:
            return b"NIL"
        return (
            b"("
            + b"".join(
                self.paren(
                    [
                        self.nstring(a.name),
                        self.nstring(a.adl),
                        self.nstring(a.mailbox),
                        self.nstring(a.host),
                    ]
                )
                for a in addresses
            )
            + b")"
        )

    def envelope(self, e: Envelope) -> bytes:
        return self.paren(
            [
                self.nstring(e.date),
                self.nstring(e.subject),
                self.addresses(e.from_),
                self.addresses(e.sender),
                self.addresses(e.reply_to),
                self.addresses(e.to),
                self.addresses(e.cc),
                self.addresses(e.bcc),
                self.nstring(e.in_reply_to),
                self.nstring(e.message_id),
            ]
        )

    def body(self, b: SinglePart | MultiPart) -> bytes:
        if isinstance(b, MultiPart):
            return (
                b"("
                + b"".join(self.body(p) for p in b.parts)
                + b" "
                + b" ".join(
                    [
                        self.text(b.subtype),
                        self.params(b.params),
                        self.disposition(b.disposition),
                        self.language(b.language),
                        self.nstring(b.location),
                        *[self.value(x) for x in b.extension],
                    ]
                )
                + b")"
            )
        # media-message and media-text must be quoted strings, not literals.
        fields = [
            self.quoted(b.type.encode()),
            self.quoted(b.subtype.encode()),
            self.params(b.params),
            self.nstring(b.id),
            self.nstring(b.description),
            b"NIL" if b.encoding is None else self.text(b.encoding),
            b"NIL" if b.size is None else b"%d" % b.size,
        ]
        if b.type == "message" and b.subtype == "rfc822":
            assert b.envelope is not None
            assert b.body is not None
            fields += [self.envelope(b.envelope), self.body(b.body), b"%d" % (b.lines or 0)]
        elif b.type == "text":
            fields.append(b"NIL" if b.lines is None else b"%d" % b.lines)
        fields += [
            self.nstring(b.md5),
            self.disposition(b.disposition),
            self.language(b.language),
            self.nstring(b.location),
            *[self.value(x) for x in b.extension],
        ]
        return self.paren(fields)

    def fetch(self, f: FetchData) -> bytes:
        items: list[bytes] = []
        if f.uid is not None:
            items += [b"UID", b"%d" % f.uid]
        if f.flags is not None:
            items += [b"FLAGS", self.paren([x.encode() for x in f.flags])]
        if f.internaldate is not None:
            items += [b"INTERNALDATE", b'"' + _internaldate(f.internaldate) + b'"']
        if f.rfc822_size is not None:
            items += [b"RFC822.SIZE", b"%d" % f.rfc822_size]
        if f.envelope is not None:
            items += [b"ENVELOPE", self.envelope(f.envelope)]
        if f.body is not None:
            items += [b"BODY", self.body(f.body)]
        if f.bodystructure is not None:
            items += [b"BODYSTRUCTURE", self.body(f.bodystructure)]
        if f.modseq is not None:
            items += [b"MODSEQ", b"(%d)" % f.modseq]
        if f.gm_msgid is not None:
            items += [b"X-GM-MSGID", b"%d" % f.gm_msgid]
        if f.gm_thrid is not None:
            items += [b"X-GM-THRID", b"%d" % f.gm_thrid]
        if f.gm_labels is not None:
            items += [
                b"X-GM-LABELS",
                self.paren(
                    [
                        x.encode() if x.startswith("\\") else self.string(encode_mutf7(x))
                        for x in f.gm_labels
                    ]
                ),
            ]
        if f.emailid is not None:
            items += [b"EMAILID", b"(" + f.emailid.encode() + b")"]
        if "threadid" in _set_fields(f):
            items += [
                b"THREADID",
                b"NIL" if f.threadid is None else b"(" + f.threadid.encode() + b")",
            ]
        for key, data in f.sections.items():
            items += [key.encode(), self.nstring(data)]
        for key, v in f.other.items():
            items += [key.encode(), self.value(v)]
        return b"* %d FETCH " % f.seq + self.paren(items)

    def response(self, r: Response) -> bytes:
        return self._response(r) + b"\r\n"

    def _response(self, r: Response) -> bytes:
        if isinstance(r, TaggedResponse):
            return f"{r.tag} {r.status.value} ".encode() + self.code(r.code) + r.text.encode()
        if isinstance(r, UntaggedStatus):
            return f"* {r.status.value} ".encode() + self.code(r.code) + r.text.encode()
        if isinstance(r, ContinuationRequest):
            return b"+ " + r.data
        if isinstance(r, CapabilityData):
            return b"* CAPABILITY " + " ".join(sorted(r.capabilities)).encode()
        if isinstance(r, EnabledData):
            return b"* ENABLED" + b"".join(b" " + c.encode() for c in sorted(r.capabilities))
        if isinstance(r, FlagsData):
            return b"* FLAGS " + self.paren([x.encode() for x in r.flags])
        if isinstance(r, ListData):
            delimiter = b"NIL" if r.delimiter is None else self.quoted(r.delimiter.encode())
            head = b"* %s %s %s %s" % (
                r.kind.encode(),
                self.paren([a.encode() for a in r.attributes]),
                delimiter,
                self.string(r.raw_mailbox),
            )
            return head + b"".join(b" " + self.value(x) for x in r.extended)
        if isinstance(r, StatusData):
            return (
                b"* STATUS "
                + self.string(r.raw_mailbox)
                + b" "
                + self.paren(
                    [b"%s %s" % (k.encode(), _status_value(v)) for k, v in r.items.items()]
                )
            )
        if isinstance(r, ExistsData):
            return b"* %d EXISTS" % r.count
        if isinstance(r, RecentData):
            return b"* %d RECENT" % r.count
        if isinstance(r, ExpungeData):
            return b"* %d EXPUNGE" % r.seq
        if isinstance(r, SearchData):
            out = b"* SEARCH" + b"".join(b" %d" % n for n in r.ids)
            return out + (b"" if r.modseq is None else b" (MODSEQ %d)" % r.modseq)
        if isinstance(r, ESearchData):
            out = b"* ESEARCH"
            if r.tag is not None:
                out += b" (TAG " + self.string(r.tag.encode()) + b")"
            if r.uid:
                out += b" UID"
            for name in ("min", "max", "count", "modseq"):
                v = getattr(r, name)
                if v is not None:
                    out += b" %s %d" % (name.upper().encode(), v)
            if r.all is not None:
                out += b" ALL " + str(r.all).encode()
            return out
        if isinstance(r, VanishedData):
            return b"* VANISHED " + (b"(EARLIER) " if r.earlier else b"") + str(r.uids).encode()
        assert isinstance(r, FetchData)
        return self.fetch(r)


def _set_fields(f: FetchData) -> set[str]:
    # THREADID may be NIL, which FetchData cannot tell from "not sent"; the
    # strategies only make threadid NIL when they chose to send it, so send it
    # whenever emailid is there too.
    return {"threadid"} if f.threadid is not None or f.emailid is not None else set()


_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def _internaldate(when: datetime) -> bytes:
    offset = when.utcoffset()
    assert offset is not None
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    minutes = abs(minutes)
    return (
        f"{when.day:02d}-{_MONTHS[when.month - 1]}-{when.year:04d} {when:%H:%M:%S} "
        f"{sign}{minutes // 60:02d}{minutes % 60:02d}"
    ).encode()


def _status_value(v: int | str | None) -> bytes:
    """A STATUS item's value as a server writes it (an objectid in parentheses)."""
    if v is None:
        return b"NIL"
    if isinstance(v, str):
        return b"(" + v.encode() + b")"
    return b"%d" % v
