"""The sync service: watchers, coalesced syncs, sweeps and event subscriptions.

::

    async with open_sync_service(config) as service:
        with service.subscribe() as events:
            async for event in events:
                ...

Everything runs in the nursery the service owns. Triggers from the
watchers are coalesced per account: a burst of notifications causes one
sync, and a trigger arriving during a sync causes exactly one more, never
lost. Every ``sweep_interval`` all folders of all accounts are synced.
New messages are published, then acknowledged in the store, so a crash in
between re-reports them (at least once; clients de-duplicate on account,
folder, UIDVALIDITY and UID).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from functools import partial

import attrs
import trio

from trio_mailsync.config import Account, Config
from trio_mailsync.credentials import Credentials
from trio_mailsync.imap import ConnectionPool, Connector, open_pool, tcp_connector
from trio_mailsync.service.events import (
    AccountState,
    AccountStateChanged,
    Hello,
    NewMessages,
    ServiceEvent,
    SyncCompleted,
)
from trio_mailsync.service.watcher import IDLE_REASONS, IdleWatcher, Trigger
from trio_mailsync.sync import AsyncStore, SyncEngine, SyncResult, default_store_path

__all__ = ["ServiceStatistics", "Subscription", "SyncService", "open_sync_service"]

logger = logging.getLogger(__name__)

#: Triggers waiting for the dispatcher (watchers wait when it is full).
TRIGGER_QUEUE = 1024


@attrs.define
class ServiceStatistics:
    triggers: int = 0
    syncs: int = 0
    sweeps: int = 0
    events: int = 0
    subscribers: int = 0
    dropped_subscribers: int = 0


class Subscription:
    """A subscriber's bounded queue; on overflow the subscriber is dropped (end of stream)."""

    def __init__(self, size: int) -> None:
        self.send, self.receive = trio.open_memory_channel[ServiceEvent](size)
        #: Set when the subscriber fell too far behind and was dropped.
        self.overflowed = False
        self.cancel_scope: trio.CancelScope | None = None

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> ServiceEvent:
        try:
            return await self.receive.receive()
        except trio.EndOfChannel:
            raise StopAsyncIteration from None


@attrs.define
class _Request:
    reason: str
    everything: bool


