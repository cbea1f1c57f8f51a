"""An IMAP account's settings: server, TLS, login, connection limits.

In a config file they sit in the account's table beside the provider-neutral
keys (``provider``, ``folders``)::

    [accounts.work]
    host = "imap.example.com"
    security = "tls"                 # tls (993), starttls (143) or none
    username = "alice@example.com"
    password_command = ["pass", "show", "mail/work"]   # or password / password_env / [oauth2]
    ca_file = "~/certs/my-ca.pem"    # trust this CA (self-signed servers)
    [accounts.work.limits]
    max_connections = 3
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Literal

import attrs

from trio_mailsync.core.config import DEFAULT_FOLDERS, Account, TableReader
from trio_mailsync.core.errors import ConfigError
from trio_mailsync.providers.auth import AUTH_KEYS, OAuth2Auth, PasswordAuth, parse_auth

__all__ = [
    "IMAP_KEYS",
    "AccountLimits",
    "ImapSettings",
    "Security",
    "imap_account",
    "imap_settings",
    "parse_imap_settings",
]


class Security(enum.Enum):
    """How the connection is secured: implicit TLS, STARTTLS, or not at all (loopback, tests)."""

    TLS = "tls"
    STARTTLS = "starttls"
    NONE = "none"


_DEFAULT_PORTS = {Security.TLS: 993, Security.STARTTLS: 143, Security.NONE: 143}


@attrs.frozen(kw_only=True)
class AccountLimits:
    """Timing and capacity of an account's connections. Times are in seconds."""

    #: Connections open at once for this account, IDLE included. Gmail allows 15 per
    #: account, Dovecot 10 per user and address by default.
    max_connections: int = 3
    connect_timeout: float = 30.0
    #: A pooled connection unused for longer gets a NOOP before it is handed out.
    health_check_after: float = 60.0
    #: A pooled connection unused for longer is logged out and closed.
    max_idle_time: float = 300.0
    backoff_initial: float = 1.0
    backoff_max: float = 300.0
    #: After the server refused the credentials, logins wait this long before trying again.
    auth_retry_after: float = 900.0
    #: Most bytes of data one command may be sent (``protocol.Limits.max_command_data``):
    #: the memory a hostile or broken server can make one command hold.
    max_command_data: int = 128 * 1024 * 1024


@attrs.frozen(kw_only=True)
class ImapSettings:
    """Where an IMAP account's server is, how to reach it securely and how to log in."""

    provider: ClassVar[str] = "imap"

    host: str
    username: str
    auth: PasswordAuth | OAuth2Auth
    security: Security = Security.TLS
    port: int = attrs.field(
        default=attrs.Factory(lambda self: _DEFAULT_PORTS[self.security], takes_self=True)
    )
    #: Allow plain TCP and LOGIN without TLS. Never the default.
    allow_insecure: bool = False
    #: Trust this CA file instead of the system's (for self-signed servers).
    ca_file: Path | None = None
    limits: AccountLimits = attrs.field(factory=AccountLimits)

    def __attrs_post_init__(self) -> None:
        if self.security is Security.NONE and not self.allow_insecure:
            raise ValueError("security = 'none' needs allow_insecure = true")


def imap_settings(account: Account) -> ImapSettings:
    """The IMAP settings of ``account``; ``TypeError`` if it is not an IMAP account."""
    settings = account.settings
    if not isinstance(settings, ImapSettings):
        raise TypeError(f"{account.id} is a {account.provider} account, not an IMAP one")
    return settings


def imap_account(
    account_id: str,
    *,
    host: str,
    username: str,
    auth: PasswordAuth | OAuth2Auth,
    folders: Sequence[str] = DEFAULT_FOLDERS,
    notify_from: datetime | Literal["all"] | None = None,
    **settings: Any,
) -> Account:
    """An IMAP :class:`Account`; ``settings`` are :class:`ImapSettings`' other fields."""
    return Account(
        id=account_id,
        folders=tuple(folders),
        notify_from=notify_from,
        settings=ImapSettings(host=host, username=username, auth=auth, **settings),
    )


#: The keys of an account's table that IMAP reads.
IMAP_KEYS = frozenset(
    {"host", "port", "security", "username", "allow_insecure", "ca_file", "limits"} | AUTH_KEYS
)


def parse_imap_settings(r: TableReader, key: str, t: Mapping[str, Any]) -> ImapSettings:
    """Read an account's IMAP keys (the caller has taken the provider-neutral ones out)."""
    r.only(t, key, set(IMAP_KEYS))
    security_name = r.string(t, key, "security", default="tls")
    try:
        security = Security(security_name)
    except ValueError:
        raise ConfigError(
            r.path, f"{key}.security", f"must be tls, starttls or none, not {security_name!r}"
        ) from None
    allow_insecure = r.boolean(t, key, "allow_insecure", default=False)
    if security is Security.NONE and not allow_insecure:
        raise ConfigError(
            r.path,
            f"{key}.security",
            "'none' sends everything in clear text; set allow_insecure = true to really want that",
        )
    ca_file = r.readable_file(t, key, "ca_file")
    return ImapSettings(
        host=r.string(t, key, "host", required=True),
        port=r.integer(t, key, "port", default=_DEFAULT_PORTS[security], low=1, high=65535),
        security=security,
        username=r.string(t, key, "username", required=True),
        auth=parse_auth(r, key, t),
        allow_insecure=allow_insecure,
        ca_file=ca_file,
        limits=_limits(r, key, r.table(t, "limits", prefix=key)),
    )


def _limits(r: TableReader, key: str, t: Mapping[str, Any]) -> AccountLimits:
    lkey = f"{key}.limits"
    defaults = AccountLimits()
    r.only(t, lkey, {f.name for f in attrs.fields(AccountLimits)})
    return AccountLimits(
        max_connections=r.integer(
            t, lkey, "max_connections", default=defaults.max_connections, low=1, high=100
        ),
        max_command_data=r.integer(
            t, lkey, "max_command_data", default=defaults.max_command_data, low=1, high=2**40
        ),
        **{
            name: r.number(t, lkey, name, default=getattr(defaults, name), low=0)
            for name in (
                "connect_timeout",
                "health_check_after",
                "max_idle_time",
                "backoff_initial",
                "backoff_max",
                "auth_retry_after",
            )
        },
    )
