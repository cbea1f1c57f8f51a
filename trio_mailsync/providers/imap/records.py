"""Messages as records: a FETCH response's ENVELOPE and friends, decoded for the store.

Header text is decoded once, here: RFC 2047 encoded words, and raw UTF-8 (RFC
6532) where a server passes 8-bit headers through (bytes that are not UTF-8
become U+FFFD: kept, never an error).
"""

from __future__ import annotations

import base64
import binascii
import email.quoprimime
import re

from trio_mailsync.core.model import MessageRecord
from trio_mailsync.protocol import Address, Envelope, FetchData

__all__ = ["lasting_flags", "record_from_fetch"]


def lasting_flags(flags: tuple[str, ...]) -> tuple[str, ...]:
    """Flags as stored: sorted, without \\Recent, which belongs to one session only."""
    return tuple(sorted(f for f in flags if f.lower() != "\\recent"))


_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([qQbB])\?([^?\s]*)\?=")


def _text(raw: bytes | None) -> str | None:
    """A header value as text: RFC 2047 encoded words decoded, 8-bit read as UTF-8."""
    if raw is None:
        return None
    value = raw.decode("utf-8", "replace")
    out: list[str] = []
    position = 0
    for match in _ENCODED_WORD.finditer(value):
        between = value[position : match.start()]
        # Whitespace between two encoded words is not part of the text (RFC 2047 6.2).
        if not (position and not between.strip()):
            out.append(between)
        out.append(_decode_word(*match.groups()) or match.group(0))
        position = match.end()
    out.append(value[position:])
    return "".join(out)


def _decode_word(charset: str, encoding: str, text: str) -> str | None:
    charset = charset.partition("*")[0]  # RFC 2231 language suffix
    try:
        if encoding in "qQ":
            data = email.quoprimime.header_decode(text).encode("latin-1")
        else:
            data = base64.b64decode(text + "=" * (-len(text) % 4))
        return data.decode(charset, "replace")
    except (ValueError, LookupError, binascii.Error):
        return None


def _address(a: Address) -> str:
    address = a.email or ""
    name = _text(a.name)
    return f"{name} <{address}>" if name else address


def _addresses(addresses: tuple[Address, ...]) -> tuple[str, ...]:
    # Group markers (no host) carry no address.
    return tuple(_address(a) for a in addresses if a.host is not None)


def record_from_fetch(
    account: str, folder: str, uidvalidity: int, item: FetchData
) -> MessageRecord:
    """The record of a message from its FETCH (UID, FLAGS, ENVELOPE... and Gmail's X-GM-*)."""
    envelope = item.envelope or Envelope()
    assert item.uid is not None
    senders = _addresses(envelope.from_)
    return MessageRecord(
        account=account,
        folder=folder,
        generation=uidvalidity,
        uid=item.uid,
        flags=lasting_flags(item.flags or ()),
        message_id=_text(envelope.message_id),
        date=_text(envelope.date),
        internaldate=None if item.internaldate is None else item.internaldate.isoformat(),
        sender=senders[0] if senders else None,
        recipients=_addresses(envelope.to) + _addresses(envelope.cc),
        subject=_text(envelope.subject),
        size=item.rfc822_size,
        version=item.modseq,
        email_id=None if item.gm_msgid is None else str(item.gm_msgid),
        thread_id=None if item.gm_thrid is None else str(item.gm_thrid),
        labels=item.gm_labels,
    )
