"""The ports: what the provider-neutral core asks of providers, stores and event sinks.

::

    Provider ──session(account)──> AccountSession ──sync(request, SyncTarget)
                                                   └─watch(WatchTarget)
    SyncEngine ──> StateStore          service ──EventSource──> EventSink

A *provider* (IMAP, the Gmail API) knows how to talk to one kind of server. For
each account it gives an :class:`AccountSession` that can sync the account
into a :class:`SyncTarget` and watch it for changes, reporting them to a
:class:`WatchTarget`. The sync engine (``trio_mailsync.sync``) gives each sync
its target, backed by a :class:`StateStore`; the service
(``trio_mailsync.service``) runs the watchers and is the :class:`EventSource`
that :class:`EventSink` implementations (the WebSocket broadcaster) consume.

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

from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from typing import NoReturn, Protocol

import trio

from trio_mailsync.core.config import Account
from trio_mailsync.core.events import AccountState, Hello, Subscription
from trio_mailsync.core.model import (
    AppliedUpdate,
    Change,
    FolderState,
    FolderUpdate,
    MessageRecord,
    SyncRequest,
)

__all__ = [
    "AccountSession",
    "EventSink",
    "EventSource",
    "Provider",
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

    def folder_failed(self, folder: str, error: str) -> None:
        """A folder that could not be synced; the sync goes on with the others."""
        ...

    def add_cost(self, round_trips: int, commands: Mapping[str, int]) -> None:
        """What the sync cost: waits for the server, and commands or requests by name."""
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


class Provider(Protocol):
    """A kind of mail service (IMAP, the Gmail API) and the resources its accounts share."""

    @property
    def name(self) -> str:
        """The provider's name in configs (``accounts.<id>.provider``)."""
        ...

    def session(self, account: Account) -> AccountSession:
        """The session of ``account`` (the same object for the same account)."""
        ...


class StateStore(Protocol):
    """Where sync state and messages live between syncs and across restarts.

    Every method is safe to call from Trio: none blocks the event loop.
    """

    async def folder_states(self, account: str) -> dict[str, FolderState]:
        """The account's folders as stored, by name."""
        ...

    async def apply(self, account: str, folder: str, update: FolderUpdate) -> AppliedUpdate:
        """Apply one folder's update in one transaction; new messages are stored unannounced."""
        ...

    async def unannounced(self, account: str) -> list[MessageRecord]:
        """The account's messages not yet marked announced, in the order they were stored."""
        ...

    async def mark_announced(self, records: Iterable[MessageRecord]) -> None:
        """Record that these messages were reported (so they never are again)."""
        ...

    async def messages(self, account: str, folder: str | None = None) -> list[MessageRecord]:
        """The account's stored messages (of one folder), by folder, generation and uid."""
        ...

    async def aclose(self) -> None:
        """Close the store; it cannot be used afterwards."""
        ...


class EventSource(Protocol):
    """What an event sink consumes: the service's events, and a summary to start from."""

    @property
    def account_count(self) -> int:
        """How many accounts the service runs (sinks size their queues by it)."""
        ...

    def hello(self) -> Hello:
        """The first event a new consumer gets: the accounts and their states now."""
        ...

    def subscribe(self, size: int) -> AbstractContextManager[Subscription]:
        """Every event published from now on, through a queue of ``size`` events."""
        ...


class EventSink(Protocol):
    """Takes the service's events somewhere: WebSocket clients (and later webhooks, streams)."""

    async def run(
        self, source: EventSource, *, task_status: trio.TaskStatus[object] = ...
    ) -> NoReturn:
        """Consume ``source`` until cancelled; ``task_status.started`` once ready."""
        ...
