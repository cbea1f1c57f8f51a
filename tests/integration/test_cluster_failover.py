"""The cluster under faults (issue 15): 3 workers, 2 broadcasters, 60 accounts on Dovecot,
mail delivered all along; one worker SIGKILLed, another SIGSTOPped past its lease and
continued, Redis restarted empty. At the end every delivered message was reported exactly
once to a live client and to a client resuming from the start at each broadcaster, the
store holds what the server holds, and after each fault every account was owned again
within a lease's life and a step (plus start-up time).

Slow (about a minute): ``--run-slow`` (the test command gives it).
"""

from __future__ import annotations

import random
import signal
from collections import Counter
from pathlib import Path
from typing import Any

import coredis
import pytest
import trio

from tests.cluster_support import (
    Processes,
    cluster_config,
    collect,
    lease_holders,
    reported,
    until_listening,
)
from tests.support import installed_or_skip
from trio_mailsync.core.events import NewMessages
from trio_mailsync.providers.imap import Security, connect_account
from trio_mailsync.stores.postgres import PostgresStore
from trio_mailsync.testing import sample_message
from trio_mailsync.testing._processes import free_port
from trio_mailsync.testing.dovecot import DovecotServer, DovecotUnavailable
from trio_mailsync.testing.dovecot import ensure_installed as ensure_dovecot
from trio_mailsync.testing.redis import RedisServer, RedisUnavailable
from trio_mailsync.testing.redis import ensure_installed as ensure_redis

pytestmark = pytest.mark.slow

USERS = {f"fo{n:02}": f"fo-password-{n}" for n in range(60)}
TTL = 3.0
STEP = TTL / 3
TOKEN = "failover-token"
#: Seconds a new owner may take: the lease's life, a step, a process starting, a margin.
OWNED_WITHIN = TTL + STEP + 10


async def until_owned(client: coredis.Redis[str], by: set[str]) -> float:
    """Seconds until every account is owned, by the workers ``by`` only (bounded)."""
    started = trio.current_time()
    with trio.fail_after(60):
        while True:
            try:
                held = await lease_holders(client, USERS)
            except (OSError, coredis.exceptions.RedisError):
                held = {}  # Redis restarting
            if len(held) == len(USERS) and set(held.values()) <= by:
                return trio.current_time() - started
            await trio.sleep(0.1)


async def test_workers_and_broadcasters_survive_kill_stop_and_a_redis_restart(
    postgres_dsn: str, tmp_path: Path
) -> None:
    installed_or_skip(ensure_dovecot, DovecotUnavailable)
    installed_or_skip(ensure_redis, RedisUnavailable)
    delivered: list[tuple[str, int]] = []
    recovery: dict[str, float] = {}
    with DovecotServer(USERS, max_userip_connections=1000) as dovecot, RedisServer() as redis:
        config = cluster_config(
            imap_port=dovecot.imap_port,
            redis_port=redis.port,
            dsn=postgres_dsn,
            lease_ttl=TTL,
            token=TOKEN,
            accounts=USERS,
        )
        processes = Processes(tmp_path, config)
        client: coredis.Redis[str] = coredis.Redis(
            host="127.0.0.1", port=redis.port, decode_responses=True
        )
        try:
            async with client, trio.open_nursery() as nursery:
                for name in ("w1", "w2", "w3"):
                    processes.start("worker", name)
                ports = [free_port(), free_port()]
                for n, port in enumerate(ports):
                    processes.start("broadcast", f"b{n + 1}", "--port", str(port))
                live: list[list[dict[str, Any]]] = [[], []]
                for n, port in enumerate(ports):
                    await until_listening(port)
                    await nursery.start(collect, f"ws://127.0.0.1:{port}/", TOKEN, None, live[n])
                recovery["start"] = await until_owned(client, {"w1", "w2", "w3"})

                stop_delivering = trio.Event()

                async def deliver() -> None:
                    writers = {}
                    rng = random.Random(15)
                    try:
                        n = 0
                        while not stop_delivering.is_set():
                            user = rng.choice(list(USERS))
                            if user not in writers:
                                account = dovecot.account(user, security=Security.NONE)
                                writers[user] = await connect_account(account)
                            n += 1
                            message = sample_message(n, subject=f"{user} {n}")
                            uid = await writers[user].append("INBOX", message)
                            assert uid is not None
                            delivered.append((user, uid))
                            await trio.sleep(0.05)
                    finally:
                        with trio.CancelScope(shield=True):
                            for writer in writers.values():
                                await writer.aclose()

                nursery.start_soon(deliver)
                await trio.sleep(3)

                processes.running["w1"].send_signal(signal.SIGKILL)
                recovery["sigkill"] = await until_owned(client, {"w2", "w3"})
                await trio.sleep(2)

                processes.running["w2"].send_signal(signal.SIGSTOP)
                stopped = trio.current_time()
                recovery["sigstop"] = await until_owned(client, {"w3"})
                # Stopped well past its lease, syncs in flight, then continued.
                await trio.sleep_until(stopped + TTL * 2)
                processes.running["w2"].send_signal(signal.SIGCONT)
                await until_owned(client, {"w2", "w3"})  # and w2 takes its share back
                await trio.sleep(2)

                await trio.to_thread.run_sync(redis.restart)
                recovery["redis restart"] = await until_owned(client, {"w2", "w3"})
                await trio.sleep(2)

                stop_delivering.set()
                store = await PostgresStore.open(postgres_dsn, shared=True, connections=1)
                try:
                    with trio.fail_after(60):
                        while True:
                            logged = [
                                (e.account, m.uid)
                                for e in await store.events_after(0, 1_000_000)
                                if isinstance(e, NewMessages)
                                for m in e.messages
                            ]
                            if set(logged) >= set(delivered):
                                break
                            await trio.sleep(0.2)
                    stored = {u: {m.uid for m in await store.messages(u, "INBOX")} for u in USERS}
                finally:
                    await store.aclose()
                resumed: list[list[dict[str, Any]]] = [[], []]
                for n, port in enumerate(ports):
                    await nursery.start(collect, f"ws://127.0.0.1:{port}/", TOKEN, 0, resumed[n])
                with trio.fail_after(60):
                    while any(
                        not set(reported(events)) >= set(delivered) for events in live + resumed
                    ):
                        await trio.sleep(0.2)
                await trio.sleep(1)  # anything doubled would come now
                nursery.cancel_scope.cancel()
        finally:
            processes.kill_all()
    print("recovery times (s):", {k: round(v, 2) for k, v in recovery.items()})
    print("delivered:", len(delivered))
    refused = processes.log("w2").count("write refused, its lease moved on")
    print("fencing rejections seen by the paused worker:", refused)
    assert len(delivered) > 100
    for name, seconds in recovery.items():
        assert seconds < OWNED_WITHIN, f"{name}: owned again after {seconds:.1f} s"
    assert Counter(logged) == Counter(set(logged)), "a message logged twice"
    for n, events in enumerate(live + resumed):
        got = reported(events)
        assert set(got) >= set(delivered), f"client {n}"
        assert [key for key, count in got.items() if count > 1] == [], f"client {n}"
    by_user: dict[str, set[int]] = {u: set() for u in USERS}
    for user, uid in delivered:
        by_user[user].add(uid)
    assert stored == by_user
