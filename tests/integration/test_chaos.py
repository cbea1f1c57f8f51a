"""Chaos: the service against Dovecot through fault proxies, mail arriving all along.

While a generator APPENDs mail to random accounts, a seeded schedule of faults hits the
accounts other than the first: connections reset (now, or after N bytes, often inside a
literal), stalled (a NAT box dropping everything), refused, slowed, throttled, sliced into
one-byte writes, or fed garbage; once, Dovecot itself restarts. At the end, with the faults lifted:

- every delivered message was reported exactly once as new_messages, nothing else was;
- the store equals the server;
- the healthy account's mail kept arriving promptly while the others were faulted (its
  INBOX by IDLE, its other folders by sweeps that others' hung syncs do not hold up);
- resident memory stayed bounded;
- a second WebSocket client, disconnected and reconnected at random moments (resuming
  with ``since``), and a webhook receiver, stopped and restarted at random moments,
  each ended with every delivered message exactly once (the receiver after
  de-duplicating by event id, as receivers must).

A short run (20 s, every kind of fault at least once) is part of the default suite;
``TRIO_MAILSYNC_CHAOS_SECONDS=600`` makes it long, ``TRIO_MAILSYNC_CHAOS_SEED`` picks
another schedule.
"""

from __future__ import annotations

import os
import random
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

import attrs
import pytest
import trio

from trio_mailsync.app import serve
from trio_mailsync.core.config import (
    Account,
    BroadcastSettings,
    Config,
    ServiceSettings,
    WebhookSettings,
)
from trio_mailsync.providers.imap import IMAPConnection, connect_account, imap_settings
from trio_mailsync.sinks import EventStreamClosed, EventStreamRejected, open_event_stream
from trio_mailsync.stores.sqlite import SQLiteStore
from trio_mailsync.testing import sample_message
from trio_mailsync.testing.dovecot import DovecotServer, DovecotUnavailable, ensure_installed
from trio_mailsync.testing.proxy import FaultProxy
from trio_mailsync.testing.receiver import WebhookReceiver

SECONDS = float(os.environ.get("TRIO_MAILSYNC_CHAOS_SECONDS", "20"))
SEED = int(os.environ.get("TRIO_MAILSYNC_CHAOS_SEED", "2026"))
USERS = {f"chaos{i}": f"chaos-password-{i}" for i in range(1, 5)}
HEALTHY = "chaos1"
KINDS = ("reset", "reset_after", "stall", "refuse", "slow", "throttle", "garbage", "slice")
FOLDERS = ("INBOX", "Archive")
TOKEN = "chaos-token"
HOOK_SECRET = "chaos-webhook-secret"
#: The healthy account's mail must reach the client within this, faults elsewhere or not
#: (Dovecot itself takes about 0.5 s to notice new mail). A bound, not a benchmark.
HEALTHY_WITHIN = 5.0
SWEEP_INTERVAL = 3.0

Key = tuple[str, str, int]  # account, folder, UID


@attrs.define
class FlakyConsumers:
    """A WebSocket client and a webhook receiver that go away and come back at random."""

    rng: random.Random
    url: str = ""
    receiver: WebhookReceiver = attrs.field(factory=lambda: WebhookReceiver(HOOK_SECRET))
    hook_port: int = 0
    #: What the resuming client got: key -> the ids of the events that reported it.
    client: dict[Key, list[int]] = attrs.field(factory=dict)
    ids: list[int] = attrs.field(factory=list)
    disconnects: int = 0
    receiver_restarts: int = 0

    async def run_client(self) -> None:
        """Connect, read for 0.5-3 s, drop the connection, wait, resume after the last id."""
        since: int | None = None
        while True:
            with trio.move_on_after(self.rng.uniform(0.5, 3.0)):
                try:
                    async with open_event_stream(self.url, TOKEN, since=since) as events:
                        async for event in events:
                            if event["type"] == "hello" and since is None:
                                since = event["last_id"]
                            if isinstance(event.get("id"), int):
                                self.ids.append(event["id"])
                                since = event["id"]
                            if event["type"] == "new_messages":
                                for m in event["messages"]:
                                    key = (event["account"], m["folder"], m["uid"])
                                    self.client.setdefault(key, []).append(event["id"])
                except (OSError, EventStreamClosed, EventStreamRejected):
                    pass
            self.disconnects += 1
            await trio.sleep(self.rng.uniform(0.1, 1.0))

    async def run_receiver(self, *, task_status: trio.TaskStatus[int]) -> None:
        """Serve for 1-4 s, stop (connections refused) for 0.2-1.5 s, serve again."""
        with trio.CancelScope() as first:
            async with trio.open_nursery() as nursery:
                self.hook_port = await nursery.start(self.receiver.serve)
                task_status.started(self.hook_port)
                await trio.sleep(self.rng.uniform(1.0, 4.0))
                first.cancel()
        while True:
            self.receiver_restarts += 1
            await trio.sleep(self.rng.uniform(0.2, 1.5))
            with trio.move_on_after(self.rng.uniform(1.0, 4.0)):
                await self.receiver.serve(self.hook_port)

    def receiver_keys(self) -> dict[Key, set[int]]:
        """key -> the distinct ids of accepted events that reported it."""
        got: dict[Key, set[int]] = {}
        for event in self.receiver.accepted_events():
            if event["type"] == "new_messages":
                for m in event["messages"]:
                    key = (event["account"], m["folder"], m["uid"])
                    got.setdefault(key, set()).add(event["id"])
        return got


