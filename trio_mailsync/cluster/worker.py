"""A cluster's worker: runs the accounts whose leases it holds, and only those.

Every third of the lease's life, :meth:`Worker.step`:

1. heartbeats (the live workers come back), and reads the accounts (the config's and
   those added at runtime, from the shared store);
2. places every account over the live workers (rendezvous, with the cap) and gives up
   what is no longer its own (stopped first, then the lease deleted, so the next owner
   need not wait for it to expire);
3. renews its leases in one call; an account whose lease was lost (this worker was
   paused or cut off past the lease's life) is stopped at once;
4. takes the leases of its accounts that nobody holds, claims each in the store with the
   lease's fencing token, and runs it.

The store refuses writes with an older token, so two workers never both commit for an
account, whatever the timing: a worker stopped past its lease finds its next write
refused (``LeaseLost``) and its account stopped on its next step. If Redis does not
answer for a lease's life, the worker stops every account: it can no longer show that
they are its own.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from typing import NoReturn

import attrs
import trio
from coredis.exceptions import RedisError

from trio_mailsync.cluster import control, leases, stream
from trio_mailsync.cluster.leases import Lease, Leases
from trio_mailsync.cluster.placement import place
from trio_mailsync.cluster.stream import StreamPublisher
from trio_mailsync.core.config import Account
from trio_mailsync.core.errors import LeaseLost, MailSyncError, StoreError
from trio_mailsync.core.ports import FencedStore
from trio_mailsync.service import SyncService

__all__ = [
    "Leases",
    "StreamPublisher",
    "Worker",
    "WorkerStatistics",
    "control",
    "leases",
    "stream",
]

logger = logging.getLogger(__name__)

#: Seconds a starting worker waits, once it has said it lives, before its first placement.
STARTUP_SETTLE = 2.0


@attrs.define
class WorkerStatistics:
    """What a worker did since it started."""

    #: Accounts it runs now.
    running: int = 0
    #: Leases taken (each with a new fencing token), given up, and found lost.
    taken: int = 0
    given_up: int = 0
    lost: int = 0
    #: Claims the store refused: a newer token held the account already.
    refused_claims: int = 0
    #: Claims that failed (the store did not answer in time); tried again a step later.
    failed_claims: int = 0
    #: Steps begun, and those that failed (Redis or the store did not answer).
    steps: int = 0
    failed_steps: int = 0
    #: The live workers at the last heartbeat.
    workers: int = 0


class Worker:
    """Runs, in ``service``, the accounts whose leases it holds (see the module's doc).

    ``accounts`` returns every account of the cluster by id (the config's and those
    added at runtime); ``cap`` bounds how many this worker runs.
    """

    def __init__(
        self,
        service: SyncService,
        store: FencedStore,
        leases: Leases,
        accounts: Callable[[], Awaitable[Mapping[str, Account]]],
        *,
        cap: int,
    ) -> None:
        self.service = service
        self.store = store
        self.leases = leases
        self.name = leases.worker
        self._accounts = accounts
        self.cap = cap
        #: account id -> the lease it runs under.
        self.held: dict[str, Lease] = {}
        #: account id -> the account as it was taken on (a change restarts it).
        self._running: dict[str, Account] = {}
        #: account id -> the newest token the store reported (the next take goes above).
        self._floors: dict[str, int] = {}
        self._placement_key: tuple[tuple[str, ...], frozenset[str]] | None = None
        self._placement: dict[str, str] = {}
        self._last_renewal = -math.inf
        self.stats = WorkerStatistics()

    @property
    def interval(self) -> float:
        """Seconds between steps: a third of the lease's life."""
        return self.leases.ttl / 3

    def statistics(self) -> WorkerStatistics:
        """What the worker did so far (a copy)."""
        return attrs.evolve(self.stats, running=len(self.held))

    async def run(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> NoReturn:
        """Step every :attr:`interval` until cancelled.

        ``task_status.started()`` after the first step (this worker's first accounts
        run). On the way out, once the service has stopped the accounts, the owner
        calls :meth:`leave` (with a Redis client that was not cancelled too).
        """
        # Workers started together see each other before placing: else the first to
        # step would take every account and hand most of them on a step later.
        with contextlib.suppress(OSError, RedisError):
            await self.leases.heartbeat()
        await trio.sleep(min(STARTUP_SETTLE, self.interval))
        await self._step_or_log()
        task_status.started()
        while True:
            await trio.sleep(self.interval)
            await self._step_or_log()

    async def _step_or_log(self) -> None:
        try:
            await self.step()
        except (OSError, MailSyncError, RedisError) as exc:
            self.stats.failed_steps += 1
            logger.warning("worker %s: a step failed: %s", self.name, exc)
            if trio.current_time() - self._last_renewal > self.leases.ttl and self.held:
                logger.error(
                    "worker %s: no lease renewed for %g s; stopping its %d accounts",
                    self.name,
                    self.leases.ttl,
                    len(self.held),
                )
                for account_id in list(self.held):
                    await self._stop(account_id)

    async def step(self) -> None:
        """Heartbeat, place, give up, renew, take (see the module's doc)."""
        self.stats.steps += 1
        live = await self.leases.heartbeat()
        self.stats.workers = len(live)
        accounts = await self._accounts()
        mine = {
            account_id
            for account_id, worker in self._place(live, accounts).items()
            if worker == self.name
        }
        for account_id in list(self.held):
            now, running = accounts.get(account_id), self._running.get(account_id)
            # The same object in most steps (the file's accounts, saved ones unchanged):
            # no need to compare every field of thousands of accounts.
            changed = now is not None and now is not running and now != running
            if account_id not in mine or changed:
                await self._give_up(account_id)
        await self._renew()
        for account_id in sorted(mine - self.held.keys()):
            if trio.current_time() - self._last_renewal >= self.interval:
                # Taking many accounts takes a while (a claim and a start each): what is
                # held already, and this worker's heartbeat, must not expire meanwhile.
                await self.leases.heartbeat()
                await self._renew()
            await self._take(accounts[account_id])

    async def _renew(self) -> None:
        """Renew every lease held, in one call; stop the accounts whose lease was lost."""
        lost = await self.leases.renew(list(self.held.values()))
        self._last_renewal = trio.current_time()
        for lease in lost:
            self.stats.lost += 1
            logger.warning(
                "worker %s: %s: its lease was lost; stopping it", self.name, lease.account
            )
            await self._stop(lease.account)

    def _place(self, live: list[str], accounts: Mapping[str, Account]) -> dict[str, str]:
        # Placing 100,000 accounts costs about a second: only when workers or accounts change.
        key = (tuple(sorted(live)), frozenset(accounts))
        if key != self._placement_key:
            self._placement_key = key
            self._placement = place(accounts, key[0], self.cap)
        return self._placement

    async def _take(self, account: Account) -> None:
        for _ in range(2):
            lease = await self.leases.take(account.id, floor=self._floors.get(account.id, 0))
            if lease is None:
                return  # its last owner still holds it: it gives it up, or it expires
            try:
                await self.store.claim(account.id, lease.token)
                break
            except LeaseLost as exc:
                # Redis forgot newer tokens (a restart): once more, above the store's.
                self.stats.refused_claims += 1
                self._floors[account.id] = exc.newest
                await self.leases.give_up(lease)
            except StoreError as exc:
                # Most often the last owner, paused in a write, holds the account's row
                # until the database ends its transaction: the next step tries again, and
                # this one goes on to the other accounts.
                self.stats.failed_claims += 1
                logger.warning("worker %s: %s: not claimed: %s", self.name, account.id, exc)
                await self.leases.give_up(lease)
                return
        else:
            return
        self.stats.taken += 1
        self.held[account.id] = lease
        self._running[account.id] = account
        await self.service.run_account(account)

    async def _stop(self, account_id: str) -> None:
        """Stop running the account (its lease is gone or about to be)."""
        self.held.pop(account_id, None)
        self._running.pop(account_id, None)
        with contextlib.suppress(KeyError):  # never started
            await self.service.remove_account(account_id, source="lease")
        self.store.disown(account_id)

    async def _give_up(self, account_id: str) -> None:
        lease = self.held[account_id]
        await self._stop(account_id)
        self.stats.given_up += 1
        await self.leases.give_up(lease)

    async def leave(self, leases: Leases | None = None) -> None:
        """Give every lease up and leave the live workers (a shutdown), so that the
        accounts start elsewhere at once rather than after the lease's life.

        Only once the accounts have stopped (the service has ended, or :meth:`step`
        gave them up): the next owner must not start while this one still writes.
        ``leases``: the same leases through another client (this one's is cancelled
        with the worker's tasks).
        """
        leases = leases or self.leases
        for account_id, lease in list(self.held.items()):
            del self.held[account_id]
            self._running.pop(account_id, None)
            with contextlib.suppress(OSError, RedisError):  # else it expires
                await leases.give_up(lease)
        try:
            await leases.leave()
        except (OSError, RedisError) as exc:
            logger.warning("worker %s: could not say it left: %s", self.name, exc)
