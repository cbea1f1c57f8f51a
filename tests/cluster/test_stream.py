"""Events from a worker to broadcasters: through the Redis stream, or the log when the stream
missed them; in id order, each once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import cast

import coredis
import pytest
import trio

from trio_mailsync.cluster import stream
from trio_mailsync.cluster.stream import ClusterEvents, StreamPublisher
from trio_mailsync.core.events import (
    AccountState,
    AccountStateChanged,
    Hello,
    LoggedEvent,
    NewMessages,
)
from trio_mailsync.core.ports import EventSource
from trio_mailsync.service.hub import EventHub
from trio_mailsync.stores.postgres import PostgresStore
from trio_mailsync.testing.redis import RedisServer


@pytest.fixture
async def client(redis_session: RedisServer) -> AsyncIterator[coredis.Redis[str]]:
    redis: coredis.Redis[str] = coredis.Redis(
        host="127.0.0.1", port=redis_session.port, decode_responses=True
    )
    async with redis:
        yield redis


@pytest.fixture
async def store(postgres_dsn: str) -> AsyncIterator[PostgresStore]:
    s = await PostgresStore.open(postgres_dsn, shared=True, connections=2)
    yield s
    await s.aclose()


async def log(store: PostgresStore, hub: EventHub, *accounts: str) -> list[LoggedEvent]:
    """Log an event per account, as a worker's sync would, and hand them to its hub."""
    events = await store.append(
        [NewMessages(account=a, folder="INBOX", messages=()) for a in accounts]
    )
    hub.logged(events)
    return events


async def received(events: AsyncIterator[object], count: int) -> list[tuple[int, str]]:
    got: list[tuple[int, str]] = []
    with trio.fail_after(10):
        async for event in events:
            if isinstance(event, NewMessages):
                got.append((event.id, event.account))
                if len(got) == count:
                    return got
    raise AssertionError("the stream ended")


async def test_a_broadcaster_gets_each_event_once_in_order_by_the_stream(
    client: coredis.Redis[str],
    redis_prefix: str,
    store: PostgresStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(stream, "LOG_POLL", 3600.0)  # the stream alone
    worker_hub = EventHub(store, dict)
    await worker_hub.open()
    publisher = StreamPublisher(client, prefix=redis_prefix, length=1000)
    broadcaster = ClusterEvents(store, client, prefix=redis_prefix, accounts=3)
    async with trio.open_nursery() as nursery:
        await nursery.start(publisher.run, _source(worker_hub))
        await nursery.start(broadcaster.run)
        with broadcaster.subscribe() as events:
            assert isinstance(await events.__anext__(), Hello)
            logged = await log(store, worker_hub, "a", "b", "c")
            assert await received(events, 3) == [(e.id, e.account) for e in logged]
        with trio.fail_after(5):  # the last XADD's answer may come after its entry is read
            while publisher.stats.events < 3:
                await trio.sleep(0.01)
        assert broadcaster.statistics().events == 3
        nursery.cancel_scope.cancel()


async def test_what_the_stream_missed_comes_from_the_log(
    client: coredis.Redis[str],
    redis_prefix: str,
    store: PostgresStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(stream, "LOG_POLL", 0.05)
    worker_hub = EventHub(store, dict)
    await worker_hub.open()
    broadcaster = ClusterEvents(store, client, prefix=redis_prefix, accounts=2)
    async with trio.open_nursery() as nursery:
        await nursery.start(broadcaster.run)
        with broadcaster.subscribe() as events:
            assert isinstance(await events.__anext__(), Hello)
            # A worker that died between its commit and its XADD: no publisher at all.
            logged = await log(store, worker_hub, "a", "b")
            assert await received(events, 2) == [(e.id, e.account) for e in logged]
            # Then a publisher again, which adds them late: the log gave them, not twice.
            publisher = StreamPublisher(client, prefix=redis_prefix, length=1000)
            await nursery.start(publisher.run, _source(worker_hub))
            for event in logged:
                await publisher._add(event)
            later = await log(store, worker_hub, "c")
            assert await received(events, 1) == [(later[0].id, "c")]
        assert broadcaster.statistics().from_log >= 2
        nursery.cancel_scope.cancel()


def _source(hub: EventHub) -> EventSource:
    """A worker's service as the publisher sees it: the subscriptions of its hub."""
    return cast(EventSource, hub)


async def test_a_workers_hub_publishes_its_events_at_once_though_others_write_between(
    store: PostgresStore,
) -> None:
    # Two workers log in turn: ids 1 (a's) and 2 (b's). b's hub never sees 1: as the sole
    # writer's hub it would hold 2, wait for 1 and read it from the store a second later
    # (every event of a cluster late by that); as one writer among many, it publishes 2.
    sole, shared = EventHub(store, dict), EventHub(store, dict, sole_writer=False)
    for hub in (sole, shared):
        await hub.open()
    await store.append([NewMessages(account="a", folder="INBOX", messages=())])
    (mine,) = await store.append([NewMessages(account="b", folder="INBOX", messages=())])
    with shared.subscribe() as events:
        shared.logged([mine])
        assert shared.statistics().logged == 1
        assert isinstance(await events.__anext__(), Hello)
        assert await events.__anext__() == mine
    sole.logged([mine])
    assert sole.statistics().logged == 0  # held for the gap


async def test_account_states_reach_a_broadcasters_clients_and_its_hellos(
    client: coredis.Redis[str], redis_prefix: str, store: PostgresStore
) -> None:
    worker_hub = EventHub(store, dict, sole_writer=False)
    await worker_hub.open()
    publisher = StreamPublisher(client, prefix=redis_prefix, length=1000)
    broadcaster = ClusterEvents(store, client, prefix=redis_prefix, accounts=2)
    async with trio.open_nursery() as nursery:
        await nursery.start(publisher.run, _source(worker_hub))
        await nursery.start(broadcaster.run)
        with broadcaster.subscribe() as events:
            first = await events.__anext__()
            assert isinstance(first, Hello)
            assert (first.accounts, first.last_id) == ({}, 0)
            worker_hub.publish(AccountStateChanged(account="a", state=AccountState.IDLE))
            worker_hub.publish(AccountStateChanged(account="b", state=AccountState.ERROR))
            worker_hub.publish(AccountStateChanged(account="b", state=AccountState.REMOVED))
            with trio.fail_after(10):
                seen = [await events.__anext__() for _ in range(3)]
            assert [(e.account, e.state) for e in seen if isinstance(e, AccountStateChanged)] == [
                ("a", AccountState.IDLE),
                ("b", AccountState.ERROR),
                ("b", AccountState.REMOVED),
            ]
        with broadcaster.subscribe() as later:
            hello = await later.__anext__()
            assert isinstance(hello, Hello)
            assert hello.accounts == {"a": AccountState.IDLE}  # b removed: not shown
        nursery.cancel_scope.cancel()
