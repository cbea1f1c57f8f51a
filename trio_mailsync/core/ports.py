"""The ports: what the provider-neutral core asks of providers, stores and event sinks.

::

    Provider ──session(account)──> AccountSession ──sync(request, SyncTarget)
                                                   └─watch(WatchTarget)
    SyncEngine ──> StateStore          service ──EventSource──> EventSink
                                               └─ServiceControl──> the HTTP API

A *provider* (IMAP, the Gmail API) knows how to talk to one kind of server. For
each account it gives an :class:`AccountSession` that can sync the account
into a :class:`SyncTarget` and watch it for changes, reporting them to a
:class:`WatchTarget`. The sync engine (``trio_mailsync.sync``) gives each sync
its target, backed by a :class:`StateStore`; the service
(``trio_mailsync.service``) runs the watchers and is the :class:`EventSource`
that :class:`EventSink` implementations (the WebSocket broadcaster) consume, and
the :class:`ServiceControl` that the operator's endpoints (dashboard, API,
metrics) read and steer.

Contracts every implementation keeps:

- Nothing runs in the background: a session's work happens in the task that
  calls it, and ends when that call returns or is cancelled.
- Timeouts are the caller's cancel scopes; a call cancelled half-way leaves no
  half state (a connection out of step is closed, a store transaction rolled back).
- Errors a provider expects (a lost connection, refused credentials, a busy or
  misbehaving server) are :class:`~trio_mailsync.core.errors.ProviderError`;
  anything else is a bug, and the service's supervisor restarts the account.
- No secret ever appears in an error, a log line, a repr or an event.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from typing import Any, NoReturn, Protocol

import trio

from trio_mailsync.core.config import Account
from trio_mailsync.core.events import AccountState, LoggedEvent, ServiceEvent
from trio_mailsync.core.model import (
    Change,
    FolderState,
    FolderUpdate,
    MessageRecord,
    SyncRequest,
)
from trio_mailsync.core.status import AccountStatus, ServiceOverview, SessionStatus

__all__ = [
    "AccountSession",
    "EventSink",
    "EventSource",
    "FencedStore",
    "Provider",
    "ServiceControl",
    "StateStore",
    "SyncTarget",
    "WatchTarget",
]


class SyncTarget(Protocol):
    """Where one sync of one account reads the stored state and puts what it found."""

    async def folder_states(self) -> Mapping[str, FolderState]:
        """The account's folders as stored after the last sync, by name."""
        ...

    async def apply(self, folder: str, update: FolderUpdate) -> None:
        """Store one folder's update, in one transaction (all of it, or nothing)."""
        ...

    def folder_checked(self, folder: str) -> None:
        """Count a folder the sync looked at, changed or not."""
        ...

    def more(self, folder: str) -> None:
        """The folder has more to fetch (a windowed first sync): sync it again soon."""
        ...

    def folder_failed(self, folder: str, error: str) -> None:
        """A folder that could not be synced; the sync goes on with the others."""
        ...

    def add_cost(self, round_trips: int, commands: Mapping[str, int]) -> None:
        """What the sync cost: waits for the server, and commands or requests by name."""
        ...

    def waiting(self) -> AbstractAsyncContextManager[None]:
        """Give the sync's slot back for the block, and take one again after it.

        For a wait on another task (the account's watcher opening the connection
        the sync will borrow): it does no work, and should not keep other accounts'
        syncs from running while it waits. The sync's timeout still runs.
        """
        ...


class WatchTarget(Protocol):
    """Where an account's watcher reports changes and how the account is doing."""

    async def changed(self, change: Change) -> None:
        """Ask for a sync. May wait (back-pressure), never for a whole sync."""
        ...

    def state(self, state: AccountState, detail: str | None) -> None:
        """The watcher's own state: connecting, idle, polling, error, auth_failed."""
        ...


