"""What the operator's HTTP endpoints cost at 10 to 10,000 accounts (issue 14).

The real ``serve`` (service, SQLite store, broadcaster with its HTTP endpoints) runs
over the in-memory provider with N accounts, each with ``--messages`` messages announced
today (so the dashboard's "messages today" reads a real event log). Once every account
has synced, each endpoint is asked ``--requests`` times over one keep-alive connection
(httpx, in the same process and Trio loop) and timed, wall and CPU (this process:
client and server). The peer, measured in the same run on the same connection, is a
static file of the dashboard (``/dashboard.css``): the cost of an HTTP request itself,
so ``÷ static`` is what each endpoint's work adds.

    .venv/bin/python bench/endpoints.py                       # 10, 1,000, 10,000 accounts
    .venv/bin/python bench/endpoints.py --accounts 1000 --requests 50

Loopback only; every server it starts is stopped when it ends.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from functools import partial
from pathlib import Path

import httpx
import trio
from _common import machine

from trio_mailsync.app import serve
from trio_mailsync.core.config import BroadcastSettings, Config, ServiceSettings
from trio_mailsync.stores.sqlite import SQLiteStore
from trio_mailsync.testing import MemoryMail, MemoryProvider, memory_account

TOKEN = "bench-token-0123456789"
PATHS = ("/dashboard.css", "/healthz", "/metrics", "/api/overview", "/api/accounts/a0")


async def measure(accounts: int, messages: int, requests: int) -> list[tuple[str, ...]]:
    mail = MemoryMail()
    ids = [f"a{i}" for i in range(accounts)]
    for account in ids:
        mail.add_account(account)
        for n in range(messages):
            mail.deliver(account, subject=f"message {n}")
    config = Config(
        accounts=tuple(memory_account(a, notify_from="all") for a in ids),
        service=ServiceSettings(sweep_interval=86_400),
        broadcast=BroadcastSettings(port=0, token=TOKEN),
    )
    rows: list[tuple[str, ...]] = []
    with tempfile.TemporaryDirectory() as tmp:
        store = await SQLiteStore.open(Path(tmp) / "sync.sqlite3")
        try:
            async with trio.open_nursery() as nursery:
                running = await nursery.start(
                    partial(serve, config, providers={"memory": MemoryProvider(mail)}, store=store)
                )
                started = time.perf_counter()
                with trio.fail_after(600):
                    while not (await running.service.overview()).ready:
                        await trio.sleep(0.2)
                print(f"{accounts} accounts ready in {time.perf_counter() - started:.1f} s")
                async with httpx.AsyncClient(
                    base_url=running.broadcaster.http_url,
                    headers={"Authorization": f"Bearer {TOKEN}"},
                    timeout=120,
                ) as http:
                    results = {}
                    for path in PATHS:
                        first = await http.get(path)  # warm: the connection, imports
                        assert first.status_code == 200, (path, first.status_code)
                        walls, cpus = [], []
                        for _ in range(requests):
                            w, c = time.perf_counter(), time.process_time()
                            response = await http.get(path)
                            cpus.append(time.process_time() - c)
                            walls.append(time.perf_counter() - w)
                            assert response.status_code == 200
                        results[path] = (
                            statistics.median(walls),
                            statistics.median(cpus),
                            len(response.content),
                        )
                nursery.cancel_scope.cancel()
        finally:
            await store.aclose()
    static_wall = results["/dashboard.css"][0]
    for path, (wall, cpu, size) in results.items():
        rows.append(
            (
                f"{accounts:,}",
                path,
                f"{wall * 1000:.2f} ms",
                f"{cpu * 1000:.2f} ms",
                f"{size / 1024:,.1f} KiB",
                f"{wall / static_wall:.1f}",
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, nargs="*", default=[10, 1000, 10000])
    parser.add_argument("--messages", type=int, default=5, help="announced per account")
    parser.add_argument("--requests", type=int, default=20, help="per endpoint")
    args = parser.parse_args()
    print(machine())
    rows: list[tuple[str, ...]] = []
    for n in args.accounts:
        rows += trio.run(measure, n, args.messages, args.requests)
    print()
    print("| accounts | path | wall p50 | CPU p50 | body | ÷ static |")
    print("|---:|---|---:|---:|---:|---:|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
