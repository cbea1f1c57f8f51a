"""IMAP's own errors, and the one place where a server's refusal is classified.

A tagged NO or BAD, a BYE, a greeting that refuses: each becomes one of the
core's errors (``ServerBusy``, ``AuthenticationFailed``, ``ConnectionLost``) or
:class:`CommandFailed`, decided first by the typed response code (RFC 5530:
``[UNAVAILABLE]``, ``[AUTHENTICATIONFAILED]``...) and only then, for servers
that send no code, by well-known wording.
"""

from __future__ import annotations

import re

from trio_mailsync.core.errors import (
    AuthenticationFailed,
    ConnectionLost,
    ProviderError,
    ServerBusy,
)
from trio_mailsync.protocol import CommandCompleted, ResponseCode, ResponseStatus, UntaggedStatus

__all__ = [
    "CommandFailed",
    "IdleEnded",
    "IdleRefused",
    "bye_error",
    "failure",
    "token_expired",
]

#: Response codes that mean "come back later" (RFC 5530, and Zimbra's INUSE).
_BUSY_CODES = frozenset({"UNAVAILABLE", "THROTTLED", "LIMIT", "INUSE"})
# Many servers say it only in words (Gmail: "[ALERT] Too many simultaneous connections").
_BUSY_TEXT = re.compile(r"too many|maximum number of connections", re.IGNORECASE)
# A BYE when an OAuth token expires under a live session (Outlook: "AccessTokenExpired").
_TOKEN_EXPIRED_TEXT = re.compile(r"token.{0,20}expired|AccessTokenExpired", re.IGNORECASE)


class CommandFailed(ProviderError):
    """A command completed with NO or BAD (and it was not one of the refusals with a type)."""

    def __init__(
        self, command: str, status: ResponseStatus, code: ResponseCode | None, text: str
    ) -> None:
        self.command = command
        self.status = status
        self.code = code
        self.text = text
        super().__init__(_describe(command, status, code, text))


class IdleEnded(ProviderError):
    """The server ended an IDLE on its own."""


class IdleRefused(ProviderError):
    """The server answered IDLE with NO or BAD."""


def _describe(command: str, status: ResponseStatus, code: ResponseCode | None, text: str) -> str:
    code_text = f"[{code.name}] " if code is not None else ""
    return f"{command} failed: {status.value} {code_text}{text}".rstrip()


def failure(name: str, what: str, done: CommandCompleted) -> ProviderError:
    """The error for a NO or BAD to ``what`` on connection ``name``."""
    code = done.code.name if done.code is not None else ""
    command = f"{name}: {what}"
    # Gmail says it with a code that does not say it: NO [ALERT] Too many simultaneous...
    if code in _BUSY_CODES or _BUSY_TEXT.search(done.text):
        return ServerBusy(_describe(command, done.status, done.code, done.text))
    if code == "AUTHENTICATIONFAILED" or (
        what in ("LOGIN", "AUTHENTICATE") and done.status is ResponseStatus.NO
    ):
        return AuthenticationFailed(_describe(command, done.status, done.code, done.text))
    return CommandFailed(command, done.status, done.code, done.text)


def bye_error(name: str, bye: UntaggedStatus) -> ConnectionLost:
    """The error for a connection the server ended with ``bye``."""
    code = bye.code.name if bye.code is not None else None
    shown = f"[{code}] " if code is not None else ""
    return ConnectionLost(
        f"{name}: server closed the connection", bye=f"{shown}{bye.text}", bye_code=code
    )


def token_expired(error: BaseException | None) -> bool:
    """Did the server end the connection because the OAuth token expired?"""
    if not isinstance(error, ConnectionLost) or error.bye is None:
        return False
    return error.bye_code == "AUTHENTICATIONFAILED" or bool(_TOKEN_EXPIRED_TEXT.search(error.bye))
