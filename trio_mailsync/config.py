"""Accounts and their configuration, loaded from TOML.

A config file looks like this::

    [store]
    path = "~/.local/state/trio-mailsync/mailsync.sqlite3"   # the default

    [accounts.work]
    host = "imap.example.com"
    security = "tls"                 # tls (993), starttls (143) or none
    username = "alice@example.com"
    password_command = ["pass", "show", "mail/work"]   # or password / password_env
    folders = ["INBOX", "role:sent", "Projects/*"]

    [accounts.gmail]
    host = "imap.gmail.com"
    username = "alice@gmail.com"
    [accounts.gmail.oauth2]
    token_url = "https://oauth2.googleapis.com/token"
    client_id = "..."
    client_secret_env = "GMAIL_CLIENT_SECRET"
    refresh_token_env = "GMAIL_REFRESH_TOKEN"

Every error names the file, the key path and what is wrong.
"""

from __future__ import annotations

import enum
import math
import os
import shlex
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from .errors import ConfigError
from .protocol import Secret
from .protocol._secret import as_secret

__all__ = [
    "DEFAULT_FOLDERS",
    "Account",
    "AccountLimits",
    "BroadcastSettings",
    "Config",
    "OAuth2Auth",
    "PasswordAuth",
    "Security",
    "ServiceSettings",
    "load_config",
    "parse_config",
]


class Security(enum.Enum):
    TLS = "tls"
    STARTTLS = "starttls"
    NONE = "none"


_DEFAULT_PORTS = {Security.TLS: 993, Security.STARTTLS: 143, Security.NONE: 143}

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
ROLES = frozenset({"inbox", "sent", "drafts", "trash", "junk", "archive", "all", "flagged"})


@attrs.frozen(kw_only=True)
class PasswordAuth:
    """A password from exactly one source: inline, an environment variable, or a command."""

    password: Secret | None = attrs.field(
        default=None, converter=attrs.converters.optional(as_secret)
    )
    env: str | None = None
    command: tuple[str, ...] | None = None


@attrs.frozen(kw_only=True)
class OAuth2Auth:
    """OAuth 2.0 refresh-token grant, used with XOAUTH2."""

    token_url: str
    client_id: str
    client_secret: Secret | None = attrs.field(
        default=None, converter=attrs.converters.optional(as_secret)
    )
    refresh_token: Secret = attrs.field(converter=as_secret)
    scope: str | None = None
    #: Refresh this many seconds before the access token expires.
    refresh_margin: float = 300.0


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


@attrs.frozen(kw_only=True)
class Account:
    id: str
    host: str
    username: str
    auth: PasswordAuth | OAuth2Auth
    security: Security = Security.TLS
    port: int = attrs.field(
        default=attrs.Factory(lambda self: _DEFAULT_PORTS[self.security], takes_self=True)
    )
    folders: tuple[str, ...] = DEFAULT_FOLDERS
    #: Allow plain TCP and LOGIN without TLS. Never the default.
    allow_insecure: bool = False
    #: Trust this CA file instead of the system's (for self-signed servers).
    ca_file: Path | None = None
    limits: AccountLimits = attrs.field(factory=AccountLimits)

    def __attrs_post_init__(self) -> None:
        if self.security is Security.NONE and not self.allow_insecure:
            raise ValueError("security = 'none' needs allow_insecure = true")


@attrs.frozen(kw_only=True)
class ServiceSettings:
    """How the service watches and syncs. Times are in seconds."""

    #: IDLE is ended and re-issued at least this often (RFC 2177: servers may drop
    #: an IDLE after 30 minutes; some NATs drop quiet connections much sooner).
    idle_reissue: float = 600.0
    #: A connection that says nothing for this long while IDLE-ing is probed
    #: (DONE, IDLE); no answer means it is dead.
    silence_timeout: float = 180.0
    #: Without IDLE, new mail is looked for this often.
    poll_interval: float = 60.0
    #: After IDLE failed, polling goes on this long before IDLE is tried again.
    idle_retry_interval: float = 600.0
    #: All folders of all accounts are synced this often (INBOX gets IDLE).
    sweep_interval: float = 300.0
    #: A sync still running after this long is abandoned with an error (a hung server).
    sync_timeout: float = 900.0
    #: Accounts synced at once.
    concurrency: int = 32


@attrs.frozen(kw_only=True)
class BroadcastSettings:
    """The WebSocket broadcaster: localhost and a token by default."""

    host: str = "127.0.0.1"
    port: int = 8765
    token: Secret | None = attrs.field(default=None, converter=attrs.converters.optional(as_secret))
    #: Browser origins allowed to connect; empty: any (the token still applies).
    allowed_origins: tuple[str, ...] = ()
    #: Events queued per client (at least 4 per account); a client that falls
    #: further behind is disconnected.
    queue_size: int = 256


@attrs.frozen(kw_only=True)
class Config:
    accounts: tuple[Account, ...]
    path: Path | None = None
    #: Where the sync state lives; ``None``: the default path.
    store_path: Path | None = None
    service: ServiceSettings = attrs.field(factory=ServiceSettings)
    broadcast: BroadcastSettings = attrs.field(factory=BroadcastSettings)

    def account(self, account_id: str) -> Account:
        for account in self.accounts:
            if account.id == account_id:
                return account
        raise KeyError(account_id)


