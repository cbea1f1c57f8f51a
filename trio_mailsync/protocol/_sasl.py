"""SASL mechanisms for AUTHENTICATE: PLAIN (RFC 4616) and XOAUTH2 (Google, Microsoft)."""

from __future__ import annotations

import abc
import base64
import binascii
import json
from typing import Any, ClassVar

import attrs

from trio_mailsync.secret import Secret, as_secret

__all__ = ["Plain", "SaslMechanism", "XOAuth2", "decode_xoauth2_error"]


class SaslMechanism(abc.ABC):
    """One side of a SASL exchange; the client state machine drives it."""

    name: ClassVar[str]

    @abc.abstractmethod
    def initial_response(self) -> bytes:
        """What the client says first (sent inline when the server has SASL-IR)."""

    @abc.abstractmethod
    def respond(self, challenge: bytes) -> bytes | None:
        """Answer a decoded server challenge; ``None`` cancels the exchange."""


@attrs.frozen
class Plain(SaslMechanism):
    """RFC 4616 PLAIN: authorization identity, user name and password in one message."""

    name: ClassVar[str] = "PLAIN"
    username: str
    password: Secret = attrs.field(converter=as_secret)
    authzid: str = ""

    def initial_response(self) -> bytes:
        return f"{self.authzid}\0{self.username}\0{self.password.reveal()}".encode()

    def respond(self, challenge: bytes) -> bytes | None:
        # PLAIN has no challenges; anything the server sends is a refusal.
        return None


@attrs.frozen
class XOAuth2(SaslMechanism):
    """XOAUTH2 with an OAuth 2.0 bearer token.

    A rejected token is not a tagged NO at once: the server first sends a
    challenge carrying a JSON error, to which the client must answer with an
    empty response; :func:`decode_xoauth2_error` reads that JSON.
    """

    name: ClassVar[str] = "XOAUTH2"
    username: str
    token: Secret = attrs.field(converter=as_secret)

    def initial_response(self) -> bytes:
        return f"user={self.username}\x01auth=Bearer {self.token.reveal()}\x01\x01".encode()

    def respond(self, challenge: bytes) -> bytes | None:
        return b""


def decode_xoauth2_error(data: bytes) -> dict[str, Any] | None:
    """The JSON object of an XOAUTH2 error challenge (still base64), or ``None``."""
    try:
        decoded = json.loads(base64.b64decode(data, validate=True))
    except (binascii.Error, ValueError):
        return None
    return decoded if isinstance(decoded, dict) else None
