"""Leases, fencing tokens and heartbeats in a real Redis (the session's, on loopback)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import coredis
import pytest
import trio

from trio_mailsync.cluster.leases import Lease, Leases
from trio_mailsync.testing.redis import RedisServer


@pytest.fixture
async def client(redis_session: RedisServer) -> AsyncIterator[coredis.Redis[str]]:
    redis: coredis.Redis[str] = coredis.Redis(
        host="127.0.0.1", port=redis_session.port, decode_responses=True
    )
    async with redis:
        yield redis


def worker(client: coredis.Redis[str], name: str, prefix: str, ttl: float = 0.3) -> Leases:
    return Leases(client, name, ttl=ttl, prefix=prefix)


async def test_a_lease_is_one_workers_until_given_up_or_expired(
    client: coredis.Redis[str], redis_prefix: str
) -> None:
    one, two = worker(client, "w1", redis_prefix), worker(client, "w2", redis_prefix)
    first = await one.take("alice")
    assert first == Lease("alice", 1)
    assert await two.take("alice") is None  # held
    assert await one.renew([first]) == []
    assert await one.holders(["alice", "bob"]) == {"alice": "w1"}
    assert await two.give_up(Lease("alice", 1)) is False  # not its own: kept
    assert await one.give_up(first) is True
    second = await two.take("alice")
    assert second == Lease("alice", 2)  # the next owner's token is higher
    # w2 stops renewing (paused): the lease expires and w1 takes it with a newer token.
    await trio.sleep(0.4)
    third = await one.take("alice")
    assert third == Lease("alice", 3)
    assert await two.renew([second]) == [second]  # w2 finds it lost
    assert await one.renew([third]) == []


async def test_one_call_renews_many_and_names_those_lost(
    client: coredis.Redis[str], redis_prefix: str
) -> None:
    one, two = worker(client, "w1", redis_prefix, ttl=5), worker(client, "w2", redis_prefix)
    held = [lease for n in range(50) if (lease := await one.take(f"a{n}")) is not None]
    assert len(held) == 50
    await client.delete([f"{redis_prefix}:lease:a7"])  # as if it had expired...
    taken = await two.take("a7")  # ...and another worker took it
    assert taken is not None
    assert await one.renew(held) == [held[7]]


async def test_tokens_stay_above_the_stores_after_redis_forgets_everything(
    client: coredis.Redis[str], redis_prefix: str
) -> None:
    one = worker(client, "w1", redis_prefix, ttl=5)
    lease = await one.take("alice")
    assert lease is not None
    await client.delete([f"{redis_prefix}:lease:alice", f"{redis_prefix}:fence"])  # a restart
    # The store said 41 was the newest token it saw for alice: the counter jumps above it.
    again = await one.take("alice", floor=41)
    assert again == Lease("alice", 42)
    assert await one.take("bob") == Lease("bob", 43)


async def test_heartbeats_say_who_lives(client: coredis.Redis[str], redis_prefix: str) -> None:
    one, two = worker(client, "w1", redis_prefix), worker(client, "w2", redis_prefix, ttl=5)
    assert await one.heartbeat() == ["w1"]
    assert sorted(await two.heartbeat()) == ["w1", "w2"]
    await trio.sleep(0.4)  # w1 is silent past its ttl
    assert await two.heartbeat() == ["w2"]
    await one.heartbeat()
    await one.leave()
    assert await two.heartbeat() == ["w2"]


def test_a_worker_name_has_no_spaces(redis_session: RedisServer) -> None:
    with pytest.raises(ValueError, match="no spaces"):
        Leases(coredis.Redis(port=redis_session.port, decode_responses=True), "w 1", ttl=1)
