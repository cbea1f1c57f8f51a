"""The IMAP provider: accounts synced and watched over pooled, persistent connections.

::

    async with open_imap_provider(config.accounts, settings=config.service) as imap:
        session = imap.session(account)
        await engine.sync_account(session)       # the sync engine drives session.sync()
        await session.watch(target)              # the service runs this per account

One :class:`ImapProvider` holds what its accounts share: the connection pool
(with its janitor, hence the context manager), the folder cache, credentials.
An :class:`ImapSession` syncs an account with the planner (``planner.py``) and
watches it with an :class:`~trio_mailsync.providers.imap.watcher.IdleWatcher`.
"""

from __future__ import annotations

import logging
import random
import ssl
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from typing import NoReturn

import trio

from trio_mailsync.core.config import Account, ServiceSettings
from trio_mailsync.core.errors import ProviderError
from trio_mailsync.core.model import SyncRequest
from trio_mailsync.core.ports import SyncTarget, WatchTarget
from trio_mailsync.core.status import SessionStatus
from trio_mailsync.providers.auth import Credentials
from trio_mailsync.providers.imap.connect import Connector, tcp_connector
from trio_mailsync.providers.imap.connection import IMAPConnection
from trio_mailsync.providers.imap.folders import FolderCache
from trio_mailsync.providers.imap.planner import Capabilities, FolderJob
from trio_mailsync.providers.imap.pool import ConnectionPool, open_pool
from trio_mailsync.providers.imap.share import ConnectionShare, look_of
from trio_mailsync.providers.imap.trace import WireTrace
from trio_mailsync.providers.imap.watcher import IdleWatcher

__all__ = ["FLAG_RESYNC_INTERVAL", "ImapProvider", "ImapSession", "open_imap_provider"]

logger = logging.getLogger(__name__)

#: Without CONDSTORE, flags of unchanged folders are fetched this often (seconds).
FLAG_RESYNC_INTERVAL = 900.0


class ImapSession:
    """One IMAP account: ``sync`` into a SyncTarget, ``watch`` with IDLE (or polling)."""

    def __init__(self, provider: ImapProvider, account: Account) -> None:
        self._provider = provider
        self._account = account
        #: Where syncs borrow the watcher's connection between IDLEs (``share.py``);
        #: ``None`` when ``share_connection`` is off.
        self.share = ConnectionShare() if provider.settings.share_connection else None
        #: The account's IDLE watcher (its statistics tell what it did).
        self.watcher = IdleWatcher(
            provider.pool,
            account,
            provider.settings,
            share=self.share,
            watched=self._watched,
            folders_changed=lambda: provider.folders.invalidate(account.id),
        )

    def __repr__(self) -> str:
        return f"<ImapSession {self._account.id}>"

    def _watched(self, folder: str) -> bool:
        """Whether ``folder`` is one of those the account syncs (yes, if not listed yet)."""
        listing = self._provider.folders.cached(self._account.id)
        if listing is None:
            return True
        return any(f.name == folder for f in listing.select(self._account.folders))

    @property
    def account(self) -> Account:
        """The account this session serves."""
        return self._account

    async def watch(self, target: WatchTarget) -> NoReturn:
        """IDLE on INBOX until cancelled (polling where IDLE is not to be had)."""
        await self.watcher.run(target)

    def status(self) -> SessionStatus:
        """Connections open, the pool's next attempt if it is backing off, counters."""
        provider, account = self._provider, self._account
        pool = provider.pool
        stats = pool.statistics(account)
        retry = pool.next_attempt(account)
        listing = provider.folders.cached(account.id)
        watcher = self.watcher.stats
        return SessionStatus(
            connections=stats.in_use + stats.idle,
            next_retry=None
            if retry is None
            else provider.wall_clock() + retry - trio.current_time(),
            folders=None if listing is None else len(listing.select(account.folders)),
            counters={
                "connections_opened": stats.connections_opened,
                "connections_reused": stats.reused,
                "authentications": stats.authentications,
                "token_refreshes": pool.token_refreshes(account),
                "idles": watcher.idles,
                "notifications": watcher.notifications,
            },
        )

    async def sync(self, request: SyncRequest, target: SyncTarget) -> None:
        """Sync the folders ``request`` selects: on the watcher's connection between its
        IDLEs when it offers it, else over a pooled connection."""
        async with AsyncExitStack() as stack:
            conn = None
            if self.share is not None:
                conn = await stack.enter_async_context(self.share.borrow(aside=target.waiting))
            if conn is None:
                conn = await stack.enter_async_context(
                    self._provider.pool.connection(self._account)
                )
            before_trips, before_commands = conn.round_trips, dict(conn.commands)
            try:
                await self._sync(conn, request, target)
            finally:
                target.add_cost(
                    conn.round_trips - before_trips,
                    {
                        name: count - before_commands.get(name, 0)
                        for name, count in conn.commands.items()
                        if count != before_commands.get(name, 0)
                    },
                )

    async def _sync(self, conn: IMAPConnection, request: SyncRequest, target: SyncTarget) -> None:
        provider, account = self._provider, self._account
        await conn.enable_qresync()
        caps = Capabilities.of(conn)
        listing = await provider.folders.folders(account.id, conn)
        folders = listing.select(
            request.folders if request.folders is not None else account.folders
        )
        states = await target.folder_states()
        # A folder known to have changed gets its STATUS with its fetches (one round
        # trip); the others are all asked STATUS in one write first.
        hinted = {f.name for f in folders if f.name in request.changed and f.name in states}
        asked = [f.wire_name for f in folders if f.name not in hinted]
        logger.debug(
            "%s: syncing %d folders: STATUS for %d in one write%s",
            account.id,
            len(folders),
            len(asked),
            f"; known changed, fetched at once: {', '.join(sorted(hinted))}" if hinted else "",
        )
        statuses = await conn.status_many(asked, caps.status_items()) if asked else {}
        now = provider.wall_clock()
        for folder in folders:
            target.folder_checked(folder.name)
            job = FolderJob(
                account_id=account.id,
                conn=conn,
                folder=folder,
                state=states.get(folder.name),
                caps=caps,
                now=now,
                flag_resync_interval=provider.flag_resync_interval,
            )
            try:
                if folder.name in hinted:
                    await job.sync_changed(target)
                else:
                    status = statuses[folder.wire_name]
                    if isinstance(status, ProviderError):
                        target.folder_failed(folder.name, str(status))
                        continue
                    await job.sync(status, target)
            except ProviderError as exc:
                if conn.broken:
                    raise  # the connection is gone: no other folder can be synced either
                target.folder_failed(folder.name, str(exc))
            else:
                if self.share is not None and job.seen is not None:
                    # What the store now reflects: the watcher compares INBOX with it.
                    self.share.saw(folder.name, look_of(job.seen))


