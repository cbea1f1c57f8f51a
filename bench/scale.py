"""Ten thousand accounts IDLE-ing in one process, over TLS, one connection each.

    python3 scripts/dev.py bench bench/scale.py     (or: .venv/bin/python bench/scale.py)

The testing server runs over implicit TLS in ``--hosts`` processes of its own, each on
its own loopback address (127.0.0.1, 127.0.0.2, ...: to the service, separate hosts,
each with its own connect rate), serving an equal share of the accounts. A worker
process runs the real service (``serve``: watchers, engine, SQLite store, WebSocket
broadcaster) and a WebSocket client in one Trio loop, with the configuration's
defaults except the sweep (once a day, as in ``bench/latency.py``: a sweep is a
no-change cycle, measured by ``bench/sync.py``). For 4 accounts and for ``--many``
(10,000) it measures:

- ready: from the start of ``serve`` until the client has seen the start-up sync's
  result and every account ``idle`` (connect at the default rate per host, TLS, LOGIN,
  first sync, IDLE), and the worker's CPU time for it;
- memory: the worker's resident set once all are IDLE-ing; per account, the difference
  between the two runs over the difference in accounts (interpreter, imports and the
  broadcaster cancel out);
- CPU while idle: the worker's CPU time over ``--idle-window`` seconds (600 by default:
  a full round of IDLE re-issues, every ``idle_reissue``), in per cent of a core;
- latency: ``--deliveries`` messages APPENDed to random accounts over connections of
  another client, from sending the APPEND to the ``new_messages`` event at the client.

The server processes' own CPU is not counted. Open files: the worker holds one socket per
account; each server process holds its share (the machine allows 20,000 per process).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import secrets
import ssl
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

import attrs
import trio
import trustme
from _common import machine, percentile, rss_bytes

from trio_mailsync.app import serve
from trio_mailsync.core.config import Account, BroadcastSettings, Config, ServiceSettings
from trio_mailsync.providers.auth import PasswordAuth
from trio_mailsync.providers.imap import IMAPConnection, Security, connect_account, imap_account
from trio_mailsync.providers.imap.provider import ImapSession
from trio_mailsync.service.service import SyncService
from trio_mailsync.sinks import open_event_stream
from trio_mailsync.testing import IMAPTestServer, MailStore, sample_message


def user(i: int) -> str:
    return f"s{i:05d}"


def password(i: int) -> str:
    return f"s-password-{i}"


def host(k: int) -> str:
    """The loopback address of server process ``k``."""
    return f"127.0.0.{k + 1}"


# ---------------------------------------------------------------- the testing server processes


async def testing_server(spec: dict[str, Any]) -> None:
    """Serve accounts ``k``, ``k + hosts``, ... over TLS on host ``k``; print the port."""
    mail = MailStore()
    for i in range(spec["k"], spec["accounts"], spec["hosts"]):
        mail.add_user(user(i), password(i))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(spec["cert"])
    server = IMAPTestServer(mail)
    async with trio.open_nursery() as nursery:
        serving = partial(server.serve_tcp, host=host(spec["k"]), ssl_context=context)
        print(await nursery.start(serving), flush=True)


@contextmanager
def testing_servers(accounts: int, hosts: int, cert: Path) -> Iterator[list[int]]:
    """``hosts`` server processes; their ports, in host order."""
    processes = []
    try:
        for k in range(hosts):
            spec = {"k": k, "hosts": hosts, "accounts": accounts, "cert": str(cert)}
            processes.append(
                subprocess.Popen(
                    [sys.executable, __file__, "--testing-server", json.dumps(spec)],
                    stdout=subprocess.PIPE,
                    text=True,
                )
            )
        ports = []
        for process in processes:
            assert process.stdout is not None
            ports.append(int(process.stdout.readline()))
        yield ports
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=10)


# ---------------------------------------------------------------- the worker process


def accounts_for(spec: dict[str, Any]) -> list[Account]:
    hosts = len(spec["ports"])
    return [
        imap_account(
            user(i),
            host=host(i % hosts),
            port=spec["ports"][i % hosts],
            username=user(i),
            auth=PasswordAuth(password=password(i)),
            security=Security.TLS,
            ca_file=Path(spec["ca_file"]),
        )
        for i in range(spec["accounts"])
    ]


def open_files() -> int:
    return len(os.listdir("/proc/self/fd"))


async def measure(spec: dict[str, Any]) -> dict[str, Any]:
    accounts = accounts_for(spec)
    rng = random.Random(spec["seed"])
    token = secrets.token_hex(16)
    arrived: dict[tuple[str, int], float] = {}
    arrival = trio.Event()
    states: dict[str, str] = {}
    all_idle = trio.Event()
    started_up = trio.Event()  # every account's start-up sync done

    async def read_events(url: str, *, task_status: trio.TaskStatus[None]) -> None:
        nonlocal arrival
        async with open_event_stream(url, token) as events:
            task_status.started()
            async for event in events:
                now = trio.current_time()
                if event["type"] == "hello":
                    states.update((a["id"], a["state"]) for a in event["accounts"])
                elif event["type"] == "account_state":
                    states[event["account"]] = event["state"]
                elif event["type"] == "sync_result" and event["trigger"] == "startup":
                    started_up.set()
                elif event["type"] == "new_messages":
                    for m in event["messages"]:
                        arrived[(event["account"], m["uid"])] = now
                    arrival.set()
                    arrival = trio.Event()
                if (
                    started_up.is_set()
                    and not all_idle.is_set()
                    and all(s == "idle" for s in states.values())
                ):
                    all_idle.set()

    targets = [rng.choice(accounts) for _ in range(spec["deliveries"])]
    writers: dict[str, IMAPConnection] = {}
    for account in targets:
        if account.id not in writers:
            writers[account.id] = await connect_account(account)
    settings: dict[str, Any] = {"sweep_interval": 86_400}
    if spec["connect_rate"]:
        settings["connect_rate"] = spec["connect_rate"]
    config = Config(
        accounts=tuple(accounts),
        store_path=Path(spec["store"]),
        service=ServiceSettings(**settings),
        broadcast=BroadcastSettings(port=0, token=token),
    )
    files_before = open_files()
    async with trio.open_nursery() as nursery:
        cpu_before = time.process_time()
        started = trio.current_time()
        running = await nursery.start(serve, config)
        await nursery.start(read_events, running.broadcaster.url)
        with trio.fail_after(1200):
            await all_idle.wait()
        ready = trio.current_time() - started
        ready_cpu = time.process_time() - cpu_before
        counts = activity(running.service, accounts)

        await trio.sleep(2)
        gc.collect()
        rss_idle = rss_bytes()
        files = open_files() - files_before
        cpu_before = time.process_time()
        await trio.sleep(spec["idle_window"])
        idle_cpu = (time.process_time() - cpu_before) / spec["idle_window"]

        latencies = []
        cpu_before = time.process_time()
        try:
            for n, account in enumerate(targets):
                await trio.sleep(rng.uniform(0.1, 0.2))
                sent = trio.current_time()
                uid = await writers[account.id].append(
                    "INBOX", sample_message(n, subject=f"scale probe {n}")
                )
                assert uid is not None
                with trio.fail_after(30):
                    while (account.id, uid) not in arrived:
                        await arrival.wait()
                latencies.append(arrived[(account.id, uid)] - sent)
            delivery_cpu = (time.process_time() - cpu_before) / len(targets)
        finally:
            for conn in writers.values():
                await conn.logout()
        nursery.cancel_scope.cancel()
    return {
        "accounts": len(accounts),
        "ready_s": ready,
        "ready_cpu_s": ready_cpu,
        "rss_idle": rss_idle,
        "open_files": files,
        "idle_cpu": idle_cpu,
        "latencies": latencies,
        "cpu_per_delivery": delivery_cpu,
        "until_ready": counts,
    }


def activity(service: SyncService, accounts: list[Account]) -> dict[str, int]:
    """Syncs, connections opened, IDLEs and loans so far, summed over the accounts."""
    stats = service.statistics()
    counts = {"syncs": stats.syncs, "triggers": stats.triggers}
    for account in accounts:
        session = service.session(account.id)
        assert isinstance(session, ImapSession)
        watcher = attrs.asdict(session.watcher.statistics())
        for key in ("connections", "idles", "loans", "changed_while_lent", "failures"):
            counts[key] = counts.get(key, 0) + watcher[key]
    return counts


def run_worker(spec: dict[str, Any]) -> dict[str, Any]:
    process = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(spec)],
        stdout=subprocess.PIPE,
        text=True,
        check=True,
        timeout=3600,
    )
    result: dict[str, Any] = json.loads(process.stdout)
    return result


# ---------------------------------------------------------------- the report


def report(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    print(f"Machine: {machine()}\n")
    print(
        f"Testing server over TLS in {args.hosts} processes (one loopback address each); "
        f"idle window {args.idle_window:.0f} s; {args.deliveries} deliveries.\n"
    )
    print(
        "| accounts | ready (all IDLE-ing) | its CPU | sockets | worker RSS | CPU while idle "
        "| new mail p50 | p99 | max | CPU per delivery |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        ms = [x * 1000 for x in r["latencies"]]
        print(
            f"| {r['accounts']:,} | {r['ready_s']:.1f} s | {r['ready_cpu_s']:.1f} s "
            f"| {r['open_files']:,} | {r['rss_idle'] / 2**20:.1f} MiB "
            f"| {r['idle_cpu'] * 100:.3f} % | {percentile(ms, 50):.1f} ms "
            f"| {percentile(ms, 99):.1f} ms | {max(ms):.1f} ms "
            f"| {r['cpu_per_delivery'] * 1000:.2f} ms |"
        )
    small, large = results[0], results[-1]
    per = (large["rss_idle"] - small["rss_idle"]) / (large["accounts"] - small["accounts"])
    print(
        f"\nMemory per IDLE-ing account: {per / 1024:.1f} KiB (RSS at {large['accounts']:,} "
        f"minus RSS at {small['accounts']:,}, over the difference)."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--many", type=int, default=10_000, help="the large account count")
    parser.add_argument("--hosts", type=int, default=10, help="testing server processes")
    parser.add_argument("--idle-window", type=float, default=600.0, help="seconds of idle CPU")
    parser.add_argument("--deliveries", type=int, default=100)
    parser.add_argument(
        "--connect-rate", type=float, default=0, help="connects/s per host (0: the default)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--testing-server", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.testing_server is not None:
        trio.run(testing_server, json.loads(args.testing_server))
        return
    if args.worker is not None:
        print(json.dumps(trio.run(measure, json.loads(args.worker))))
        return

    results: list[dict[str, Any]] = []
    with ExitStack() as stack:
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        ca = trustme.CA()
        ca_file, cert = directory / "ca.pem", directory / "server.pem"
        ca.cert_pem.write_to_path(str(ca_file))
        issued = ca.issue_cert(*(host(k) for k in range(args.hosts)))
        issued.private_key_and_cert_chain_pem.write_to_path(str(cert))
        ports = stack.enter_context(testing_servers(args.many, args.hosts, cert))
        for n in (4, args.many):
            print(f"{n} accounts ...", file=sys.stderr, flush=True)
            spec = {
                "accounts": n,
                "ports": ports,
                "ca_file": str(ca_file),
                "store": str(directory / f"store-{n}.sqlite3"),
                "connect_rate": args.connect_rate,
                "idle_window": args.idle_window,
                "deliveries": args.deliveries,
                "seed": args.seed,
            }
            result = run_worker(spec)
            print(
                f"  ready in {result['ready_s']:.1f} s, idle CPU {result['idle_cpu']:.2%}, "
                f"p50 {statistics.median(result['latencies']) * 1000:.1f} ms; "
                f"until ready: {result['until_ready']}",
                file=sys.stderr,
                flush=True,
            )
            results.append(result)
    if args.json:
        print(json.dumps({"machine": machine(), "results": results}, indent=2))
    else:
        report(results, args)


if __name__ == "__main__":
    main()
