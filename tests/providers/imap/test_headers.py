"""Header text as the store keeps it: RFC 2047 encoded words and raw UTF-8."""

from __future__ import annotations

import email.header

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trio_mailsync.providers.imap.records import _text


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
        ("=?x-unknown?q?abc?=", "=?x-unknown?q?abc?="),  # left as it came
        ("=?utf-8?b?!!!?=", "=?utf-8?b?!!!?="),
        (r"a\u0041", r"a\u0041"),
    ],
)
def test_header_text(raw: str, text: str) -> None:
    assert _text(raw.encode()) == text


def test_invalid_utf8_is_replaced_not_raised() -> None:
    assert _text(b"caf\xe9") == "caf\ufffd"


@given(st.text(alphabet=st.characters(blacklist_categories=["Cs", "Cc"]), max_size=80))
def test_encoded_words_round_trip(text: str) -> None:
    encoded = email.header.Header(text, "utf-8").encode()
    assert _text(encoded.encode()) == text
