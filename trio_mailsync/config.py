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
from urllib.parse import urlsplit

import attrs

from trio_mailsync.core.config import (
    DEFAULT_FOLDERS,
    ROLES,
    Account,
    BroadcastSettings,
    ClusterSettings,
    Config,
    EventLogSettings,
    ServiceSettings,
    StoreSettings,
    TableReader,
    WebhookSettings,
    webhook_url_problem,
)
from trio_mailsync.core.errors import ConfigError
from trio_mailsync.core.events import LOGGED_TYPES
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
    r.only(
        data,
        "",
        {
            "accounts",
            "account_defaults",
            "store",
            "service",
            "broadcast",
            "events",
            "webhooks",
            "cluster",
        },
    )
    store = r.table(data, "store")
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
    if "cluster" in data and store.get("backend") != "postgres":
        # Workers on several hosts share one store; SQLite's is one process's.
        raise ConfigError(r.path, "cluster", 'needs [store] backend = "postgres"')
    return Config(
        accounts=accounts,
        path=Path(path),
        store_path=None if store_path is None else Path(store_path).expanduser(),
        store=_store(r, store),
        cluster=_cluster(r, data["cluster"]) if "cluster" in data else None,
        service=service,
        broadcast=broadcast,
        events=events,
        webhooks=_webhooks(r, data.get("webhooks", []), {a.id for a in accounts}),
        account_defaults=defaults,
    )


#: Endpoints that ``[broadcast] open_endpoints`` may serve without the token.
OPENABLE_ENDPOINTS = frozenset({"healthz", "metrics"})

#: Keys whose value is a secret itself (not the name of a variable or a command).
INLINE_SECRET_KEYS = frozenset({"password", "client_secret", "refresh_token", "access_token"})


def parse_account(
    account_id: str,
    table: Mapping[str, Any],
    *,
    defaults: Mapping[str, Any] | None = None,
    source: str = "<api>",
) -> Account:
    """Check one account's table, as ``[accounts.<id>]`` of a config file would be.

    For accounts added at runtime (the HTTP API), which are kept in the store: a
    secret written inline (``password = ...``) is refused, since the store would
    hold it in clear text; ``password_env``, ``password_command`` and the ``_env``
    forms of the OAuth secrets are the ways to give one.
    """
    r = TableReader(source)
    if not isinstance(table, Mapping):
        raise ConfigError(source, f"accounts.{account_id}", "must be a table")

    def refuse_inline(t: Mapping[str, Any], key: str) -> None:
        for name, value in t.items():
            if name in INLINE_SECRET_KEYS:
                raise ConfigError(
                    source,
                    f"{key}.{name}",
                    "a secret given inline would be kept in the store in clear text; "
                    f"give {name}_env" + (" or password_command" if name == "password" else ""),
                )
            if isinstance(value, Mapping):
                refuse_inline(value, f"{key}.{name}")

    refuse_inline(table, f"accounts.{account_id}")
    return _account(r, account_id, table, defaults or {})


#: The event types a webhook may ask for.
WEBHOOK_EVENT_TYPES = frozenset(LOGGED_TYPES.values())


def _webhooks(r: TableReader, value: object, account_ids: set[str]) -> tuple[WebhookSettings, ...]:
    """``[[webhooks]]``: an array of tables, names unique."""
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        raise r.fail("webhooks", "must be an array of tables ([[webhooks]])")
    hooks = tuple(_webhook(r, f"webhooks[{i}]", t, account_ids) for i, t in enumerate(value))
    names = [h.name for h in hooks]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise r.fail(f"webhooks[{i}].name", f"{name!r} names another webhook too")
    return hooks


def _webhook_default(name: str) -> Any:
    return attrs.fields_dict(WebhookSettings)[name].default


