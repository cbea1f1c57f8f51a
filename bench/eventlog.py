"""The event log's cost: bytes on disk per 1,000 events, and the CPU to log and replay them.

    python3 scripts/dev.py bench bench/eventlog.py     (or: .venv/bin/python bench/eventlog.py)

Each event is a ``new_messages`` event of one message with realistic headers
(as the live path logs them: one sync, one folder, one message), applied with
the message's row in one transaction, as a sync does. Reported:

- bytes per 1,000 events: the ``events`` table's pages (SQLite's ``dbstat``),
  so the messages' own rows are not counted; and the whole file's growth;
- CPU (``time.process_time``) and wall time per event to apply and log it, and
  per event to replay the log in pages of 256, as a resuming client reads it.

What logging adds to the live path is measured by ``bench/latency.py`` against
the code before the log, in the same session (``docs/performance.md``).
"""

from __future__ import annotations

import argparse
import math
import sqlite3
import tempfile
import time
from pathlib import Path

import trio
from _common import machine

from trio_mailsync.core.model import Address, FolderUpdate, MessageRecord
from trio_mailsync.stores.sqlite import SQLiteStore


def message(uid: int) -> MessageRecord:
    return MessageRecord(
        account="work",
        folder="INBOX",
        generation=1700000000,
        uid=uid,
        flags=(),
        message_id=f"<{uid}.{uid * 7919}@mail.example.com>",
        date="Wed, 02 Dec 2026 10:00:00 +0000",
        internaldate="2026-12-02T10:00:01+00:00",
        sender=Address("Ada Lovelace", "ada@example.com"),
        recipients=(Address(None, "alice@example.com"), Address("Bob", "bob@example.org")),
        subject=f"Re: quarterly numbers, draft {uid}",
        size=4096 + uid % 1000,
    )


async def apply_range(store: SQLiteStore, first: int, last: int) -> tuple[float, float]:
    """Apply one-message updates for uids ``first`` to ``last``; (CPU, wall) seconds."""
    cpu, wall = time.process_time(), time.perf_counter()
    for uid in range(first, last + 1):
        update = FolderUpdate(
            generation=1700000000,
            cursor={"uidnext": uid + 1},
            reset=uid == 1,
            new=(message(uid),),
            now=time.time(),
        )
        await store.apply("work", "INBOX", update, notify_from=-math.inf)
    return time.process_time() - cpu, time.perf_counter() - wall


async def replay(store: SQLiteStore) -> tuple[int, float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    after = count = 0
    while page := await store.events_after(after, 256):
        count += len(page)
        after = page[-1].id
    return count, time.process_time() - cpu, time.perf_counter() - wall


def events_bytes(path: Path) -> int | None:
    db = sqlite3.connect(path)
    try:
        (size,) = db.execute("SELECT SUM(pgsize) FROM dbstat WHERE name = 'events'").fetchone()
        return int(size)
    except sqlite3.OperationalError:
        return None  # SQLite built without dbstat
    finally:
        db.close()


async def measure(count: int, directory: Path) -> None:
    logged_path = directory / "logged.sqlite3"
    logged = await SQLiteStore.open(logged_path, inline=True)
    try:
        base = logged_path.stat().st_size
        cpu_l, wall_l = await apply_range(logged, 1, count)
        replayed, cpu_r, wall_r = await replay(logged)
    finally:
        await logged.aclose()
    db = sqlite3.connect(logged_path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    grown = logged_path.stat().st_size - base
    table = events_bytes(logged_path)
    print(f"Machine: {machine()}\n")
    print(f"{count:,} new_messages events of one message each (SQLite, WAL):\n")
    print("| what | per 1,000 events |")
    print("|---|---:|")
    if table is not None:
        print(f"| the events table on disk | {table / count:.0f} KB |")
    print(f"| the whole file (the messages' rows too) | {grown / count:.0f} KB |")
    for name, cpu, wall in (
        ("apply and log, one transaction per event: CPU / wall", cpu_l, wall_l),
        (f"replay ({replayed:,} events, pages of 256): CPU / wall", cpu_r, wall_r),
    ):
        # seconds per event x 1,000 events x 1,000 ms
        print(f"| {name} | {cpu / count * 1e6:.0f} / {wall / count * 1e6:.0f} ms |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="trio-mailsync-eventlog-") as tmp:
        trio.run(measure, args.events, Path(tmp))


if __name__ == "__main__":
    main()