class AccountSession(Protocol):
    """One account as its provider serves it."""

    @property
    def account(self) -> Account:
        """The account this session serves."""
        ...

    async def sync(self, request: SyncRequest, target: SyncTarget) -> None:
        """Bring the store up to date with the server for the folders ``request`` names.

        Raises :class:`~trio_mailsync.core.errors.ProviderError` when the account
        could not be synced at all; a folder that fails alone is reported to
        ``target.folder_failed`` instead. What was applied before an error stays.
        """
        ...

    async def watch(self, target: WatchTarget) -> NoReturn:
        """Watch the account until cancelled, reporting changes and states to ``target``.

        Reconnects by itself after expected failures; its first act on every
        (re)connection is a ``connected`` change, so nothing that happened while it
        was away is missed.
        """
        ...

    def status(self) -> SessionStatus:
        """What the session holds and did: connections, the next retry, counters."""
        ...


class Provider(Protocol):
    """A kind of mail service (IMAP, the Gmail API) and the resources its accounts share."""

    @property
    def name(self) -> str:
        """The provider's name in configs (``accounts.<id>.provider``)."""
        ...

    def session(self, account: Account) -> AccountSession:
        """The session of ``account`` (the same object for the same account).

        An account the provider was not opened with is taken on (added at runtime).
        """
        ...

    async def release(self, account_id: str) -> None:
        """Forget an account (removed, or about to be replaced by a changed one).

        Its session's tasks must have ended; its idle connections are logged out.
        """
        ...


class StateStore(Protocol):
    """Where sync state and messages live between syncs and across restarts.

    Every method is safe to call from Trio: none blocks the event loop.
    """

    async def folder_states(self, account: str) -> dict[str, FolderState]:
        """The account's folders as stored, by name."""
        ...

    async def first_synced(self, account: str, now: float) -> float:
        """When the account was first synced (``now``, recorded, if this is the first time)."""
        ...

    async def apply(
        self, account: str, folder: str, update: FolderUpdate, *, notify_from: float
    ) -> list[LoggedEvent]:
        """Apply one folder's update and log what it changed, in one transaction.

        New messages of a folder's first sync, reset or backfill are announced (logged)
        only if they arrived at or after ``notify_from`` (epoch seconds; ``-inf``: all);
        others always. Returns the logged events, with their ids.
        """
        ...

    async def append(self, events: Sequence[LoggedEvent]) -> list[LoggedEvent]:
        """Log events that report no stored change (a processor's results); with their ids."""
        ...

    async def events_after(self, after: int, limit: int = 256) -> list[LoggedEvent]:
        """Up to ``limit`` logged events with ids greater than ``after``, in order."""
        ...

    async def log_bounds(self) -> tuple[int, int]:
        """(the highest id pruned, the highest id logged); 0 for none."""
        ...

    async def prune(self, before: float, keep: int) -> int:
        """Drop events logged before ``before`` (epoch) and all but the last ``keep``."""
        ...

    async def cursor(self, name: str) -> int | None:
        """A consumer's position in the log (a webhook, a processor); ``None`` if none yet."""
        ...

    async def set_cursor(self, name: str, position: int) -> None:
        """Record a consumer's position in the log."""
        ...

    async def processed(
        self, processor: str, keys: Iterable[tuple[str, str, int, int]]
    ) -> set[tuple[str, str, int, int]]:
        """Those of the message keys that ``processor`` has a logged result for."""
        ...

    async def record_failure(self, consumer: str, event_ids: Sequence[int], error: str) -> None:
        """Record that a consumer (a webhook) gave up on these events."""
        ...

    async def failures(self, consumer: str | None = None) -> list[tuple[str, int, float, str]]:
        """Events consumers gave up on: (consumer, event id, time, error), oldest first."""
        ...

    async def messages(self, account: str, folder: str | None = None) -> list[MessageRecord]:
        """The account's stored messages (of one folder), by folder, generation and uid."""
        ...

    async def account_summary(
        self, since: float, account: str | None = None
    ) -> dict[str, tuple[int, int]]:
        """Per account (or of ``account`` alone): (new messages announced since ``since``,
        messages stored degraded)."""
        ...

    async def saved_accounts(self) -> dict[str, dict[str, Any]]:
        """Accounts added at runtime: their config tables, by id, oldest first."""
        ...

    async def save_account(self, account: str, spec: Mapping[str, Any] | None) -> None:
        """Keep an account added at runtime (its config table), or forget it (``None``)."""
        ...

    async def paused_accounts(self) -> set[str]:
        """The accounts an operator paused and has not resumed: they start paused."""
        ...

    async def set_paused(self, account: str, paused: bool) -> None:
        """Record that an operator paused the account, or resumed (or removed) it."""
        ...

    async def aclose(self) -> None:
        """Close the store; it cannot be used afterwards."""
        ...


