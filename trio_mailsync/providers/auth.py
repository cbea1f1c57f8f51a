"""Passwords and OAuth 2.0 access tokens, obtained when needed and kept in memory.

Shared by the providers: IMAP logs in with a password or XOAUTH2, an HTTP
API provider sends the OAuth token.

A password comes inline, from an environment variable, or from a command
(like mbsync's PassCmd), run once and kept until the server refuses it.

An OAuth access token is cached with its expiry and refreshed *before* it
expires (``refresh_margin`` ahead); concurrent callers share one refresh. A
token the server rejects is invalidated so the next call refreshes; a
refresh token the endpoint rotates replaces the old one.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import shlex
import signal
import subprocess
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import httpx
import trio

from trio_mailsync.core.config import TableReader
from trio_mailsync.core.errors import ConfigError, CredentialsError
from trio_mailsync.secret import Secret, as_secret

__all__ = [
    "AUTH_KEYS",
    "Credentials",
    "OAuth2Auth",
    "OAuth2Credentials",
    "OAuth2Statistics",
    "PasswordAuth",
    "PasswordCredentials",
    "credentials_for",
    "parse_auth",
]

logger = logging.getLogger(__name__)

#: How long a password command may run.
PASSWORD_COMMAND_TIMEOUT = 60.0
#: A password command printing more than this is refused (a password is one short line).
MAX_PASSWORD_OUTPUT = 64 * 1024
#: How long a token request may take.
TOKEN_REQUEST_TIMEOUT = 30.0


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
    """OAuth 2.0 refresh-token grant (IMAP's XOAUTH2, HTTP APIs)."""

    token_url: str
    client_id: str
    client_secret: Secret | None = attrs.field(
        default=None, converter=attrs.converters.optional(as_secret)
    )
    refresh_token: Secret = attrs.field(converter=as_secret)
    scope: str | None = None
    #: Refresh this many seconds before the access token expires.
    refresh_margin: float = 300.0


#: The keys of an account's table that say how it authenticates.
AUTH_KEYS = frozenset({"password", "password_env", "password_command", "oauth2"})
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


def parse_auth(r: TableReader, key: str, t: Mapping[str, Any]) -> PasswordAuth | OAuth2Auth:
    """Exactly one of ``password``, ``password_env``, ``password_command`` or ``[oauth2]``."""
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


class PasswordCredentials:
    """A user name and a password from one of the sources of :class:`PasswordAuth`."""

    def __init__(self, username: str, auth: PasswordAuth, *, account_id: str = "") -> None:
        self.username = username
        self.account_id = account_id
        self._auth = auth
        self._cached: Secret | None = auth.password
        self._lock = trio.Lock()

    def __repr__(self) -> str:
        return f"PasswordCredentials(username={self.username!r})"

    async def password(self) -> Secret:
        """The password: the cached one, or one asked of its source now."""
        if self._cached is not None:
            return self._cached
        async with self._lock:
            if self._cached is None:
                self._cached = await self._fetch()
            return self._cached

    def invalidate(self) -> None:
        """Forget the password (the server refused it); the next use asks its source again."""
        if self._auth.password is None:
            self._cached = None

    async def _fetch(self) -> Secret:
        auth = self._auth
        if auth.env is not None:
            value = os.environ.get(auth.env)
            if not value:
                raise CredentialsError(
                    f"{self.account_id}: environment variable {auth.env} is not set"
                )
            return Secret(value)
        assert auth.command is not None
        program = auth.command[0]
        output = await self._run_command(auth.command)
        lines = output.decode("utf-8", "replace").splitlines()
        if not lines or not lines[0]:
            raise CredentialsError(
                f"{self.account_id}: password command {program!r} printed nothing"
            )
        return Secret(lines[0])

    async def _run_command(self, argv: tuple[str, ...]) -> bytes:
        """The command's output, at most MAX_PASSWORD_OUTPUT bytes, within the timeout.

        It runs in a process group of its own, and whatever of that group is still
        running when this returns (or is cancelled) is killed: a password helper that
        hangs leaves no orphan behind, one that prints without end no unbounded buffer.
        """
        program = argv[0]
        try:
            process = await trio.lowlevel.open_process(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,  # not shown, and never buffered: it could hold it
                start_new_session=True,
            )
        except OSError as exc:
            raise CredentialsError(
                f"{self.account_id}: password command {program!r} could not run: {exc.strerror}"
            ) from None
        assert process.stdout is not None
        output = bytearray()
        try:
            with trio.fail_after(PASSWORD_COMMAND_TIMEOUT):
                while chunk := await process.stdout.receive_some(65536):
                    output += chunk
                    if len(output) > MAX_PASSWORD_OUTPUT:
                        raise CredentialsError(
                            f"{self.account_id}: password command {program!r} printed more "
                            f"than {MAX_PASSWORD_OUTPUT} bytes"
                        )
                returncode = await process.wait()
        except trio.TooSlowError:
            raise CredentialsError(
                f"{self.account_id}: password command {program!r} took longer than "
                f"{PASSWORD_COMMAND_TIMEOUT:g} s"
            ) from None
        finally:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)  # its group: children too
            with trio.CancelScope(shield=True):
                await process.wait()
                await process.stdout.aclose()
        if returncode != 0:
            # Its output is not shown: it could hold the secret.
            raise CredentialsError(
                f"{self.account_id}: password command {program!r} failed with exit status "
                f"{returncode}"
            )
        return bytes(output)


@attrs.define
class OAuth2Statistics:
    """How often the token was refreshed, failed to be, and was found rejected."""

    refreshes: int = 0
    failures: int = 0
    invalidations: int = 0


