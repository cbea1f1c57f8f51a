"""One account's calls to the Gmail API: the token, the quota, retries, and what errors mean.

Every call goes through :meth:`GmailApi.get`:

- it waits for the per-user quota (a token bucket of ``units_per_second``, each
  call taking its documented cost), so a first sync of a large mailbox slows down
  instead of being refused;
- it sends the OAuth access token, refreshed ``refresh_margin`` before it expires
  (:class:`~trio_mailsync.providers.auth.OAuth2Credentials`, shared with IMAP's
  XOAUTH2); a 401 invalidates the token, refreshes once and retries once, and a
  second 401 is :class:`~trio_mailsync.core.errors.AuthenticationFailed`;
- 429, and 403 with ``rateLimitExceeded`` or ``userRateLimitExceeded``, wait
  ``Retry-After`` (or the backoff) with jitter and try again; so do 5xx answers and
  a connection that broke; after ``MAX_ATTEMPTS`` the last error is raised
  (:class:`~trio_mailsync.core.errors.ServerBusy` or
  :class:`~trio_mailsync.core.errors.ConnectionLost`);
- any other 4xx is a :class:`~trio_mailsync.core.errors.ProviderError` that says the
  call, the status and Google's message; a 404 of ``history.list`` is
  :class:`HistoryExpired`, of ``messages.get`` :class:`MessageGone`.

The token is never in an error, a log line or a repr.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import httpx
import trio

from trio_mailsync.core.backoff import exponential_backoff
from trio_mailsync.core.errors import (
    AuthenticationFailed,
    ConnectionLost,
    ProviderError,
    ServerBusy,
)
from trio_mailsync.providers.auth import OAuth2Credentials
from trio_mailsync.providers.gmail.settings import GmailSettings

__all__ = [
    "MAX_ATTEMPTS",
    "GmailApi",
    "GmailStatistics",
    "HistoryExpired",
    "MessageGone",
    "RequestRefused",
]

#: Tries of one call before its last error is raised (429s, 5xx, broken connections).
MAX_ATTEMPTS = 5
#: Seconds one request may take.
REQUEST_TIMEOUT = 60.0
#: 403 reasons that mean "too fast", not "forbidden".
RATE_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})


class HistoryExpired(ProviderError):
    """``history.list`` answered 404: the start history id is too old (Google keeps about
    a week). The labels are listed again in full."""


class MessageGone(ProviderError):
    """``messages.get`` answered 404: the message was deleted since it was listed."""


class RequestRefused(ProviderError):
    """The API refused a call with a 4xx that waiting will not mend (``status`` says which)."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


@attrs.define
class GmailStatistics:
    """An account's calls: by name, retried, quota units spent, waits for the quota."""

    calls: Counter[str] = attrs.field(factory=Counter)
    retries: int = 0
    units: int = 0
    quota_waits: int = 0
    auth_failures: int = 0


