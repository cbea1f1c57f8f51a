"""A webhook in a cluster is delivered by one broadcaster at a time (the lease's holder),
in order from its cursor in the store; when that broadcaster stops, another takes over
from the cursor."""

from __future__ import annotations

from typing import Any

import attrs
import coredis
import trio

from trio_mailsync.app import run_broadcaster
from trio_mailsync.config import parse_config
from trio_mailsync.core.events import NewMessages
from trio_mailsync.stores.postgres import PostgresStore
from trio_mailsync.testing.receiver import WebhookReceiver
from trio_mailsync.testing.redis import RedisServer

SECRET = "webhook-secret"


def config(redis: RedisServer, prefix: str, dsn: str, webhook_port: int) -> Any:
    return parse_config(
        {
            "store": {"backend": "postgres", "dsn": dsn},
            "cluster": {
                "redis_url": f"redis://127.0.0.1:{redis.port}",
                "prefix": prefix,
                "lease_ttl": 1.0,
            },
            "broadcast": {"port": 0, "token": "t"},
            "accounts": {"a": {"host": "h", "username": "u", "password": "p"}},
            "webhooks": [
                {"name": "crm", "url": f"http://127.0.0.1:{webhook_port}/", "secret": SECRET}
            ],
        }
    )


async def lease_holder(redis: RedisServer, prefix: str) -> str:
    client: coredis.Redis[str] = coredis.Redis(
        host="127.0.0.1", port=redis.port, decode_responses=True
    )
    async with client:
        value = await client.get(f"{prefix}:job:lease:webhook:crm")
    assert value is not None
    return value.split(" ")[0]


async def test_one_broadcaster_delivers_a_webhook_and_another_takes_over(
    redis_session: RedisServer, redis_prefix: str, postgres_dsn: str
) -> None:
    receiver = WebhookReceiver(SECRET)
    store = await PostgresStore.open(postgres_dsn, shared=True, connections=1)
    try:
        async with trio.open_nursery() as nursery:
            port = await nursery.start(receiver.serve)
            settings = config(redis_session, redis_prefix, postgres_dsn, port)
            scopes = {"b1": trio.CancelScope(), "b2": trio.CancelScope()}

            async def broadcaster(name: str, task_status: Any) -> None:
                named = attrs.evolve(settings, cluster=attrs.evolve(settings.cluster, name=name))
                with scopes[name]:
                    await run_broadcaster(named, task_status=task_status)

            for name in scopes:
                await nursery.start(broadcaster, name)
            first = await store.append(
                [NewMessages(account="a", folder="INBOX", messages=()) for _ in range(5)]
            )
            await receiver.wait_for_events(5, within=20)
            # The holder stops (without giving the lease up): the other takes over after
            # the lease's life, from the cursor.
            with trio.fail_after(10):
                while await store.cursor("webhook:crm") != first[-1].id:
                    await trio.sleep(0.05)
            holder = await lease_holder(redis_session, redis_prefix)
            scopes[holder].cancel()
            second = await store.append(
                [NewMessages(account="a", folder="INBOX", messages=()) for _ in range(5)]
            )
            await receiver.wait_for_events(10, within=20)
            await trio.sleep(1.5)  # nothing more comes: no one delivers twice
            nursery.cancel_scope.cancel()
    finally:
        await store.aclose()
    assert receiver.event_ids() == [e.id for e in first + second]