def rss() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS:"))


@pytest.fixture
def chaos_dovecot() -> Iterator[DovecotServer]:
    """A Dovecot of this test's own, since it is restarted."""
    try:
        ensure_installed()
    except DovecotUnavailable as exc:
        if os.geteuid() == 0:
            raise
        pytest.skip(str(exc))
    with DovecotServer(USERS) as server:
        yield server


@attrs.define
class Faults:
    """The schedule of faults and what it did, for the failure message."""

    proxies: dict[str, FaultProxy]
    dovecot: DovecotServer
    rng: random.Random
    log: list[str] = attrs.field(factory=list)
    restarting: bool = False
    restart_window: tuple[float, float] | None = None

    async def run(self, until: float, deliveries_paused: trio.Event) -> None:
        victims = [a for a in self.proxies if a != HEALTHY]
        restart_at = trio.current_time() + (until - trio.current_time()) * 0.5
        restarted = False
        # Every kind once, in a random order, then any: a short run covers them all.
        first = list(KINDS)
        self.rng.shuffle(first)
        while trio.current_time() < until:
            await trio.sleep(self.rng.uniform(0.2, 0.8))
            if not restarted and trio.current_time() >= restart_at:
                restarted = True
                await self.restart(deliveries_paused)
                continue
            account = self.rng.choice(victims)
            proxy = self.proxies[account]
            kind = first.pop() if first else self.rng.choice(KINDS)
            self.log.append(f"{trio.current_time():.1f} {account} {kind}")
            if kind == "reset":
                with trio.move_on_after(5):
                    while not proxy.connections:  # reconnecting: wait for something to cut
                        await trio.sleep(0.05)
                proxy.reset_all()
            elif kind == "reset_after":
                for conn in proxy.connections:
                    conn.reset_after(self.rng.randint(1, 3000), self.rng.choice(["down", "up"]))
            elif kind == "stall":
                proxy.stall()
                await trio.sleep(self.rng.uniform(0.5, 4.5))  # beyond the silence timeout, or not
                proxy.resume()
            elif kind == "refuse":
                proxy.refusing = True
                proxy.reset_all()
                await trio.sleep(self.rng.uniform(0.5, 2.0))
                proxy.refusing = False
            elif kind == "slow":
                proxy.rtt = 0.3
                await trio.sleep(self.rng.uniform(0.5, 2.0))
                proxy.rtt = 0.0
            elif kind == "throttle":
                proxy.bandwidth = 20_000.0
                await trio.sleep(self.rng.uniform(0.5, 2.0))
                proxy.bandwidth = None
            elif kind == "garbage":
                await proxy.inject(b"* 1 FETCH (((((\x00\xff garbage\r\n")
            elif kind == "slice":
                proxy.sliced = True
                await trio.sleep(self.rng.uniform(0.5, 2.0))
                proxy.sliced = False

    async def restart(self, deliveries_paused: trio.Event) -> None:
        self.log.append(f"{trio.current_time():.1f} dovecot restart")
        self.restarting = True
        with trio.fail_after(30):
            await deliveries_paused.wait()
        start = trio.current_time()
        await trio.to_thread.run_sync(self.dovecot.restart)
        self.restart_window = (start, trio.current_time() + 5.0)
        self.restarting = False

    def lift(self) -> None:
        for proxy in self.proxies.values():
            proxy.resume()
            proxy.refusing = proxy.sliced = False
            proxy.rtt = 0.0
            proxy.bandwidth = None


