"""Header text and addresses as the store keeps them: RFC 2047 words, raw UTF-8, display names."""

from __future__ import annotations

import email.header
import email.utils

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trio_mailsync.core.model import Address
from trio_mailsync.protocol import Address as EnvelopeAddress
from trio_mailsync.providers.imap.records import _address, decode_header_text


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ("plain text", "plain text"),
        ("Grüße", "Grüße"),  # RFC 6532: UTF-8 in the header itself
        ("=?utf-8?q?J=C3=B6rg?= <j@x>", "Jörg <j@x>"),
        ("Grüße =?utf-8?q?J=C3=B6rg?=", "Grüße Jörg"),
        ("=?utf-8?q?a?= =?utf-8?q?b?=", "ab"),  # the space between two words goes
        ("=?utf-8?q?a?=  x =?utf-8?q?b?=", "a  x b"),
        ("Re: =?iso-8859-1?q?caf=E9?= now", "Re: café now"),
        ("=?UTF-8?B?R3LDvMOfZQ?=", "Grüße"),  # base64 without its padding
        ("=?utf-8*en?q?hi_there?=", "hi there"),  # RFC 2231 language
        # One character's UTF-8 bytes split across two encoded words (the old decoder
        # made "Gr\ufffd\ufffde" of it).
        ("=?utf-8?q?Gr=C3?= =?utf-8?q?=BC=C3=9Fe?=", "Grüße"),
        ("=?utf-8?b?R3LD?= =?utf-8?b?vMOfZQ==?=", "Grüße"),
        # Mixed charsets, each word in its own.
        ("=?iso-8859-1?q?J=F6rg?= =?utf-8?q?=E2=82=AC?= =?koi8-r?b?8NLJ18XU?=", "Jörg€Привет"),
        ("=?x-unknown?q?abc?=", "abc"),  # an unknown charset: read as UTF-8
        ("=?utf-8?q?bad=FF?=", "bad\ufffd"),  # bytes the charset does not have
        ("=?utf-8?b?!!!?=", ""),  # base64 with nothing in it
        (r"a\u0041", r"a\u0041"),
        (r"a\u0041 =?utf-8?q?b?=", r"a\u0041 b"),  # a backslash among encoded words
    ],
)
def test_header_text(raw: str, text: str) -> None:
    assert decode_header_text(raw.encode()) == text


def test_invalid_utf8_is_replaced_not_raised() -> None:
    assert decode_header_text(b"caf\xe9") == "caf\ufffd"


@given(st.text(alphabet=st.characters(blacklist_categories=["Cs", "Cc"]), max_size=80))
def test_encoded_words_round_trip(text: str) -> None:
    # Header.encode() splits long text into several words, wherever it likes.
    encoded = email.header.Header(text, "utf-8").encode()
    assert decode_header_text(encoded.encode()) == text


@given(st.binary(max_size=60))
def test_any_bytes_decode_without_an_error(raw: bytes) -> None:
    assert isinstance(decode_header_text(b"=?utf-8?q?" + raw + b"?= " + raw), str)


@pytest.mark.parametrize(
    ("name", "mailbox", "host", "expected"),
    [
        (b"Ada Lovelace", b"ada", b"example.com", Address("Ada Lovelace", "ada@example.com")),
        (None, b"ada", b"example.com", Address(None, "ada@example.com")),
        (b"=?utf-8?q?Gr=C3?= =?utf-8?q?=BCn?=", b"g", b"x", Address("Grün", "g@x")),
        (b"", b"ada", b"x", Address(None, "ada@x")),
    ],
)
def test_envelope_addresses_become_name_and_address(
    name: bytes | None, mailbox: bytes, host: bytes, expected: Address
) -> None:
    assert _address(EnvelopeAddress(name=name, adl=None, mailbox=mailbox, host=host)) == expected


@pytest.mark.parametrize(
    ("address", "shown"),
    [
        (Address(None, "a@x"), "a@x"),
        (Address("Ada", "a@x"), "Ada <a@x>"),
        (Address("Lovelace, Ada", "a@x"), '"Lovelace, Ada" <a@x>'),
        (Address('Ada "the" Countess', "a@x"), '"Ada \\"the\\" Countess" <a@x>'),
        (Address("Grüße", "g@x"), "Grüße <g@x>"),
    ],
)
def test_a_display_name_with_a_comma_or_quotes_is_quoted(address: Address, shown: str) -> None:
    assert str(address) == shown
    # Read back by the standard library as it was meant.
    assert email.utils.parseaddr(shown) == (address.name or "", address.address)
