"""What a configuration says, whatever the providers: accounts, the service, the broadcaster.

The provider-neutral part of the configuration. An :class:`Account` names its
provider through its ``settings``, an object of the provider's own (IMAP's
host, port and TLS; the Gmail API's OAuth client); each provider reads its
settings from its account's TOML table with a :class:`TableReader`, so every
mistake is reported the same way: file, key path, what is wrong.
``trio_mailsync.config.load_config`` puts it together.
"""

from __future__ import annotations

import ipaddress
import math
import os
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol
from urllib.parse import urlsplit

import attrs

from trio_mailsync.core.errors import ConfigError
from trio_mailsync.secret import Secret, as_secret

__all__ = [
    "DEFAULT_FOLDERS",
    "ROLES",
    "Account",
    "BroadcastSettings",
    "ClusterSettings",
    "Config",
    "EventLogSettings",
    "ProviderSettings",
    "ServiceSettings",
    "StoreSettings",
    "TableReader",
    "WebhookSettings",
    "webhook_url_problem",
]

#: Folder roles, whatever the provider calls the folders: ``role:sent`` in an
#: account's ``folders`` finds the sent folder under any name (or Gmail's SENT label).
ROLES = ("inbox", "sent", "drafts", "archive", "junk", "trash", "all", "flagged")

#: Folders synced when an account does not say: INBOX and the special-use roles
#: that hold mail of their own (not "all" or "flagged", which repeat other folders).
DEFAULT_FOLDERS = (
    "INBOX",
    "role:sent",
    "role:drafts",
    "role:archive",
    "role:junk",
    "role:trash",
)


class ProviderSettings(Protocol):
    """A provider's settings for one account. ``provider`` names the provider they are for."""

    provider: ClassVar[str]


@attrs.frozen(kw_only=True)
class Account:
    """One mail account: its id, what to sync, and its provider's settings.

    ``folders`` holds selectors: names, ``role:x`` (see :data:`ROLES`) and patterns
    (``*`` any depth, ``%`` one level). ``settings.provider`` says which provider
    serves the account.
    """

    id: str
    settings: ProviderSettings
    folders: tuple[str, ...] = DEFAULT_FOLDERS
    #: Mail that arrived before this is stored but not announced as new when a folder
    #: is first synced: ``None``, the time the account was first synced (a new user is
    #: not shown the whole mailbox as new); ``"all"``: announce everything; or a time.
    notify_from: datetime | Literal["all"] | None = None

    @property
    def provider(self) -> str:
        """The name of the provider that serves this account (``"imap"``...)."""
        return self.settings.provider


@attrs.frozen(kw_only=True)
class ServiceSettings:
    """How the service watches and syncs. Times are in seconds."""

    #: IDLE is ended and re-issued at least this often (RFC 2177: servers may drop an
    #: IDLE after 30 minutes, clients re-issue it within 29). NATs that drop quiet
    #: connections sooner are kept open by TCP keepalive (a probe after 60 s quiet).
    idle_reissue: float = 1740.0
    #: A connection that says nothing for this long while IDLE-ing is probed
    #: (DONE, IDLE); no answer means it is dead. TCP keepalive finds a vanished peer
    #: without it (in 90 s), so by default it coincides with the re-issue: one wake-up
    #: per account every ``idle_reissue`` (about 0.7 ms of CPU each, bench/scale.py).
    silence_timeout: float = 1740.0
    #: Without push (no IDLE, or a provider that has none), new mail is looked for this often.
    poll_interval: float = 60.0
    #: After IDLE failed, polling goes on this long before IDLE is tried again.
    idle_retry_interval: float = 600.0
    #: All folders of all accounts are synced this often (INBOX gets IDLE).
    sweep_interval: float = 300.0
    #: A sync still running after this long is abandoned with an error (a hung server).
    sync_timeout: float = 900.0
    #: Where to record every connection's bytes, secrets redacted (``--trace``); ``None``: not.
    trace: Path | None = None
    #: Syncs running at once, of all accounts and all kinds (triggered, swept, manual).
    concurrency: int = 32
    #: Syncs use the connection the account's watcher IDLEs on, between IDLEs: one
    #: connection per account. False: syncs take a second, pooled connection.
    share_connection: bool = True
    #: Where the server offers NOTIFY (RFC 5465), the watcher hears of every folder on
    #: its one connection, not only of INBOX; false: INBOX alone, other folders swept.
    notify: bool = True
    #: New connections per second to one server host, at most: a service starting, or
    #: every account of a restarted server reconnecting, comes in spread out.
    connect_rate: float = 50.0


