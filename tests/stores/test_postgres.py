"""The PostgreSQL store alone: its schema against SQLite's, fencing, the log's order under
concurrent writers, one ``serve`` or many workers, and its errors."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import psycopg
import pytest
import trio

from tests.stores.support import apply, record, update
from trio_mailsync.core.errors import LeaseLost, StoreError, StoreInUse
from trio_mailsync.core.events import MessageProcessed, NewMessages
from trio_mailsync.secret import Secret
from trio_mailsync.stores import postgres as pg
from trio_mailsync.stores._sql import append_events
from trio_mailsync.stores.postgres import PostgresStore
from trio_mailsync.stores.sqlite import MIGRATIONS, SQLiteStore
from trio_mailsync.testing.postgres import PostgresServer


def columns_of_sqlite(path: Path) -> dict[str, list[str]]:
    db = sqlite3.connect(path)
    try:
        tables = [
            name
            for (name,) in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {t: [row[1] for row in db.execute(f"PRAGMA table_info({t})")] for t in tables}
    finally:
        db.close()


def columns_of_postgres(dsn: str) -> dict[str, list[str]]:
    with psycopg.connect(dsn) as db:
        rows = db.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND table_name != 'schema_version' "
            "ORDER BY table_name, ordinal_position"
        ).fetchall()
    found: dict[str, list[str]] = {}
    for table, column in rows:
        found.setdefault(table, []).append(column)
    return found


async def test_the_schema_is_sqlites_table_for_table_column_for_column(
    postgres_dsn: str, tmp_path: Path
) -> None:
    lite = await SQLiteStore.open(tmp_path / "s.sqlite3", inline=True)
    store = await PostgresStore.open(postgres_dsn, inline=True)
    try:
        assert await store.schema_version() == await lite.schema_version() == len(MIGRATIONS)
    finally:
        await store.aclose()
        await lite.aclose()
    sqlite_columns = columns_of_sqlite(tmp_path / "s.sqlite3")
    postgres_columns = columns_of_postgres(postgres_dsn)
    assert {t: sorted(c) for t, c in postgres_columns.items()} == {
        t: sorted(c) for t, c in sqlite_columns.items()
    }


async def test_one_serve_or_any_number_of_workers(postgres_dsn: str) -> None:
    serve = await PostgresStore.open(postgres_dsn, inline=True)
    try:
        with pytest.raises(StoreInUse, match=r"in use by a serve process \(trio-mailsync \d+\)"):
            await PostgresStore.open(postgres_dsn, inline=True, shared=True)
        with pytest.raises(StoreInUse, match=r"other processes.*one serve at a time"):
            await PostgresStore.open(postgres_dsn, inline=True)
    finally:
        await serve.aclose()
    workers = [await PostgresStore.open(postgres_dsn, inline=True, shared=True) for _ in range(2)]
    try:
        with pytest.raises(StoreInUse, match="in use by other processes"):
            await PostgresStore.open(postgres_dsn, inline=True)
    finally:
        for worker in workers:
            await worker.aclose()
    again = await PostgresStore.open(postgres_dsn, inline=True)  # all let go on close
    await again.aclose()


async def test_a_newer_schema_is_refused(postgres_dsn: str) -> None:
    with psycopg.connect(postgres_dsn, autocommit=True) as db:
        db.execute("CREATE TABLE schema_version (version INTEGER)")
        db.execute("INSERT INTO schema_version VALUES (%s)", (len(MIGRATIONS) + 1,))
    with pytest.raises(StoreError, match="newer than this program's"):
        await PostgresStore.open(postgres_dsn, inline=True)


async def test_a_write_with_an_older_fencing_token_is_refused_and_keeps_nothing(
    postgres_dsn: str,
) -> None:
    old = await PostgresStore.open(postgres_dsn, inline=True, shared=True)
    new = await PostgresStore.open(postgres_dsn, inline=True, shared=True)
    try:
        await old.claim("alice", 1)
        await apply(old, update(reset=True, new=(record(1),)))
        await old.first_synced("alice", 10.0)
        # The lease moves: the new owner claims the account with the next token...
        await new.claim("alice", 2)
        # ...and the old owner, awake again, can no longer write anything for it.
        with pytest.raises(LeaseLost, match=r"alice: .*fencing token 1 < 2"):
            await apply(old, update(new=(record(2),)))
        with pytest.raises(LeaseLost):
            await old.first_synced("alice", 20.0)
        processed = MessageProcessed(
            account="alice", processor="p", folder="INBOX", generation=7, uid=1, result={}
        )
        with pytest.raises(LeaseLost):
            await old.append([processed])
        with pytest.raises(LeaseLost):
            await old.claim("alice", 1)  # nor take it back with its old token
        assert [m.uid for m in await new.messages("alice")] == [1]
        assert [e.id for e in await new.events_after(0)] == [1]
        # The owner writes; other accounts were never fenced.
        await apply(new, update(new=(record(3),)))
        await old.apply("bob", "INBOX", update(reset=True, new=(record(1),)), notify_from=0)
        old.disown("alice")
        assert [m.uid for m in await new.messages("alice")] == [1, 3]
    finally:
        await old.aclose()
        await new.aclose()


async def test_a_writer_paused_in_a_transaction_holds_nobody_up(postgres_dsn: str) -> None:
    # A worker SIGSTOPped (or cut off) between two statements of a write holds its
    # account's fence row: the next owner's claim must not wait for it to wake.
    paused = await PostgresStore.open(postgres_dsn, shared=True, lock_timeout=0.5)
    other = await PostgresStore.open(postgres_dsn, shared=True, lock_timeout=0.5)
    database = paused._database
    holding = threading.Event()
    wake = threading.Event()
    resumed = threading.Event()
    claimed_while_paused = False

    def paused_writer() -> None:
        with database._transaction() as db:
            database._fence(db, "alice")
            holding.set()
            wake.wait(timeout=10)  # bounded, should the claim never come
            resumed.set()

    try:
        await paused.claim("alice", 1)
        async with trio.open_nursery() as nursery:

            async def write() -> None:
                with pytest.raises(StoreError, match="idle-in-transaction"):
                    await trio.to_thread.run_sync(paused_writer)

            nursery.start_soon(write)
            await trio.to_thread.run_sync(holding.wait, 10)
            timeouts: list[str] = []
            for _ in range(20):
                try:
                    await other.claim("alice", 2)
                    break
                except StoreError as exc:
                    timeouts.append(str(exc))  # waited its while: tries again
            assert all("lock timeout" in reason for reason in timeouts)
            claimed_while_paused = not resumed.is_set()
            wake.set()
        assert claimed_while_paused
        with pytest.raises(LeaseLost):  # awake, the paused writer is fenced off
            await apply(paused, update(reset=True, new=(record(1),)))
    finally:
        wake.set()
        await paused.aclose()
        await other.aclose()


async def test_a_sqlite_store_takes_fences_too(tmp_path: Path) -> None:
    store = await SQLiteStore.open(tmp_path / "s.sqlite3", inline=True)
    try:
        await store.claim("alice", 5)
        with pytest.raises(LeaseLost):
            await store.claim("alice", 4)
    finally:
        await store.aclose()


def empty(account: str) -> NewMessages:
    return NewMessages(account=account, folder="INBOX", messages=())


async def test_log_ids_become_visible_in_order_under_concurrent_writers(
    postgres_dsn: str,
) -> None:
    # A sequence hands out ids in one order and commits them in another: without the
    # log's lock, a reader could see id 2 (committed) before id 1 (not yet), move its
    # position past 1 and never report it.
    store = await PostgresStore.open(postgres_dsn, shared=True, connections=4)
    database = store._database
    first_has_its_id = trio.Event()
    commit_first = trio.Event()
    token = trio.lowlevel.current_trio_token()

    async def commit_within_a_while() -> None:
        with trio.move_on_after(15):  # bounded, should the test fail before it says so
            await commit_first.wait()

    def slow_writer() -> None:
        with database._transaction() as db:
            append_events(
                db, [NewMessages(account="a", folder="INBOX", messages=())], 1.0, pg.POSTGRES
            )
            trio.from_thread.run_sync(first_has_its_id.set, trio_token=token)
            trio.from_thread.run(commit_within_a_while, trio_token=token)

    def waiting_for_the_log_lock() -> int:
        with psycopg.connect(postgres_dsn) as db:
            row = db.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                "AND objid = %s",
                (pg.LOG_LOCK & 0xFFFFFFFF,),
            ).fetchone()
            return int(row[0]) if row else 0

    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(trio.to_thread.run_sync, slow_writer)
            await first_has_its_id.wait()
            second: list[object] = []

            async def fast_writer() -> None:
                second.extend(
                    await store.append([NewMessages(account="b", folder="INBOX", messages=())])
                )

            nursery.start_soon(fast_writer)
            with trio.fail_after(10):
                while await trio.to_thread.run_sync(waiting_for_the_log_lock) == 0:
                    await trio.sleep(0.02)
            assert await store.events_after(0) == []  # nothing visible out of order
            commit_first.set()
        assert [(e.id, e.account) for e in await store.events_after(0)] == [(1, "a"), (2, "b")]
    finally:
        await store.aclose()


async def test_text_with_nul_is_kept_with_a_replacement(postgres_dsn: str) -> None:
    store = await PostgresStore.open(postgres_dsn, inline=True)
    try:
        await apply(store, update(reset=True, new=(record(1, subject="a\x00b"),)))
        (message,) = await store.messages("alice")
        assert message.subject == "a\ufffdb"
    finally:
        await store.aclose()


async def test_a_database_that_does_not_answer_is_one_clear_error_without_the_password(
    postgres_server: PostgresServer,
) -> None:
    dsn = f"postgresql://mailsync:inline-pw-0xBAD@127.0.0.1:{postgres_server.port + 1}/mail"
    with pytest.raises(StoreError) as caught:
        await PostgresStore.open(dsn, password=Secret("the-secret-pw"), inline=True)
    message = str(caught.value)
    assert message.startswith(f"postgresql://mailsync@127.0.0.1:{postgres_server.port + 1}/mail")
    assert "cannot connect" in message
    assert "the-secret-pw" not in message
    assert "inline-pw-0xBAD" not in message


async def test_after_the_database_restarts_the_store_serves_again(
    postgres_server: PostgresServer, postgres_dsn: str
) -> None:
    store = await PostgresStore.open(postgres_dsn, connections=2)
    try:
        await apply(store, update(reset=True, new=(record(1),)))
        await trio.to_thread.run_sync(postgres_server.restart)
        errors = []
        for _ in range(4):  # a pooled connection that died fails its one call, at most
            try:
                await apply(store, update(new=(record(2),)))
                break
            except StoreError as exc:
                errors.append(str(exc))
        assert len(errors) <= 2
        assert all(e.startswith(pg.describe(postgres_dsn)) for e in errors)
        assert [m.uid for m in await store.messages("alice")] == [1, 2]
        # The restart dropped the process lock with its connection: it is held again.
        with pytest.raises(StoreInUse):
            await PostgresStore.open(postgres_dsn, connections=1)
    finally:
        await store.aclose()


async def test_a_serve_that_lost_its_lock_in_a_restart_writes_no_more(
    postgres_server: PostgresServer, postgres_dsn: str
) -> None:
    # The database restarts; before the first serve notices, a second one starts and
    # takes the lock. The first must not write beside it: refused from then on.
    first = await PostgresStore.open(postgres_dsn, connections=1)
    second = None
    try:
        await apply(first, update(reset=True, new=(record(1),)))
        await trio.to_thread.run_sync(postgres_server.restart)
        second = await PostgresStore.open(postgres_dsn, connections=1)
        for _ in range(3):  # the dead pooled connection fails once, then the lock is asked for
            with pytest.raises(StoreError) as refused:
                await apply(first, update(new=(record(2),)))
        assert isinstance(refused.value, StoreInUse)
        await apply(second, update(new=(record(3),)))
        assert [m.uid for m in await second.messages("alice")] == [1, 3]
    finally:
        await first.aclose()
        if second is not None:
            await second.aclose()
