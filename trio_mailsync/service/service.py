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
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, NoReturn

import attrs
import trio

from trio_mailsync.core.backoff import exponential_backoff
from trio_mailsync.core.config import Account, Config
from trio_mailsync.core.errors import AccountConflict, MailSyncError
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
from trio_mailsync.core.status import (
    LATENCY_BUCKETS,
    SYNC_BUCKETS,
    AccountStatus,
    Histogram,
    ServiceOverview,
    SessionStatus,
)
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
#: New-mail latencies kept for the dashboard's chart: the last hour's, at most this many.
LATENCY_WINDOW = 3600.0
LATENCY_SAMPLES = 4096
#: Triggers whose new mail does not count in the new-mail latency: a reconnection's
#: catch-up finds mail that arrived while away, not mail just heard of.
NOT_HEARD = frozenset({"connected"})


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
    #: Syncs that ended with an error.
    sync_errors: int = 0
    #: Waits for servers, over every sync.
    round_trips: int = 0


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
    #: When a watcher heard of the change (Trio's clock), for the new-mail latency.
    heard: float | None = None

    def merge(self, other: _Request) -> None:
        self.reason = self.reason or other.reason
        if other.heard is not None and (self.heard is None or other.heard < self.heard):
            self.heard = other.heard
        if self.folders is None or other.folders is None:
            self.folders = None
        else:
            self.folders += [f for f in other.folders if f not in self.folders]
        self.changed |= other.changed
        self.replies += other.replies