@attrs.frozen(kw_only=True)
class BroadcastSettings:
    """The WebSocket broadcaster: localhost and a token by default."""

    host: str = "127.0.0.1"
    port: int = 8765
    token: Secret | None = attrs.field(default=None, converter=attrs.converters.optional(as_secret))
    #: Browser origins allowed to connect; empty: any (the token still applies).
    allowed_origins: tuple[str, ...] = ()
    #: Live events queued per client (at least 4 per account); a client that falls
    #: further behind reads the event log until it has caught up.
    queue_size: int = 256
    #: Seconds after the hello in which a client without ``since`` in its URL may send
    #: ``{"since": <id>}`` to resume; events wait meanwhile. 0: no such message.
    resume_wait: float = 0.5
    #: A client quiet this long is pinged; one that does not answer within
    #: ``ping_timeout`` is gone (a laptop closed, a NAT that forgot it) and dropped.
    ping_interval: float = 60.0
    ping_timeout: float = 30.0
    #: Connections still in their handshake (not yet shown a token) at once; more are
    #: closed on accept, so that opening sockets cannot use up the process's descriptors.
    max_pending: int = 64
    #: Clients at once.
    max_clients: int = 1000
    #: Endpoints served without the token: ``"healthz"``, ``"metrics"`` (for a load
    #: balancer's health check and a Prometheus scraper). Everything else wants it.
    open_endpoints: tuple[str, ...] = ()
    #: A certificate (PEM, with its chain) and its key: the port speaks TLS
    #: (``wss://``, ``https://``). ``None``: plain ``ws://`` (localhost by default).
    cert_file: Path | None = None
    key_file: Path | None = None