class ImapProvider:
    """The IMAP provider of the accounts it was opened for; see :func:`open_imap_provider`."""

    name = "imap"

    def __init__(
        self,
        pool: ConnectionPool,
        *,
        settings: ServiceSettings,
        flag_resync_interval: float = FLAG_RESYNC_INTERVAL,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.pool = pool
        self.folders = FolderCache(pool)
        #: The service's timings the watchers follow (IDLE re-issue, silence, polling).
        self.settings = settings
        self.flag_resync_interval = flag_resync_interval
        #: Wall-clock time, for the sync times the store keeps.
        self.wall_clock = wall_clock
        self._sessions: dict[str, ImapSession] = {}

    def session(self, account: Account) -> ImapSession:
        """The session of ``account``; an account the pool does not serve yet is added."""
        session = self._sessions.get(account.id)
        if session is None:
            if not self.pool.serves(account.id):
                self.pool.add(account)
            session = self._sessions[account.id] = ImapSession(self, account)
        return session

    async def release(self, account_id: str) -> None:
        """Forget the account: its idle connections LOGOUT, its folder listing is dropped."""
        self._sessions.pop(account_id, None)
        self.folders.invalidate(account_id)
        await self.pool.remove(account_id)


@asynccontextmanager
async def open_imap_provider(
    accounts: Iterable[Account],
    *,
    settings: ServiceSettings | None = None,
    connector: Connector = tcp_connector,
    credentials: Mapping[str, Credentials] | None = None,
    ssl_context: ssl.SSLContext | None = None,
    jitter: Callable[[], float] = random.random,
    flag_resync_interval: float = FLAG_RESYNC_INTERVAL,
    wall_clock: Callable[[], float] = time.time,
) -> AsyncIterator[ImapProvider]:
    """The IMAP provider for ``accounts``, for the block; connections are logged out at its end.

    ``connector``, ``credentials``, ``ssl_context`` and ``jitter`` go to the
    connection pool (tests give memory streams and fixed jitter). With
    ``settings.trace``, every connection's bytes are recorded there
    (:mod:`~trio_mailsync.providers.imap.trace`).
    """
    imap = [a for a in accounts if a.provider == ImapProvider.name]
    settings = settings or ServiceSettings()
    trace = None if settings.trace is None else WireTrace.open(settings.trace)
    try:
        async with open_pool(
            imap,
            credentials=credentials,
            connector=connector,
            ssl_context=ssl_context,
            jitter=jitter,
            trace=trace,
            connect_rate=settings.connect_rate,
        ) as pool:
            yield ImapProvider(
                pool,
                settings=settings,
                flag_resync_interval=flag_resync_interval,
                wall_clock=wall_clock,
            )
    finally:
        if trace is not None:
            trace.close()
