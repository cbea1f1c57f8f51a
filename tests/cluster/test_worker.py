"""Workers in one process, stepped by hand: placement, rebalancing, a lost lease fenced off.

Real Redis and PostgreSQL (the session's), the in-memory provider for mail. Each worker
has its own store connection, provider and service, as a process of its own would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack
from typing import Any

import coredis
import pytest
import trio

from tests.cluster_support import lease_holders
from trio_mailsync.cluster.leases import Leases
from trio_mailsync.cluster.placement import rank
from trio_mailsync.cluster.worker import Worker
from trio_mailsync.core.config import Account, Config, ServiceSettings
from trio_mailsync.core.errors import StoreError
from trio_mailsync.core.events import NewMessages
from trio_mailsync.core.ports import FencedStore
from trio_mailsync.service import SyncService
from trio_mailsync.stores.postgres import PostgresStore
from trio_mailsync.testing.memory import MemoryMail, MemoryProvider, memory_account
from trio_mailsync.testing.redis import RedisServer

TTL = 1.0
ACCOUNTS = {f"a{n:02}": memory_account(f"a{n:02}", notify_from="all") for n in range(24)}


class Cluster:
    """Workers sharing one Redis prefix and one database."""

    def __init__(
        self,
        stack: AsyncExitStack,
        nursery: trio.Nursery,
        client: coredis.Redis[str],
        prefix: str,
        dsn: str,
    ) -> None:
        self.stack = stack
        self.nursery = nursery
        self.client = client
        self.prefix = prefix
        self.dsn = dsn
        self.mail = MemoryMail()
        for account_id in ACCOUNTS:
            self.mail.add_account(account_id)
        #: The cluster's accounts now (the config's and those added at runtime).
        self.catalog = dict(ACCOUNTS)
        self.workers: dict[str, Worker] = {}
        self.scopes: dict[str, trio.CancelScope] = {}

    async def accounts(self) -> Mapping[str, Account]:
        return dict(self.catalog)

    async def add(self, name: str, *, cap: int = 100) -> Worker:
        store = await PostgresStore.open(self.dsn, shared=True, connections=2)
        self.stack.push_async_callback(store.aclose)
        config = Config(accounts=(), service=ServiceSettings(sweep_interval=10_000))
        service = SyncService(config, {"memory": MemoryProvider(self.mail)}, store)
        scope = trio.CancelScope()

        async def run(task_status: trio.TaskStatus[None]) -> None:
            with scope:
                await service.run(task_status=task_status)

        await self.nursery.start(run)
        self.scopes[name] = scope
        leases = Leases(self.client, name, ttl=TTL, prefix=self.prefix)
        worker = self.workers[name] = Worker(service, store, leases, self.accounts, cap=cap)
        return worker

    async def step(self, *names: str) -> None:
        for name in names or list(self.workers):
            await self.workers[name].step()

    def owners(self) -> dict[str, str]:
        """account -> the worker running it; fails if two run one."""
        found: dict[str, str] = {}
        for name, worker in self.workers.items():
            for account_id in worker.held:
                assert account_id not in found, f"{account_id} runs on {found[account_id]} too"
                found[account_id] = name
        return found

    def settled(self) -> bool:
        """Each account runs on its first choice among the workers, and on no other."""
        names = list(self.workers)
        return self.owners() == {a: rank(a, names)[0] for a in self.catalog}

    def tokens(self) -> dict[str, int]:
        return {a: lease.token for w in self.workers.values() for a, lease in w.held.items()}


@pytest.fixture
async def cluster(
    redis_session: RedisServer, redis_prefix: str, postgres_dsn: str
) -> AsyncIterator[Cluster]:
    client: coredis.Redis[str] = coredis.Redis(
        host="127.0.0.1", port=redis_session.port, decode_responses=True
    )
    async with client, AsyncExitStack() as stack, trio.open_nursery() as nursery:
        yield Cluster(stack, nursery, client, redis_prefix, postgres_dsn)
        nursery.cancel_scope.cancel()


async def until(condition: Callable[[], Any], cluster: Cluster, *names: str) -> None:
    """Step the workers until ``condition()`` holds (bounded)."""
    with trio.fail_after(20):
        while not condition():
            await cluster.step(*names)
            await trio.sleep(0.05)


async def test_each_account_runs_once_and_a_fourth_worker_takes_only_its_share(
    cluster: Cluster,
) -> None:
    for name in ("w1", "w2", "w3"):
        await cluster.add(name)
    await until(cluster.settled, cluster)
    before, tokens = cluster.owners(), cluster.tokens()
    given_up = sum(w.statistics().given_up for w in cluster.workers.values())
    assert set(before.values()) == {"w1", "w2", "w3"}
    assert all(before[a] == rank(a, ["w1", "w2", "w3"])[0] for a in ACCOUNTS)

    await cluster.add("w4")
    expected = {a for a in ACCOUNTS if rank(a, ["w1", "w2", "w3", "w4"])[0] == "w4"}
    await until(lambda: set(cluster.workers["w4"].held) == expected, cluster)
    after = cluster.owners()
    assert len(after) == len(ACCOUNTS)
    moved = {a for a in ACCOUNTS if after[a] != before[a]}
    assert moved == expected
    assert 2 <= len(moved) <= 12  # about a quarter of 24
    # The others were never touched: the same leases, the same tokens.
    assert {a: t for a, t in cluster.tokens().items() if a not in moved} == {
        a: t for a, t in tokens.items() if a not in moved
    }
    assert sum(w.statistics().given_up for w in cluster.workers.values()) - given_up == len(moved)


async def test_a_worker_whose_lease_moved_on_is_refused_and_stops(cluster: Cluster) -> None:
    one, two = await cluster.add("w1"), await cluster.add("w2")
    await until(cluster.settled, cluster)
    account = next(a for a, w in cluster.owners().items() if w == "w1")
    # w1 stops stepping (paused past its lease): w2 finds it dead and takes its accounts.
    await trio.sleep(TTL * 1.2)
    await until(lambda: len(two.held) == len(ACCOUNTS), cluster, "w2")
    assert account in one.held  # w1 does not know yet
    uid = cluster.mail.deliver(account, subject="after the lease moved")
    # Both sync it: w1's write is refused (its token is older), w2's commits.
    one.service.request(account)
    two.service.request(account)
    with trio.fail_after(10):
        while one.store.refused_writes == 0 or not await announced(two.store, account, uid):
            await trio.sleep(0.02)
    # w1 wakes: its lease is gone, it stops the account...
    await cluster.step("w1")
    assert one.statistics().lost >= 1
    assert account not in one.held
    # ...and then, alive again, takes its share back from w2 (rebalanced, not doubled).
    await until(cluster.settled, cluster)
    events = await two.store.events_after(0, 10_000)
    reported = [
        m.uid
        for e in events
        if isinstance(e, NewMessages) and e.account == account
        for m in e.messages
    ]
    assert reported.count(uid) == 1


async def announced(store: FencedStore, account: str, uid: int) -> bool:
    return any(
        m.uid == uid
        for e in await store.events_after(0, 10_000)
        if isinstance(e, NewMessages) and e.account == account
        for m in e.messages
    )


async def test_accounts_added_and_removed_are_taken_on_and_given_up(cluster: Cluster) -> None:
    one, two = await cluster.add("w1"), await cluster.add("w2")
    await until(cluster.settled, cluster)
    gone = next(iter(one.held))
    del cluster.catalog[gone]
    await until(cluster.settled, cluster)
    assert gone not in cluster.owners()
    assert gone not in {a.id for a in one.service.accounts}  # stopped, not only unleased
    cluster.mail.add_account("new")
    cluster.catalog["new"] = memory_account("new", notify_from="all")
    await until(cluster.settled, cluster)
    owner = cluster.workers[cluster.owners()["new"]]
    assert "new" in {a.id for a in owner.service.accounts}
    del two


async def test_a_step_that_takes_many_accounts_keeps_the_first_ones_leases(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Found by bench/cluster.py: a worker taking 1,000 accounts spent longer than a lease's
    # life in one step, the first leases expired before the next step renewed them, and
    # the accounts were stopped and taken again, step after step (20 % of a core at rest).
    worker = await cluster.add("w1")
    claim = worker.store.claim

    async def slow_claim(account: str, token: int) -> None:
        await trio.sleep(TTL / 10)  # 24 accounts: 2.4 lease lives in one step
        await claim(account, token)

    monkeypatch.setattr(worker.store, "claim", slow_claim)
    await worker.step()
    assert len(worker.held) == len(ACCOUNTS)
    await worker.step()
    assert worker.statistics().lost == 0
    assert worker.statistics().taken == len(ACCOUNTS)


async def test_a_claim_that_fails_skips_one_account_not_the_step(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The last owner, paused in a write, holds "a03"'s row until the database ends its
    # transaction: this worker's claim times out (a StoreError). The other accounts
    # start, "a03"'s lease is given back (not left to expire), and a later step takes it.
    worker = await cluster.add("w1")
    claim = worker.store.claim
    blocked = {"a03"}

    async def claim_or_time_out(account: str, token: int) -> None:
        if account in blocked:
            raise StoreError("postgresql://...: canceling statement due to lock timeout")
        await claim(account, token)

    monkeypatch.setattr(worker.store, "claim", claim_or_time_out)
    await worker.step()
    assert set(worker.held) == set(ACCOUNTS) - {"a03"}
    assert worker.statistics().failed_claims == 1
    assert await lease_holders(cluster.client, ["a03"], prefix=cluster.prefix) == {}
    blocked.clear()
    await worker.step()
    assert set(worker.held) == set(ACCOUNTS)
