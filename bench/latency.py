"""New mail to a WebSocket client: latency, memory per IDLE-ing account, CPU while idle.

    python3 scripts/dev.py bench bench/latency.py     (or: .venv/bin/python bench/latency.py)

For each server (real Dovecot over implicit TLS; the testing server over plain
TCP, in a process of its own) and each account count (4 and 1,000), a worker
process runs the real service (``serve``: IDLE watchers, engine, store,
broadcaster) and a WebSocket client (``connect_events``). Once every account
is IDLE-ing it measures:

- CPU while idle: the worker's CPU time over a quiet window, in per cent of a core;
- memory: the worker's resident set; per account, the difference between the
  1,000- and the 4-account runs divided by 996 (interpreter and imports cancel);
- latency: a message APPENDed over another connection, from the moment the
  APPEND is sent to the moment its new_messages event reaches the client, for
  each of ``--deliveries`` deliveries to random accounts, and the worker's CPU
  time per delivery (the client's share included); then as many deliveries
  again with a webhook running, to a receiver on loopback (signed POSTs), from
  the APPEND to the POST's arrival; then again with a slow processor (0.5 s per
  message) added, to the WebSocket client as in the first phase;
- resume: ``--resumes`` times, a message is APPENDed while a second client is
  away; it reconnects 1 s later with ``since`` = the last id it had, and the
  time from the APPEND to the event reaching it (1 s of which is the wait) is
  measured.

Dovecot notices new mail by inotify and tells an IDLE-ing client within about
half a second; that is the floor of its figures. The testing server tells at
once, so its figures are ours alone. Needs root for Dovecot (and to let its
processes use inotify for 1,000 mailboxes: see ``inotify_instances``).
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import trio
from _common import MANY_CONFIG, machine, percentile, rss_bytes

from trio_mailsync.app import serve
from trio_mailsync.core.config import (
    Account,
    BroadcastSettings,
    Config,
    ServiceSettings,
    WebhookSettings,
)
from trio_mailsync.core.model import MessageRecord
from trio_mailsync.providers.auth import PasswordAuth
from trio_mailsync.providers.imap import IMAPConnection, Security, connect_account, imap_account
from trio_mailsync.sinks import open_event_stream
from trio_mailsync.sinks.webhooks import WebhookSink
from trio_mailsync.testing import IMAPTestServer, MailStore, sample_message
from trio_mailsync.testing.dovecot import DovecotServer
from trio_mailsync.testing.receiver import WebhookReceiver

logger = logging.getLogger("bench.latency")

DOVECOT_PREFIX = "lat"
TESTING_PREFIX = "t"


def user(prefix: str, i: int) -> str:
    return f"{prefix}{i:04d}"


def password(prefix: str, i: int) -> str:
    return f"{prefix}-password-{i}"


# ---------------------------------------------------------------- the testing server process


async def testing_server(count: int) -> None:
    """Serve ``count`` accounts on a free loopback port; print the port; run until killed."""
    mail = MailStore()
    for i in range(count):
        mail.add_user(user(TESTING_PREFIX, i), password(TESTING_PREFIX, i))
    server = IMAPTestServer(mail)
    async with trio.open_nursery() as nursery:
        port = await nursery.start(partial(server.serve_tcp, host="127.0.0.1"))
        print(port, flush=True)


@contextmanager
def testing_server_process(count: int) -> Iterator[int]:
    process = subprocess.Popen(
        [sys.executable, __file__, "--testing-server", str(count)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        yield int(process.stdout.readline())
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def inotify_instances(wanted: int) -> Iterator[None]:
    """Let Dovecot's processes (all one user) each watch its mailbox with inotify.

    Linux allows 128 inotify instances per user by default; past that, Dovecot
    looks for new mail only every ``mailbox_idle_check_interval`` (30 s). Raised
    for the run when we may, and put back after.
    """
    path = Path("/proc/sys/fs/inotify/max_user_instances")
    try:
        before = int(path.read_text())
    except OSError:
        yield
        return
    if before >= wanted or os.geteuid() != 0:
        if before < wanted:
            print(f"warning: {path} is {before}; Dovecot will poll", file=sys.stderr)
        yield
        return
    path.write_text(str(wanted))
    try:
        yield
    finally:
        path.write_text(str(before))


# ---------------------------------------------------------------- the worker process


def accounts_for(spec: dict[str, Any]) -> list[Account]:
    tls = spec["server"] == "dovecot"
    prefix = DOVECOT_PREFIX if tls else TESTING_PREFIX
    return [
        imap_account(
            user(prefix, i),
            host=spec["host"],
            port=spec["port"],
            username=user(prefix, i),
            auth=PasswordAuth(password=password(prefix, i)),
            security=Security.TLS if tls else Security.NONE,
            allow_insecure=not tls,
            ca_file=Path(spec["ca_file"]) if tls else None,
        )
        for i in range(spec["accounts"])
    ]


async def measure(spec: dict[str, Any]) -> dict[str, Any]:
    accounts = accounts_for(spec)
    rng = random.Random(spec["seed"])
    rss_before = rss_bytes()
    token = secrets.token_hex(16)
    hook_secret = secrets.token_hex(16)
    receiver = WebhookReceiver(hook_secret)
    arrived: dict[tuple[str, int], float] = {}
    last_id = 0
    arrival = trio.Event()
    states: dict[str, str] = {}
    all_idle = trio.Event()
    counts = {"events": 0, "new_messages": 0}

    async def read_events(url: str, *, task_status: trio.TaskStatus[None]) -> None:
        nonlocal arrival, last_id
        async with open_event_stream(url, token) as events:
            task_status.started()
            async for event in events:
                now = trio.current_time()
                counts["events"] += 1
                last_id = event.get("id", last_id)
                if event["type"] == "hello":
                    states.update((a["id"], a["state"]) for a in event["accounts"])
                elif event["type"] == "account_state":
                    states[event["account"]] = event["state"]
                elif event["type"] == "new_messages":
                    counts["new_messages"] += 1
                    for m in event["messages"]:
                        arrived[(event["account"], m["uid"])] = now
                        logger.info("announced %s UID %d", event["account"], m["uid"])
                    arrival.set()
                    arrival = trio.Event()
                if states and all(s == "idle" for s in states.values()):
                    all_idle.set()

    # Deliveries go over connections of another client, opened before the service starts.
    targets = [rng.choice(accounts) for _ in range(spec["deliveries"])]
    writers: dict[str, IMAPConnection] = {}
    for account in targets:
        if account.id not in writers:
            writers[account.id] = await connect_account(account)
    async with trio.open_nursery() as nursery:
        hook_port = await nursery.start(receiver.serve)
        config = Config(
            accounts=tuple(accounts),
            store_path=Path(spec["store"]),
            service=ServiceSettings(sweep_interval=86_400, concurrency=64),
            broadcast=BroadcastSettings(port=0, token=token),
        )
        hook = WebhookSink(
            WebhookSettings(name="bench", url=f"http://127.0.0.1:{hook_port}/", secret=hook_secret)
        )
        started = trio.current_time()
        running = await nursery.start(serve, config)
        await nursery.start(read_events, running.broadcaster.url)
        with trio.fail_after(600):
            await all_idle.wait()
        ready = trio.current_time() - started

        # Quiet: no mail, every account IDLE-ing.
        await trio.sleep(2)
        gc.collect()
        rss_idle = rss_bytes()
        events_before = counts["events"]
        cpu_before = time.process_time()
        await trio.sleep(spec["idle_window"])
        idle_cpu = (time.process_time() - cpu_before) / spec["idle_window"]
        idle_events = counts["events"] - events_before

        append_times: list[float] = []

        async def deliver(account: Account, n: int, what: str) -> tuple[int, float]:
            """APPEND probe ``n`` to ``account``'s INBOX; its UID and when it was sent."""
            sent = trio.current_time()
            uid = await writers[account.id].append(
                "INBOX", sample_message(n, subject=f"{what} probe {n}")
            )
            append_times.append(trio.current_time() - sent)
            assert uid is not None
            logger.info("delivered %s UID %d", account.id, uid)
            return uid, sent

        async def to_the_client(first: int, what: str) -> list[float]:
            """Each target's probe, from APPEND to its event at the WebSocket client."""
            times = []
            for n, account in enumerate(targets):
                await trio.sleep(rng.uniform(0.2, 0.4))
                uid, sent = await deliver(account, first + n, what)
                with trio.fail_after(30):
                    while (account.id, uid) not in arrived:
                        await arrival.wait()
                times.append(arrived[(account.id, uid)] - sent)
            return times

        cpu_before = time.process_time()
        try:
            latencies = await to_the_client(1000, "latency")
            cpu = time.process_time() - cpu_before
            # Then the same again with a webhook (started now: the deliveries above are
            # measured as before the event log, with the WebSocket client alone).
            await nursery.start(hook.run, running.service)
            hook_sent = {}
            for n, account in enumerate(targets):
                await trio.sleep(rng.uniform(0.2, 0.4))
                uid, sent = await deliver(account, 3000 + n, "webhook")
                hook_sent[(account.id, uid)] = sent
            hooked = await webhook_times(receiver, hook_sent)
            # And again with a slow processor on every new message (a classifier that
            # takes half a second): the new_messages event must not wait for it.
            running.service.add_processor(slow_classifier, concurrency=4, timeout=5)
            processed = await to_the_client(4000, "processor")
            resumed = []
            for n in range(spec["resumes"]):
                account = targets[n % len(targets)]
                await trio.sleep(0.3)
                since = last_id  # a client that had everything so far, then went away
                uid, sent = await deliver(account, 5000 + n, "resume")
                await trio.sleep(1.0)  # away for a second
                resumed.append(
                    await resume(running.broadcaster.url, token, since, account.id, uid) - sent
                )
        finally:
            for conn in writers.values():
                await conn.logout()
        nursery.cancel_scope.cancel()
    return {
        "server": spec["server"],
        "accounts": len(accounts),
        "ready_s": ready,
        "rss_before": rss_before,
        "rss_idle": rss_idle,
        "idle_cpu": idle_cpu,
        "idle_events": idle_events,
        "latencies": latencies,
        "append_times": append_times[: len(latencies)],
        "cpu_per_delivery": cpu / len(targets),
        "webhook_latencies": hooked,
        "processor_latencies": processed,
        "resumed_latencies": resumed,
    }


