"""Modified UTF-7 (RFC 3501 section 5.1.3), the encoding of IMAP mailbox names."""

from __future__ import annotations

import base64
import binascii

__all__ = ["decode_mutf7", "encode_mutf7"]


def encode_mutf7(name: str) -> bytes:
    """Encode a mailbox name: printable ASCII as is, ``&`` as ``&-``, the rest in base64."""
    if name.isascii() and name.isprintable() and "&" not in name:
        return name.encode("ascii")  # most names: themselves (a sync encodes each one)
    out = bytearray()
    pending: list[str] = []

    def flush() -> None:
        if pending:
            raw = "".join(pending).encode("utf-16-be")
            out.extend(b"&" + base64.b64encode(raw).rstrip(b"=").replace(b"/", b",") + b"-")
            pending.clear()

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.extend(b"&-" if ch == "&" else ch.encode("ascii"))
        else:
            pending.append(ch)
    flush()
    return bytes(out)


def decode_mutf7(data: bytes, *, strict: bool = True) -> str:
    """Decode a mailbox name; raises :class:`ValueError` if ``data`` is not modified UTF-7.

    ``strict=False`` accepts printable ASCII encoded inside a base64 run,
    which Yandex sends for names containing ``&``.
    """
    if b"&" not in data and data.isascii():
        text = data.decode("ascii")
        if text.isprintable():
            return text  # most names: themselves (every STATUS answer has one)
    out: list[str] = []
    i = 0
    n = len(data)
    while i < n:
        amp = data.find(b"&", i)
        if amp < 0:
            amp = n
        plain = data[i:amp]
        if any(b < 0x20 or b > 0x7E for b in plain):
            raise ValueError("8-bit or control byte in a modified UTF-7 name")
        out.append(plain.decode("ascii"))
        if amp == n:
            break
        end = data.find(b"-", amp + 1)
        if end < 0:
            raise ValueError("unterminated '&' in a modified UTF-7 name")
        chunk = data[amp + 1 : end]
        if not chunk:
            out.append("&")
        else:
            out.append(_decode_chunk(chunk, strict))
        i = end + 1
    return "".join(out)


def _decode_chunk(chunk: bytes, strict: bool) -> str:
    b64 = chunk.replace(b",", b"/")
    if b"/" in chunk or b"=" in chunk:
        raise ValueError("'/' or '=' inside a modified UTF-7 shift")
    try:
        raw = base64.b64decode(b64 + b"=" * (-len(b64) % 4), validate=True)
        text = raw.decode("utf-16-be")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError("bad base64 inside a modified UTF-7 shift") from exc
    if strict and any(0x20 <= ord(c) <= 0x7E for c in text):
        # RFC 3501: printable ASCII must not be base64-encoded.
        raise ValueError("non-canonical modified UTF-7")
    return text