class _Account:
    """One account's running state (a fresh one each time the account is restarted)."""

    def __init__(self, session: AccountSession, source: str = "config") -> None:
        self.session = session
        self.id = session.account.id
        #: Where the account is defined: ``"config"``, ``"api"`` (kept in the store) or
        #: ``"lease"`` (a cluster's worker runs it while it holds its lease).
        self.source = source
        self.paused = False
        #: The session is the provider's still (not released by a pause or a restart).
        self.live = True
        #: The account's tasks: cancelled to pause, restart or remove it.
        self.scope = trio.CancelScope()
        self.started = False
        self.stopped = trio.Event()
        #: When the supervisor starts the account's tasks again (Trio's clock), while it waits.
        self.restart_at: float | None = None
        self.attempted = False
        self.last_sync: float | None = None
        self.last_duration: float | None = None
        self.syncs = 0
        self.sync_errors = 0
        self.pending: _Request | None = None
        # Set when a request comes; one wake-up is enough however many were merged
        # meanwhile. (An Event, not a one-slot channel: a channel's state costs 3 KiB
        # an account.)
        self.wake = trio.Event()
        self.watch_state = AccountState.CONNECTING
        #: The watcher's reason for its state (the last failure while reconnecting).
        self.watch_detail: str | None = None
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
            logger.debug(
                "%s: %s merged into the pending sync (%s)",
                self.id,
                request.reason or "a sweep",
                self.pending.reason or "a sweep",
            )
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
        heard = None if change.reason in NOT_HEARD else trio.current_time()
        self._account.request(_Request(change.reason, folders, changed, [], heard))
        self._account.watcher_reported.set()
        await trio.lowlevel.checkpoint()

    def state(self, state: AccountState, detail: str | None) -> None:
        account = self._account
        account.watch_state = state
        account.watch_detail = detail
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
    accounts; ``store`` is where the state lives. For accounts changed at runtime
    (:meth:`add_account`, :meth:`reload`...), ``parse_account`` reads an account's
    table as the config file would (``trio_mailsync.config.parse_account``), and
    ``open_provider`` opens a provider no account needed so far (``None``: only the
    given ones serve).
    """

    def __init__(
        self,
        config: Config,
        providers: Mapping[str, Provider],
        store: StateStore,
        *,
        parse_account: Callable[[str, Mapping[str, Any]], Account] | None = None,
        open_provider: Callable[[str], Awaitable[Provider]] | None = None,
        wall_clock: Callable[[], float] = time.time,
        sole_writer: bool = True,
    ) -> None:
        self.config = config
        self.store = store
        #: The live tail of the event log, and the subscriptions (``sole_writer=False``: a
        #: cluster's worker, one of the log's writers; see ``EventHub``).
        self.hub = EventHub(store, self._states, sole_writer=sole_writer)
        self.engine = SyncEngine(
            store, concurrency=config.service.concurrency, on_logged=self.hub.logged
        )
        self.stats = ServiceStatistics()
        self._accounts: dict[str, _Account] = {}
        self._processors: dict[str, ProcessorRunner] = {}
        self._nursery: trio.Nursery | None = None
        self._providers = dict(providers)
        self._parse_account = parse_account
        self._open_provider = open_provider
        self._wall_clock = wall_clock
        #: Runtime changes of the accounts, one at a time.
        self._changing = trio.Lock()
        self.sync_duration = Histogram(SYNC_BUCKETS)
        self.new_mail_latency = Histogram(LATENCY_BUCKETS)
        self._latencies: deque[tuple[float, float]] = deque(maxlen=LATENCY_SAMPLES)
        #: The provider counters of accounts restarted or removed (totals never go down).
        self._retired: dict[str, int] = {}
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
        if account.paused:
            return AccountState.PAUSED
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
        await self._restore_saved()
        paused = await self._paused_in_store()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self.hub.run)
            nursery.start_soon(self._prune)
            self._nursery = nursery
            for account in self._accounts.values():
                if account.id in paused:
                    account.paused = True  # by an operator, before a restart: still
                    self._show_state(account)
                else:
                    self._start(account)
            nursery.start_soon(self._sweep)
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

    def _start(self, account: _Account) -> None:
        assert self._nursery is not None
        account.started = True
        self._nursery.start_soon(self._supervise, account)

    async def _supervise(self, account: _Account) -> None:
        """Run the account's tasks until its scope is cancelled (pause, restart, removal)."""
        with account.scope:
            try:
                await self._keep_account_running(account)
            finally:
                account.stopped.set()

    async def _keep_account_running(self, account: _Account) -> NoReturn:
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
            delay = _restart_delay(crashes)
            logger.debug("%s: restart %d in a row in %.1f s", account.id, crashes, delay)
            account.restart_at = trio.current_time() + delay
            await trio.sleep_until(account.restart_at)
            account.restart_at = None

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
            self.stats.round_trips += result.round_trips
            account.error = result.error
            account.attempted = True
            account.syncs += 1
            account.last_sync = self._wall_clock()
            account.last_duration = result.duration
            self.sync_duration.observe(result.duration)
            if result.error is None:
                account.crashed = None
            else:
                self.stats.sync_errors += 1
                account.sync_errors += 1
            logger.debug(
                "%s: synced (%s) in %.3f s: %d round trip(s), %d of %d folders changed, "
                "%d new, %d flag changes, %d deletions%s",
                account.id,
                request.reason or "a sweep",
                result.duration,
                result.round_trips,
                result.folders_synced,
                result.folders_checked,
                len(result.new_messages),
                len(result.flag_changes),
                len(result.deletions),
                f"; error: {result.error}" if result.error else "",
            )
            if result.new_messages and request.heard is not None:
                # The new_messages events were published during the sync: this is the
                # time from the watcher hearing of the change to the event.
                latency = trio.current_time() - request.heard
                self.new_mail_latency.observe(latency)
                self._latencies.append((account.last_sync, latency))
            return result
        finally:
            account.syncing = False
            self._show_state(account, account.error)

    def request(
        self, account_id: str, reason: str = "manual", *, folders: Sequence[str] | None = None
    ) -> None:
        """Ask for a sync of one account (of ``folders``, or all); merged with any pending one.

        Returns at once; the sync's ``sync_result`` event tells how it went. A paused
        account raises :class:`~trio_mailsync.core.errors.AccountConflict`.
        """
        account = self._accounts[account_id]
        if account.paused:
            raise AccountConflict(f"{account_id} is paused: resume it first")
        folder_list = None if folders is None else list(folders)
        account.request(_Request(reason, folder_list, set(), []))

    async def sync(self, account_id: str) -> None:
        """Sync the account now, as the operator asks (``ServiceControl``): a
        :meth:`request` with the reason ``manual``."""
        self.request(account_id, "manual")

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
        chosen = [a for a in self._accounts.values() if not (a.sweeping or a.paused)]
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

    # ------------------------------------------------------------ the operator's view

    async def overview(self, *, store_figures: bool = True) -> ServiceOverview:
        """Every account's status, the counters and histograms now (``ServiceControl``)."""
        summary = await self._summary(None) if store_figures else {}
        now, wall = trio.current_time(), self._wall_clock()
        rows: list[AccountStatus] = []
        totals = dict(self._retired)
        connections = 0
        for account in self._accounts.values():
            row = self._status_of(account, summary, now, wall)
            for name, value in row.counters.items():
                totals[name] = totals.get(name, 0) + value
            connections += row.connections
            rows.append(row)
        hub = self.hub.statistics()
        stats = self.stats
        counters = {
            **totals,
            "connections_open": connections,
            "triggers": stats.triggers,
            "syncs": stats.syncs,
            "sync_errors": stats.sync_errors,
            "sweeps": stats.sweeps,
            "round_trips": stats.round_trips,
            "restarts": stats.restarts,
            "degraded": stats.degraded,
            "gave_up": stats.gave_up,
            "events_logged": hub.logged,
            "events_ephemeral": hub.ephemeral,
            "subscribers": hub.subscribers,
            "subscribers_lagged": hub.lagged,
        }
        while self._latencies and self._latencies[0][0] < wall - LATENCY_WINDOW:
            self._latencies.popleft()
        return ServiceOverview(
            accounts=rows,
            counters=counters,
            sync_duration=self.sync_duration,
            new_mail_latency=self.new_mail_latency,
            recent_latency=list(self._latencies),
        )

    async def account_status(self, account_id: str) -> AccountStatus:
        """One account's status now (``ServiceControl``); ``KeyError`` if there is none."""
        account = self._account(account_id)
        summary = await self._summary(account_id)
        return self._status_of(account, summary, trio.current_time(), self._wall_clock())

    async def _summary(self, account_id: str | None) -> dict[str, tuple[int, int]]:
        """The store's figures per account: messages announced today, quarantined."""
        midnight = datetime.fromtimestamp(self._wall_clock()).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        try:
            return await self.store.account_summary(midnight.timestamp(), account_id)
        except MailSyncError as exc:
            # The figures from the store are missing; the rest is still worth showing.
            logger.warning("account summary: %s", exc)
            return {}

    def _status_of(
        self, account: _Account, summary: Mapping[str, tuple[int, int]], now: float, wall: float
    ) -> AccountStatus:
        session = account.session.status() if account.live else SessionStatus()
        next_retry = session.next_retry
        if account.restart_at is not None:
            next_retry = wall + max(0.0, account.restart_at - now)
        today, quarantined = summary.get(account.id, (0, 0))
        state = self.state(account.id)
        detail = None
        if state is AccountState.ERROR:
            detail = self.error(account.id) or account.watch_detail
        elif state in (AccountState.AUTH_FAILED, AccountState.CONNECTING, AccountState.POLLING):
            detail = account.watch_detail
        return AccountStatus(
            id=account.id,
            provider=account.session.account.provider,
            state=state,
            detail=detail,
            paused=account.paused,
            source=account.source,
            attempted=account.attempted,
            last_sync=account.last_sync,
            last_sync_duration=account.last_duration,
            last_sync_error=account.error,
            next_retry=next_retry,
            connections=session.connections,
            folders=session.folders,
            messages_today=today,
            quarantined=quarantined,
            syncs=account.syncs,
            sync_errors=account.sync_errors,
            counters=dict(session.counters),
        )

    # ------------------------------------------------------------ accounts at runtime

    def _account(self, account_id: str) -> _Account:
        account = self._accounts.get(account_id)
        if account is None:
            raise KeyError(f"no account {account_id!r}")
        return account

    async def _provider(self, name: str) -> Provider:
        provider = self._providers.get(name)
        if provider is None:
            if self._open_provider is None:
                raise AccountConflict(f"no {name!r} provider runs in this service")
            provider = self._providers[name] = await self._open_provider(name)
        return provider

    async def _stop(self, account: _Account) -> None:
        """Cancel the account's tasks, wait for them, give its session back to the provider.

        A sweep waiting for the account is answered (with an error), not left waiting.
        """
        account.scope.cancel()
        if account.started:
            await account.stopped.wait()
        pending, account.pending = account.pending, None
        for reply in pending.replies if pending is not None else ():
            reply.set(SyncResult(account=account.id, error=f"{account.id}: stopped"))
        if account.live:
            account.live = False
            session = account.session
            for name, value in session.status().counters.items():
                self._retired[name] = self._retired.get(name, 0) + value
            provider = await self._provider(session.account.provider)
            await provider.release(account.id)

    async def _run_new(self, account: Account, source: str, *, paused: bool = False) -> None:
        """Take ``account`` on (a new session of its provider) and start it, unless
        ``paused`` (it is shown paused, and starts on :meth:`resume`)."""
        provider = await self._provider(account.provider)
        new = self._accounts[account.id] = _Account(provider.session(account), source)
        new.paused = paused
        if self._nursery is not None and not paused:
            self._start(new)
        self._show_state(new)

    async def _paused_in_store(self, account_id: str | None = None) -> set[str]:
        """The accounts an operator paused (of ``account_id`` alone, if given); none if the
        store cannot say (a pause not found must not keep an account from running)."""
        try:
            paused = await self.store.paused_accounts()
        except MailSyncError as exc:
            logger.warning("the paused accounts cannot be read: %s", exc)
            return set()
        return paused if account_id is None else paused & {account_id}

    def _parse(self, account_id: str, table: Mapping[str, Any]) -> Account:
        if self._parse_account is None:
            raise AccountConflict("this service cannot take accounts at runtime")
        return self._parse_account(account_id, table)

    async def _restore_saved(self) -> None:
        """Take on the accounts added at runtime before a restart (kept in the store)."""
        if self._parse_account is None:
            return
        for account_id, table in (await self.store.saved_accounts()).items():
            if account_id in self._accounts:
                logger.warning(
                    "%s: defined in the config file and added through the API; the file's "
                    "definition is used",
                    account_id,
                )
                continue
            try:
                account = self._parse(account_id, table)
                provider = await self._provider(account.provider)
            except (MailSyncError, KeyError) as exc:
                logger.error("%s: the account added at runtime cannot run: %s", account_id, exc)
                continue
            self._accounts[account_id] = _Account(provider.session(account), "api")

    async def add_account(self, account_id: str, table: Mapping[str, Any]) -> None:
        """Run a new account described by ``table`` (as ``[accounts.<id>]`` would be);
        it is kept in the store, so it runs again after a restart. Others are untouched."""
        async with self._changing:
            if account_id in self._accounts:
                raise AccountConflict(f"{account_id} exists already")
            account = self._parse(account_id, table)
            await self.store.save_account(account_id, table)
            await self._run_new(account, "api")
            logger.info("%s: added", account_id)

    async def replace_account(self, account_id: str, table: Mapping[str, Any]) -> None:
        """Restart an account added at runtime with a changed table (a paused one stays
        paused, with the new table); others are untouched."""
        async with self._changing:
            old = self._account(account_id)
            if old.source != "api":
                raise AccountConflict(
                    f"{account_id} is defined in the config file: change it there and reload"
                )
            account = self._parse(account_id, table)
            await self.store.save_account(account_id, table)
            await self._stop(old)
            await self._run_new(account, "api", paused=old.paused)
            logger.info("%s: changed and restarted", account_id)

    async def run_account(self, account: Account) -> None:
        """Run an account its owner hands over (a cluster's worker, which holds its lease).

        Not kept in the store: the worker gives it back with
        ``remove_account(id, source="lease")`` when the lease moves on.
        """
        async with self._changing:
            if account.id in self._accounts:
                raise AccountConflict(f"{account.id} runs here already")
            # Paused by an operator at the account's last worker: paused here too.
            paused = bool(await self._paused_in_store(account.id))
            await self._run_new(account, "lease", paused=paused)
            logger.info("%s: taken on (its lease is this process's)", account.id)

    async def remove_account(self, account_id: str, *, source: str = "api") -> None:
        """Stop an account, log its connections out and forget it.

        ``source``: only accounts from there may be removed (the API removes its own
        accounts; a reload removes the config file's).
        """
        async with self._changing:
            account = self._account(account_id)
            if account.source != source:
                raise AccountConflict(
                    f"{account_id} is defined in the config file: remove it there and reload"
                )
            await self._stop(account)
            del self._accounts[account_id]
            if source == "api":
                await self.store.save_account(account_id, None)
            if source != "lease" and account.paused:
                # Gone for good (not moving to another worker): so is its pause.
                await self.store.set_paused(account_id, False)
            self.publish(AccountStateChanged(account=account_id, state=AccountState.REMOVED))
            logger.info("%s: removed", account_id)

    async def retry(self, account_id: str) -> None:
        """Reconnect now with a fresh session: failures, backoff and a login refusal
        (``auth_failed``) are forgotten. The account syncs again on reconnecting."""
        async with self._changing:
            old = self._account(account_id)
            if old.paused:
                raise AccountConflict(f"{account_id} is paused: resume it first")
            await self._stop(old)
            await self._run_new(old.session.account, old.source)
            logger.info("%s: retried", account_id)

    async def pause(self, account_id: str) -> None:
        """Stop the account's tasks and log its connections out until :meth:`resume`."""
        async with self._changing:
            account = self._account(account_id)
            if account.paused:
                return
            # Kept first: a pause the store did not take is refused, not half done. It
            # outlives a restart, and in a cluster follows the account to its next worker.
            await self.store.set_paused(account_id, True)
            await self._pause_unlocked(account)

    async def _pause_unlocked(self, account: _Account) -> None:
        account.paused = True
        await self._stop(account)
        self._show_state(account)
        logger.info("%s: paused", account.id)

    async def resume(self, account_id: str) -> None:
        """Start a paused account again (a fresh session; it syncs on connecting)."""
        async with self._changing:
            old = self._account(account_id)
            if not old.paused:
                return
            await self.store.set_paused(account_id, False)
            await self._run_new(old.session.account, old.source)
            logger.info("%s: resumed", account_id)

    async def reload(self, config: Config) -> dict[str, list[str]]:
        """Apply a changed config file's accounts: new ones start, removed ones stop,
        changed ones restart; the others keep running (their connections included).

        Returns the ids ``added``, ``removed``, ``changed``. Other sections' changes
        need a restart (they are logged, not applied).
        """
        done: dict[str, list[str]] = {"added": [], "removed": [], "changed": []}
        wanted = {a.id: a for a in config.accounts}
        for account_id in [a.id for a in self._accounts.values() if a.source == "config"]:
            if account_id not in wanted:
                await self.remove_account(account_id, source="config")
                done["removed"].append(account_id)
        for account_id, account in wanted.items():
            async with self._changing:
                old = self._accounts.get(account_id)
                if old is None:
                    await self._run_new(account, "config")
                    done["added"].append(account_id)
                elif old.session.account != account or old.source != "config":
                    # A file account replaces an API one of the same id: the file wins.
                    paused = old.paused
                    await self._stop(old)
                    if old.source == "api":
                        await self.store.save_account(account_id, None)
                    await self._run_new(account, "config")
                    if paused:
                        await self._pause_unlocked(self._accounts[account_id])
                    done["changed"].append(account_id)
        for section in ("service", "broadcast", "events", "webhooks", "store_path", "store"):
            if getattr(config, section) != getattr(self.config, section):
                logger.warning("config reload: [%s] changed; it takes a restart", section)
        self.config = attrs.evolve(self.config, accounts=config.accounts)
        logger.info(
            "config reloaded: %d added, %d removed, %d changed",
            len(done["added"]),
            len(done["removed"]),
            len(done["changed"]),
        )
        return done
