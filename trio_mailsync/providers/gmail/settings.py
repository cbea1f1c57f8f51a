"""A Gmail API account's settings: OAuth 2.0, where the API is, quota and timings.

In a config file they sit in the account's table beside the provider-neutral keys::

    [accounts.personal]
    provider = "gmail_api"
    username = "alice@gmail.com"       # shown in errors; the API itself says "me"
    folders = ["INBOX", "role:sent", "Projects/*"]   # labels: names, roles, patterns
    poll_interval = 60                 # seconds between history checks
    [accounts.personal.oauth2]
    token_url = "https://oauth2.googleapis.com/token"
    client_id = "....apps.googleusercontent.com"
    client_secret_env = "GMAIL_CLIENT_SECRET"
    refresh_token_env = "GMAIL_REFRESH_TOKEN"
    [accounts.personal.quota]          # Google's published costs; change them if Google does
    units_per_second = 250
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Literal

import attrs

from trio_mailsync.core.config import DEFAULT_FOLDERS, Account, TableReader
from trio_mailsync.core.errors import ConfigError
from trio_mailsync.providers.auth import OAuth2Auth, parse_auth

__all__ = [
    "GMAIL_API_KEYS",
    "GmailQuota",
    "GmailSettings",
    "gmail_account",
    "gmail_settings",
    "parse_gmail_settings",
]

#: Where Google serves the API.
DEFAULT_BASE_URL = "https://gmail.googleapis.com"


@attrs.frozen(kw_only=True)
class GmailQuota:
    """Quota units each call costs, and the per-user rate the account keeps under.

    Figures from https://developers.google.com/gmail/api/reference/quota (2026):
    250 units per user per second; history.list 2, messages.list 5, messages.get 5,
    labels.list 1, getProfile 1.
    """

    units_per_second: float = 250.0
    history: int = 2
    messages_list: int = 5
    messages_get: int = 5
    labels: int = 1
    profile: int = 1


@attrs.frozen(kw_only=True)
class GmailSettings:
    """How a Gmail API account is reached: OAuth 2.0 (required), the API's URL, limits."""

    provider: ClassVar[str] = "gmail_api"

    auth: OAuth2Auth
    #: The mailbox's address, for messages and logs (the API is asked for "me").
    username: str | None = None
    #: Where the API is: Google's, or a local testing server.
    base_url: str = DEFAULT_BASE_URL
    #: Seconds between two history checks (no push without a Pub/Sub subscription).
    poll_interval: float = 60.0
    #: ``messages.get`` requests in flight at once for the account.
    max_concurrent: int = 10
    #: Trust this CA file instead of the system's (a local server over TLS).
    ca_file: Path | None = None
    quota: GmailQuota = attrs.field(factory=GmailQuota)
    backoff_initial: float = 1.0
    backoff_max: float = 300.0
    #: After the API refused a freshly refreshed token, wait this long before trying again.
    auth_retry_after: float = 900.0


def gmail_settings(account: Account) -> GmailSettings:
    """The Gmail API settings of ``account``; ``TypeError`` for another provider's account."""
    settings = account.settings
    if not isinstance(settings, GmailSettings):
        raise TypeError(f"{account.id} is a {account.provider} account, not a Gmail API one")
    return settings


def gmail_account(
    account_id: str,
    *,
    auth: OAuth2Auth,
    folders: Sequence[str] = DEFAULT_FOLDERS,
    notify_from: datetime | Literal["all"] | None = None,
    **settings: Any,
) -> Account:
    """A Gmail API :class:`Account`; ``settings`` are :class:`GmailSettings`' other fields."""
    return Account(
        id=account_id,
        folders=tuple(folders),
        notify_from=notify_from,
        settings=GmailSettings(auth=auth, **settings),
    )


#: The keys of an account's table the Gmail API provider reads.
GMAIL_API_KEYS = frozenset(
    {
        "username",
        "base_url",
        "poll_interval",
        "max_concurrent",
        "ca_file",
        "quota",
        "backoff_initial",
        "backoff_max",
        "auth_retry_after",
        "oauth2",
    }
)


def parse_gmail_settings(r: TableReader, key: str, t: Mapping[str, Any]) -> GmailSettings:
    """Read an account's Gmail API keys (the caller has taken the provider-neutral ones out)."""
    r.only(t, key, set(GMAIL_API_KEYS))
    if "oauth2" not in t:
        raise ConfigError(
            r.path, f"{key}.oauth2", "a Gmail API account needs an [oauth2] table (no passwords)"
        )
    auth = parse_auth(r, key, t)
    assert isinstance(auth, OAuth2Auth)
    base_url = r.string(t, key, "base_url", default=DEFAULT_BASE_URL)
    assert base_url is not None
    if not base_url.startswith(
        ("https://", "http://127.0.0.1", "http://localhost", "http://[::1]")
    ):
        raise ConfigError(
            r.path, f"{key}.base_url", "must be https:// (plain http only to a loopback address)"
        )
    q = r.table(t, "quota", prefix=key)
    qkey = f"{key}.quota"
    defaults = GmailQuota()
    r.only(q, qkey, {f.name for f in attrs.fields(GmailQuota)})
    quota = GmailQuota(
        units_per_second=r.number(
            q, qkey, "units_per_second", default=defaults.units_per_second, low=1
        ),
        **{
            name: r.integer(q, qkey, name, default=getattr(defaults, name), low=0, high=1000)
            for name in ("history", "messages_list", "messages_get", "labels", "profile")
        },
    )
    base = GmailSettings(auth=auth)
    return GmailSettings(
        auth=auth,
        username=r.string(t, key, "username", default=None),
        base_url=base_url.rstrip("/"),
        poll_interval=r.number(t, key, "poll_interval", default=base.poll_interval, low=1),
        max_concurrent=r.integer(
            t, key, "max_concurrent", default=base.max_concurrent, low=1, high=100
        ),
        ca_file=r.readable_file(t, key, "ca_file"),
        quota=quota,
        backoff_initial=r.number(t, key, "backoff_initial", default=base.backoff_initial, low=0),
        backoff_max=r.number(t, key, "backoff_max", default=base.backoff_max, low=0),
        auth_retry_after=r.number(t, key, "auth_retry_after", default=base.auth_retry_after, low=0),
    )
