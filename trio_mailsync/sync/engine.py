"""The provider-neutral sync engine: every sync, of every account, goes through here.

::

    engine = SyncEngine(store, concurrency=32)
    result = await engine.sync_account(session)          # one account
    results = await engine.sync_all_accounts(sessions)   # all at once, within the limit

For each sync the engine takes the account's lock (one sync per account at a
time), then a slot of its ``CapacityLimiter`` (at most ``concurrency`` syncs
at once, whoever asked: a watcher's trigger, a sweep, the command line), then
runs the provider's ``session.sync`` within the timeout, applying what it
finds to the store folder by folder.

Exactly once: new messages are stored unannounced. A result lists every
unannounced message of the account, including leftovers of a sync that was
interrupted, and marks them announced just before returning (with ``ack``),
shielded, with no checkpoint between marking and returning. A sync killed
between folders therefore reports nothing of what it committed, and the next
one reports it; no message is reported twice. With ``ack=False`` the caller
marks them after handing them on.

An account's failure, whatever it is (a lost connection, a refused login, a
store error, a bug), becomes its result's ``error``: it never cancels or
delays another account.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Iterable, Mapping

import trio

from trio_mailsync.core.errors import MailSyncError
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

    def __init__(self, store: StateStore, account: str) -> None:
        self._store = store
        self._account = account
        self._states: dict[str, FolderState] = {}
        self.flag_changes: list[FlagChange] = []
        self.deletions: list[Deletion] = []
        self.folder_errors: list[tuple[str, str]] = []
        self.checked = self.synced = self.reset = self.round_trips = 0
        self.commands: dict[str, int] = {}

    async def folder_states(self) -> Mapping[str, FolderState]:
        self._states = await self._store.folder_states(self._account)
        return self._states

    async def apply(self, folder: str, update: FolderUpdate) -> None:
        applied = await self._store.apply(self._account, folder, update)
        self.synced += 1
        # A reset of a folder synced before (not its first sync): its generation changed.
        self.reset += int(update.reset and folder in self._states)
        self.flag_changes += [
            FlagChange(folder, uid, old, new) for uid, old, new in applied.flag_changes
        ]
        self.deletions += [Deletion(folder, uid) for uid in applied.deleted]

    def folder_checked(self, folder: str) -> None:
        self.checked += 1

    def folder_failed(self, folder: str, error: str) -> None:
        self.folder_errors.append((folder, error))

    def add_cost(self, round_trips: int, commands: Mapping[str, int]) -> None:
        self.round_trips += round_trips
        for name, count in commands.items():
            self.commands[name] = self.commands.get(name, 0) + count


def _prefixed(account: str, exc: BaseException) -> str:
    error = str(exc) or type(exc).__name__
    return error if error.startswith(account) else f"{account}: {error}"


class SyncEngine:
    """Syncs accounts into a store, at most ``concurrency`` at a time, one per account."""

    def __init__(self, store: StateStore, *, concurrency: int = 32) -> None:
        self.store = store
        #: Every sync takes a slot of this limiter, whoever started it.
        self.limiter = trio.CapacityLimiter(concurrency)
        self._locks: dict[str, trio.Lock] = {}

    async def sync_all_accounts(
        self,
        sessions: Iterable[AccountSession],
        *,
        on_result: Callable[[SyncResult], Awaitable[None] | None] | None = None,
        ack: bool = True,
        timeout: float | None = None,
    ) -> list[SyncResult]:
        """Sync every account at once (within the limit); results in the order given.

        ``on_result`` is called as each account finishes (the CLI prints progress);
        ``ack`` and ``timeout`` are :meth:`sync_account`'s, for each account.
        """
        chosen = list(sessions)
        results: list[SyncResult | None] = [None] * len(chosen)

        async def one(index: int, session: AccountSession) -> None:
            result = await self.sync_account(session, ack=ack, timeout=timeout)
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
        ack: bool = True,
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
        async with lock, self.limiter:
            started = trio.current_time()
            target = _Target(self.store, account)
            error: str | None = None
            try:
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
            new: tuple[MessageRecord, ...] = ()
            try:
                new = tuple(await self.store.unannounced(account))
                if ack and new:
                    # Shielded: once marked, the result must reach the caller.
                    with trio.CancelScope(shield=True):
                        await self.store.mark_announced(new)
            except Exception as exc:
                # Not marked, so not reported: the next sync reports them.
                new = ()
                error = error or _prefixed(account, exc) + f" ({type(exc).__name__})"
                logger.error("%s: the store failed", account, exc_info=exc)
            return SyncResult(
                account=account,
                new_messages=new,
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
            )
