"""Persistent, authenticated connections per account, reused across sync cycles.

::

    async with open_pool(config.accounts) as pool:
        async with pool.connection("work") as conn:
            await conn.select("INBOX")

A checkout reuses the most recently returned connection of the account; one
unused for longer than ``health_check_after`` first gets a NOOP. A broken
connection is discarded and replaced. Every connection of an account, IDLE
ones included, counts against its ``max_connections``. Failed connection
attempts wait with exponential backoff and jitter before the next one. "Come
back later" answers (too many connections, UNAVAILABLE) are back-pressure:
the checkout waits and tries again. Refused credentials mark the account as
needing attention; further checkouts fail at once, without contacting the
server, until ``auth_retry_after`` has passed or :meth:`ConnectionPool.reset`
is called. Unused connections are logged out after ``max_idle_time``.
"""

from __future__ import annotations

import logging
import math
import random
import ssl
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager

import attrs
import trio

from trio_mailsync.core.backoff import exponential_backoff
from trio_mailsync.core.config import Account
from trio_mailsync.core.errors import (
    AuthenticationFailed,
    ConnectionLost,
    CredentialsError,
    ProviderError,
    ServerBusy,
)
from trio_mailsync.protocol import ConnectionState, Limits, ResponseStatus
from trio_mailsync.providers.auth import Credentials, OAuth2Credentials, credentials_for
from trio_mailsync.providers.imap.connect import Connector, connect_account, tcp_connector
from trio_mailsync.providers.imap.connection import CLEANUP_TIMEOUT, IMAPConnection
from trio_mailsync.providers.imap.errors import token_expired
from trio_mailsync.providers.imap.settings import imap_settings
from trio_mailsync.providers.imap.trace import WireTrace

__all__ = ["ConnectionPool", "HostRate", "PoolStatistics", "open_pool"]

logger = logging.getLogger(__name__)

#: A NOOP health check that takes longer than this fails.
HEALTH_CHECK_TIMEOUT = 10.0
#: The janitor looks at idle connections at least this often.
JANITOR_TICK = 60.0


@attrs.define
class PoolStatistics:
    """Counters behind "connections per cycle" and "authentication overhead"."""

    connections_opened: int = 0
    tls_handshakes: int = 0
    authentications: int = 0
    reused: int = 0
    health_checks: int = 0
    health_check_failures: int = 0
    failures: int = 0
    #: Attempts the server answered with "come back later".
    busy: int = 0
    closed_idle: int = 0
    #: Connections discarded because they broke.
    discarded: int = 0
    #: Connections replaced because their OAuth token was about to expire.
    expired: int = 0
    in_use: int = 0
    idle: int = 0

    def __add__(self, other: PoolStatistics) -> PoolStatistics:
        return PoolStatistics(
            **{
                f.name: getattr(self, f.name) + getattr(other, f.name)
                for f in attrs.fields(PoolStatistics)
            }
        )


class HostRate:
    """New connections to one server host, spread to at most ``rate`` per second.

    A token bucket of ``rate`` tokens (a second's worth may go at once); a caller that
    finds it empty reserves the next free slot and sleeps until then, plus up to one
    slot's length of jitter, so that accounts that all lost their connections at once
    (a server restart) come back spread out, in the order they asked.
    """

    def __init__(self, rate: float, jitter: Callable[[], float]) -> None:
        self.rate = rate
        self._jitter = jitter
        self._tokens = rate
        self._updated = trio.current_time()
        #: Connections that had to wait for a slot.
        self.delayed = 0

    async def acquire(self) -> None:
        """Wait for this connection's slot."""
        now = trio.current_time()
        self._tokens = min(self.rate, self._tokens + (now - self._updated) * self.rate)
        self._updated = now
        self._tokens -= 1
        if self._tokens >= 0:
            return
        self.delayed += 1
        # Negative tokens are the queue: this caller's slot is that far ahead.
        await trio.sleep((-self._tokens + self._jitter()) / self.rate)