def _webhook(
    r: TableReader, key: str, t: Mapping[str, Any], account_ids: set[str]
) -> WebhookSettings:
    r.only(
        t,
        key,
        {
            "name",
            "url",
            "secret",
            "secret_env",
            "events",
            "accounts",
            "batch_size",
            "timeout",
            "max_attempts",
            "retry_initial",
            "retry_max",
            "ca_file",
            "allow_insecure",
        },
    )
    url = r.string(t, key, "url", required=True)
    assert url is not None
    allow_insecure = r.boolean(t, key, "allow_insecure", default=False)
    problem = webhook_url_problem(url, allow_insecure=allow_insecure)
    if problem:
        raise r.fail(f"{key}.url", problem)
    name = r.string(t, key, "name", default=None) or urlsplit(url).hostname or "webhook"
    if not all(c.isalnum() or c in "-_." for c in name):
        raise r.fail(f"{key}.name", "a webhook name may hold letters, digits, '-', '_' and '.'")
    events = None
    if "events" in t:
        events = r.string_list(t, key, "events", default=[])
        for i, kind in enumerate(events):
            if kind not in WEBHOOK_EVENT_TYPES:
                raise r.fail(
                    f"{key}.events[{i}]",
                    f"unknown event type {kind!r}; "
                    f"types are {', '.join(sorted(WEBHOOK_EVENT_TYPES))}",
                )
    accounts = None
    if "accounts" in t:
        accounts = r.string_list(t, key, "accounts", default=[])
        for i, account in enumerate(accounts):
            if account not in account_ids:
                raise r.fail(f"{key}.accounts[{i}]", f"no account {account!r} is configured")
    secret = r.secret(t, key, "secret", required=True)
    assert secret is not None
    retry_initial = r.number(
        t, key, "retry_initial", default=_webhook_default("retry_initial"), low=0.001
    )
    retry_max = r.number(t, key, "retry_max", default=_webhook_default("retry_max"), low=0.001)
    if retry_max < retry_initial:
        raise r.fail(f"{key}.retry_max", f"must be at least retry_initial ({retry_initial:g})")
    ca_file = r.string(t, key, "ca_file", default=None)
    return WebhookSettings(
        name=name,
        url=url,
        secret=secret,
        events=None if events is None else frozenset(events),
        accounts=None if accounts is None else frozenset(accounts),
        batch_size=r.integer(
            t, key, "batch_size", default=_webhook_default("batch_size"), low=1, high=10_000
        ),
        timeout=r.number(t, key, "timeout", default=_webhook_default("timeout"), low=0.001),
        max_attempts=r.integer(
            t, key, "max_attempts", default=_webhook_default("max_attempts"), low=1, high=1000
        ),
        retry_initial=retry_initial,
        retry_max=retry_max,
        ca_file=None if ca_file is None else Path(ca_file).expanduser(),
        allow_insecure=allow_insecure,
    )


def _store(r: TableReader, t: Mapping[str, Any]) -> StoreSettings:
    postgres_keys = {"dsn", "password", "password_env", "connections", "lock_timeout"}
    r.only(t, "store", {"backend", "path"} | postgres_keys)
    backend = r.string(t, "store", "backend", default="sqlite")
    if backend not in ("sqlite", "postgres"):
        raise r.fail("store.backend", f'must be "sqlite" or "postgres", not {backend!r}')
    if backend == "sqlite":
        unused = sorted(postgres_keys & set(t))
        if unused:
            raise r.fail(f"store.{unused[0]}", 'is for backend = "postgres"')
        return StoreSettings()
    if "path" in t:
        raise r.fail("store.path", 'is for backend = "sqlite" (PostgreSQL is reached by dsn)')
    dsn = r.string(t, "store", "dsn", required=True, secret=True)
    if _dsn_has_password(dsn):
        # Never echo the DSN: it holds the secret this error is about.
        raise r.fail(
            "store.dsn",
            "must not hold the password; give password_env (or ~/.pgpass, or "
            "password = ... if the config file is private)",
        )
    return StoreSettings(
        backend="postgres",
        dsn=dsn,
        password=r.secret(t, "store", "password", required=False),
        connections=r.integer(t, "store", "connections", default=8, low=1, high=1000),
        lock_timeout=r.number(t, "store", "lock_timeout", default=5.0, low=0.1),
    )