class _Bucket:
    """A token bucket on Trio's clock: ``rate`` units a second, at most one second's worth."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.level = rate
        self.at = -math.inf

    async def take(self, units: int) -> bool:
        """Wait until ``units`` are there and take them; ``True`` if it had to wait."""
        waited = False
        while True:
            now = trio.current_time()
            self.level = min(self.rate, self.level + (now - self.at) * self.rate)
            self.at = now
            if self.level >= units:
                self.level -= units
                if not waited:
                    await trio.lowlevel.checkpoint()
                return waited
            waited = True
            await trio.sleep((units - self.level) / self.rate)


class GmailApi:
    """The calls of one account (see the module's doc)."""

    def __init__(
        self,
        account_id: str,
        settings: GmailSettings,
        http: httpx.AsyncClient,
        credentials: OAuth2Credentials,
        *,
        in_flight: trio.CapacityLimiter | None = None,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.account_id = account_id
        self.settings = settings
        self.credentials = credentials
        self.stats = GmailStatistics()
        self._http = http
        self._bucket = _Bucket(settings.quota.units_per_second)
        self._jitter = jitter
        # Requests in flight for all the provider's accounts, at most its connections:
        # httpcore's pool scans its queue and connections for every request, so a
        # queue of hundreds costs more CPU than the requests themselves.
        self._in_flight = in_flight or trio.CapacityLimiter(1_000_000)
        #: Set after the API refused a fresh token: no call until this Trio time.
        self.auth_failed: AuthenticationFailed | None = None
        #: Set (and replaced) when the API refuses the account: the watcher shows
        #: ``auth_failed`` at once instead of at its next poll.
        self.refused = trio.Event()

    def __repr__(self) -> str:
        return f"GmailApi(account_id={self.account_id!r}, base_url={self.settings.base_url!r})"

    def statistics(self) -> GmailStatistics:
        """A copy of the counters."""
        return attrs.evolve(self.stats, calls=Counter(self.stats.calls))

    async def get(
        self, name: str, path: str, params: Mapping[str, Any] | None = None, *, cost: int
    ) -> dict[str, Any]:
        """``GET {base_url}/gmail/v1/users/me{path}``: the answer's JSON object."""
        failed = self.auth_failed
        if failed is not None:
            if failed.retry_at is not None and trio.current_time() < failed.retry_at:
                raise failed
            self.auth_failed = None
        url = f"{self.settings.base_url}/gmail/v1/users/me{path}"
        refreshed = False
        error: ProviderError | None = None
        for attempt in range(1, MAX_ATTEMPTS + 1):
            if await self._bucket.take(cost):
                self.stats.quota_waits += 1
            token = await self.credentials.access_token()
            self.stats.calls[name] += 1
            self.stats.units += cost
            try:
                async with self._in_flight:
                    with trio.fail_after(REQUEST_TIMEOUT):
                        response = await self._http.get(
                            url,
                            params=params,
                            headers={"Authorization": f"Bearer {token.reveal()}"},
                        )
            except (httpx.TransportError, trio.TooSlowError) as exc:
                error = ConnectionLost(f"{self.account_id}: {name}: {type(exc).__name__}")
                await self._wait(attempt, None)
                continue
            status = response.status_code
            if status == 200:
                payload = _json(response)
                if payload is None:
                    raise ProviderError(f"{self.account_id}: {name}: the answer is not JSON")
                return payload
            reason, message = _google_error(response)
            if status == 401:
                self.credentials.invalidate(token)
                if not refreshed:
                    refreshed = True  # one fresh token, one more try, at once
                    continue
                self.stats.auth_failures += 1
                failed = AuthenticationFailed(
                    f"{self.account_id}: the Gmail API refused a fresh access token: {message}",
                    retry_at=trio.current_time() + self.settings.auth_retry_after,
                )
                self.auth_failed = failed
                self.refused.set()
                self.refused = trio.Event()
                raise failed
            if status == 429 or (status == 403 and reason in RATE_REASONS):
                error = ServerBusy(f"{self.account_id}: {name}: HTTP {status} {reason}: {message}")
                await self._wait(attempt, _retry_after(response))
                continue
            if status >= 500:
                error = ProviderError(f"{self.account_id}: {name}: HTTP {status}: {message}")
                await self._wait(attempt, _retry_after(response))
                continue
            if status == 404 and name == "history.list":
                raise HistoryExpired(f"{self.account_id}: the history id is too old: {message}")
            if status == 404 and name == "messages.get":
                raise MessageGone(f"{self.account_id}: {path}: gone")
            raise RequestRefused(
                f"{self.account_id}: {name}: HTTP {status} {reason}: {message}", status=status
            )
        assert error is not None
        raise error

    async def _wait(self, attempt: int, retry_after: float | None) -> None:
        """Before the next try: ``Retry-After`` when the server said, else the backoff;
        with "equal jitter" (half fixed, half random) so accounts do not retry in step."""
        if attempt >= MAX_ATTEMPTS:
            return
        self.stats.retries += 1
        settings = self.settings
        base = exponential_backoff(
            attempt, initial=settings.backoff_initial, maximum=settings.backoff_max
        )
        if retry_after is not None:
            base = min(max(base, retry_after), settings.backoff_max)
            await trio.sleep(base + base / 4 * self._jitter())
        else:
            await trio.sleep(base / 2 + base / 2 * self._jitter())


def _json(response: httpx.Response) -> dict[str, Any] | None:
    try:
        payload = response.json()
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


def _google_error(response: httpx.Response) -> tuple[str, str]:
    """(reason, message) of Google's error body: ``{"error": {"errors": [{"reason"}]}}``."""
    payload = _json(response) or {}
    error = payload.get("error")
    if not isinstance(error, dict):
        return "", response.reason_phrase
    message = str(error.get("message") or response.reason_phrase)[:300]
    reasons = error.get("errors")
    reason = ""
    if isinstance(reasons, list) and reasons and isinstance(reasons[0], dict):
        reason = str(reasons[0].get("reason", ""))
    return reason or str(error.get("status", "")), message


def _retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds (RFC 9110 10.2.3; an HTTP date is not used by Google)."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if 0 <= seconds < 86400 else None
