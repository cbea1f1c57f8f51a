"""Errors above the protocol layer. Each names the account it concerns, never a secret."""

from __future__ import annotations

from .protocol import ResponseCode, ResponseStatus

__all__ = [
    "AuthenticationFailed",
    "CommandFailed",
    "ConfigError",
    "ConnectionLost",
    "CredentialsError",
    "IMAPError",
    "InsecureConnection",
    "MailSyncError",
    "ServerBusy",
]


class MailSyncError(Exception):
    """Base of trio-mailsync's own errors."""


class ConfigError(MailSyncError):
    """A configuration file is wrong: which file, which key, what is wrong."""

    def __init__(self, path: str, key: str, message: str) -> None:
        self.path = path
        self.key = key
        self.message = message
        super().__init__(path, key, message)

    def __str__(self) -> str:
        where = f"{self.path}: {self.key}" if self.key else self.path
        return f"{where}: {self.message}"


class CredentialsError(MailSyncError):
    """A password or token could not be obtained (command failed, token endpoint refused)."""


class IMAPError(MailSyncError):
    """Something went wrong talking to an IMAP server."""


class ConnectionLost(IMAPError):
    """The server closed the connection (BYE or end of file), or it broke."""

    def __init__(self, message: str, *, bye: str | None = None) -> None:
        self.bye = bye
        super().__init__(message if bye is None else f"{message}: server said BYE {bye}")


class InsecureConnection(IMAPError):
    """TLS could not be set up, or credentials would have gone in clear text."""


class CommandFailed(IMAPError):
    """A command completed with NO or BAD."""

    def __init__(
        self, command: str, status: ResponseStatus, code: ResponseCode | None, text: str
    ) -> None:
        self.command = command
        self.status = status
        self.code = code
        self.text = text
        code_text = f"[{code.name}] " if code is not None else ""
        super().__init__(f"{command} failed: {status.value} {code_text}{text}".rstrip())


class AuthenticationFailed(CommandFailed):
    """The server refused the credentials. Not retried until the account is looked at."""


class ServerBusy(IMAPError):
    """The server asks us to come back later: too many connections, UNAVAILABLE, THROTTLED."""
