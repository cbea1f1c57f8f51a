"""``trio-mailsync worker`` processes sharing accounts and ``trio-mailsync broadcast``
processes serving their events: a worker is killed (SIGKILL), its accounts start on the
other within a lease's life, every delivered message is in the shared log exactly once,
and a live client of each broadcaster, and one resuming from the start, gets each once.

The testing IMAP server runs in this process on loopback; Redis and PostgreSQL are the
session's.
"""

from __future__ import annotations

import signal
from collections import Counter
from pathlib import Path
from typing import Any

import coredis
import httpx
import trio

from tests.cluster_support import (
    Processes,
    cluster_config,
    collect,
    lease_holders,
    reported,
    until_listening,
)
from trio_mailsync.core.events import NewMessages
from trio_mailsync.stores.postgres import PostgresStore
from trio_mailsync.testing import IMAPTestServer, MailStore, sample_message
from trio_mailsync.testing._processes import free_port
from trio_mailsync.testing.redis import RedisServer

ACCOUNTS = [f"u{n:02}" for n in range(12)]
TTL = 2.0
TOKEN = "cluster-test-token"


def count_of(events: list[dict[str, Any]]) -> int:
    return sum(reported(events).values())


async def test_a_killed_workers_accounts_move_and_no_mail_is_lost_or_doubled(
    redis_session: RedisServer, redis_prefix: str, postgres_dsn: str, tmp_path: Path
) -> None:
    mail = MailStore()
    for user in ACCOUNTS:
        mail.add_user(user, "pw")
    server = IMAPTestServer(mail)
    delivered: list[tuple[str, int]] = []
    client: coredis.Redis[str] = coredis.Redis(
        host="127.0.0.1", port=redis_session.port, decode_responses=True
    )

    async def held_by(names: set[str]) -> bool:
        """Every account's lease is held, by exactly these workers between them."""
        held = await lease_holders(client, ACCOUNTS, redis_prefix)
        return len(held) == len(ACCOUNTS) and set(held.values()) == names

    def deliver(round_: int) -> None:
        for user in ACCOUNTS:
            uid = mail.deliver(user, sample_message(round_, subject=f"{user} {round_}"))
            delivered.append((user, uid))

    processes = Processes(tmp_path, "")
    workers = processes.running
    try:
        async with client, trio.open_nursery() as nursery:
            port = await nursery.start(server.serve_tcp)
            processes.config = cluster_config(
                imap_port=port,
                redis_port=redis_session.port,
                dsn=postgres_dsn,
                lease_ttl=TTL,
                token=TOKEN,
                accounts=dict.fromkeys(ACCOUNTS, "pw"),
                prefix=redis_prefix,
            )
            for name in ("w1", "w2"):
                processes.start("worker", name, "--quiet")
            ports = [free_port(), free_port()]
            for n, broadcast_port in enumerate(ports):
                processes.start("broadcast", f"b{n + 1}", "--port", str(broadcast_port))
            live: list[list[dict[str, Any]]] = [[], []]
            for n, broadcast_port in enumerate(ports):
                await until_listening(broadcast_port)
                url = f"ws://127.0.0.1:{broadcast_port}/"
                await nursery.start(collect, url, TOKEN, None, live[n])
            with trio.fail_after(30):
                while not await held_by({"w1", "w2"}):
                    assert all(w.poll() is None for w in workers.values()), processes.log("w1")
                    await trio.sleep(0.1)
            deliver(1)
            # The first worker dies at once: no shutdown, no lease given up.
            workers["w1"].send_signal(signal.SIGKILL)
            await trio.to_thread.run_sync(workers["w1"].wait, 10)
            killed = trio.current_time()
            deliver(2)
            with trio.fail_after(30):
                while not await held_by({"w2"}):
                    await trio.sleep(0.1)
            moved_after = trio.current_time() - killed
            deliver(3)
            store = await PostgresStore.open(postgres_dsn, shared=True, connections=1)
            try:
                with trio.fail_after(30):
                    while True:
                        events = await store.events_after(0, 100_000)
                        logged = Counter(
                            (e.account, m.uid)
                            for e in events
                            if isinstance(e, NewMessages)
                            for m in e.messages
                        )
                        if set(logged) >= set(delivered):
                            break
                        await trio.sleep(0.1)
                stored = {
                    user: sorted(m.uid for m in await store.messages(user, "INBOX"))
                    for user in ACCOUNTS
                }
            finally:
                await store.aclose()
            # A client that resumes from the start, at each broadcaster, replays the store.
            resumed: list[list[dict[str, Any]]] = [[], []]
            for n, broadcast_port in enumerate(ports):
                url = f"ws://127.0.0.1:{broadcast_port}/"
                await nursery.start(collect, url, TOKEN, 0, resumed[n])
            with trio.fail_after(30):
                while any(count_of(events) < len(delivered) for events in live + resumed):
                    await trio.sleep(0.1)
            # The operator's API of a broadcaster process sees the surviving worker's accounts.
            assert f"dashboard on http://127.0.0.1:{ports[0]}/" in processes.log("b1")
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{ports[0]}",
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=20,
            ) as http:
                overview = (await http.get("/api/overview")).json()
            assert overview["counters"]["workers"] == 1
            assert sorted(a["id"] for a in overview["accounts"]) == sorted(ACCOUNTS)
            workers["w2"].send_signal(signal.SIGTERM)
            # Waited for in a thread: the worker logs out of this process's server.
            status = await trio.to_thread.run_sync(workers["w2"].wait, 20)
            assert status == 128 + signal.SIGTERM, processes.log("w2")[-3000:]
            assert (
                await lease_holders(client, ACCOUNTS, redis_prefix) == {}
            )  # given up on the way out
            nursery.cancel_scope.cancel()
    finally:
        processes.kill_all()
    assert moved_after < TTL + TTL / 3 + 5  # a lease's life, one step, and start-up
    for n, client_events in enumerate(live + resumed):
        got = reported(client_events)
        assert set(got) == set(delivered), f"client {n}"
        assert [key for key, count in got.items() if count > 1] == [], f"client {n}"
    assert set(logged) == set(delivered)
    assert [key for key, count in logged.items() if count > 1] == []
    assert stored == {
        user: [m.uid for m in mail.user(user).folder("INBOX").messages] for user in ACCOUNTS
    }
