"""FETCH responses: message attributes, envelopes and body structures."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final

from ._dates import parse_internaldate
from ._framing import Frame
from ._lexer import (
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
    Disposition,
    Envelope,
    FetchData,
    MultiPart,
    SinglePart,
    Value,
)

__all__ = [
    "SIMPLE_FETCH",
    "UID_FLAGS",
    "parse_fetch",
    "parse_internaldate",
    "parse_simple_fetch",
    "parse_uid_flags",
]

# FETCH lines whose values are all numbers or flat atom lists, the bulk of a
# flag resync: read with two regexes instead of the token machinery.
SIMPLE_FETCH = re.compile(
    rb"\* +([0-9]+) +FETCH +\(((?:[A-Za-z0-9.\-]+ +(?:[0-9]+|\([^()\"{}\[\]]*\)) *)*)\) *\Z",
    re.IGNORECASE,
)
# The hottest response of all, from UID FETCH ... (UID FLAGS), in either order.
UID_FLAGS = re.compile(
    rb"\* ([0-9]+) FETCH \((?:UID ([0-9]+) FLAGS \(([^()\"{}\[\]\x80-\xff]*)\)"
    rb"|FLAGS \(([^()\"{}\[\]\x80-\xff]*)\) UID ([0-9]+))\)\Z"
)
_SIMPLE_ITEM = re.compile(rb"([A-Za-z0-9.\-]+) +(?:([0-9]+)|\(([^()\"{}\[\]]*)\))")
_KEEP_RAW: Final = object()


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
        name = key.upper()
        value = items[i + 1]
        known = _FETCH_ITEMS.get(name)
        try:
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
        except (ValueError, TypeError, IndexError) as exc:
            raise c.error(f"bad FETCH {name}: {exc}") from None
    return FetchData(seq=seq, sections=sections, other=other, **kw)


def parse_uid_flags(m: re.Match[bytes]) -> FetchData:
    """The fast path's FETCH: a line with only UID and FLAGS, matched by a regex."""
    seq, uid, flags, flags2, uid2 = m.groups()
    if uid is None:
        uid, flags = uid2, flags2
    return FetchData(seq=int(seq), uid=int(uid), flags=tuple(flags.decode("ascii").split()))


def parse_simple_fetch(m: re.Match[bytes]) -> FetchData | None:
    """The fast path for a match of ``SIMPLE_FETCH``; ``None`` sends it to :func:`parse_fetch`."""
    kw: dict[str, Any] = {}
    for key, num, flat in _SIMPLE_ITEM.findall(m.group(2)):
        name = key.upper()
        if num:
            field = _SIMPLE_NUMBERS.get(name)
            if field is None:
                return None
            kw[field] = int(num)
        elif name == b"FLAGS" and flat.isascii():
            kw["flags"] = tuple(flat.decode("ascii").split())
        elif name == b"MODSEQ" and flat.strip().isdigit():
            kw["modseq"] = int(flat)
        else:
            return None
    return FetchData(seq=int(m.group(1)), **kw)


_SIMPLE_NUMBERS = {
    b"UID": "uid",
    b"RFC822.SIZE": "rfc822_size",
    b"X-GM-MSGID": "gm_msgid",
    b"X-GM-THRID": "gm_thrid",
}

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