class OAuth2Credentials:
    """An OAuth 2.0 refresh-token grant for XOAUTH2."""

    def __init__(
        self,
        username: str,
        auth: OAuth2Auth,
        *,
        account_id: str = "",
        http: httpx.AsyncClient | None = None,
        on_refresh_token: Callable[[Secret], None] | None = None,
    ) -> None:
        self.username = username
        self.account_id = account_id
        self._auth = auth
        self._refresh_token = auth.refresh_token
        self._http = http
        self._on_refresh_token = on_refresh_token
        self._token: Secret | None = None
        self._expires_at = -math.inf  # on the Trio clock
        #: When the current token counts as due for a refresh (on the Trio clock).
        self._refresh_at = -math.inf
        self._refreshing: trio.Event | None = None
        self._error: BaseException | None = None
        self.stats = OAuth2Statistics()

    def __repr__(self) -> str:
        return f"OAuth2Credentials(username={self.username!r}, token_url={self._auth.token_url!r})"

    def statistics(self) -> OAuth2Statistics:
        """A copy of the counters."""
        return attrs.evolve(self.stats)

    @property
    def refresh_token(self) -> Secret:
        """The current refresh token (rotated ones replace the configured one)."""
        return self._refresh_token

    def _fresh(self) -> bool:
        now = trio.current_time()
        return self._token is not None and now < self._refresh_at

    async def access_token(self) -> Secret:
        """A token valid for at least ``refresh_margin`` more seconds (or half its life,
        for a token that lives no longer than the margin)."""
        while not self._fresh():
            if self._refreshing is None:
                self._refreshing = trio.Event()
                try:
                    await self._refresh()
                    self._error = None
                except BaseException as exc:
                    self._error = exc
                    raise
                finally:
                    self._refreshing.set()
                    self._refreshing = None
            else:
                waiting = self._refreshing
                await waiting.wait()
                if self._error is not None and not self._fresh():
                    raise CredentialsError(
                        f"{self.account_id}: token refresh failed"
                    ) from self._error
        assert self._token is not None
        return self._token

    def expires_at(self, token: Secret) -> float:
        """When ``token`` expires, on the Trio clock (``inf``: not the current token)."""
        return self._expires_at if token == self._token else math.inf

    def invalidate(self, token: Secret | None = None) -> None:
        """The server rejected ``token`` (or the current one): refresh before next use."""
        if token is None or token == self._token:
            self._token = None
            self._expires_at = self._refresh_at = -math.inf
            self.stats.invalidations += 1

    async def _refresh(self) -> None:
        auth = self._auth
        form = {
            "grant_type": "refresh_token",
            "refresh_token": self._refresh_token.reveal(),
            "client_id": auth.client_id,
        }
        if auth.client_secret is not None:
            form["client_secret"] = auth.client_secret.reveal()
        if auth.scope:
            form["scope"] = auth.scope
        started = trio.current_time()
        try:
            with trio.fail_after(TOKEN_REQUEST_TIMEOUT):
                if self._http is not None:
                    response = await self._http.post(auth.token_url, data=form)
                else:
                    async with httpx.AsyncClient() as http:
                        response = await http.post(auth.token_url, data=form)
        except (httpx.HTTPError, trio.TooSlowError) as exc:
            self.stats.failures += 1
            raise CredentialsError(
                f"{self.account_id}: token endpoint {auth.token_url} unreachable: "
                f"{type(exc).__name__}"
            ) from None
        payload = _json(response)
        if response.status_code != 200 or "access_token" not in payload:
            self.stats.failures += 1
            error = payload.get("error", f"HTTP {response.status_code}")
            raise CredentialsError(
                f"{self.account_id}: token endpoint refused the refresh token: {error}"
            )
        expires_in = payload.get("expires_in", 3600)
        try:
            lifetime = float(expires_in)
        except (TypeError, ValueError):
            lifetime = 3600.0
        if not lifetime > 0:
            # Already expired: asking again at once would only hammer the endpoint.
            self.stats.failures += 1
            raise CredentialsError(
                f"{self.account_id}: token endpoint gave a token that is already expired "
                f"(expires_in {expires_in!r})"
            )
        self._token = Secret(str(payload["access_token"]))
        self._expires_at = started + lifetime
        # Refresh refresh_margin before the expiry, but never before half the token's life
        # is gone: a token living no longer than the margin (Keycloak's live 300 s, the
        # margin's default) would otherwise be stale at once, and refreshed in a loop.
        self._refresh_at = started + max(lifetime - self._auth.refresh_margin, lifetime / 2)
        rotated = payload.get("refresh_token")
        if isinstance(rotated, str) and rotated and rotated != self._refresh_token.reveal():
            self._refresh_token = Secret(rotated)
            if self._on_refresh_token is not None:
                self._on_refresh_token(self._refresh_token)
        self.stats.refreshes += 1
        logger.info("%s: access token refreshed, valid for %.0f s", self.account_id, lifetime)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        payload = response.json()
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


Credentials = PasswordCredentials | OAuth2Credentials


def credentials_for(
    account_id: str,
    username: str,
    auth: PasswordAuth | OAuth2Auth,
    *,
    http: httpx.AsyncClient | None = None,
) -> Credentials:
    """The credentials ``auth`` describes, for ``username`` of account ``account_id``."""
    if isinstance(auth, OAuth2Auth):
        return OAuth2Credentials(username, auth, account_id=account_id, http=http)
    return PasswordCredentials(username, auth, account_id=account_id)
