"""Loading a configuration from TOML.

A config file looks like this::

    [store]
    path = "~/.local/state/trio-mailsync/mailsync.sqlite3"   # the default

    [account_defaults]               # merged into every account (the account's keys win)
    folders = ["INBOX", "role:sent"]
    ca_file = "~/certs/office-ca.pem"

    [events]                         # the event log consumers resume from
    retention_days = 7               # the default
    max_events = 1000000             # the default

    [accounts.work]
    provider = "imap"                # the default
    host = "imap.example.com"
    security = "tls"                 # tls (993), starttls (143) or none
    username = "alice@example.com"
    password_command = ["pass", "show", "mail/work"]   # or password / password_env
    folders = ["INBOX", "role:sent", "Projects/*"]
    notify_from = "all"              # announce existing mail too (default: only what
                                     # arrives after the account's first sync)

    [accounts.gmail]
    host = "imap.gmail.com"
    username = "alice@gmail.com"
    [accounts.gmail.oauth2]
    token_url = "https://oauth2.googleapis.com/token"
    client_id = "..."
    client_secret_env = "GMAIL_CLIENT_SECRET"
    refresh_token_env = "GMAIL_REFRESH_TOKEN"

An account's ``provider``, ``folders`` and ``notify_from`` are read here; every other key of
its table is its provider's (``providers.registry``). Every error names the
file, the key path and what is wrong.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from trio_mailsync.core.config import (
    DEFAULT_FOLDERS,
    ROLES,
    Account,
    BroadcastSettings,
    Config,
    EventLogSettings,
    ServiceSettings,
    TableReader,
)
from trio_mailsync.core.errors import ConfigError
from trio_mailsync.providers.registry import PROVIDERS

__all__ = ["load_config", "parse_config"]

#: The keys of an account's table read here, whatever its provider.
_NEUTRAL_KEYS = frozenset({"provider", "folders", "notify_from"})


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and check a TOML config file; raises :class:`ConfigError`."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(str(path), "", "no such file") from None
    except OSError as exc:
        raise ConfigError(str(path), "", f"cannot be read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), "", f"not valid TOML: {exc}") from None
    return parse_config(data, path=path)


def parse_config(data: Mapping[str, Any], *, path: str | os.PathLike[str] = "<config>") -> Config:
    """Check an already parsed TOML document."""
    r = TableReader(str(path))
    r.only(data, "", {"accounts", "account_defaults", "store", "service", "broadcast", "events"})
    store = r.table(data, "store")
    r.only(store, "store", {"path"})
    store_path = r.string(store, "store", "path", default=None)
    service = _service(r, r.table(data, "service"))
    broadcast = _broadcast(r, r.table(data, "broadcast"))
    events = _events(r, r.table(data, "events"))
    defaults = r.table(data, "account_defaults")
    every_key = set(_NEUTRAL_KEYS).union(*(kind.keys for kind in PROVIDERS.values()))
    r.only(defaults, "account_defaults", every_key)
    accounts_table = r.table(data, "accounts", required=True)
    if not accounts_table:
        raise ConfigError(r.path, "accounts", "at least one account is needed")
    accounts = tuple(
        _account(
            r,
            str(account_id),
            r.table(accounts_table, str(account_id), prefix="accounts"),
            defaults,
        )
        for account_id in accounts_table
    )
    return Config(
        accounts=accounts,
        path=Path(path),
        store_path=None if store_path is None else Path(store_path).expanduser(),
        service=service,
        broadcast=broadcast,
        events=events,
    )


def _events(r: TableReader, t: Mapping[str, Any]) -> EventLogSettings:
    r.only(t, "events", {"retention_days", "max_events"})
    defaults = EventLogSettings()
    days = r.number(t, "events", "retention_days", default=defaults.retention / 86400, low=0.001)
    return EventLogSettings(
        retention=days * 86400,
        max_events=r.integer(
            t, "events", "max_events", default=defaults.max_events, low=1, high=10**12
        ),
    )


def _service(r: TableReader, t: Mapping[str, Any]) -> ServiceSettings:
    defaults = ServiceSettings()
    names = (
        "idle_reissue",
        "silence_timeout",
        "poll_interval",
        "idle_retry_interval",
        "sweep_interval",
        "sync_timeout",
    )
    r.only(t, "service", {*names, "concurrency"})
    values = {
        name: r.number(t, "service", name, default=getattr(defaults, name), low=1) for name in names
    }
    return ServiceSettings(
        concurrency=r.integer(
            t, "service", "concurrency", default=defaults.concurrency, low=1, high=100_000
        ),
        **values,
    )


def _broadcast(r: TableReader, t: Mapping[str, Any]) -> BroadcastSettings:
    r.only(
        t,
        "broadcast",
        {
            "host",
            "port",
            "token",
            "token_env",
            "allowed_origins",
            "queue_size",
            "resume_wait",
            "ping_interval",
            "ping_timeout",
            "max_pending",
            "max_clients",
        },
    )
    defaults = BroadcastSettings()
    origins = r.string_list(t, "broadcast", "allowed_origins", default=[])
    return BroadcastSettings(
        host=r.string(t, "broadcast", "host", default=defaults.host),
        port=r.integer(t, "broadcast", "port", default=defaults.port, low=0, high=65535),
        token=r.secret(t, "broadcast", "token", required=False),
        allowed_origins=tuple(origins),
        queue_size=r.integer(
            t, "broadcast", "queue_size", default=defaults.queue_size, low=1, high=1_000_000
        ),
        resume_wait=r.number(t, "broadcast", "resume_wait", default=defaults.resume_wait, low=0),
        ping_interval=r.number(
            t, "broadcast", "ping_interval", default=defaults.ping_interval, low=0.01
        ),
        ping_timeout=r.number(
            t, "broadcast", "ping_timeout", default=defaults.ping_timeout, low=0.01
        ),
        max_pending=r.integer(
            t, "broadcast", "max_pending", default=defaults.max_pending, low=1, high=100_000
        ),
        max_clients=r.integer(
            t, "broadcast", "max_clients", default=defaults.max_clients, low=1, high=1_000_000
        ),
    )


def _merged(defaults: Mapping[str, Any], own: Mapping[str, Any]) -> dict[str, Any]:
    """``own`` over ``defaults``; tables are merged key by key."""
    merged = dict(defaults)
    for key, value in own.items():
        base = merged.get(key)
        if isinstance(base, dict) and isinstance(value, dict):
            merged[key] = _merged(base, value)
        else:
            merged[key] = value
    return merged


def _account(
    r: TableReader, account_id: str, own: Mapping[str, Any], defaults: Mapping[str, Any]
) -> Account:
    key = f"accounts.{account_id}"
    if not account_id or not all(c.isalnum() or c in "-_." for c in account_id):
        raise ConfigError(r.path, key, "an account id may hold letters, digits, '-', '_' and '.'")
    provider = r.string(own, key, "provider", default=None) or r.string(
        defaults, "account_defaults", "provider", default="imap"
    )
    kind = PROVIDERS.get(provider)
    if kind is None:
        raise ConfigError(
            r.path,
            f"{key}.provider",
            f"unknown provider {provider!r}; providers are {', '.join(sorted(PROVIDERS))}",
        )
    # Defaults apply where this provider reads the key: a default for another
    # provider's key (IMAP's ca_file, say) does not make a Gmail API account wrong.
    wanted = kind.keys | _NEUTRAL_KEYS
    t = _merged({k: v for k, v in defaults.items() if k in wanted}, own)
    r.only(t, key, set(wanted))
    folders = r.string_list(t, key, "folders", default=list(DEFAULT_FOLDERS))
    for i, folder in enumerate(folders):
        if folder.startswith("role:") and folder[5:] not in ROLES:
            raise ConfigError(
                r.path,
                f"{key}.folders[{i}]",
                f"unknown role {folder[5:]!r}; roles are {', '.join(sorted(ROLES))}",
            )
    settings = kind.parse_settings(r, key, {k: v for k, v in t.items() if k not in _NEUTRAL_KEYS})
    return Account(
        id=account_id,
        folders=tuple(folders),
        settings=settings,
        notify_from=_notify_from(r, key, t.get("notify_from")),
    )


def _notify_from(r: TableReader, key: str, value: object) -> datetime | Literal["all"] | None:
    """``"all"``, or a TOML date-time with an offset (``2026-12-01T00:00:00Z``)."""
    if value is None or value == "all":
        return value
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value
    raise r.fail(
        f"{key}.notify_from",
        'must be "all" or a date-time with its offset (2026-12-01T00:00:00Z), not '
        + (repr(value) if isinstance(value, str | datetime) else type(value).__name__),
    )