class SyncService:
    """Runs the watchers and syncs; see :func:`open_sync_service`."""

    def __init__(self, config: Config, pool: ConnectionPool, store: AsyncStore) -> None:
        self.config = config
        self.pool = pool
        self.store = store
        self.engine = SyncEngine(pool, store, concurrency=config.service.concurrency)
        self.stats = ServiceStatistics()
        self.watchers: dict[str, IdleWatcher] = {}
        self._accounts = {a.id: a for a in config.accounts}
        self._watch_state = dict.fromkeys(self._accounts, AccountState.CONNECTING)
        self._syncing: dict[str, int] = {}
        self._errors: dict[str, str] = {}
        self._shown: dict[str, AccountState] = {}
        self._pending: dict[str, _Request] = {}
        #: Accounts in a sweep round now.
        self._sweeping: set[str] = set()
        self._running: set[str] = set()
        self._subscribers: set[Subscription] = set()
        self._seq = 0
        self._nursery: trio.Nursery | None = None
        self._trigger_send, self._trigger_receive = trio.open_memory_channel[Trigger](TRIGGER_QUEUE)

    # ------------------------------------------------------------ observation

    def statistics(self) -> ServiceStatistics:
        return attrs.evolve(self.stats, subscribers=len(self._subscribers))

    def state(self, account_id: str) -> AccountState:
        """What the account is doing; a failed last sync shows as ERROR until one works."""
        if account_id in self._syncing:
            return AccountState.SYNCING
        watching = self._watch_state[account_id]
        if account_id in self._errors and watching is not AccountState.AUTH_FAILED:
            return AccountState.ERROR
        return watching

    def hello(self) -> Hello:
        return Hello(seq=self._seq, accounts={a: self.state(a) for a in self._accounts})

    @contextmanager
    def subscribe(self, size: int = 256) -> Iterator[Subscription]:
        """Receive every event published from now on, through a queue of ``size``."""
        subscription = Subscription(size)
        self._subscribers.add(subscription)
        try:
            yield subscription
        finally:
            self._subscribers.discard(subscription)
            subscription.send.close()
            subscription.receive.close()

    def close_subscriptions(self) -> None:
        """End every subscriber's stream (the service is stopping)."""
        for subscription in self._subscribers:
            subscription.send.close()
        self._subscribers.clear()

    def publish(self, event: ServiceEvent) -> ServiceEvent:
        """Number ``event`` and queue it for every subscriber; never waits.

        A subscriber whose queue is full is dropped rather than waited for.
        """
        self._seq += 1
        event = attrs.evolve(event, seq=self._seq)
        self.stats.events += 1
        for subscription in list(self._subscribers):
            try:
                subscription.send.send_nowait(event)
            except trio.WouldBlock:
                # Too slow: drop it rather than hold anyone up.
                self._subscribers.discard(subscription)
                subscription.overflowed = True
                subscription.send.close()
                if subscription.cancel_scope is not None:
                    subscription.cancel_scope.cancel()
                self.stats.dropped_subscribers += 1
            except trio.ClosedResourceError:
                self._subscribers.discard(subscription)
        return event

    def _show_state(self, account_id: str, detail: str | None = None) -> None:
        state = self.state(account_id)
        if self._shown.get(account_id) is not state:
            self._shown[account_id] = state
            self.publish(AccountStateChanged(account=account_id, state=state, detail=detail))

    def _set_watch_state(self, account_id: str, state: AccountState, detail: str | None) -> None:
        self._watch_state[account_id] = state
        self._show_state(account_id, detail)

    # ------------------------------------------------------------ running

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            for account in self.config.accounts:
                watcher = IdleWatcher(
                    self.pool,
                    account,
                    self.config.service,
                    trigger=self._trigger_send.send,
                    set_state=partial(self._set_watch_state, account.id),
                )
                self.watchers[account.id] = watcher
                nursery.start_soon(watcher.run)
            nursery.start_soon(self._dispatch)
            nursery.start_soon(self._sweep)
            task_status.started()

    async def _dispatch(self) -> None:
        async for trigger in self._trigger_receive:
            self.stats.triggers += 1
            self.request(trigger.account, trigger.reason, everything=trigger.folder == "*")

    def request(self, account_id: str, reason: str, *, everything: bool = False) -> None:
        """Ask for a sync of one account; coalesced with any pending or running one."""
        pending = self._pending.get(account_id)
        if pending is None:
            self._pending[account_id] = _Request(reason, everything)
        else:
            pending.everything = pending.everything or everything
        if account_id not in self._running and self._nursery is not None:
            self._running.add(account_id)
            self._nursery.start_soon(self._sync_loop, account_id)

    async def _sync_loop(self, account_id: str) -> None:
        account = self._accounts[account_id]
        try:
            while (request := self._pending.pop(account_id, None)) is not None:
                folders = None if request.everything else ["INBOX"]
                # An IDLE notification says INBOX changed: no need to ask STATUS first.
                changed = ["INBOX"] if folders and request.reason in IDLE_REASONS else []
                result = await self._sync(account, folders, changed)
                self.publish(SyncCompleted(trigger=request.reason, results=[result]))
        finally:
            self._running.discard(account_id)

    async def _sync(
        self, account: Account, folders: list[str] | None, changed: list[str] | None = None
    ) -> SyncResult:
        """One sync of one account, with its state shown and its news announced."""
        self._syncing[account.id] = self._syncing.get(account.id, 0) + 1
        self._show_state(account.id)
        try:
            result = await self.engine.sync_account(
                account,
                ack=False,
                folders=folders,
                changed=changed or (),
                timeout=self.config.service.sync_timeout,
            )
            self.stats.syncs += 1
            if result.error is None:
                self._errors.pop(account.id, None)
            else:
                self._errors[account.id] = result.error
            await self._announce(result)
            return result
        finally:
            self._syncing[account.id] -= 1
            if not self._syncing[account.id]:
                del self._syncing[account.id]
            self._show_state(account.id, self._errors.get(account.id))

    async def _announce(self, result: SyncResult) -> None:
        if result.new_messages:
            self.publish(NewMessages(account=result.account, messages=result.new_messages))
            with trio.CancelScope(shield=True):
                await self.store.run(self.store.store.mark_announced, result.new_messages)

    async def _sweep(self) -> None:
        """A sweep every ``sweep_interval`` from the start of the last one.

        Rounds may overlap: an account still busy with one round (a slow or hung
        server, bounded by ``sync_timeout``) sits the next one out, so it never
        delays the others' sweeps.
        """
        interval = self.config.service.sweep_interval
        reason = "startup"
        async with trio.open_nursery() as nursery:
            while True:
                nursery.start_soon(self.sync_all, reason)
                reason = "sweep"
                await trio.sleep(interval)

    async def sync_all(self, reason: str = "manual") -> list[SyncResult]:
        """Sync every folder of every account now; one aggregated sync_result event.

        At most ``concurrency`` accounts at once; accounts already in a sweep
        are left to it. Triggered INBOX syncs do not queue behind a sweep: there
        is at most one per account anyway.
        """
        self.stats.sweeps += 1
        accounts = [a for a in self._accounts.values() if a.id not in self._sweeping]
        results: list[SyncResult | None] = [None] * len(accounts)

        async def one(index: int, account: Account) -> None:
            self._sweeping.add(account.id)
            try:
                async with self.engine.limiter:
                    results[index] = await self._sync(account, None)
            finally:
                self._sweeping.discard(account.id)

        async with trio.open_nursery() as nursery:
            for index, account in enumerate(accounts):
                nursery.start_soon(one, index, account)
        done = [r for r in results if r is not None]
        if accounts:
            self.publish(SyncCompleted(trigger=reason, results=done))
        return done


@asynccontextmanager
async def open_sync_service(
    config: Config,
    *,
    connector: Connector = tcp_connector,
    credentials: dict[str, Credentials] | None = None,
    store: AsyncStore | None = None,
) -> AsyncIterator[SyncService]:
    """The service for the block.

    On exit the watchers send DONE, the connections LOGOUT, and the store
    (if opened here) is closed.
    """
    own_store = store is None
    if store is None:
        store = await AsyncStore.open(config.store_path or default_store_path())
    try:
        async with open_pool(config.accounts, connector=connector, credentials=credentials) as pool:
            service = SyncService(config, pool, store)
            async with trio.open_nursery() as nursery:
                await nursery.start(service.run)
                try:
                    yield service
                finally:
                    nursery.cancel_scope.cancel()
                    service.close_subscriptions()
    finally:
        if own_store:
            with trio.CancelScope(shield=True):
                await store.aclose()
