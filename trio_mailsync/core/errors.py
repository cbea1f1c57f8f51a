"""Errors every layer above the protocol shares. Each names the account it concerns, never a secret.

One type per meaning, whatever the provider: a connection that ended is
:class:`ConnectionLost` for IMAP and for an HTTP API alike, a refused login is
:class:`AuthenticationFailed`. Providers subclass :class:`ProviderError` for what
only they can say (IMAP's ``CommandFailed``, for a tagged NO or BAD).
"""

from __future__ import annotations

__all__ = [
    "AccountConflict",
    "AuthenticationFailed",
    "ConfigError",
    "ConnectionLost",
    "CredentialsError",
    "InsecureConnection",
    "LeaseLost",
    "MailSyncError",
    "ProviderError",
    "ServerBusy",
    "StoreError",
    "StoreInUse",
]


class MailSyncError(Exception):
    """Base of trio-mailsync's own errors."""


class AccountConflict(MailSyncError):
    """An operator's request does not fit the account as it is: it exists already, it is
    paused, it comes from the config file (edit the file and reload instead)."""


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


class ProviderError(MailSyncError):
    """Talking to a mail server went wrong (IMAP, or a provider's HTTP API)."""


class ConnectionLost(ProviderError):
    """The connection ended (the server closed it, said BYE, or it broke), or none could be made.

    ``bye_code`` is the response code of the server's BYE, when it sent one with a
    code (``UNAVAILABLE``, ``AUTHENTICATIONFAILED``...), for callers that act on it.
    """

    def __init__(
        self, message: str, *, bye: str | None = None, bye_code: str | None = None
    ) -> None:
        self.bye = bye
        self.bye_code = bye_code
        super().__init__(message if bye is None else f"{message}: server said BYE {bye}")


class InsecureConnection(ProviderError):
    """TLS could not be set up, or credentials would have gone in clear text."""


class ServerBusy(ProviderError):
    """The server asks us to come back later: too many connections, UNAVAILABLE, THROTTLED, 429."""


class AuthenticationFailed(ProviderError):
    """The server refused the credentials. Not retried until ``retry_at`` (Trio time), if set.

    Logins to the account wait until then, or until the account is reset: a wrong
    password tried again and again gets accounts locked.
    """

    def __init__(self, message: str, *, retry_at: float | None = None) -> None:
        self.retry_at = retry_at
        super().__init__(message)


class StoreError(MailSyncError):
    """The state store cannot be used: not a store, of a newer schema, unreadable, in use."""


class StoreInUse(StoreError):
    """Another process holds the store. Two would both sync and both announce the same mail."""


class LeaseLost(StoreError):
    """A write for an account was refused: another worker took the account's lease since.

    The store compares the writer's fencing token with the newest it has seen for the
    account; an older one is refused, so a worker that was paused past its lease never
    commits over the account's new owner. Nothing of the refused write is kept.
    """

    def __init__(self, account: str, token: int, newest: int) -> None:
        self.account = account
        self.token = token
        self.newest = newest
        super().__init__(
            f"{account}: write refused, its lease moved on (fencing token {token} < {newest})"
        )
