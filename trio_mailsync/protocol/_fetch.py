"""FETCH responses: message attributes, envelopes and body structures."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final

from ._dates import parse_internaldate
from ._framing import Frame
from ._lexer import (
    _UNESCAPE,
    Cursor,
    Raw,
    atoms,
    decode_mailbox,
    flatten_pairs,
    freeze,
    mailbox_raw,
    nstring,
    number,
    opt_number,
    short,
    string_text,
)
from ._responses import (
    Address,
    BodyStructure,
    Deferred,
    Disposition,
    Envelope,
    FetchData,
    MultiPart,
    SinglePart,
    Value,
    quick_constructor,
)

__all__ = [
    "FAST_DEPTH",
    "UID_FLAGS_LINE",
    "parse_fast_fetch",
    "parse_fetch",
    "parse_internaldate",
    "parse_uid_flags",
]

# The hottest response of all, from UID FETCH ... (UID FLAGS), in either order, matched
# in the receive buffer with its line end (``Framer.take_line``). A NIL among the flags
# (dropped by the general path) makes it not match.
_HOT_FLAGS = rb"((?:(?![Nn][Ii][Ll][ )])[^()\"{}\[\]\x80-\xff\r\n])*)"
UID_FLAGS_LINE = re.compile(
    rb"\* ([0-9]+) FETCH \((?:UID ([0-9]+) FLAGS \(" + _HOT_FLAGS + rb"\)"
    rb"|FLAGS \(" + _HOT_FLAGS + rb"\) UID ([0-9]+))\)\r?\n"
)
_KEEP_RAW: Final = object()

#: How deep the fast path follows nested lists; deeper values take the general path.
FAST_DEPTH: Final = 12
# A quoted string as the tokenizer reads it (a '"' not followed by a delimiter is content),
# possessive: the fast path never backtracks, a line it cannot take goes to the general path.
_QUOTED = rb'"[^"\\]*+(?:(?:\\.|"(?![ )]|\Z))[^"\\]*+)*+"'


def _balanced(depth: int) -> bytes:
    """A regex for one parenthesized value nested at most ``depth`` deep.

    Its edges are where the tokenizer puts them: quoted strings as above, anything else
    but parentheses and quotes is filler. Brackets and braces (atoms like ``BODY[...]``,
    literals) are left to the general path.
    """
    group = rb'\((?:[^()"\[\]{}]++|' + _QUOTED + rb")*+\)"
    for _ in range(depth - 1):
        group = rb'\((?:[^()"\[\]{}]++|' + _QUOTED + rb"|" + group + rb")*+\)"
    return group


_FAST_HEAD = re.compile(rb"\* ([0-9]+) FETCH \(")
# One item: its name, then a number, a flat list of atoms, a plain quoted string, NIL or
# one balanced list (groups 2 to 6).
_FAST_ITEM = re.compile(
    rb" ?([A-Za-z][A-Za-z0-9.\-]*) "
    rb"(?:([0-9]+)(?=[ )])"
    rb"|\(([^()\"{}\[\]\x80-\xff]*)\)"
    rb'|"([^"\\\x80-\xff]*)"(?=[ )])'
    rb"|(NIL)(?=[ )])"
    rb"|(" + _balanced(FAST_DEPTH) + rb"))"
)


def parse_fetch(frame: Frame, pos: int, seq: int, max_depth: int) -> FetchData:
    """The FETCH response for message ``seq`` whose item list starts at ``pos``."""
    c = Cursor(frame, pos, max_depth)
    items = flatten_pairs(c.list_value("FETCH"))
    c.expect_end()
    if len(items) % 2:
        raise c.error("FETCH item without a value")
    kw: dict[str, Any] = {}
    sections: dict[str, bytes | None] = {}
    other: dict[str, Value] = {}
    for i in range(0, len(items), 2):
        key = items[i]
        if not isinstance(key, str):
            raise c.error(f"FETCH item name is not an atom: {short(key)}")
        try:
            _add_item(key.upper(), items[i + 1], kw, sections, other)
        except (ValueError, TypeError, IndexError) as exc:
            raise c.error(f"bad FETCH {key.upper()}: {exc}") from None
    return FetchData(seq=seq, sections=sections, other=other, **kw)


def _add_item(
    name: str,
    value: Raw,
    kw: dict[str, Any],
    sections: dict[str, bytes | None],
    other: dict[str, Value],
) -> None:
    """Convert one FETCH item into ``kw`` (FetchData's fields), ``sections`` or ``other``."""
    known = _FETCH_ITEMS.get(name)
    if known is not None:
        field, convert = known
        converted = convert(value)
        if converted is _KEEP_RAW:
            other[name] = freeze(value)
        else:
            kw[field] = converted
    elif name.startswith(("BODY[", "BINARY[", "RFC822")):
        sections[name] = nstring(value)
    else:
        other[name] = freeze(value)


def parse_uid_flags(groups: tuple[Any, ...]) -> FetchData:
    """The hot path's FETCH, from the groups of a ``UID_FLAGS_LINE`` match."""
    seq, uid, flags, flags2, uid2 = groups
    if uid is None:
        uid, flags = uid2, flags2
    return _uid_flags_fetch(int(seq), int(uid), tuple(flags.decode("ascii").split()))


_uid_flags_fetch = quick_constructor(FetchData, "seq", "uid", "flags")


def _flag_atoms(flat: bytes) -> tuple[str, ...] | None:
    """A flat list's atoms, or ``None`` if one is NIL (which the general path drops)."""
    if b"NIL" in flat.upper():
        return None
    return tuple(flat.decode("ascii").split())


def parse_fast_fetch(line: bytes, offset: int) -> FetchData | None:
    """A one-line FETCH whose items the fast path can take, else ``None``.

    Items are cut out with ``_FAST_ITEM``, never tokenized: numbers, flags and
    INTERNALDATE are converted at once; ENVELOPE, BODY and BODYSTRUCTURE are kept as
    :class:`Deferred` values, decoded on first access (most of a FETCH's cost is in them);
    other items' values are read from their slice by the general readers. Anything the
    regexes do not take (literals, section names, odd spacing, nesting deeper than
    ``FAST_DEPTH``) returns ``None``: the general path then reads the whole response, and
    so every line gives the same result by either path. ``offset`` is where the line
    starts in the stream (for errors raised by deferred values).
    """
    head = _FAST_HEAD.match(line)
    if head is None:
        return None
    kw: dict[str, Any] = {}
    sections: dict[str, bytes | None] | None = None
    other: dict[str, Value] | None = None
    pos = head.end()
    match = _FAST_ITEM.match
    while (m := match(line, pos)) is not None:
        pos = m.end()
        name = m.group(1).upper()
        number_, flat, quoted, nested = m.group(2, 3, 4, 6)
        deferred = _DEFERRED.get(name)
        if deferred is not None and (flat is not None or nested is not None):
            field, read = deferred
            start, end = (m.start(3) - 1, m.end(3) + 1) if nested is None else m.span(6)
            kw[field] = Deferred(line[start:end], offset + start, read)
        elif number_ is not None and name in _FAST_NUMBERS:
            kw[_FAST_NUMBERS[name]] = int(number_)
        elif flat is not None and name == b"FLAGS":
            flags = _flag_atoms(flat)
            if flags is None:
                return None
            kw["flags"] = flags
        elif quoted is not None and name == b"INTERNALDATE":
            date = parse_internaldate(quoted)
            if date is None:
                return None  # kept raw in ``other`` by the general path
            kw["internaldate"] = date
        else:
            # Any other item: its value's slice read by the general readers.
            start, end = m.span(m.lastindex or 0)
            if flat is not None or quoted is not None:
                start, end = start - 1, end + 1
            value = Cursor(Frame.one_line(line[start:end], offset + start), 0, FAST_DEPTH)
            text = name.decode("ascii")
            if other is None:
                sections, other = {}, {}
            assert sections is not None
            try:
                _add_item(text, value.value(), kw, sections, other)
            except (ValueError, TypeError, IndexError) as exc:
                raise value.error(f"bad FETCH {text}: {exc}") from None
    if line[pos:] != b")" or pos == head.end():
        return None
    if other is not None:
        return FetchData(seq=int(head.group(1)), sections=sections or {}, other=other, **kw)
    return FetchData(seq=int(head.group(1)), **kw)


_FAST_NUMBERS = {
    b"UID": "uid",
    b"RFC822.SIZE": "rfc822_size",
    b"X-GM-MSGID": "gm_msgid",
    b"X-GM-THRID": "gm_thrid",
}


def _deferred_reader(name: str, convert: Callable[[Raw], Any]) -> Callable[[bytes, int], Any]:
    """The function that reads a deferred ``name`` value from its bytes on first access."""

    def read(raw: bytes, offset: int) -> Any:
        if convert is envelope and (quick := _quick_envelope(raw)) is not None:
            return quick
        c = Cursor(Frame.one_line(raw, offset), 0, FAST_DEPTH)
        value = c.value()
        try:
            return convert(value)
        except (ValueError, TypeError, IndexError) as exc:
            raise c.error(f"bad FETCH {name}: {exc}") from None

    read.__qualname__ = f"read_{name.lower()}"
    return read


# ---------------------------------------------------------------- items


def _modseq(v: Raw) -> Any:
    if isinstance(v, list) and len(v) == 1:
        v = v[0]
    # Zoho Mail sends MODSEQ (-1); anything but a number is kept raw.
    modseq = opt_number(v)
    return _KEEP_RAW if modseq is None else modseq


def _internaldate(v: Raw) -> Any:
    parsed = parse_internaldate(nstring(v) or b"")
    return _KEEP_RAW if parsed is None else parsed


def _gm_labels(v: Raw) -> tuple[str, ...]:
    if v is None:
        return ()
    if not isinstance(v, list):
        v = [v]
    labels = []
    for label in v:
        if isinstance(label, str):
            # Gmail sends system labels as atoms (\Inbox) and user labels as
            # modified UTF-7 strings, atoms or numbers.
            labels.append(label if label.startswith("\\") else decode_mailbox(label.encode()))
        elif label is not None:
            labels.append(decode_mailbox(mailbox_raw(label)))
    return tuple(labels)


def _object_id(v: Raw) -> str | None:
    """``(M6d99ac3275bb4e)``; NIL without parentheses means none (RFC 8474)."""
    if isinstance(v, list):
        if not v:
            return None
        v = v[0]
        if v is None:
            return "NIL"  # inside the parentheses NIL is an object id like any other
    b = nstring(v)
    return None if b is None else b.decode("ascii", "replace")


# FETCH item name -> (FetchData field, converter). A converter returning
# _KEEP_RAW puts the item, unconverted, in FetchData.other.
_FETCH_ITEMS: dict[str, tuple[str, Callable[[Raw], Any]]] = {
    "UID": ("uid", number),
    "FLAGS": ("flags", atoms),
    # NIL tolerated (IceWarp, imapsync#271): no size is better than an unreadable message.
    "RFC822.SIZE": ("rfc822_size", lambda v: None if v is None else number(v)),
    "MODSEQ": ("modseq", _modseq),
    "INTERNALDATE": ("internaldate", _internaldate),
    "ENVELOPE": ("envelope", lambda v: envelope(v)),
    "BODY": ("body", lambda v: body(v)),
    "BODYSTRUCTURE": ("bodystructure", lambda v: body(v)),
    "X-GM-MSGID": ("gm_msgid", number),
    "X-GM-THRID": ("gm_thrid", number),
    "X-GM-LABELS": ("gm_labels", _gm_labels),
    "EMAILID": ("emailid", _object_id),
    "THREADID": ("threadid", _object_id),
}


# ---------------------------------------------------------------- envelopes


def _ns(v: Raw) -> bytes | None:
    return v if v is None or v.__class__ is bytes else nstring(v)


def _addresses(v: Raw) -> tuple[Address, ...]:
    if v is None:
        return ()
    if not isinstance(v, list):
        raise ValueError("address list is not a list")
    out = []
    for a in v:
        if a is None:
            continue  # a stray NIL inside the list (MailKit#991): no address there
        if not isinstance(a, list):
            raise ValueError("address is not a list")
        if len(a) < 4:
            a = a + [None] * (4 - len(a))  # tolerated: fields missing
        out.append(Address(name=_ns(a[0]), adl=_ns(a[1]), mailbox=_ns(a[2]), host=_ns(a[3])))
    return tuple(out)


def envelope(v: Raw) -> Envelope | None:
    """An ENVELOPE from its generic value (``None`` for NIL)."""
    if v is None:
        return None
    if not isinstance(v, list):
        raise ValueError("ENVELOPE is not a list")
    f = v if len(v) >= 10 else v + [None] * (10 - len(v))  # QQ Mail sends 9 fields
    from_ = _addresses(f[2])
    # Sender and Reply-To are usually copies of From (RFC 9051 7.5.2).
    sender = from_ if f[3] == f[2] else _addresses(f[3])
    reply_to = from_ if f[4] == f[2] else _addresses(f[4])
    return Envelope(
        date=_ns(f[0]),
        subject=_ns(f[1]),
        from_=from_,
        sender=sender,
        reply_to=reply_to,
        to=_addresses(f[5]),
        cc=_addresses(f[6]),
        bcc=_addresses(f[7]),
        in_reply_to=_ns(f[8]),
        message_id=_ns(f[9]),
    )


# The usual ENVELOPE, read by one regex: ten fields, each NIL or a quoted string, or an
# address list of (name adl mailbox host) quadruples. Anything else (atoms, literals, a
# stray NIL, short addresses, nine fields) is left to the tokenizer and ``envelope()``.
_NSTRING = rb"(NIL|" + _QUOTED + rb")"
_ADDRESS = rb"\(" + b" ".join([_NSTRING] * 4) + rb"\)"
_ADDRESS_LIST = rb"(NIL|\((?: ?" + _ADDRESS.replace(b"(NIL|", b"(?:NIL|") + rb")+\))"
_ENVELOPE = re.compile(
    rb"\(" + b" ".join([_NSTRING] * 2 + [_ADDRESS_LIST] * 6 + [_NSTRING] * 2) + rb"\)\Z"
)
_ADDRESSES = re.compile(_ADDRESS)
_new_address = quick_constructor(Address, "name", "adl", "mailbox", "host")


def _quoted(v: bytes) -> bytes | None:
    """A ``_NSTRING`` match as the tokenizer reads it."""
    if v == b"NIL":
        return None
    v = v[1:-1]
    return _UNESCAPE.sub(rb"\1", v) if b"\\" in v else v


def _address_list(v: bytes) -> tuple[Address, ...]:
    if v == b"NIL":
        return ()
    q = _quoted
    return tuple([_new_address(q(n), q(a), q(m), q(h)) for n, a, m, h in _ADDRESSES.findall(v)])


def _quick_envelope(raw: bytes) -> Envelope | None:
    """The envelope in ``raw`` when it has the usual form, else ``None``."""
    m = _ENVELOPE.match(raw)
    if m is None:
        return None
    date, subject, from_raw, sender_raw, reply_raw, to, cc, bcc, in_reply_to, message_id = (
        m.groups()
    )
    from_ = _address_list(from_raw)
    # Sender and Reply-To are usually copies of From (RFC 9051 7.5.2).
    return Envelope(
        date=_quoted(date),
        subject=_quoted(subject),
        from_=from_,
        sender=from_ if sender_raw == from_raw else _address_list(sender_raw),
        reply_to=from_ if reply_raw == from_raw else _address_list(reply_raw),
        to=_address_list(to),
        cc=_address_list(cc),
        bcc=_address_list(bcc),
        in_reply_to=_quoted(in_reply_to),
        message_id=_quoted(message_id),
    )


# ---------------------------------------------------------------- body structures


def _text(v: Raw) -> str:
    if v.__class__ is bytes:
        try:
            return v.decode()
        except UnicodeDecodeError:
            pass
    return string_text(v)


# MIME types, subtypes, parameter names and encodings repeat endlessly; their
# normalized forms are kept in a small, bounded cache.
_NAMES: dict[Raw, str] = {}
_NAMES_MAX = 4096


def _name(v: Raw) -> str:
    """Lower-cased text of a type, subtype or parameter name."""
    try:
        return _NAMES[v]
    except (KeyError, TypeError):
        pass
    name = _text(v).lower()
    if len(_NAMES) < _NAMES_MAX and v.__class__ is bytes and len(v) <= 64:
        _NAMES[v] = name
    return name


def _params(v: Raw) -> tuple[tuple[str, str], ...]:
    if v.__class__ is not list:
        return ()  # NIL, or a stray string where a list belongs
    if len(v) == 2 and v[0].__class__ is not list:
        return ((_name(v[0]), _text(v[1])),)
    if v and all(x.__class__ is list for x in v):
        # Twisted's server nests the pairs: (("name" "thing") ("key" "value")).
        v = [y for x in v for y in x[:2]]
    return tuple([(_name(v[i]), _text(v[i + 1])) for i in range(0, len(v) - 1, 2)])


def _disposition(v: Raw) -> Disposition | None:
    if v is None:
        return None
    if v.__class__ is not list:
        return Disposition(type=_name(v))  # Exchange: a bare string
    if not v or v[0] is None:
        return None  # Exchange sends (NIL NIL)
    return Disposition(type=_name(v[0]), params=_params(v[1] if len(v) > 1 else None))


def _language(v: Raw) -> tuple[str, ...]:
    if v is None:
        return ()
    if v.__class__ is list:
        return tuple([_text(x) for x in v if x is not None])
    return (_text(v),)


def _location(v: Raw) -> bytes | None:
    return None if v.__class__ is list else _ns(v)


def _size(v: Raw) -> int | None:
    return v if v.__class__ is int else opt_number(v)


def body(v: Raw) -> BodyStructure:
    """A BODY or BODYSTRUCTURE from its generic value."""
    if v.__class__ is not list or not v:
        raise ValueError("body structure is not a non-empty list")
    first = v[0]
    if first.__class__ is list:
        n = 1
        while n < len(v) and v[n].__class__ is list:
            n += 1
        return _multipart(v, n)
    # A multipart without parts: ("ALTERNATIVE"), ("RELATED" NIL ...) and
    # ("ALTERNATIVE" (params) NIL NIL) from Gmail, (NIL "alternative" ...) from
    # others. A single part has at least six fields, a multipart's extension
    # data at most five.
    if len(v) < 7:
        if first is None and 1 < len(v) <= 6 and isinstance(v[1], str | bytes):
            return _multipart(v[1:], 0)
        if (
            len(v) < 6
            and isinstance(first, str | bytes)
            and (len(v) == 1 or not isinstance(v[1], str | bytes))
        ):
            return _multipart(v, 0)
    return _singlepart(v)


def _multipart(v: list[Raw], n: int) -> MultiPart:
    ext = v[n:]
    if len(ext) < 5:
        ext = ext + [None] * (5 - len(ext))
    return MultiPart(
        parts=tuple([body(p) for p in v[:n]]),
        subtype=_name(ext[0]),
        params=_params(ext[1]),
        disposition=_disposition(ext[2]),
        language=_language(ext[3]),
        location=_location(ext[4]),
        extension=tuple([freeze(x) for x in ext[5:]]),
    )


def _singlepart(v: list[Raw]) -> SinglePart:
    if len(v) < 2:
        raise ValueError("body part needs at least a type and a subtype")
    if v[1].__class__ is list:
        # Only a subtype where type and subtype belong ("Content-Type: X-ZIP").
        v = [None, *v]
    if len(v) < 7:
        v = v + [None] * (7 - len(v))
    mtype = _name(v[0])
    subtype = _name(v[1])
    encoding = v[5]
    envelope_ = body_ = lines = md5 = disposition = location = None
    language: tuple[str, ...] = ()
    extension: tuple[Value, ...] = ()
    n = len(v)
    i = 7
    if mtype == "text":
        if n > 7:
            lines = _size(v[7])
            i = 8
    elif (
        mtype == "message"
        and subtype in ("rfc822", "global")
        and n > 9
        and v[7].__class__ is list
        and v[8].__class__ is list
    ):
        envelope_ = envelope(v[7])
        # Lotus Domino sends () where the enclosed message's structure belongs.
        body_ = body(v[8]) if v[8] else None
        lines = _size(v[9])
        i = 10
    if n > i:
        md5 = _location(v[i])  # a list in the MD5 slot (GMX) is dropped
        if n > i + 1:
            disposition = _disposition(v[i + 1])
            if n > i + 2:
                language = _language(v[i + 2])
                if n > i + 3:
                    location = _location(v[i + 3])
                    if n > i + 4:
                        extension = tuple([freeze(x) for x in v[i + 4 :]])
    return SinglePart(
        type=mtype,
        subtype=subtype,
        params=_params(v[2]),
        id=_ns(v[3]),
        description=_ns(v[4]),
        # Office 365 has sent the encoding with a trailing space.
        encoding=None if encoding is None else _name(encoding).strip().upper(),
        size=_size(v[6]),
        lines=lines,
        envelope=envelope_,
        body=body_,
        md5=md5,
        disposition=disposition,
        language=language,
        location=location,
        extension=extension,
    )


# Items kept as Deferred by the fast path: FetchData field and reader.
_DEFERRED: dict[bytes, tuple[str, Callable[[bytes, int], Any]]] = {
    b"ENVELOPE": ("envelope", _deferred_reader("ENVELOPE", envelope)),
    b"BODY": ("body", _deferred_reader("BODY", body)),
    b"BODYSTRUCTURE": ("bodystructure", _deferred_reader("BODYSTRUCTURE", body)),
}