@asynccontextmanager
async def proxies_for(
    dovecot: DovecotServer,
) -> AsyncIterator[tuple[dict[str, FaultProxy], dict[str, int]]]:
    """A proxy per account, and the port each listens on."""
    async with trio.open_nursery() as nursery:
        proxies, ports = {}, {}
        for user in USERS:
            proxies[user] = FaultProxy("127.0.0.1", dovecot.imaps_port)
            ports[user] = await nursery.start(proxies[user].serve)
        yield proxies, ports
        nursery.cancel_scope.cancel()


def service_accounts(dovecot: DovecotServer, ports: dict[str, int]) -> list[Account]:
    accounts = {
        user: dovecot.account(
            user,
            backoff_initial=0.2,
            backoff_max=2.0,
            connect_timeout=5.0,
            health_check_after=2.0,
            auth_retry_after=1.0,
        )
        for user in USERS
    }
    return [
        attrs.evolve(
            account,
            settings=attrs.evolve(imap_settings(account), port=ports[user]),
            folders=FOLDERS,
        )
        for user, account in accounts.items()
    ]


async def test_nothing_lost_nothing_twice_under_faults(
    chaos_dovecot: DovecotServer, tmp_path: Path
) -> None:
    dovecot = chaos_dovecot
    rng = random.Random(SEED)
    delivered: dict[Key, float] = {}
    reported: dict[Key, float] = {}
    duplicates: list[Key] = []
    memory: list[int] = []
    trail: list[str] = []

    flaky = FlakyConsumers(random.Random(SEED + 1))
    async with proxies_for(dovecot) as (proxies, ports), trio.open_nursery() as hooks:
        await hooks.start(flaky.run_receiver)
        faults = Faults(proxies, dovecot, rng)
        config = Config(
            accounts=tuple(service_accounts(dovecot, ports)),
            service=ServiceSettings(
                idle_reissue=20.0,
                silence_timeout=3.0,
                poll_interval=1.0,
                idle_retry_interval=5.0,
                sweep_interval=SWEEP_INTERVAL,
                sync_timeout=10.0,
            ),
            broadcast=BroadcastSettings(port=0, token=TOKEN),
            webhooks=(
                WebhookSettings(
                    name="chaos",
                    url=f"http://127.0.0.1:{flaky.hook_port}/",
                    secret=HOOK_SECRET,
                    timeout=2.0,
                    max_attempts=10_000,
                    retry_initial=0.05,
                    retry_max=0.5,
                ),
            ),
        )
        store = await SQLiteStore.open(tmp_path / "chaos.sqlite3")
        try:
            async with trio.open_nursery() as nursery:
                running = await nursery.start(partial(serve, config, store=store))

                async def read_events(*, task_status: trio.TaskStatus[None]) -> None:
                    async with open_event_stream(running.broadcaster.url, TOKEN) as events:
                        task_status.started()
                        async for event in events:
                            if HEALTHY in str(event):
                                trail.append(f"{trio.current_time():.2f} {event}"[:300])
                            if event["type"] != "new_messages":
                                continue
                            for m in event["messages"]:
                                key = (event["account"], m["folder"], m["uid"])
                                if key in reported:
                                    duplicates.append(key)
                                reported.setdefault(key, trio.current_time())

                await nursery.start(read_events)
                flaky.url = running.broadcaster.url
                nursery.start_soon(flaky.run_client)
                with trio.fail_after(60):
                    while any(running.service.state(u).value != "idle" for u in USERS):
                        await trio.sleep(0.1)

                start = trio.current_time()
                until = start + SECONDS
                paused = trio.Event()

                async def deliver() -> None:
                    writers: dict[str, IMAPConnection] = {}

                    async def writer(user: str) -> IMAPConnection:
                        if user not in writers or writers[user].broken:
                            account = dovecot.account(user)
                            writers[user] = await connect_account(account)
                        return writers[user]

                    n = 0
                    while trio.current_time() < until:
                        if faults.restarting:
                            for conn in writers.values():
                                await conn.aclose()
                            writers.clear()
                            paused.set()
                            while faults.restarting:
                                await trio.sleep(0.05)
                            continue
                        await trio.sleep(rng.uniform(0.05, 0.3))
                        user = rng.choice(list(USERS))
                        folder = rng.choice(FOLDERS) if rng.random() < 0.2 else "INBOX"
                        n += 1
                        body = sample_message(
                            n, subject=f"chaos {n}", body="x" * rng.randint(0, 6000)
                        )
                        conn = await writer(user)
                        sent = trio.current_time()
                        uid = await conn.append(folder, body)
                        assert uid is not None
                        delivered[(user, folder, uid)] = sent
                    for conn in writers.values():
                        await conn.logout()

                async def sample_memory() -> None:
                    while True:
                        memory.append(rss())
                        await trio.sleep(0.5)

                nursery.start_soon(sample_memory)
                async with trio.open_nursery() as work:
                    work.start_soon(deliver)
                    work.start_soon(faults.run, until, paused)
                faults.lift()

                # Everything delivered is reported, once the faults are gone.
                with trio.fail_after(60):
                    while not (
                        set(delivered) <= set(reported)
                        and set(delivered) <= set(flaky.client)
                        and set(delivered) <= set(flaky.receiver_keys())
                    ):
                        await trio.sleep(0.2)
                await running.service.sync_all("manual")
                await trio.sleep(1.0)  # a late duplicate would show up here
                resets = sum(p.statistics().resets for p in proxies.values())
                nursery.cancel_scope.cancel()
            stored = {
                user: {f: sorted(r.uid for r in await store.messages(user, f)) for f in FOLDERS}
                for user in USERS
            }
        finally:
            await store.aclose()
        hooks.cancel_scope.cancel()

    story = "\n".join(faults.log)
    assert delivered, "the generator delivered nothing"
    assert resets > 0, f"no connection was reset: the faults missed\n{story}"
    assert all(f" {kind}" in story for kind in KINDS), story
    assert faults.restart_window is not None, "Dovecot was not restarted"
    assert duplicates == [], story
    assert set(reported) == set(delivered), story

    # The consumers that came and went: each message once, ids only ever going up.
    assert flaky.disconnects >= 3, flaky.disconnects
    assert flaky.receiver_restarts >= 2, flaky.receiver_restarts
    assert flaky.ids == sorted(set(flaky.ids)), "the resuming client got an id twice"
    assert set(flaky.client) == set(delivered)
    assert all(len(ids) == 1 for ids in flaky.client.values())
    hooked = flaky.receiver_keys()
    assert set(hooked) == set(delivered)
    assert all(len(ids) == 1 for ids in hooked.values()), "one message in two events"
    assert all(d.verified for d in flaky.receiver.deliveries)

    # The store equals the server.
    for user in USERS:
        account = dovecot.account(user)
        conn = await connect_account(account)
        try:
            for folder in FOLDERS:
                await conn.select(folder, readonly=True)
                assert stored[user][folder] == sorted(await conn.uid_search("ALL")), (user, folder)
        finally:
            await conn.logout()

    # The healthy account kept its pace outside the restart.
    def in_restart(t: float) -> bool:
        window = faults.restart_window
        return window is not None and window[0] - 1 <= t <= window[1]

    healthy = [
        reported[k] - t for k, t in delivered.items() if k[0] == HEALTHY and not in_restart(t)
    ]
    assert healthy, "no healthy deliveries to judge by"

    def allowed(folder: str) -> float:
        # INBOX is watched (IDLE); other folders wait for the next sweep.
        return HEALTHY_WITHIN + (0 if folder == "INBOX" else SWEEP_INTERVAL)

    late = {
        f"{t:.1f} {k[1]}": round(reported[k] - t, 2)
        for k, t in delivered.items()
        if k[0] == HEALTHY and not in_restart(t) and reported[k] - t >= allowed(k[1])
    }
    if late:
        print(story, "\n".join(trail), sep="\n", file=sys.stderr)
    assert not late, (late, faults.restart_window, story)

    # Memory: bounded, not growing with the run (the first samples include start-up).
    settled = memory[len(memory) // 4 :]
    assert max(settled) - min(settled) < 64 * 2**20, (min(settled), max(settled))
