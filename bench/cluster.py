"""The cluster against one ``serve``, measured in the same run (issue 15).

    python3 scripts/dev.py bench bench/cluster.py   (or: .venv/bin/python bench/cluster.py)

Everything runs on this machine, on loopback: the testing IMAP server in a process of its
own (``--accounts`` accounts, plain TCP), a Redis and a PostgreSQL of the benchmark's own
(``trio_mailsync.testing``), and ``trio-mailsync`` processes started as an operator would.

1. **The peer**: ``serve`` with SQLite, all the accounts in one process.
2. **The cluster**: ``--workers`` workers (``trio-mailsync worker``) and one broadcaster
   (``trio-mailsync broadcast``), the store in PostgreSQL.

For each: the time until every account is IDLE-ing (``ready``); each process's resident
set and CPU time once ready; CPU over ``--idle`` seconds at rest; ``--deliveries``
messages APPENDed to random accounts, timed from the APPEND to the ``new_messages`` event
at a WebSocket client (for the cluster, a client of the broadcaster: worker -> PostgreSQL
-> Redis stream -> broadcaster -> client). For the cluster also: Redis commands and
PostgreSQL transactions per account per minute at rest (``INFO commandstats``,
``pg_stat_database``), and the failover time after one worker is SIGKILLed (until every
account's lease is held again, and until every account is IDLE-ing again).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import coredis
import psycopg
import trio
from _common import machine, percentile

from trio_mailsync.core.events import NewMessages
from trio_mailsync.providers.auth import PasswordAuth
from trio_mailsync.providers.imap import IMAPConnection, Security, connect_account, imap_account
from trio_mailsync.sinks import open_event_stream
from trio_mailsync.stores.postgres import PostgresStore
from trio_mailsync.stores.sqlite import SQLiteStore
from trio_mailsync.testing import (
    Behavior,
    CommandInfo,
    IMAPTestServer,
    MailStore,
    Session,
    sample_message,
)
from trio_mailsync.testing._processes import free_port
from trio_mailsync.testing.postgres import PostgresServer
from trio_mailsync.testing.redis import RedisServer

TOKEN = "bench-token"
TTL = 30.0  # the default lease


def user(i: int) -> str:
    return f"c{i:05}"


def password(i: int) -> str:
    return f"pw-{i}"


# ---------------------------------------------------------------- the testing server


async def testing_server(accounts: int) -> None:
    """Serve the accounts; print the port; then answer each line on stdin with the number
    of accounts that have a session IDLE-ing now (its last command was IDLE)."""
    mail = MailStore()
    for i in range(accounts):
        mail.add_user(user(i), password(i))
    last: dict[Session, str] = {}

    async def note(session: Session, command: CommandInfo) -> bool:
        last[session] = command.name
        return False  # served as usual

    server = IMAPTestServer(mail, Behavior(on_command=note))
    async with trio.open_nursery() as nursery:
        print(await nursery.start(server.serve_tcp), flush=True)
        stdin = trio.lowlevel.FdStream(os.dup(0))
        buffered = b""
        while chunk := await stdin.receive_some():
            buffered += chunk
            while b"\n" in buffered:
                _, buffered = buffered.split(b"\n", 1)
                for session in [s for s in last if s not in server.sessions]:
                    del last[session]  # closed
                idle = {s.user.name for s, name in last.items() if name == "IDLE" and s.user}
                print(len(idle), flush=True)
        nursery.cancel_scope.cancel()


class TestingServer:
    """The testing server's process: its port, and how many accounts are IDLE-ing."""

    def __init__(self, accounts: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--testing-server", str(accounts)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.port = int(self.process.stdout.readline())

    def idle(self) -> int:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write("\n")
        self.process.stdin.flush()
        return int(self.process.stdout.readline())

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@contextmanager
def testing_server_process(accounts: int) -> Iterator[TestingServer]:
    server = TestingServer(accounts)
    try:
        yield server
    finally:
        server.stop()


# ---------------------------------------------------------------- processes


def config_text(
    accounts: int, imap_port: int, *, cluster: dict[str, Any] | None, store: Path | None = None
) -> str:
    lines = []
    if store is not None:
        lines += ["[store]", f'path = "{store}"']
    if cluster is not None:
        lines += [
            "[store]",
            'backend = "postgres"',
            f'dsn = "{cluster["dsn"]}"',
            "[cluster]",
            f'redis_url = "redis://127.0.0.1:{cluster["redis_port"]}"',
        ]
    lines += [
        "[broadcast]",
        f'token = "{TOKEN}"',
        "port = 0",
        "[service]",
        "sweep_interval = 86400",  # a sweep is a no-change cycle: bench/sync.py measures it
        "[account_defaults]",
        'host = "127.0.0.1"',
        f"port = {imap_port}",
        'security = "none"',
        "allow_insecure = true",
    ]
    for i in range(accounts):
        lines += [f"[accounts.{user(i)}]", f'username = "{user(i)}"', f'password = "{password(i)}"']
    return "\n".join(lines) + "\n"


class Process:
    """A ``python -m trio_mailsync`` process; its output in a file."""

    def __init__(self, directory: Path, name: str, command: list[str], config: str) -> None:
        self.name = name
        path = directory / f"{name}.toml"
        path.write_text(config.replace("[cluster]", f'[cluster]\nname = "{name}"'))
        self.log = directory / f"{name}.log"
        with self.log.open("wb") as out:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "trio_mailsync", *command, "--config", str(path)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.popen.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss(self) -> int:
        for line in Path(f"/proc/{self.popen.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)


async def until(condition: Any, within: float, what: str) -> float:
    started = time.monotonic()
    with trio.fail_after(within):
        while not await condition():
            await trio.sleep(0.2)
    del what  # for the reader of a traceback: which wait this was
    return time.monotonic() - started


def url_from(process: Process) -> str:
    for line in process.output().splitlines():
        if line.startswith("events on "):
            return line.split()[2]
    return ""


async def wait_url(process: Process) -> str:
    async def printed() -> bool:
        if process.popen.poll() is not None:
            raise RuntimeError(f"{process.name} exited: {process.output()[-2000:]}")
        return bool(url_from(process))

    await until(printed, 120, f"{process.name} to listen")
    return url_from(process)


async def latencies(
    url: str, imap_port: int, accounts: int, deliveries: int, rng: random.Random
) -> list[float]:
    """From each APPEND to its ``new_messages`` at a client of ``url`` (seconds)."""
    writers: dict[str, IMAPConnection] = {}
    found: list[float] = []
    try:
        async with open_event_stream(url, TOKEN) as events:
            await events.receive()  # hello
            for n in range(deliveries):
                i = rng.randrange(accounts)
                if user(i) not in writers:
                    account = imap_account(
                        user(i),
                        host="127.0.0.1",
                        port=imap_port,
                        username=user(i),
                        auth=PasswordAuth(password=password(i)),
                        security=Security.NONE,
                        allow_insecure=True,
                    )
                    writers[user(i)] = await connect_account(account)
                subject = f"bench {n} {rng.random()}"
                sent = time.monotonic()
                uid = await writers[user(i)].append("INBOX", sample_message(n, subject=subject))
                with trio.fail_after(30):
                    while True:
                        event = await events.receive()
                        if event["type"] == "new_messages" and any(
                            m["uid"] == uid and event["account"] == user(i)
                            for m in event["messages"]
                        ):
                            found.append(time.monotonic() - sent)
                            break
                await trio.sleep(0.05)
    finally:
        for writer in writers.values():
            await writer.aclose()
    return found


async def overview_cost(url: str, processes: list[Process], calls: int = 5) -> dict[str, float]:
    """``GET /api/overview`` at the broadcaster of ``url``: wall time per call (median),
    and the CPU time ``processes`` spent per call."""
    import httpx

    times = []
    cpu_before = sum(p.cpu_seconds() for p in processes)
    base = url.replace("ws", "http", 1)
    async with httpx.AsyncClient(
        base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}
    ) as http:
        for _ in range(calls):
            started = time.monotonic()
            response = await http.get("/api/overview", timeout=60)
            response.raise_for_status()
            times.append(time.monotonic() - started)
    cpu = sum(p.cpu_seconds() for p in processes) - cpu_before
    return {
        "median_ms": statistics.median(times) * 1000,
        "cpu_ms_per_call": cpu / calls * 1000,
        "accounts": len(response.json()["accounts"]),
    }


def summary(values: list[float]) -> dict[str, float]:
    return {
        "median_ms": statistics.median(values) * 1000,
        "p95_ms": percentile(values, 95) * 1000,
        "max_ms": max(values) * 1000,
    }


# ---------------------------------------------------------------- the runs


async def all_idle(server: TestingServer, accounts: int) -> bool:
    """Whether every account has a session IDLE-ing at the testing server now."""
    return await trio.to_thread.run_sync(server.idle) == accounts


async def run_serve(
    args: argparse.Namespace, directory: Path, server: TestingServer
) -> dict[str, Any]:
    imap_port = server.port
    config = config_text(args.accounts, imap_port, cluster=None, store=directory / "s.sqlite3")
    started = time.monotonic()
    serve = Process(directory, "serve", ["serve", "--quiet"], config)
    try:
        url = await wait_url(serve)
        await until(partial(all_idle, server, args.accounts), 600, "every account IDLE")
        ready = time.monotonic() - started
        cpu_ready, rss = serve.cpu_seconds(), serve.rss()
        await trio.sleep(args.idle)
        cpu_idle = serve.cpu_seconds() - cpu_ready
        found = await latencies(url, imap_port, args.accounts, args.deliveries, random.Random(1))
        overview = await overview_cost(url, [serve])
        return {
            "overview": overview,
            "ready_s": ready,
            "cpu_ready_s": cpu_ready,
            "rss_mb": rss / 2**20,
            "idle_cpu_pct": cpu_idle / args.idle * 100,
            "latency": summary(found),
        }
    finally:
        serve.stop()


async def run_cluster(
    args: argparse.Namespace,
    directory: Path,
    server: TestingServer,
    redis: RedisServer,
    postgres: PostgresServer,
) -> dict[str, Any]:
    imap_port = server.port
    dsn = postgres.create_database()
    config = config_text(args.accounts, imap_port, cluster={"dsn": dsn, "redis_port": redis.port})
    client: coredis.Redis[str] = coredis.Redis(
        host="127.0.0.1", port=redis.port, decode_responses=True
    )
    started = time.monotonic()
    workers = [
        Process(directory, f"w{n + 1}", ["worker", "--quiet"], config) for n in range(args.workers)
    ]
    broadcaster = Process(directory, "b1", ["broadcast", "--port", str(free_port())], config)
    try:
        async with client:
            url = await wait_url(broadcaster)

            names = [user(i) for i in range(args.accounts)]

            async def held() -> dict[str, str]:
                values = await client.mget([f"mailsync:lease:{name}" for name in names])
                return {n: v.split()[0] for n, v in zip(names, values, strict=True) if v}

            await until(partial(all_idle, server, args.accounts), 600, "every account IDLE")
            ready = time.monotonic() - started
            cpu_ready = [w.cpu_seconds() for w in workers]
            rss = [w.rss() for w in workers]
            redis_before = await commandstats(client)
            pg_before = transactions(dsn)
            await trio.sleep(args.idle)
            redis_calls = await commandstats(client) - redis_before
            pg_commits = transactions(dsn) - pg_before
            cpu_idle = [w.cpu_seconds() - c for w, c in zip(workers, cpu_ready, strict=True)]
            found = await latencies(
                url, imap_port, args.accounts, args.deliveries, random.Random(1)
            )
            overview = await overview_cost(url, [*workers, broadcaster])
            # Failover: the first worker dies; how long until all its accounts are held again.
            victim = workers[0]
            owned_before = [a for a, w in (await held()).items() if w == victim.name]
            victim.popen.send_signal(signal.SIGKILL)
            victim.popen.wait(timeout=10)
            killed = time.monotonic()

            async def taken_over() -> bool:
                now = await held()
                return all(now.get(a, victim.name) != victim.name for a in owned_before)

            failover = await until(taken_over, 600, "failover")
            await until(partial(all_idle, server, args.accounts), 600, "all IDLE again")
            failover_idle = time.monotonic() - killed
            minutes = args.idle / 60
            return {
                "ready_s": ready,
                "cpu_ready_s": sum(cpu_ready),
                "rss_mb_per_worker": [r / 2**20 for r in rss],
                "idle_cpu_pct": sum(cpu_idle) / args.idle * 100,
                "redis_calls_per_min": redis_calls / minutes,
                "redis_calls_per_account_per_min": redis_calls / args.accounts / minutes,
                "pg_transactions_per_min": pg_commits / minutes,
                "latency": summary(found),
                "overview": overview,
                "failover_leases_s": failover,
                "failover_idle_s": failover_idle,
                "failover_accounts": len(owned_before),
            }
    finally:
        for process in [*workers, broadcaster]:
            process.stop()


async def log_appends(store: Any, writers: int, seconds: float) -> float:
    """Transactions that log one event each, per second, with ``writers`` at once."""
    done = 0
    deadline = time.monotonic() + seconds

    async def writer(n: int) -> None:
        nonlocal done
        event = NewMessages(account=f"bench{n}", folder="INBOX", messages=())
        while time.monotonic() < deadline:
            await store.append([event])
            done += 1

    started = time.monotonic()
    async with trio.open_nursery() as nursery:
        for n in range(writers):
            nursery.start_soon(writer, n)
    return done / (time.monotonic() - started)


async def run_log(directory: Path, postgres: PostgresServer, seconds: float) -> dict[str, Any]:
    """The event log's write rate: PostgreSQL (many writers, ids in commit order) and SQLite."""
    found: dict[str, Any] = {}
    sqlite = await SQLiteStore.open(directory / "log.sqlite3")
    try:
        found["sqlite_1_writer_per_s"] = await log_appends(sqlite, 1, seconds)
        found["sqlite_8_writers_per_s"] = await log_appends(sqlite, 8, seconds)
    finally:
        await sqlite.aclose()
    pg = await PostgresStore.open(postgres.create_database(), shared=True, connections=8)
    try:
        found["postgres_1_writer_per_s"] = await log_appends(pg, 1, seconds)
        found["postgres_8_writers_per_s"] = await log_appends(pg, 8, seconds)
    finally:
        await pg.aclose()
    return found


async def commandstats(client: coredis.Redis[str]) -> int:
    """Redis commands served so far (scripts' own calls included)."""
    info: Any = await client.info("commandstats")
    return sum(int(v["calls"]) for k, v in info.items() if k.startswith("cmdstat_"))


def transactions(dsn: str) -> int:
    with psycopg.connect(dsn, autocommit=True) as db:
        row = db.execute(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
    return int(row[0]) if row else 0


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    with ExitStack() as stack:
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        server = stack.enter_context(testing_server_process(args.accounts))
        redis = stack.enter_context(RedisServer())
        postgres = stack.enter_context(PostgresServer(durable=True))
        peer = await run_serve(args, directory, server)
        cluster = await run_cluster(args, directory, server, redis, postgres)
        log = await run_log(directory, postgres, args.log_seconds)
    return {"serve": peer, "cluster": cluster, "event_log": log}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--testing-server", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--accounts", type=int, default=300)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--idle", type=float, default=60.0, help="seconds measured at rest")
    parser.add_argument("--deliveries", type=int, default=50)
    parser.add_argument("--log-seconds", type=float, default=10.0, help="per log measurement")
    args = parser.parse_args()
    if args.testing_server is not None:
        trio.run(testing_server, args.testing_server)
        return
    results = trio.run(main_async, args)
    print(f"machine: {machine()}")
    print(f"accounts {args.accounts}, workers {args.workers}, idle window {args.idle:g} s")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
