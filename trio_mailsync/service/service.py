"""The sync service: a supervised nursery per account, coalesced syncs, sweeps, subscriptions.

::

    service = SyncService(config, providers, store)
    async with trio.open_nursery() as nursery:
        await nursery.start(service.run)
        with service.subscribe() as events:
            async for event in events:
                ...

(``trio_mailsync.app.open_sync_service`` builds the providers and the store
from a config and does the above.)

Each account runs in a nursery of its own under a supervisor: the provider's
watcher, and the account's sync loop. Anything that escapes them (a store
error, a bug) becomes the account's ``error`` state with its cause, is logged
once, and the account restarts after a backoff; no other account notices.

Sync requests (a watcher's change, a sweep, :meth:`SyncService.request`) are
merged into the account's one pending request and its loop is woken through
a channel; a burst of notifications becomes one sync, a request arriving
during a sync one more. Every sync goes through the engine, so it takes the
engine's limiter: at most ``concurrency`` syncs at once, whatever asked.

What a sync changes is logged by the store with the change itself, and the
logged events reach subscribers through the :class:`~trio_mailsync.service.hub.EventHub`,
which replays the log for a subscriber that resumes (``subscribe(since=...)``).
The log is pruned every ``PRUNE_INTERVAL`` to its retention.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import NoReturn

import attrs
import trio

from trio_mailsync.core.backoff import exponential_backoff
from trio_mailsync.core.config import Account, Config
from trio_mailsync.core.events import (
    AccountState,
    AccountStateChanged,
    DeliveryFailed,
    Hello,
    ServiceEvent,
    SyncCompleted,
)
from trio_mailsync.core.model import Change, SyncRequest, SyncResult
from trio_mailsync.core.ports import AccountSession, Provider, StateStore
from trio_mailsync.service.hub import EventHub, Subscription
from trio_mailsync.service.processors import Processor, ProcessorRunner
from trio_mailsync.sync import SyncEngine

__all__ = ["ServiceStatistics", "SyncService"]

logger = logging.getLogger(__name__)

#: A crashed account restarts after this, doubling per crash in a row up to RESTART_MAX.
RESTART_INITIAL = 1.0
RESTART_MAX = 300.0
#: An account that ran this long since its last restart starts the backoff over.
HEALTHY_AFTER = 600.0
#: The event log is pruned to its retention this often (and at start).
PRUNE_INTERVAL = 3600.0


@attrs.define
class ServiceStatistics:
    """What the service did: changes heard, syncs, sweeps, events, subscribers, restarts."""

    triggers: int = 0
    syncs: int = 0
    sweeps: int = 0
    #: Accounts restarted by their supervisor after an unexpected failure.
    restarts: int = 0
    #: Events removed from the log by its retention.
    pruned: int = 0
    #: Logged events a consumer (a webhook) gave up on after its attempts.
    gave_up: int = 0
    #: New messages stored degraded: the server's answer for them could not be read.
    degraded: int = 0


class _Reply:
    """A sweep's wait for one account's result."""

    def __init__(self) -> None:
        self._done = trio.Event()
        self._result: SyncResult | None = None

    def set(self, result: SyncResult) -> None:
        self._result = result
        self._done.set()

    async def wait(self) -> SyncResult:
        await self._done.wait()
        assert self._result is not None
        return self._result


@attrs.define
class _Request:
    """An account's pending sync: everything asked of it since its last sync started."""

    #: The first trigger's reason; ``None`` when only sweeps asked.
    reason: str | None
    #: Folders asked for; ``None``: every folder.
    folders: list[str] | None
    #: Folders known to have changed.
    changed: set[str]
    replies: list[_Reply]

    def merge(self, other: _Request) -> None:
        self.reason = self.reason or other.reason
        if self.folders is None or other.folders is None:
            self.folders = None
        else:
            self.folders += [f for f in other.folders if f not in self.folders]
        self.changed |= other.changed
        self.replies += other.replies


class _Account:
    """One account's running state."""

    def __init__(self, session: AccountSession) -> None:
        self.session = session
        self.id = session.account.id
        self.pending: _Request | None = None
        # Set when a request comes; one wake-up is enough however many were merged
        # meanwhile. (An Event, not a one-slot channel: a channel's state costs 3 KiB
        # an account.)
        self.wake = trio.Event()
        self.watch_state = AccountState.CONNECTING
        self.syncing = False
        #: The last sync's error (``None`` once a sync worked).
        self.error: str | None = None
        #: Why the account's tasks last failed, until it is running again.
        self.crashed: str | None = None
        #: In a sweep round: the next round leaves it out.
        self.sweeping = False
        #: Set once the watcher's first attempt to connect has come to something.
        self.watcher_reported = trio.Event()
        self.shown: AccountState | None = None

    def request(self, request: _Request) -> None:
        if self.pending is None:
            self.pending = request
        else:
            self.pending.merge(request)
        self.wake.set()