class FencedStore(StateStore, Protocol):
    """A store that many processes share, whose writes for an account carry a fencing token."""

    async def claim(self, account: str, token: int) -> None:
        """Write for ``account`` with ``token`` from now on; refuse older tokens at once.

        Raises :class:`~trio_mailsync.core.errors.LeaseLost` if a newer token holds it.
        """
        ...

    def disown(self, account: str) -> None:
        """Write for ``account`` without a token again (its lease was given up)."""
        ...

    @property
    def refused_writes(self) -> int:
        """Writes and claims refused so far for an older token."""
        ...


class EventSource(Protocol):
    """What an event sink consumes: the service's events, and a summary to start from."""

    @property
    def account_count(self) -> int:
        """How many accounts the service runs (sinks size their queues by it)."""
        ...

    def subscribe(
        self, size: int = 256, *, since: int | None = None
    ) -> AbstractContextManager[AsyncIterator[ServiceEvent]]:
        """A hello, then every logged event after ``since`` (``None``: from now), then live ones.

        ``size`` bounds the queue of live events; a consumer that falls further behind
        is moved back to reading the log, so it misses no logged event (ephemeral ones
        meanwhile are skipped, and a fresh hello says where it is).
        """
        ...

    async def cursor(self, name: str) -> int | None:
        """A durable consumer's position in the log (``None`` the first time): resume after it."""
        ...

    async def set_cursor(self, name: str, position: int) -> None:
        """Record a durable consumer's position: every logged event up to it is done."""
        ...

    async def give_up(self, consumer: str, event_ids: Sequence[int], error: str) -> None:
        """Record that ``consumer`` gave up on these events, and say so to every subscriber."""
        ...


class EventSink(Protocol):
    """Takes the service's events somewhere: WebSocket clients (and later webhooks, streams)."""

    async def run(
        self, source: EventSource, *, task_status: trio.TaskStatus[object] = ...
    ) -> NoReturn:
        """Consume ``source`` until cancelled; ``task_status.started`` once ready."""
        ...


class ServiceControl(Protocol):
    """What the operator's endpoints (dashboard, JSON API, metrics, health) ask of the service.

    Account ids that the service does not run raise ``KeyError``; an account table
    the config parser refuses raises :class:`~trio_mailsync.core.errors.ConfigError`;
    a request that does not fit the account as it is (adding one that exists, syncing
    a paused one, removing one the config file defines) raises
    :class:`~trio_mailsync.core.errors.AccountConflict`.
    """

    async def overview(self, *, store_figures: bool = True) -> ServiceOverview:
        """Every account's status, the counters and the histograms, now.

        ``store_figures=False`` leaves out what the store counts (messages today,
        quarantined: zero), the costly part with many accounts (``/healthz``).
        """
        ...

    async def account_status(self, account_id: str) -> AccountStatus:
        """One account's status, now: as in :meth:`overview`, at the cost of one account."""
        ...

    async def sync(self, account_id: str) -> None:
        """Sync the account now (merged with any sync it has pending); returns at once."""
        ...

    async def retry(self, account_id: str) -> None:
        """Forget the account's failures and backoff (``auth_failed`` too) and reconnect now."""
        ...

    async def pause(self, account_id: str) -> None:
        """Stop the account's tasks and hold no connection until :meth:`resume`."""
        ...

    async def resume(self, account_id: str) -> None:
        """Start a paused account again."""
        ...

    async def add_account(self, account_id: str, table: Mapping[str, object]) -> None:
        """Run a new account, described by a table as in the config file; kept in the store."""
        ...

    async def replace_account(self, account_id: str, table: Mapping[str, object]) -> None:
        """Restart one account with a changed table; the others are not touched."""
        ...

    async def remove_account(self, account_id: str) -> None:
        """Stop an account, log its connections out and forget it."""
        ...
