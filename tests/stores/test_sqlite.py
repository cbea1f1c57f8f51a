"""The SQLite store: migrations, and what applying an update means."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio

from trio_mailsync.core.errors import StoreError, StoreInUse
from trio_mailsync.core.model import FolderUpdate, MessageRecord
from trio_mailsync.stores.sqlite import MIGRATIONS, SQLiteStore


@pytest.fixture
async def store() -> AsyncIterator[SQLiteStore]:
    s = await SQLiteStore.open(":memory:", inline=True)
    yield s
    await s.aclose()


def record(
    uid: int, *, generation: int = 7, folder: str = "INBOX", **fields: object
) -> MessageRecord:
    return MessageRecord(
        account="alice",
        folder=folder,
        generation=generation,
        uid=uid,
        **fields,  # type: ignore[arg-type]
    )


def update(**fields: object) -> FolderUpdate:
    base: dict[str, object] = {"generation": 7, "cursor": {"uidnext": 10}, "now": 1000.0}
    return FolderUpdate(**{**base, **fields})  # type: ignore[arg-type]


async def test_a_version_1_database_is_migrated_with_everything_in_it(tmp_path: Path) -> None:
    path = tmp_path / "v1.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(MIGRATIONS[0] + "PRAGMA user_version = 1;")
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
        assert await store.schema_version() == len(MIGRATIONS) == 2
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
            sender="Ann <a@x>",
            recipients=("b@x",),
            subject="hi",
            size=123,
            version=9000,
            email_id="1781234567890123456",
            thread_id="1781234567890000000",
            labels=("\\Inbox",),
        )
        # Announced stays announced: nothing is reported again after the upgrade.
        assert [m.uid for m in await store.unannounced("alice")] == [41]
    finally:
        await store.aclose()


async def test_a_newer_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.sqlite3"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    db.close()
    with pytest.raises(StoreError, match="newer than this program"):
        await SQLiteStore.open(path, inline=True)


async def test_present_removes_what_the_server_no_longer_has_but_not_what_is_new(
    store: SQLiteStore,
) -> None:
    await store.apply("alice", "INBOX", update(reset=True, new=(record(1), record(2), record(3))))
    applied = await store.apply(
        "alice", "INBOX", update(new=(record(4),), present=frozenset({1, 3}), deleted=(9,))
    )
    assert applied.deleted == (2,)  # 9 was never stored; 4 is new, not missing
    assert [m.uid for m in await store.messages("alice")] == [1, 3, 4]
    (state,) = (await store.folder_states("alice")).values()
    assert state.messages == 3


async def test_flag_changes_are_reported_only_when_they_change(store: SQLiteStore) -> None:
    await store.apply("alice", "INBOX", update(reset=True, new=(record(1), record(2))))
    applied = await store.apply(
        "alice", "INBOX", update(flags={1: (("\\Seen",), 5), 2: ((), 6), 3: (("\\Seen",), 7)})
    )
    assert applied.flag_changes == ((1, (), ("\\Seen",)),)
    assert [(m.uid, m.flags, m.version) for m in await store.messages("alice")] == [
        (1, ("\\Seen",), 5),
        (2, (), 6),
    ]


async def test_a_reset_drops_the_old_generation_and_keeps_the_cursor_as_given(
    store: SQLiteStore,
) -> None:
    await store.apply("alice", "INBOX", update(reset=True, new=(record(1),)))
    await store.apply(
        "alice",
        "INBOX",
        update(
            generation=8,
            cursor={"uidnext": 2, "x": [1, "y"]},
            reset=True,
            new=(record(1, generation=8),),
        ),
    )
    assert [m.generation for m in await store.messages("alice")] == [8]
    (state,) = (await store.folder_states("alice")).values()
    assert (state.generation, state.cursor) == (8, {"uidnext": 2, "x": [1, "y"]})
    assert json.dumps(dict(state.cursor))  # what went in comes back, JSON-compatible


async def test_last_full_sync_moves_only_on_a_full_sync(store: SQLiteStore) -> None:
    await store.apply("alice", "INBOX", update(reset=True, full_sync=True, now=100.0))
    await store.apply("alice", "INBOX", update(now=200.0))
    (state,) = (await store.folder_states("alice")).values()
    assert (state.last_sync, state.last_full_sync) == (200.0, 100.0)


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
