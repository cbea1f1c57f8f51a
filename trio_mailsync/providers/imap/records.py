"""Messages as records: a FETCH response's ENVELOPE and friends, decoded for the store.

Header text is decoded once, here, with the standard library's ``email.header``:
RFC 2047 encoded words (adjacent words of one charset are joined before they are
decoded, so a character split across two words survives), and raw UTF-8 (RFC
6532) where a server passes 8-bit headers through. Bytes that do not decode, an
unknown charset, broken base64: kept as U+FFFD or as written, never an error.
"""

from __future__ import annotations

import codecs
import email.header
import email.parser
import email.utils
import re

from trio_mailsync.core.model import Address, MessageRecord
from trio_mailsync.protocol import Address as EnvelopeAddress
from trio_mailsync.protocol import Envelope, FetchData

__all__ = [
    "FALLBACK_HEADERS",
    "decode_header_text",
    "lasting_flags",
    "record_from_fetch",
    "record_from_headers",
]

#: The headers a message's record needs, fetched as text when its ENVELOPE could not be read.
FALLBACK_HEADERS = ("FROM", "TO", "CC", "SUBJECT", "DATE", "MESSAGE-ID")


def lasting_flags(flags: tuple[str, ...]) -> tuple[str, ...]:
    """Flags as stored: sorted, without \\Recent, which belongs to one session only."""
    return tuple(sorted(f for f in flags if f.lower() != "\\recent"))


def decode_header_text(raw: bytes | None) -> str | None:
    """A header value as text: RFC 2047 encoded words decoded, 8-bit read as UTF-8."""
    if raw is None:
        return None
    value = raw.decode("utf-8", "replace")
    if "=?" not in value:
        return value
    if "\\" in value:
        value = _protect_backslashes(value)
    return "".join(_chunk(data, charset) for data, charset in email.header.decode_header(value))


# What decode_header takes for an encoded word (its own ``ecre``, which is not public).
_ENCODED_WORD = re.compile(r"=\?[^?]*?\?[qQbB]\?.*?\?=", re.MULTILINE)


def _protect_backslashes(value: str) -> str:
    r"""Backslashes outside encoded words, written so they survive ``decode_header``.

    It hands text between encoded words back encoded as ``raw-unicode-escape``, which
    :func:`_chunk` must decode so: a ``\u0041`` in the header itself would become "A".
    """
    out = []
    position = 0
    for match in _ENCODED_WORD.finditer(value):
        out.append(value[position : match.start()].replace("\\", "\\u005c"))
        out.append(match.group(0))
        position = match.end()
    out.append(value[position:].replace("\\", "\\u005c"))
    return "".join(out)


def _chunk(data: bytes | str, charset: str | None) -> str:
    if isinstance(data, str):
        return data
    if charset is None:
        # Text between encoded words: decode_header hands it back this way.
        return data.decode("raw-unicode-escape", "replace")
    charset = charset.partition("*")[0]  # RFC 2231 language suffix
    try:
        codecs.lookup(charset)
    except LookupError:
        charset = "utf-8"  # unknown: the likeliest, and U+FFFD where it is not
    return data.decode(charset, "replace")


def _address(a: EnvelopeAddress) -> Address:
    return Address(decode_header_text(a.name) or None, a.email or "")


def _addresses(addresses: tuple[EnvelopeAddress, ...]) -> tuple[Address, ...]:
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
        message_id=decode_header_text(envelope.message_id),
        date=decode_header_text(envelope.date),
        internaldate=None if item.internaldate is None else item.internaldate.isoformat(),
        sender=senders[0] if senders else None,
        recipients=_addresses(envelope.to) + _addresses(envelope.cc),
        subject=decode_header_text(envelope.subject),
        size=item.rfc822_size,
        version=item.modseq,
        email_id=None if item.gm_msgid is None else str(item.gm_msgid),
        thread_id=None if item.gm_thrid is None else str(item.gm_thrid),
        labels=item.gm_labels,
    )


def record_from_headers(
    account: str, folder: str, uidvalidity: int, item: FetchData, degraded: str
) -> MessageRecord:
    """The record of a message from a plain FETCH of its headers (the fallback).

    ``item`` holds UID, FLAGS, INTERNALDATE, RFC822.SIZE and one ``BODY[HEADER.FIELDS
    (...)]`` section, read with the standard library's ``email`` parser, which takes
    malformed headers as they come. ``degraded`` says why the fallback was needed.
    """
    assert item.uid is not None
    raw = next((v for k, v in item.sections.items() if "HEADER" in k and v is not None), b"")
    headers = email.parser.BytesHeaderParser().parsebytes(raw)

    def text(name: str) -> str | None:
        value = headers.get(name)
        return None if value is None else decode_header_text(str(value).encode("utf-8", "replace"))

    def addresses(*names: str) -> tuple[Address, ...]:
        values = [str(v) for name in names for v in headers.get_all(name, [])]
        return tuple(
            Address(decode_header_text(n.encode("utf-8", "replace")) or None, a)
            for n, a in email.utils.getaddresses(values)
            if a
        )

    senders = addresses("From")
    return MessageRecord(
        account=account,
        folder=folder,
        generation=uidvalidity,
        uid=item.uid,
        flags=lasting_flags(item.flags or ()),
        message_id=text("Message-ID"),
        date=text("Date"),
        internaldate=None if item.internaldate is None else item.internaldate.isoformat(),
        sender=senders[0] if senders else None,
        recipients=addresses("To", "Cc"),
        subject=text("Subject"),
        size=item.rfc822_size,
        version=item.modseq,
        degraded=degraded,
    )