# ---------------------------------------------------------------- loading


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
    r = _Reader(str(path))
    r.only(data, "", {"accounts", "store", "service", "broadcast"})
    store = r.table(data, "store")
    r.only(store, "store", {"path"})
    store_path = r.string(store, "store", "path", default=None)
    service = _service(r, r.table(data, "service"))
    broadcast = _broadcast(r, r.table(data, "broadcast"))
    accounts_table = r.table(data, "accounts", required=True)
    if not accounts_table:
        raise ConfigError(r.path, "accounts", "at least one account is needed")
    accounts = tuple(
        _account(r, str(account_id), r.table(accounts_table, str(account_id), prefix="accounts"))
        for account_id in accounts_table
    )
    return Config(
        accounts=accounts,
        path=Path(path),
        store_path=None if store_path is None else Path(store_path).expanduser(),
        service=service,
        broadcast=broadcast,
    )


def _service(r: _Reader, t: Mapping[str, Any]) -> ServiceSettings:
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


def _broadcast(r: _Reader, t: Mapping[str, Any]) -> BroadcastSettings:
    r.only(t, "broadcast", {"host", "port", "token", "token_env", "allowed_origins", "queue_size"})
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
    )


_ACCOUNT_KEYS = {
    "host",
    "port",
    "security",
    "username",
    "password",
    "password_env",
    "password_command",
    "oauth2",
    "folders",
    "allow_insecure",
    "ca_file",
    "limits",
}
_OAUTH_KEYS = {
    "token_url",
    "client_id",
    "client_secret",
    "client_secret_env",
    "refresh_token",
    "refresh_token_env",
    "scope",
    "refresh_margin",
}


def _account(r: _Reader, account_id: str, t: Mapping[str, Any]) -> Account:
    key = f"accounts.{account_id}"
    if not account_id or not all(c.isalnum() or c in "-_." for c in account_id):
        raise ConfigError(r.path, key, "an account id may hold letters, digits, '-', '_' and '.'")
    r.only(t, key, _ACCOUNT_KEYS)
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
    port = r.integer(t, key, "port", default=_DEFAULT_PORTS[security], low=1, high=65535)
    folders = r.string_list(t, key, "folders", default=list(DEFAULT_FOLDERS))
    for i, folder in enumerate(folders):
        if folder.startswith("role:") and folder[5:] not in ROLES:
            raise ConfigError(
                r.path,
                f"{key}.folders[{i}]",
                f"unknown role {folder[5:]!r}; roles are {', '.join(sorted(ROLES))}",
            )
    ca_file = r.string(t, key, "ca_file", default=None)
    return Account(
        id=account_id,
        host=r.string(t, key, "host", required=True),
        port=port,
        security=security,
        username=r.string(t, key, "username", required=True),
        auth=_auth(r, key, t),
        folders=tuple(folders),
        allow_insecure=allow_insecure,
        ca_file=None if ca_file is None else Path(ca_file).expanduser(),
        limits=_limits(r, key, r.table(t, "limits", prefix=key)),
    )


def _auth(r: _Reader, key: str, t: Mapping[str, Any]) -> PasswordAuth | OAuth2Auth:
    sources = [k for k in ("password", "password_env", "password_command", "oauth2") if k in t]
    if len(sources) != 1:
        raise ConfigError(
            r.path,
            key,
            "give exactly one of password, password_env, password_command or [oauth2]"
            + (f" (found {', '.join(sources)})" if sources else ""),
        )
    if "oauth2" in t:
        o = r.table(t, "oauth2", prefix=key)
        okey = f"{key}.oauth2"
        r.only(o, okey, _OAUTH_KEYS)
        secret = r.secret(o, okey, "client_secret", required=False)
        refresh = r.secret(o, okey, "refresh_token", required=True)
        assert refresh is not None
        return OAuth2Auth(
            token_url=r.string(o, okey, "token_url", required=True),
            client_id=r.string(o, okey, "client_id", required=True),
            client_secret=secret,
            refresh_token=refresh,
            scope=r.string(o, okey, "scope", default=None),
            refresh_margin=r.number(o, okey, "refresh_margin", default=300.0, low=0),
        )
    if "password" in t:
        return PasswordAuth(
            password=Secret(r.string(t, key, "password", required=True, secret=True))
        )
    if "password_env" in t:
        return PasswordAuth(env=r.string(t, key, "password_env", required=True))
    value = t["password_command"]
    if isinstance(value, str):
        command = shlex.split(value)
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        command = list(value)
    else:
        raise ConfigError(
            r.path, f"{key}.password_command", "must be a string or a list of strings"
        )
    if not command:
        raise ConfigError(r.path, f"{key}.password_command", "is empty")
    return PasswordAuth(command=tuple(command))


def _limits(r: _Reader, key: str, t: Mapping[str, Any]) -> AccountLimits:
    lkey = f"{key}.limits"
    defaults = AccountLimits()
    r.only(t, lkey, {f.name for f in attrs.fields(AccountLimits)})
    return AccountLimits(
        max_connections=r.integer(
            t, lkey, "max_connections", default=defaults.max_connections, low=1, high=100
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


class _Reader:
    """Typed access to TOML tables; every failure is a ConfigError with its key path."""

    def __init__(self, path: str) -> None:
        self.path = path

    def fail(self, key: str, message: str) -> ConfigError:
        return ConfigError(self.path, key, message)

    def only(self, t: Mapping[str, Any], key: str, allowed: set[str]) -> None:
        for name in t:
            if name not in allowed:
                where = f"{key}.{name}" if key else name
                raise self.fail(where, f"unknown key; expected one of {', '.join(sorted(allowed))}")

    def table(
        self, t: Mapping[str, Any], name: str, *, prefix: str = "", required: bool = False
    ) -> Mapping[str, Any]:
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

    def boolean(self, t: Mapping[str, Any], key: str, name: str, *, default: bool) -> bool:
        value = self._get(t, key, name, False)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.fail(f"{key}.{name}", f"must be true or false, not {_kind(value)}")
        return value

    def integer(
        self, t: Mapping[str, Any], key: str, name: str, *, default: int, low: int, high: int
    ) -> int:
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
