"""The provider-neutral sync engine: every sync, of every account, goes through here.

::

    engine = SyncEngine(store, concurrency=32)
    result = await engine.sync_account(session)          # one account
    results = await engine.sync_all_accounts(sessions)   # all at once, within the limit

For each sync the engine takes the account's lock (one sync per account at a
time), then a slot of its ``CapacityLimiter`` (at most ``concurrency`` syncs
at once, whoever asked: a watcher's trigger, a sweep, the command line), then
runs the provider's ``session.sync`` within the timeout, applying what it
finds to the store folder by folder. A sync that must wait for another task
(an IMAP sync for the watcher's connection, while the watcher connects) gives
its slot back meanwhile (``target.waiting()``): ten thousand accounts starting
at once would otherwise fill every slot with syncs waiting their watcher's turn
at the connect rate.

Exactly once: the store logs what each folder's update changed (new messages,
flag changes, deletions, a reset) in the transaction that applies it, so a
message is announced exactly when its event is in the log, whatever happens to
the process afterwards. ``on_logged`` is handed those events as soon as the
store returns them, with no checkpoint between (the service's live fan-out);
consumers that were away read them from the log.

A folder's first sync announces only what arrived after the account's
``notify_from`` (by default the time the account was first synced): a new
user is not shown a whole mailbox as new.

An account's failure, whatever it is (a lost connection, a refused login, a
store error, a bug), becomes its result's ``error``: it never cancels or
delays another account.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime

import trio

from trio_mailsync.core.config import Account
from trio_mailsync.core.errors import MailSyncError
from trio_mailsync.core.events import FlagsChanged, LoggedEvent, MessagesDeleted, NewMessages
from trio_mailsync.core.model import (
    Deletion,
    FlagChange,
    FolderState,
    FolderUpdate,
    MessageRecord,
    SyncRequest,
    SyncResult,
)
from trio_mailsync.core.ports import AccountSession, StateStore

__all__ = ["SyncEngine"]

logger = logging.getLogger(__name__)


class _Target:
    """The ``SyncTarget`` of one sync: the store, and the tally for the result."""

    def __init__(
        self,
        store: StateStore,
        account: str,
        notify_from: float,
        on_logged: Callable[[Sequence[LoggedEvent]], None] | None,
        limiter: trio.CapacityLimiter,
    ) -> None:
        self._store = store
        self._limiter = limiter
        #: Whether the sync holds a slot of the limiter (not while ``waiting``).
        self.holding = False
        self._account = account
        self.notify_from = notify_from
        self._on_logged = on_logged
        self._states: dict[str, FolderState] = {}
        self.new: list[MessageRecord] = []
        self.flag_changes: list[FlagChange] = []
        self.deletions: list[Deletion] = []
        self.folder_errors: list[tuple[str, str]] = []
        self.more_folders: list[str] = []
        self.checked = self.synced = self.reset = self.round_trips = 0
        self.commands: dict[str, int] = {}

    async def folder_states(self) -> Mapping[str, FolderState]:
        self._states = await self._store.folder_states(self._account)
        return self._states

    async def apply(self, folder: str, update: FolderUpdate) -> None:
        logged = await self._store.apply(
            self._account, folder, update, notify_from=self.notify_from
        )
        # Handed on before any checkpoint: the fan-out sees events in the order logged.
        if self._on_logged is not None and logged:
            self._on_logged(logged)
        self.synced += 1
        # A reset of a folder synced before (not its first sync): its generation changed.
        self.reset += int(update.reset and folder in self._states)
        for event in logged:
            if isinstance(event, NewMessages):
                self.new += event.messages
            elif isinstance(event, FlagsChanged):
                self.flag_changes += [
                    FlagChange(folder, m.uid, m.old, m.flags) for m in event.messages
                ]
            elif isinstance(event, MessagesDeleted):
                self.deletions += [Deletion(folder, uid) for uid in event.uids]

    def folder_checked(self, folder: str) -> None:
        self.checked += 1

    def folder_failed(self, folder: str, error: str) -> None:
        self.folder_errors.append((folder, error))

    def more(self, folder: str) -> None:
        if folder not in self.more_folders:
            self.more_folders.append(folder)

    def add_cost(self, round_trips: int, commands: Mapping[str, int]) -> None:
        self.round_trips += round_trips
        for name, count in commands.items():
            self.commands[name] = self.commands.get(name, 0) + count

    async def take_slot(self) -> None:
        await self._limiter.acquire()
        self.holding = True

    def give_slot(self) -> None:
        if self.holding:
            self.holding = False
            self._limiter.release()

    @asynccontextmanager
    async def waiting(self) -> AsyncIterator[None]:
        self.give_slot()
        try:
            yield
        finally:
            # Cancelled while queueing: no slot held, none given back by the engine.
            await self.take_slot()


def _prefixed(account: str, exc: BaseException) -> str:
    error = str(exc) or type(exc).__name__
    return error if error.startswith(account) else f"{account}: {error}"


class SyncEngine:
    """Syncs accounts into a store, at most ``concurrency`` at a time, one per account.

    ``on_logged`` gets the events each folder's update logged, as soon as it is
    applied (synchronously: it must not block).
    """

    def __init__(
        self,
        store: StateStore,
        *,
        concurrency: int = 32,
        on_logged: Callable[[Sequence[LoggedEvent]], None] | None = None,
    ) -> None:
        self.store = store
        #: Every sync takes a slot of this limiter, whoever started it.
        self.limiter = trio.CapacityLimiter(concurrency)
        self.on_logged = on_logged
        self._locks: dict[str, trio.Lock] = {}
        self._first_synced: dict[str, float] = {}

    async def _notify_from(self, account: Account) -> float:
        """The account's ``notify_from`` in epoch seconds (``-inf`` for ``"all"``)."""
        if account.notify_from == "all":
            return -math.inf
        if isinstance(account.notify_from, datetime):
            return account.notify_from.timestamp()
        first = self._first_synced.get(account.id)
        if first is None:
            first = await self.store.first_synced(account.id, time.time())
            self._first_synced[account.id] = first
        return first

    async def sync_all_accounts(
        self,
        sessions: Iterable[AccountSession],
        *,
        on_result: Callable[[SyncResult], Awaitable[None] | None] | None = None,
        timeout: float | None = None,
    ) -> list[SyncResult]:
        """Sync every account at once (within the limit); results in the order given.

        ``on_result`` is called as each account finishes (the CLI prints progress);
        ``timeout`` is :meth:`sync_account`'s, for each account.
        """
        chosen = list(sessions)
        results: list[SyncResult | None] = [None] * len(chosen)

        async def one(index: int, session: AccountSession) -> None:
            result = await self.sync_account(session, timeout=timeout)
            results[index] = result
            if on_result is not None:
                maybe = on_result(result)
                if maybe is not None:
                    await maybe

        async with trio.open_nursery() as nursery:
            for index, session in enumerate(chosen):
                nursery.start_soon(one, index, session)
        return [r for r in results if r is not None]

    async def sync_account(
        self,
        session: AccountSession,
        *,
        request: SyncRequest | None = None,
        timeout: float | None = None,
    ) -> SyncResult:
        """Sync one account. Errors end up in the result, never raised (cancellation aside).

        ``request`` narrows the sync (the service syncs INBOX alone after an IDLE
        notification, and says it changed). A sync still running ``timeout``
        seconds after it got its slot is abandoned with an error; what it stored
        so far stays.
        """
        account = session.account.id
        request = request or SyncRequest()
        lock = self._locks.setdefault(account, trio.Lock())
        target = _Target(self.store, account, -math.inf, self.on_logged, self.limiter)
        async with lock:
            await target.take_slot()
            started = trio.current_time()
            error: str | None = None
            try:
                target.notify_from = await self._notify_from(session.account)
                with trio.move_on_after(math.inf if timeout is None else timeout) as scope:
                    await session.sync(request, target)
                if scope.cancelled_caught:
                    error = f"{account}: the sync took longer than {timeout:g} s; abandoned"
                    logger.warning("%s", error)
            except (MailSyncError, OSError) as exc:
                error = _prefixed(account, exc)
                logger.warning("%s", error)
            except Exception as exc:
                # A bug, or the store failing: this account's error, never another's.
                error = _prefixed(account, exc) + f" ({type(exc).__name__})"
                logger.error("%s: sync failed unexpectedly", account, exc_info=exc)
            finally:
                target.give_slot()
            return SyncResult(
                account=account,
                new_messages=tuple(target.new),
                flag_changes=tuple(target.flag_changes),
                deletions=tuple(target.deletions),
                folders_checked=target.checked,
                folders_synced=target.synced,
                folders_reset=target.reset,
                round_trips=target.round_trips,
                commands=dict(target.commands),
                duration=trio.current_time() - started,
                error=error,
                folder_errors=tuple(target.folder_errors),
                more=tuple(target.more_folders),
            )