async def slow_classifier(message: MessageRecord) -> dict[str, str]:
    """A stand-in for a model call: half a second, and a little CPU."""
    await trio.sleep(0.5)
    return {"label": "long" if len(json.dumps(message.subject)) > 20 else "short"}


async def webhook_times(
    receiver: WebhookReceiver, sent_at: dict[tuple[str, int], float]
) -> list[float]:
    """Each delivery's time from APPEND to the webhook POST that carried it."""
    got: dict[tuple[str, int], float] = {}
    with trio.move_on_after(30):
        while len(got) < len(sent_at):
            for d in receiver.deliveries:
                if d.accepted and d.verified:
                    for e in d.events:
                        if e["type"] == "new_messages":
                            for m in e["messages"]:
                                got.setdefault((e["account"], m["uid"]), d.time)
            await trio.sleep(0.05)
    return [got[k] - t for k, t in sent_at.items() if k in got]


async def resume(url: str, token: str, since: int, account: str, uid: int) -> float:
    """Connect with ``since``; when the event of ``account``'s ``uid`` arrives."""
    with trio.fail_after(30):
        async with open_event_stream(url, token, since=since) as events:
            async for event in events:
                if (
                    event["type"] == "new_messages"
                    and event["account"] == account
                    and any(m["uid"] == uid for m in event["messages"])
                ):
                    return trio.current_time()
    raise AssertionError("the stream ended")


