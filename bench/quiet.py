"""New mail on a quiet account against a busy one, one connection per account or two.

    python3 scripts/dev.py bench bench/quiet.py     (or: .venv/bin/python bench/quiet.py)

Dovecot over implicit TLS, reached through a latency-injecting proxy on loopback
(``--rtt``, 50 ms by default). The service runs in this process with two accounts: a
*busy* one that had mail a second before each measured message, and a *quiet* one that
had none for ``--quiet`` seconds. A message is APPENDed over a direct connection to
Dovecot (no proxy), and the time until its ``new_messages`` event reaches a subscriber of
the service is measured (the WebSocket hop, about a millisecond, is left out).

Both ways of syncing run in the same process, one after the other: ``share_connection``
on (syncs borrow the watcher's connection between IDLEs: one connection per account) and
off (syncs take a second, pooled connection, as before issue 16). The pool's timers are
shortened so that minutes pass in seconds: a pooled connection unused for
``health_check_after`` (5 s here, 60 s by default) gets a NOOP before use, and one unused
for ``max_idle_time`` (15 s here, 300 s by default) is logged out; ``--quiet`` (20 s) is
past both, as ten quiet minutes are past the defaults.

A third figure: mail APPENDed to another folder (``Work``) of the busy account, which
NOTIFY reports on the same connection (without NOTIFY it would wait for the sweep).

Dovecot tells an IDLE-ing client of new mail after about half a second (its own hold):
that is the floor of every figure.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import attrs
import trio
from _common import machine

from trio_mailsync.app import open_sync_service
from trio_mailsync.core.config import Account, Config, ServiceSettings
from trio_mailsync.core.events import AccountState, NewMessages
from trio_mailsync.providers.imap import connect_account, imap_settings, open_imap_provider
from trio_mailsync.service.hub import Subscription
from trio_mailsync.stores.sqlite import SQLiteStore
from trio_mailsync.testing import sample_message
from trio_mailsync.testing.dovecot import DovecotServer
from trio_mailsync.testing.proxy import LatencyProxy

HEALTH_CHECK_AFTER = 5.0
MAX_IDLE_TIME = 15.0


async def wait_for(events: Subscription, subject: str, within: float = 30.0) -> float:
    """When the new_messages event of the message with ``subject`` arrived (perf_counter)."""
    with trio.fail_after(within):
        async for event in events:
            if isinstance(event, NewMessages) and any(m.subject == subject for m in event.messages):
                return time.perf_counter()
    raise AssertionError("the event stream ended")


async def one_mode(
    accounts: list[Account], direct: list[Account], share: bool, rounds: int, quiet: float
) -> dict[str, Any]:
    """Measure both accounts (through the proxy) with ``share_connection`` = ``share``;
    ``direct``: the same accounts without the proxy, for the APPENDs."""
    config = Config(
        accounts=tuple(accounts),
        service=ServiceSettings(share_connection=share, sweep_interval=3600),
    )
    appenders = {a.id: await connect_account(a) for a in direct}
    latencies: dict[str, list[float]] = {"busy": [], "quiet": [], "folder": []}
    with tempfile.TemporaryDirectory(prefix="trio-mailsync-quiet-") as tmp:
        store = await SQLiteStore.open(Path(tmp) / "sync.sqlite3")
        try:
            async with (
                open_imap_provider(config.accounts, settings=config.service) as imap,
                open_sync_service(config, providers={"imap": imap}, store=store) as service,
            ):
                with trio.fail_after(60):
                    while any(service.state(a.id) is not AccountState.IDLE for a in accounts):
                        await trio.sleep(0.05)
                await trio.sleep(2)  # the startup syncs
                cpu = time.process_time()
                with service.subscribe(10_000) as events:
                    counter = 0

                    async def deliver(account: str, folder: str = "INBOX") -> float:
                        nonlocal counter
                        counter += 1
                        subject = f"{account} {share} {counter}"
                        started = time.perf_counter()
                        message = sample_message(counter, subject=subject)
                        await appenders[account].append(folder, message)
                        return await wait_for(events, subject) - started

                    for _ in range(rounds):
                        round_started = trio.current_time()
                        latencies["quiet"].append(await deliver("quiet"))
                        await deliver("busy")
                        await trio.sleep(1)
                        latencies["busy"].append(await deliver("busy"))
                        latencies["folder"].append(await deliver("busy", "Work"))
                        await trio.sleep_until(round_started + quiet)
                cpu = time.process_time() - cpu
                pool = imap.pool.statistics()
        finally:
            await store.aclose()
    for conn in appenders.values():
        await conn.logout()
    return {
        "share_connection": share,
        "busy_ms": [round(x * 1000, 1) for x in latencies["busy"]],
        "quiet_ms": [round(x * 1000, 1) for x in latencies["quiet"]],
        "busy_p50_ms": round(statistics.median(latencies["busy"]) * 1000, 1),
        "quiet_p50_ms": round(statistics.median(latencies["quiet"]) * 1000, 1),
        "folder_ms": [round(x * 1000, 1) for x in latencies["folder"]],
        "folder_p50_ms": round(statistics.median(latencies["folder"]) * 1000, 1),
        "connections_opened": pool.connections_opened,
        "health_checks": pool.health_checks,
        "closed_idle": pool.closed_idle,
        "cpu_s": round(cpu, 3),
    }


async def run(
    dovecot: DovecotServer, rtt: float, rounds: int, quiet: float
) -> list[dict[str, Any]]:
    direct = [
        attrs.evolve(
            dovecot.account(
                u,
                account_id=u,
                health_check_after=HEALTH_CHECK_AFTER,
                max_idle_time=MAX_IDLE_TIME,
            ),
            folders=("*",),
        )
        for u in ("busy", "quiet")
    ]
    for account in direct:  # a folder besides INBOX, pushed by NOTIFY
        conn = await connect_account(account)
        await conn.create("Work")
        await conn.logout()
    proxy = LatencyProxy("127.0.0.1", dovecot.imaps_port, rtt=rtt)
    rows = []
    async with trio.open_nursery() as nursery:
        port = await nursery.start(proxy.serve)
        proxied = [
            attrs.evolve(a, settings=attrs.evolve(imap_settings(a), port=port)) for a in direct
        ]
        for share in (True, False):
            print(f"share_connection = {share}", file=sys.stderr, flush=True)
            rows.append(await one_mode(proxied, direct, share, rounds, quiet))
        nursery.cancel_scope.cancel()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rtt", type=float, default=0.050, help="seconds")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quiet", type=float, default=20.0, help="seconds without mail")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    users = {"busy": "busy-password", "quiet": "quiet-password"}
    with DovecotServer(users) as dovecot:
        rows = trio.run(run, dovecot, args.rtt, args.rounds, args.quiet)
    if args.json:
        print(json.dumps({"machine": machine(), "rtt": args.rtt, "rows": rows}, indent=2))
        return
    print(f"Machine: {machine()}; RTT {args.rtt * 1000:.0f} ms; {args.rounds} rounds\n")
    print(
        "| share_connection | busy: p50 ms | quiet: p50 ms | quiet ÷ busy | busy: each | "
        "quiet: each | another folder (NOTIFY): p50 ms | connections opened | NOOP checks "
        "| closed idle | CPU s |"
    )
    print("|---|---:|---:|---:|---|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['share_connection']} | {r['busy_p50_ms']} | {r['quiet_p50_ms']} | "
            f"{r['quiet_p50_ms'] / r['busy_p50_ms']:.2f} | {r['busy_ms']} | {r['quiet_ms']} | "
            f"{r['folder_p50_ms']} | "
            f"{r['connections_opened']} | {r['health_checks']} | {r['closed_idle']} | "
            f"{r['cpu_s']} |"
        )


if __name__ == "__main__":
    main()