class _AccountPool:
    def __init__(self, account: Account, credentials: Credentials | None) -> None:
        self.account = account
        self.settings = settings = imap_settings(account)
        self.limits = settings.limits
        self.credentials = credentials or credentials_for(
            account.id, settings.username, settings.auth
        )
        self.limiter = trio.CapacityLimiter(settings.limits.max_connections)
        self.idle: list[IMAPConnection] = []
        self.open = 0
        self.failures = 0
        self.retry_at = -float("inf")
        self.auth_error: AuthenticationFailed | None = None
        self.auth_retry_at = -float("inf")
        #: Bumped whenever a connection of this account broke: caches keyed on it go stale.
        self.generation = 0
        self.stats = PoolStatistics()
        #: Removed from the pool (at runtime): connections returned now are logged out.
        self.removed = False


class ConnectionPool:
    """Connections for many accounts. Create it with :func:`open_pool`."""

    def __init__(
        self,
        accounts: Iterable[Account],
        *,
        credentials: Mapping[str, Credentials] | None = None,
        connector: Connector = tcp_connector,
        ssl_context: ssl.SSLContext | None = None,
        jitter: Callable[[], float] = random.random,
        trace: WireTrace | None = None,
        connect_rate: float = math.inf,
    ) -> None:
        credentials = credentials or {}
        self._connect_rate = connect_rate
        self._hosts: dict[tuple[str, int], HostRate] = {}
        self._trace = trace
        self._accounts = {a.id: _AccountPool(a, credentials.get(a.id)) for a in accounts}
        self._connector = connector
        self._ssl_context = ssl_context
        self._jitter = jitter
        self._wakeup = trio.Event()
        #: When the janitor looks next (``inf``: not known; any return wakes it).
        self._next_wake = math.inf
        self._closed = False

    def _pool(self, account: Account | str) -> _AccountPool:
        account_id = account if isinstance(account, str) else account.id
        try:
            return self._accounts[account_id]
        except KeyError:
            raise KeyError(f"no account {account_id!r} in this pool") from None

    @property
    def accounts(self) -> list[Account]:
        """The accounts this pool serves."""
        return [p.account for p in self._accounts.values()]

    def serves(self, account_id: str) -> bool:
        """Whether the pool serves this account."""
        return account_id in self._accounts

    def add(self, account: Account, credentials: Credentials | None = None) -> None:
        """Serve one more account (added at runtime); ``ValueError`` if it is served already."""
        if account.id in self._accounts:
            raise ValueError(f"account {account.id!r} is in the pool already")
        self._accounts[account.id] = _AccountPool(account, credentials)

    async def remove(self, account_id: str) -> None:
        """Stop serving an account: its idle connections are logged out now, the ones in
        use when they come back. Nothing happens for an account the pool does not serve."""
        p = self._accounts.pop(account_id, None)
        if p is None:
            await trio.lowlevel.checkpoint()
            return
        p.removed = True
        async with trio.open_nursery() as nursery:
            while p.idle:
                p.open -= 1
                nursery.start_soon(p.idle.pop().logout)

    def next_attempt(self, account: Account | str) -> float | None:
        """When the account's next connection may be tried (Trio's clock), if it must wait."""
        p = self._pool(account)
        at = max(p.retry_at, p.auth_retry_at if p.auth_error is not None else -math.inf)
        return at if at > trio.current_time() else None

    # ------------------------------------------------------------ observation

    def statistics(self, account: Account | str | None = None) -> PoolStatistics:
        """Counters for one account, or summed over all."""
        pools = [self._pool(account)] if account is not None else list(self._accounts.values())
        total = PoolStatistics()
        for p in pools:
            stats = attrs.evolve(p.stats, idle=len(p.idle), in_use=p.open - len(p.idle))
            total = total + stats
        return total

    def token_refreshes(self, account: Account | str) -> int:
        """How often the account's OAuth token was refreshed (0 with a password)."""
        credentials = self._pool(account).credentials
        if isinstance(credentials, OAuth2Credentials):
            return credentials.statistics().refreshes
        return 0

    def generation(self, account: Account | str) -> int:
        """Goes up whenever a connection of the account broke: caches keyed on it go stale."""
        return self._pool(account).generation

    def needs_attention(self, account: Account | str) -> AuthenticationFailed | None:
        """The refusal that stopped logins to this account, if any."""
        return self._pool(account).auth_error

    def reset(self, account: Account | str) -> None:
        """Forget a refusal and any backoff: the next checkout logs in again."""
        p = self._pool(account)
        p.auth_error = None
        p.auth_retry_at = p.retry_at = -float("inf")
        p.failures = 0

    # ------------------------------------------------------------ checkout

    @asynccontextmanager
    async def connection(self, account: Account | str) -> AsyncIterator[IMAPConnection]:
        """A healthy, authenticated connection of ``account`` for the block."""
        if self._closed:
            raise ProviderError("the connection pool is closed")
        p = self._pool(account)
        token = object()
        await p.limiter.acquire_on_behalf_of(token)
        try:
            conn = await self._checkout(p)
        except BaseException:
            p.limiter.release_on_behalf_of(token)
            raise
        try:
            yield conn
        finally:
            await self._return(p, conn)
            p.limiter.release_on_behalf_of(token)

    async def _checkout(self, p: _AccountPool) -> IMAPConnection:
        while True:
            conn = await self._reuse(p)
            if conn is not None:
                return conn
            now = trio.current_time()
            if p.auth_error is not None and now < p.auth_retry_at:
                raise AuthenticationFailed(
                    f"{p.auth_error} (not retried for {p.auth_retry_at - now:.0f} s)",
                    retry_at=p.auth_retry_at,
                ) from p.auth_error
            if now < p.retry_at:
                await trio.sleep_until(p.retry_at)
                continue  # a connection may have come back meanwhile
            try:
                return await self._open(p)
            except ServerBusy as exc:
                p.stats.busy += 1
                delay = self._backoff(p)
                logger.info("%s: server busy (%s); waiting %.1f s", p.account.id, exc, delay)

    async def _reuse(self, p: _AccountPool) -> IMAPConnection | None:
        limits = p.limits
        while p.idle:
            conn = p.idle.pop()
            if conn.broken:
                await self._discard(p, conn)
                continue
            if trio.current_time() >= conn.renew_at:
                # Its token is about to expire: the server would drop it mid-use.
                p.stats.expired += 1
                p.open -= 1
                await conn.logout()
                continue
            if trio.current_time() - conn.last_activity > limits.health_check_after:
                p.stats.health_checks += 1
                try:
                    with trio.fail_after(HEALTH_CHECK_TIMEOUT):
                        await conn.noop()
                except (ProviderError, trio.TooSlowError) as exc:
                    p.stats.health_check_failures += 1
                    logger.info(
                        "%s: pooled connection failed its health check: %s", p.account.id, exc
                    )
                    await self._discard(p, conn)
                    continue
            p.stats.reused += 1
            return conn
        return None

    def host_rate(self, host: str, port: int) -> HostRate | None:
        """The rate limit of new connections to ``host:port`` (``None``: unlimited)."""
        if math.isinf(self._connect_rate):
            return None
        rate = self._hosts.get((host, port))
        if rate is None:
            rate = self._hosts[host, port] = HostRate(self._connect_rate, self._jitter)
        return rate

    async def _open(self, p: _AccountPool) -> IMAPConnection:
        account, limits, settings = p.account, p.limits, p.settings
        rate = self.host_rate(settings.host, settings.port)
        if rate is not None:
            await rate.acquire()
        try:
            with trio.fail_after(limits.connect_timeout):
                conn = await connect_account(
                    account,
                    p.credentials,
                    connector=self._connector,
                    ssl_context=self._ssl_context,
                    limits=Limits(max_command_data=limits.max_command_data),
                    trace=self._trace,
                )
        except ServerBusy:
            raise
        except AuthenticationFailed as exc:
            # Logins wait for auth_retry_after: a wrong password tried again and
            # again gets accounts locked. The error says until when.
            p.stats.failures += 1
            p.auth_error = exc
            p.auth_retry_at = exc.retry_at = trio.current_time() + limits.auth_retry_after
            logger.warning("%s; not retrying for %.0f s", exc, limits.auth_retry_after)
            raise
        except trio.TooSlowError:
            p.stats.failures += 1
            self._backoff(p)
            raise ConnectionLost(
                f"{account.id}: no connection to {settings.host}:{settings.port} within "
                f"{limits.connect_timeout:.0f} s"
            ) from None
        except (ProviderError, CredentialsError):
            p.stats.failures += 1
            self._backoff(p)
            raise
        p.failures = 0
        p.retry_at = -float("inf")
        p.open += 1
        p.stats.connections_opened += 1
        if conn.encrypted:
            p.stats.tls_handshakes += 1
        if conn.greeting is None or conn.greeting.status is not ResponseStatus.PREAUTH:
            p.stats.authentications += 1
        return conn

    def _backoff(self, p: _AccountPool) -> float:
        """Schedule the next attempt: exponential, capped, with "equal jitter"."""
        limits = p.limits
        p.failures += 1
        base = exponential_backoff(
            p.failures, initial=limits.backoff_initial, maximum=limits.backoff_max
        )
        delay = base / 2 + base / 2 * self._jitter()
        p.retry_at = trio.current_time() + delay
        logger.debug(
            "%s: %d failed attempts in a row; the next in %.1f s", p.account.id, p.failures, delay
        )
        return delay

    async def _return(self, p: _AccountPool, conn: IMAPConnection) -> None:
        if (
            self._closed
            or p.removed
            or conn.broken
            or conn.client.state
            not in (
                ConnectionState.AUTHENTICATED,
                ConnectionState.SELECTED,
            )
        ):
            await self._discard(p, conn)
            return
        p.idle.append(conn)
        if conn.last_activity + p.limits.max_idle_time < self._next_wake:
            self._wakeup.set()  # due before the janitor looks again (it scans every account)

    async def _discard(self, p: _AccountPool, conn: IMAPConnection) -> None:
        p.open -= 1
        if not conn.broken:
            await conn.logout()
            return
        p.stats.discarded += 1
        p.generation += 1
        if isinstance(p.credentials, OAuth2Credentials) and token_expired(conn.error):
            # A BYE saying the token expired: refresh before reconnecting.
            p.credentials.invalidate()
        await conn.aclose()

    # ------------------------------------------------------------ idle connections

    async def close_idle(self) -> float:
        """Log out connections unused for ``max_idle_time``; returns when to look again."""
        now = trio.current_time()
        wake = now + JANITOR_TICK
        expired: list[tuple[_AccountPool, IMAPConnection]] = []
        for p in self._accounts.values():
            for conn in list(p.idle):
                due = conn.last_activity + p.limits.max_idle_time
                if due <= now:
                    p.idle.remove(conn)
                    expired.append((p, conn))
                else:
                    wake = min(wake, due)
        for p, conn in expired:
            p.open -= 1
            p.stats.closed_idle += 1
            logger.debug(
                "%s: closing a connection idle since %.0f s", p.account.id, now - conn.last_activity
            )
            await conn.logout()
        return wake

    async def run_janitor(self) -> None:
        """Close idle connections on time, forever. :func:`open_pool` runs it."""
        while True:
            # A connection returned while close_idle() runs must wake the next wait.
            self._wakeup, self._next_wake = trio.Event(), math.inf
            wake = self._next_wake = await self.close_idle()
            with trio.move_on_at(wake):
                await self._wakeup.wait()

    async def aclose(self) -> None:
        """Log out every pooled connection; connections in use close when returned."""
        self._closed = True
        async with trio.open_nursery() as nursery:
            for p in self._accounts.values():
                while p.idle:
                    conn = p.idle.pop()
                    p.open -= 1
                    nursery.start_soon(conn.logout)


@asynccontextmanager
async def open_pool(
    accounts: Iterable[Account],
    *,
    credentials: Mapping[str, Credentials] | None = None,
    connector: Connector = tcp_connector,
    ssl_context: ssl.SSLContext | None = None,
    jitter: Callable[[], float] = random.random,
    trace: WireTrace | None = None,
    connect_rate: float = math.inf,
) -> AsyncIterator[ConnectionPool]:
    """A pool for the block, with its janitor; every connection is logged out at the end.

    ``connect_rate``: new connections per second to one server host, at most.
    """
    pool = ConnectionPool(
        accounts,
        credentials=credentials,
        connector=connector,
        ssl_context=ssl_context,
        jitter=jitter,
        trace=trace,
        connect_rate=connect_rate,
    )
    async with trio.open_nursery() as nursery:
        nursery.start_soon(pool.run_janitor)
        try:
            yield pool
        finally:
            nursery.cancel_scope.cancel()
            with trio.CancelScope(shield=True) as scope:
                scope.deadline = trio.current_time() + 2 * CLEANUP_TIMEOUT
                await pool.aclose()