def _cluster(r: TableReader, t: Any) -> ClusterSettings:
    if not isinstance(t, Mapping):
        raise r.fail("cluster", "must be a table")
    keys = {"redis_url", "password", "password_env", "name", "lease_ttl", "max_accounts"}
    r.only(t, "cluster", keys | {"prefix", "stream_length"})
    url = r.string(t, "cluster", "redis_url", required=True, secret=True)
    try:
        parts = urlsplit(url)
        has_password = parts.password is not None
    except ValueError:
        raise r.fail("cluster.redis_url", "is not a URL") from None
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        raise r.fail("cluster.redis_url", "must be redis://host[:port][/db] or rediss://...")
    if has_password:
        raise r.fail("cluster.redis_url", "must not hold the password; give password_env")
    name = r.string(t, "cluster", "name", default=None)
    if name is not None and (" " in name or ":" in name):
        raise r.fail("cluster.name", "must have no spaces or colons")
    defaults = ClusterSettings(redis_url=url)
    return ClusterSettings(
        redis_url=url,
        password=r.secret(t, "cluster", "password", required=False),
        name=name,
        lease_ttl=r.number(t, "cluster", "lease_ttl", default=defaults.lease_ttl, low=1.0),
        max_accounts=r.integer(
            t, "cluster", "max_accounts", default=defaults.max_accounts, low=1, high=10**7
        ),
        prefix=r.string(t, "cluster", "prefix", default=defaults.prefix),
        stream_length=r.integer(
            t, "cluster", "stream_length", default=defaults.stream_length, low=100, high=10**9
        ),
    )


def _dsn_has_password(dsn: str) -> bool:
    """Whether a libpq connection string (URL or ``key=value`` pairs) holds a password."""
    if dsn.startswith(("postgresql://", "postgres://")):
        try:
            return urlsplit(dsn).password is not None or "password=" in urlsplit(dsn).query
        except ValueError:
            return False
    return any(part.strip().startswith("password") for part in dsn.split() if "=" in part)


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
        "connect_rate",
    )
    r.only(t, "service", {*names, "concurrency", "trace", "share_connection", "notify"})
    values: dict[str, Any] = {
        name: r.number(t, "service", name, default=getattr(defaults, name), low=1) for name in names
    }
    trace = r.string(t, "service", "trace", default=None)
    return ServiceSettings(
        concurrency=r.integer(
            t, "service", "concurrency", default=defaults.concurrency, low=1, high=100_000
        ),
        trace=None if trace is None else Path(trace).expanduser(),
        share_connection=r.boolean(
            t, "service", "share_connection", default=defaults.share_connection
        ),
        notify=r.boolean(t, "service", "notify", default=defaults.notify),
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
            "open_endpoints",
            "cert_file",
            "key_file",
        },
    )
    defaults = BroadcastSettings()
    origins = r.string_list(t, "broadcast", "allowed_origins", default=[])
    open_endpoints = r.string_list(t, "broadcast", "open_endpoints", default=[])
    for i, endpoint in enumerate(open_endpoints):
        if endpoint not in OPENABLE_ENDPOINTS:
            raise r.fail(
                f"broadcast.open_endpoints[{i}]",
                f"{endpoint!r} cannot be opened; these can: "
                f"{', '.join(sorted(OPENABLE_ENDPOINTS))}",
            )
    cert_file = r.readable_file(t, "broadcast", "cert_file")
    key_file = r.readable_file(t, "broadcast", "key_file")
    if key_file is not None and cert_file is None:
        raise r.fail("broadcast.key_file", "goes with cert_file, which is missing")
    return BroadcastSettings(
        open_endpoints=tuple(open_endpoints),
        cert_file=cert_file,
        key_file=key_file,
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