class _WatchTarget:
    """The ``WatchTarget`` an account's watcher reports to."""

    def __init__(self, service: SyncService, account: _Account) -> None:
        self._service = service
        self._account = account

    async def changed(self, change: Change) -> None:
        self._service.stats.triggers += 1
        folders = None if change.folders is None else list(change.folders)
        changed = set(change.folders or ()) if change.certain else set()
        self._account.request(_Request(change.reason, folders, changed, []))
        self._account.watcher_reported.set()
        await trio.lowlevel.checkpoint()

    def state(self, state: AccountState, detail: str | None) -> None:
        account = self._account
        account.watch_state = state
        if state is not AccountState.CONNECTING or detail is not None:
            account.watcher_reported.set()  # connected, or an attempt failed
        if state in (AccountState.IDLE, AccountState.POLLING):
            account.crashed = None  # running again
        self._service._show_state(account, detail)


def _restart_delay(crashes: int) -> float:
    """Seconds before a restart after ``crashes`` failures in a row."""
    return exponential_backoff(crashes, initial=RESTART_INITIAL, maximum=RESTART_MAX)


def _cause(exc: BaseException) -> BaseException:
    """The one exception inside (nested) groups of one, for the message."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


class SyncService:
    """Runs every account's watcher and syncs; the EventSource of the sinks.

    ``providers`` maps provider names to providers that serve the config's
    accounts; ``store`` is where the state lives.
    """

    def __init__(
        self, config: Config, providers: Mapping[str, Provider], store: StateStore
    ) -> None:
        self.config = config
        self.store = store
        #: The live tail of the event log, and the subscriptions.
        self.hub = EventHub(store, self._states)
        self.engine = SyncEngine(
            store, concurrency=config.service.concurrency, on_logged=self.hub.logged
        )
        self.stats = ServiceStatistics()
        self._accounts: dict[str, _Account] = {}
        self._processors: dict[str, ProcessorRunner] = {}
        self._nursery: trio.Nursery | None = None
        for account in config.accounts:
            provider = providers.get(account.provider)
            if provider is None:
                raise ValueError(f"{account.id}: no provider {account.provider!r} was given")
            self._accounts[account.id] = _Account(provider.session(account))

    # ------------------------------------------------------------ observation

    @property
    def account_count(self) -> int:
        """How many accounts the service runs."""
        return len(self._accounts)

    @property
    def accounts(self) -> list[Account]:
        """The accounts the service runs, in config order."""
        return [a.session.account for a in self._accounts.values()]

    def session(self, account_id: str) -> AccountSession:
        """The provider's session of an account (its statistics say what it did)."""
        return self._accounts[account_id].session

    def statistics(self) -> ServiceStatistics:
        """A copy of the counters (the hub's: ``hub.statistics()``)."""
        return attrs.evolve(self.stats)

    def state(self, account_id: str) -> AccountState:
        """What the account is doing; a failure shows as ERROR until the account works again."""
        account = self._accounts[account_id]
        if account.syncing:
            return AccountState.SYNCING
        if account.crashed is not None:
            return AccountState.ERROR
        if account.error is not None and account.watch_state is not AccountState.AUTH_FAILED:
            return AccountState.ERROR
        return account.watch_state

    def error(self, account_id: str) -> str | None:
        """Why the account is in trouble: its tasks' failure, or its last sync's error."""
        account = self._accounts[account_id]
        return account.crashed or account.error

    def _states(self) -> dict[str, AccountState]:
        return {a: self.state(a) for a in self._accounts}

    def hello(self) -> Hello:
        """The accounts and their states now, and the id of the last logged event published."""
        return Hello(accounts=self._states(), last_id=self.hub.last_id)

    def subscribe(
        self, size: int = 256, *, since: int | None = None
    ) -> AbstractContextManager[Subscription]:
        """A hello, then every logged event after ``since`` (``None``: from now), then live ones.

        Use it as a context manager. ``size`` bounds the queue of live events; a
        subscriber that falls further behind catches up from the log (ephemeral
        events meanwhile are skipped; a fresh hello follows). A ``since`` the log no
        longer holds gets a ``Reset`` event. See :class:`~trio_mailsync.service.hub.EventHub`.
        """
        return self.hub.subscribe(size, since=since)

    async def cursor(self, name: str) -> int | None:
        """A durable consumer's position in the log (a webhook's); ``None`` the first time."""
        return await self.store.cursor(name)

    async def set_cursor(self, name: str, position: int) -> None:
        """Record a durable consumer's position in the log."""
        await self.store.set_cursor(name, position)

    async def give_up(self, consumer: str, event_ids: Sequence[int], error: str) -> None:
        """Record that ``consumer`` gave up on these events; a ``delivery_failed`` event says so."""
        await self.store.record_failure(consumer, event_ids, error)
        self.stats.gave_up += len(event_ids)
        logger.error(
            "%s gave up on %d event(s) (%d to %d): %s",
            consumer,
            len(event_ids),
            event_ids[0],
            event_ids[-1],
            error,
        )
        self.publish(DeliveryFailed(consumer=consumer, event_ids=tuple(event_ids), error=error))

    def close_subscriptions(self) -> None:
        """End every subscriber's stream (the service is stopping)."""
        self.hub.close()

    def publish(self, event: ServiceEvent) -> None:
        """Queue an ephemeral event (a state, a sync result) for every subscriber; never waits."""
        self.hub.publish(event)

    def _show_state(self, account: _Account, detail: str | None = None) -> None:
        state = self.state(account.id)
        if account.shown is not state:
            account.shown = state
            if state is AccountState.ERROR:
                detail = self.error(account.id) or detail
            self.publish(AccountStateChanged(account=account.id, state=state, detail=detail))

    # ------------------------------------------------------------ running

    async def run(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> NoReturn:
        """Run every account, the sweeps and the log's upkeep until cancelled."""
        await self.hub.open()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self.hub.run)
            nursery.start_soon(self._prune)
            for account in self._accounts.values():
                nursery.start_soon(self._supervise, account)
            nursery.start_soon(self._sweep)
            self._nursery = nursery
            for runner in self._processors.values():
                self.supervise(runner.name, runner.run)
            task_status.started()
        raise AssertionError("unreachable")  # pragma: no cover

    def add_processor(
        self,
        function: Processor,
        *,
        name: str | None = None,
        concurrency: int = 4,
        timeout: float = 60.0,
    ) -> ProcessorRunner:
        """Run ``function`` on every new message from now on; log each outcome.

        ``function`` takes a :class:`~trio_mailsync.core.model.MessageRecord` and returns
        JSON data, logged as a ``message_processed`` event. It runs after the message's
        ``new_messages`` event was published, ``concurrency`` calls at a time, each cut
        off after ``timeout`` seconds; a raise or a timeout is logged as the message's
        error. ``name`` (default: the function's name) keys its position in the store:
        after a restart it goes on where it was. May be called before or while the
        service runs. See :mod:`trio_mailsync.service.processors`.
        """
        name = name or getattr(function, "__name__", None) or "processor"
        if name in self._processors:
            raise ValueError(f"a processor named {name!r} was already added")
        runner = ProcessorRunner(
            function,
            name=name,
            hub=self.hub,
            store=self.store,
            concurrency=concurrency,
            timeout=timeout,
        )
        self._processors[name] = runner
        if self._nursery is not None:
            self.supervise(name, runner.run)
        return runner

    @property
    def processors(self) -> dict[str, ProcessorRunner]:
        """The processors added, by name (their ``statistics()`` say how they do)."""
        return dict(self._processors)

    def supervise(self, name: str, run: Callable[[], Awaitable[NoReturn]]) -> None:
        """Run a consumer (a processor, a webhook) in the service's nursery until it stops.

        A failure (the store, a bug) is logged and the consumer restarted after a
        backoff, as an account is: it never reaches the accounts or other consumers.
        The service must be running.
        """
        if self._nursery is None:
            raise RuntimeError("the service is not running")
        self._nursery.start_soon(self._keep_running, name, run)

    async def _keep_running(self, name: str, run: Callable[[], Awaitable[NoReturn]]) -> NoReturn:
        crashes = 0
        while True:
            started = trio.current_time()
            try:
                await run()
            except Exception as exc:
                self.stats.restarts += 1
                logger.error("%s failed; restarting it", name, exc_info=exc)
            if trio.current_time() - started >= HEALTHY_AFTER:
                crashes = 0
            crashes += 1
            await trio.sleep(_restart_delay(crashes))

    async def _supervise(self, account: _Account) -> NoReturn:
        """Run the account's watcher and sync loop; restart them, with backoff, if they fail."""
        crashes = 0
        while True:
            started = trio.current_time()
            try:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._watch, account)
                    nursery.start_soon(self._sync_loop, account)
            except Exception as exc:  # groups included; cancellation is not an Exception
                cause = _cause(exc)
                self.stats.restarts += 1
                account.crashed = f"{account.id}: {type(cause).__name__}: {cause}"
                account.watch_state = AccountState.ERROR
                logger.error("%s: the account failed; restarting it", account.id, exc_info=cause)
                self._show_state(account)
            if trio.current_time() - started >= HEALTHY_AFTER:
                crashes = 0
            crashes += 1
            await trio.sleep(_restart_delay(crashes))

    async def _watch(self, account: _Account) -> NoReturn:
        await account.session.watch(_WatchTarget(self, account))
        raise RuntimeError("the watcher ended")  # a watcher runs until cancelled

    async def _sync_loop(self, account: _Account) -> NoReturn:
        """Take the account's pending request each time the loop is woken, and sync."""
        while True:
            await account.wake.wait()
            account.wake = trio.Event()
            if not account.watcher_reported.is_set():
                # The first sync (the start-up sweep's) waits for the watcher's first
                # connection: the watcher's catch-up request then merges into it (one
                # sync, not two), and the sync runs on that connection. It shows as
                # syncing meanwhile, as it would waiting for the connection. A watcher
                # that hangs is waited for no longer than a sync would be.
                account.syncing = True
                self._show_state(account)
                with trio.move_on_after(self.config.service.sync_timeout):
                    await account.watcher_reported.wait()
            while (request := account.pending) is not None:
                account.pending = None
                try:
                    result = await self._sync(account, request)
                except BaseException:
                    # Not done: it runs again when the account restarts.
                    account.request(request)
                    raise
                if request.reason is not None:
                    self.publish(SyncCompleted(trigger=request.reason, results=[result]))
                if result.more:
                    # A large folder's first sync goes on, batch by batch, in syncs of
                    # its own: anything else asked meanwhile is merged into them.
                    account.request(_Request("backfill", list(result.more), set(), []))
                for reply in request.replies:
                    reply.set(result)

    async def _sync(self, account: _Account, request: _Request) -> SyncResult:
        """One sync of one account, with its state shown and its news announced."""
        account.syncing = True
        self._show_state(account)
        try:
            result = await self.engine.sync_account(
                account.session,
                request=SyncRequest(
                    folders=None if request.folders is None else tuple(request.folders),
                    changed=frozenset(request.changed),
                ),
                timeout=self.config.service.sync_timeout,
            )
            self.stats.syncs += 1
            self.stats.degraded += result.degraded
            account.error = result.error
            if result.error is None:
                account.crashed = None
            return result
        finally:
            account.syncing = False
            self._show_state(account, account.error)

    def request(
        self, account_id: str, reason: str = "manual", *, folders: Sequence[str] | None = None
    ) -> None:
        """Ask for a sync of one account (of ``folders``, or all); merged with any pending one.

        Returns at once; the sync's ``sync_result`` event tells how it went.
        """
        folder_list = None if folders is None else list(folders)
        self._accounts[account_id].request(_Request(reason, folder_list, set(), []))

    async def _prune(self) -> NoReturn:
        """Keep the log within its retention: at start, then every ``PRUNE_INTERVAL``."""
        settings = self.config.events
        while True:
            try:
                self.stats.pruned += await self.hub.prune(
                    time.time() - settings.retention, settings.max_events
                )
            except Exception as exc:
                # The store's trouble shows in the syncs; pruning tries again later.
                logger.error("the event log could not be pruned: %s", exc, exc_info=exc)
            await trio.sleep(PRUNE_INTERVAL)

    async def _sweep(self) -> NoReturn:
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
        raise AssertionError("unreachable")  # pragma: no cover

    async def sync_all(self, reason: str = "manual") -> list[SyncResult]:
        """Sync every folder of every account now; one aggregated ``sync_result`` event.

        Accounts already in a sweep are left to it. Each account's sync goes
        through its own loop, merged with whatever it had pending.
        """
        self.stats.sweeps += 1
        chosen = [a for a in self._accounts.values() if not a.sweeping]
        results: list[SyncResult | None] = [None] * len(chosen)

        async def one(index: int, account: _Account) -> None:
            reply = _Reply()
            account.sweeping = True
            try:
                account.request(_Request(None, None, set(), [reply]))
                results[index] = await reply.wait()
            finally:
                account.sweeping = False

        async with trio.open_nursery() as nursery:
            for index, account in enumerate(chosen):
                nursery.start_soon(one, index, account)
        done = [r for r in results if r is not None]
        if chosen:
            self.publish(SyncCompleted(trigger=reason, results=done))
        return done