def webhook_url_problem(url: str, *, allow_insecure: bool) -> str | None:
    """What is wrong with a webhook URL, or ``None``: ``https``, or ``http`` to loopback."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises for a port that is not a number)
    except ValueError as exc:
        return f"not a URL: {exc}"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"must be an http:// or https:// URL with a host, not {url!r}"
    if parts.username or parts.password:
        return "must not hold credentials (the secret signs each request)"
    if parts.scheme == "http" and not allow_insecure and not _is_loopback(parts.hostname):
        return (
            "http:// sends events and signatures in clear; use https://, "
            "or set allow_insecure = true"
        )
    return None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_url(instance: WebhookSettings, attribute: object, url: str) -> None:
    problem = webhook_url_problem(url, allow_insecure=instance.allow_insecure)
    if problem:
        raise ValueError(f"webhook {instance.name}: url {problem}")


@attrs.frozen(kw_only=True)
class WebhookSettings:
    """One webhook: where logged events are POSTed, signed, and how hard to try."""

    #: Names the webhook's cursor in the store: renaming it starts it afresh.
    name: str
    url: str = attrs.field(validator=_check_url)
    #: The HMAC-SHA256 key of the ``X-Mailsync-Signature`` header.
    secret: Secret = attrs.field(converter=as_secret)
    #: Event types sent (``new_messages``...); ``None``: every logged type. ``reset``
    #: is always sent: the receiver must know when it missed events.
    events: frozenset[str] | None = None
    #: Accounts whose events are sent; ``None``: all.
    accounts: frozenset[str] | None = None
    #: Events per POST at most (fewer when fewer are waiting).
    batch_size: int = 50
    #: Seconds one POST may take, connection and response included.
    timeout: float = 10.0
    #: POSTs of one batch before it is recorded as failed and the webhook moves on.
    max_attempts: int = 8
    #: The delay before the first retry, doubled per attempt up to ``retry_max``
    #: (each with jitter: between half and all of it). A ``Retry-After`` wins, up to
    #: ``retry_max``.
    retry_initial: float = 1.0
    retry_max: float = 300.0
    #: Trust this CA for ``https`` (a private receiver).
    ca_file: Path | None = None
    #: Allow ``http://`` to a host other than loopback (events and the signature in clear).
    allow_insecure: bool = False


@attrs.frozen(kw_only=True)
class EventLogSettings:
    """How long the event log keeps events (consumers can resume within it)."""

    #: Seconds an event is kept (7 days).
    retention: float = 7 * 86400.0
    #: Events kept at most, whatever their age.
    max_events: int = 1_000_000


@attrs.frozen(kw_only=True)
class StoreSettings:
    """Which store keeps the state: SQLite (the file is ``Config.store_path``) or PostgreSQL."""

    #: ``"sqlite"``: one file, one process. ``"postgres"``: a database that a cluster's
    #: workers share (one ``serve`` may use it alone too).
    backend: Literal["sqlite", "postgres"] = "sqlite"
    #: PostgreSQL's connection string (URL or ``key=value``), without the password.
    dsn: str | None = None
    password: Secret | None = attrs.field(
        default=None, converter=attrs.converters.optional(as_secret)
    )
    #: Connections to PostgreSQL at most, and store calls running at once.
    connections: int = 8
    #: Seconds a store call waits for another process's lock, and a transaction may sit
    #: idle, at most: a process paused mid-write holds nobody up for longer. A worker
    #: uses at most a third of its lease's life.
    lock_timeout: float = 5.0


@attrs.frozen(kw_only=True)
class ClusterSettings:
    """Scale-out (``[cluster]``): workers that share the accounts through Redis leases."""

    #: Redis, ``redis://host:port/db`` (``rediss://`` for TLS), without the password.
    redis_url: str
    password: Secret | None = attrs.field(
        default=None, converter=attrs.converters.optional(as_secret)
    )
    #: This worker's name among the workers (default: host name and process id).
    name: str | None = None
    #: A lease (and a worker's heartbeat) lasts this long unless renewed (a third of it).
    #: A dead worker's accounts start elsewhere after at most this plus one renewal.
    lease_ttl: float = 30.0
    #: Accounts one worker runs at most; more wait for room on another.
    max_accounts: int = 10_000
    #: Every key and stream of the cluster starts with this (clusters sharing one Redis).
    prefix: str = "mailsync"
    #: Events kept in the Redis stream (about; older ones are replayed from the store).
    stream_length: int = 100_000


@attrs.frozen(kw_only=True)
class Config:
    """A whole configuration: accounts, where the state lives, the service and the broadcaster."""

    accounts: tuple[Account, ...]
    path: Path | None = None
    #: Where the sync state lives; ``None``: the default path.
    store_path: Path | None = None
    store: StoreSettings = attrs.field(factory=StoreSettings)
    #: ``None``: one process (``serve``); else the cluster's settings (``worker``, ``broadcast``).
    cluster: ClusterSettings | None = None
    service: ServiceSettings = attrs.field(factory=ServiceSettings)
    broadcast: BroadcastSettings = attrs.field(factory=BroadcastSettings)
    events: EventLogSettings = attrs.field(factory=EventLogSettings)
    webhooks: tuple[WebhookSettings, ...] = ()
    #: ``[account_defaults]`` as written: merged into accounts added at runtime too.
    account_defaults: Mapping[str, Any] = attrs.field(factory=dict)

    def account(self, account_id: str) -> Account:
        """The account with this id; ``KeyError`` if there is none."""
        for account in self.accounts:
            if account.id == account_id:
                return account
        raise KeyError(account_id)


class TableReader:
    """Typed access to TOML tables; every failure is a :class:`ConfigError` with its key path.

    ``key`` arguments are the dotted path of the table being read
    (``accounts.work``), for the messages.
    """

    def __init__(self, path: str) -> None:
        self.path = path

    def fail(self, key: str, message: str) -> ConfigError:
        """The error for ``key``, to raise."""
        return ConfigError(self.path, key, message)

    def only(self, t: Mapping[str, Any], key: str, allowed: set[str]) -> None:
        """Refuse any key of ``t`` not in ``allowed`` (a typo must not be ignored)."""
        for name in t:
            if name not in allowed:
                where = f"{key}.{name}" if key else name
                raise self.fail(where, f"unknown key; expected one of {', '.join(sorted(allowed))}")

    def table(
        self, t: Mapping[str, Any], name: str, *, prefix: str = "", required: bool = False
    ) -> Mapping[str, Any]:
        """The sub-table ``name`` of ``t`` (empty when absent and not required)."""
        key = f"{prefix}.{name}" if prefix else name
        if name not in t:
            if required:
                raise self.fail(key, "is missing")
            return {}
        value = t[name]
        if not isinstance(value, dict):
            raise self.fail(key, f"must be a table, not {_kind(value)}")
        return value

    def _get(self, t: Mapping[str, Any], key: str, name: str, required: bool) -> Any:
        if name not in t:
            if required:
                raise self.fail(f"{key}.{name}", "is missing")
            return None
        return t[name]

    def string(
        self,
        t: Mapping[str, Any],
        key: str,
        name: str,
        *,
        required: bool = False,
        default: Any = None,
        secret: bool = False,
    ) -> Any:
        """A non-empty string; ``secret=True`` never echoes the value in an error."""
        value = self._get(t, key, name, required)
        if value is None:
            return default
        if not isinstance(value, str) or not value:
            shown = type(value).__name__ if secret else _kind(value)  # never echo a secret
            raise self.fail(f"{key}.{name}", f"must be a non-empty string, not {shown}")
        return value

    def secret(self, t: Mapping[str, Any], key: str, name: str, *, required: bool) -> Secret | None:
        """``name`` inline, or ``name_env``: an environment variable read now."""
        if name in t and f"{name}_env" in t:
            raise self.fail(f"{key}.{name}", f"give {name} or {name}_env, not both")
        if f"{name}_env" in t:
            variable = self.string(t, key, f"{name}_env", required=True)
            value = os.environ.get(variable)
            if not value:
                raise self.fail(f"{key}.{name}_env", f"environment variable {variable} is not set")
            return Secret(value)
        value = self.string(t, key, name, required=required, secret=True)
        return None if value is None else Secret(value)

    def readable_file(self, t: Mapping[str, Any], key: str, name: str) -> Path | None:
        """A path (``~`` expanded) to a file that exists and can be read now, or ``None``.

        Checked at load, so that a wrong path is a config error naming the key and
        the path, not an ``[Errno 2]`` from deep in a connection attempt.
        """
        value = self.string(t, key, name, default=None)
        if value is None:
            return None
        path = Path(value).expanduser()
        try:
            with path.open("rb"):
                pass
        except FileNotFoundError:
            raise self.fail(f"{key}.{name}", f"no such file: {path}") from None
        except IsADirectoryError:
            raise self.fail(f"{key}.{name}", f"is a directory, not a file: {path}") from None
        except OSError as exc:
            raise self.fail(f"{key}.{name}", f"cannot be read: {path}: {exc.strerror}") from None
        return path

    def boolean(self, t: Mapping[str, Any], key: str, name: str, *, default: bool) -> bool:
        """``true`` or ``false``."""
        value = self._get(t, key, name, False)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.fail(f"{key}.{name}", f"must be true or false, not {_kind(value)}")
        return value

    def integer(
        self, t: Mapping[str, Any], key: str, name: str, *, default: int, low: int, high: int
    ) -> int:
        """An integer from ``low`` to ``high``."""
        value = self._get(t, key, name, False)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.fail(
                f"{key}.{name}", f"must be an integer from {low} to {high}, not {_kind(value)}"
            )
        return value

    def number(
        self, t: Mapping[str, Any], key: str, name: str, *, default: float, low: float
    ) -> float:
        """A finite number of at least ``low`` (integers accepted)."""
        value = self._get(t, key, name, False)
        if value is None:
            return default
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value < low
        ):
            raise self.fail(
                f"{key}.{name}", f"must be a number of at least {low}, not {_kind(value)}"
            )
        return float(value)

    def string_list(
        self, t: Mapping[str, Any], key: str, name: str, *, default: list[str]
    ) -> list[str]:
        """A non-empty list of non-empty strings."""
        value = self._get(t, key, name, False)
        if value is None:
            return default
        if not isinstance(value, list) or not value:
            raise self.fail(
                f"{key}.{name}", f"must be a non-empty list of strings, not {_kind(value)}"
            )
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item:
                raise self.fail(
                    f"{key}.{name}[{i}]", f"must be a non-empty string, not {_kind(item)}"
                )
        return value


def _kind(value: object) -> str:
    if isinstance(value, str):
        return repr(value) if len(value) <= 40 else "a long string"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__
