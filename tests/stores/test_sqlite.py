"""The SQLite store alone: migrations from its first schema, its lock file, its errors."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import trio

from trio_mailsync.core.errors import StoreError, StoreInUse
from trio_mailsync.core.events import NewMessages
from trio_mailsync.core.model import Address, MessageRecord
from trio_mailsync.stores.sqlite import MIGRATIONS, SQLiteStore


async def test_a_version_1_database_is_migrated_with_everything_in_it(tmp_path: Path) -> None:
    path = tmp_path / "v1.sqlite3"
    db = sqlite3.connect(path)
    v1 = MIGRATIONS[0]
    assert isinstance(v1, str)
    db.executescript(v1 + "PRAGMA user_version = 1;")
    db.execute("INSERT INTO folders VALUES ('alice', 'INBOX', 1700000000, 42, 9001, 2, 10.0, 5.0)")
    columns = (
        "account, folder, uidvalidity, uid, message_id, date, internaldate, sender, recipients, "
        "subject, flags, size, modseq, gm_msgid, gm_thrid, gm_labels, announced, first_seen"
    )
    for uid, announced in ((40, 1), (41, 0)):
        db.execute(
            f"INSERT INTO messages ({columns}) VALUES "  # noqa: S608
            "('alice', 'INBOX', 1700000000, ?, '<m@x>', 'Mon', '2026-11-23T10:00:00+00:00', "
            "'Ann <a@x>', '[\"b@x\"]', 'hi', '[\"\\\\Seen\"]', 123, 9000, "
            "1781234567890123456, 1781234567890000000, '[\"\\\\Inbox\"]', ?, 1.0)",
            (uid, announced),
        )
    db.commit()
    db.close()
    store = await SQLiteStore.open(path, inline=True)
    try:
        assert await store.schema_version() == len(MIGRATIONS) == 8
        (state,) = (await store.folder_states("alice")).values()
        assert (state.name, state.generation, state.messages) == ("INBOX", 1700000000, 2)
        assert state.cursor == {"uidnext": 42, "highestmodseq": 9001}
        assert (state.last_sync, state.last_full_sync) == (10.0, 5.0)
        first, _ = await store.messages("alice")
        assert first == MessageRecord(
            account="alice",
            folder="INBOX",
            generation=1700000000,
            uid=40,
            flags=("\\Seen",),
            message_id="<m@x>",
            date="Mon",
            internaldate="2026-11-23T10:00:00+00:00",
            sender=Address("Ann", "a@x"),
            recipients=(Address(None, "b@x"),),
            subject="hi",
            size=123,
            version=9000,
            email_id="1781234567890123456",
            thread_id="1781234567890000000",
            labels=("\\Inbox",),
        )
        # Announced stays announced; the one stored but never reported is in the log.
        (logged,) = await store.events_after(0)
        assert isinstance(logged, NewMessages)
        assert (logged.id, logged.account, logged.folder) == (1, "alice", "INBOX")
        assert [m.uid for m in logged.messages] == [41]
        assert await store.log_bounds() == (0, 1)
    finally:
        await store.aclose()


async def test_a_newer_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.sqlite3"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    db.close()
    with pytest.raises(StoreError, match="newer than this program"):
        await SQLiteStore.open(path, inline=True)


async def test_one_process_at_a_time(tmp_path: Path) -> None:
    # Issue 17, finding 16: two `serve` on one store both synced and announced: 26 of 289
    # messages were reported twice. The second one is refused, naming the first.
    path = tmp_path / "s.sqlite3"
    first = await SQLiteStore.open(path, inline=True)
    try:
        with pytest.raises(StoreInUse, match=rf"in use by process {os.getpid()} "):
            await SQLiteStore.open(path, inline=True)
    finally:
        await first.aclose()
    again = await SQLiteStore.open(path, inline=True)  # released on close
    await again.aclose()


def test_the_lock_dies_with_its_process(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    code = (
        "import trio; from trio_mailsync.stores.sqlite import SQLiteStore\n"
        "async def main():\n"
        f"    await SQLiteStore.open({str(path)!r})\n"
        "    print('held', flush=True); await trio.sleep(60)\n"
        "trio.run(main)"
    )
    with subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True
    ) as holder:
        try:
            assert holder.stdout is not None
            assert holder.stdout.readline().strip() == "held"
            with pytest.raises(StoreInUse, match=rf"in use by process {holder.pid} "):
                trio.run(SQLiteStore.open, path)
        finally:
            holder.kill()  # SIGKILL: no cleanup of its own
            holder.wait(timeout=10)
    store = trio.run(SQLiteStore.open, path)
    trio.run(store.aclose)


@pytest.mark.parametrize("kind", ["directory", "corrupt", "newer"])
async def test_a_store_that_cannot_be_used_is_one_clear_error(tmp_path: Path, kind: str) -> None:
    # Issue 17, finding 15: each of these was a traceback.
    path = tmp_path / "s.sqlite3"
    if kind == "directory":
        path.mkdir()
        expected = "is a directory, not a store"
    elif kind == "corrupt":
        path.write_bytes(b"this is not SQLite at all, but it is long enough to look" * 100)
        expected = "is not a trio-mailsync store (file is not a database)"
    else:
        db = sqlite3.connect(path)
        db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
        db.close()
        expected = "newer than this program"
    for _ in range(2):  # the same again, not "in use": the failed open let its lock go
        with pytest.raises(StoreError, match=re.escape(expected)):
            await SQLiteStore.open(path, inline=True)