def run_worker(spec: dict[str, Any]) -> dict[str, Any]:
    process = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(spec)],
        stdout=subprocess.PIPE,
        text=True,
        check=True,
        timeout=1800,
    )
    result: dict[str, Any] = json.loads(process.stdout)
    return result


# ---------------------------------------------------------------- the report


def report(results: list[dict[str, Any]], deliveries: int) -> None:
    print(f"Machine: {machine()}\n")
    print(f"APPEND sent -> new_messages at a WebSocket client, {deliveries} deliveries each:\n")
    print(
        "| server | accounts IDLE-ing | p50 | p99 | max | APPEND round trip (median) "
        "| worker RSS | CPU while idle |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        ms = [x * 1000 for x in r["latencies"]]
        print(
            f"| {r['server']} | {r['accounts']:,} | {percentile(ms, 50):.1f} ms "
            f"| {percentile(ms, 99):.1f} ms | {max(ms):.1f} ms "
            f"| {statistics.median(r['append_times']) * 1000:.1f} ms "
            f"| {r['rss_idle'] / 2**20:.1f} MiB | {r['idle_cpu'] * 100:.2f} % |"
        )
    print(
        "\nThe same deliveries to a webhook receiver, and to a client that was away and "
        "resumed with `since` 1 s after the APPEND (the 1 s is included):\n"
    )
    print(
        "| server | accounts | worker CPU per delivery | webhook p50 | webhook max "
        "| with a slow processor: p50 | max | resumed p50 | resumed max |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        hook = [x * 1000 for x in r["webhook_latencies"]] or [float("nan")]
        back = [x * 1000 for x in r["resumed_latencies"]] or [float("nan")]
        slow = [x * 1000 for x in r["processor_latencies"]] or [float("nan")]
        print(
            f"| {r['server']} | {r['accounts']:,} | {r['cpu_per_delivery'] * 1000:.2f} ms "
            f"| {percentile(hook, 50):.1f} ms | {max(hook):.1f} ms "
            f"| {percentile(slow, 50):.1f} ms | {max(slow):.1f} ms "
            f"| {percentile(back, 50):.1f} ms | {max(back):.1f} ms |"
        )
    by = {(r["server"], r["accounts"]): r for r in results}
    for server in ("testing", "dovecot"):
        counts = sorted(n for s, n in by if s == server)
        if len(counts) >= 2:
            small, large = by[(server, counts[0])], by[(server, counts[-1])]
            per = (large["rss_idle"] - small["rss_idle"]) / (counts[-1] - counts[0])
            print(
                f"\nMemory per IDLE-ing account ({server}): {per / 1024:.1f} KiB "
                f"(RSS at {counts[-1]:,} minus RSS at {counts[0]:,}, over the difference)."
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deliveries", type=int, default=20)
    parser.add_argument("--resumes", type=int, default=5, help="deliveries to a resuming client")
    parser.add_argument("--many", type=int, default=1000, help="the large account count")
    parser.add_argument("--idle-window", type=float, default=10.0, help="seconds of idle CPU")
    parser.add_argument("--server", choices=["testing", "dovecot", "both"], default="both")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--testing-server", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.testing_server is not None:
        trio.run(testing_server, args.testing_server)
        return
    if args.worker is not None:
        if os.environ.get("BENCH_LOG"):
            logging.basicConfig(level=os.environ["BENCH_LOG"], stream=sys.stderr)
        print(json.dumps(trio.run(measure, json.loads(args.worker))))
        return

    counts = [4, args.many]
    results: list[dict[str, Any]] = []
    common = {
        "deliveries": args.deliveries,
        "resumes": args.resumes,
        "idle_window": args.idle_window,
        "seed": args.seed,
    }
    store_dir = Path(tempfile.gettempdir())

    def run(spec: dict[str, Any]) -> None:
        store = store_dir / f"trio-mailsync-latency-{os.getpid()}-{len(results)}.sqlite3"
        print(f"{spec['server']}, {spec['accounts']} accounts ...", file=sys.stderr, flush=True)
        try:
            result = run_worker({**common, **spec, "store": str(store)})
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{store}{suffix}").unlink(missing_ok=True)
        ms = sorted(x * 1000 for x in result["latencies"])
        print(
            f"  ready in {result['ready_s']:.1f} s; p50 {percentile(ms, 50):.1f} ms, "
            f"max {ms[-1]:.1f} ms",
            file=sys.stderr,
            flush=True,
        )
        results.append(result)

    if args.server in ("testing", "both"):
        with testing_server_process(max(counts)) as port:
            for n in counts:
                run({"server": "testing", "accounts": n, "host": "127.0.0.1", "port": port})
    if args.server in ("dovecot", "both"):
        users = {user(DOVECOT_PREFIX, i): password(DOVECOT_PREFIX, i) for i in range(max(counts))}
        with (
            inotify_instances(3 * max(counts) + 100),
            DovecotServer(users, max_userip_connections=10_000, extra_config=MANY_CONFIG) as dc,
        ):
            for n in counts:
                spec = {"server": "dovecot", "accounts": n, "host": "localhost"}
                run({**spec, "port": dc.imaps_port, "ca_file": str(dc.ca_file)})
    if args.json:
        print(json.dumps({"machine": machine(), "results": results}, indent=2))
    else:
        report(results, args.deliveries)


if __name__ == "__main__":
    main()
