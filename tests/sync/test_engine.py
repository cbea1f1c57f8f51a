"""The provider-neutral engine over the in-memory provider: exactly once, limits, isolation.

(What IMAP syncs cost and find is in ``tests/providers/imap/test_sync.py``.)
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from trio_mailsync.core.config import Account
from trio_mailsync.core.events import FlagsChanged, LoggedEvent, MessagesDeleted, NewMessages
from trio_mailsync.core.model import FolderUpdate, SyncRequest, SyncResult
from trio_mailsync.stores.sqlite import SQLiteStore
from trio_mailsync.sync import SyncEngine
from trio_mailsync.testing import MemoryMail, MemoryProvider, memory_account


@pytest.fixture
async def store() -> AsyncIterator[SQLiteStore]:
    s = await SQLiteStore.open(":memory:", inline=True)
    yield s
    await s.aclose()


def account(account_id: str, **settings: Any) -> Account:
    """An in-memory account that announces all its mail (tests deliver, then sync)."""
    return memory_account(account_id, **{"notify_from": "all", **settings})


def mail_of(*accounts: str) -> MemoryMail:
    mail = MemoryMail()
    for account in accounts:
        mail.add_account(account)
    return mail


async def test_new_messages_are_reported_once(store: SQLiteStore) -> None:
    mail = mail_of("alice")
    session = MemoryProvider(mail).session(account("alice", folders=("INBOX", "Sent")))
    engine = SyncEngine(store)
    first = mail.deliver("alice")
    sent = mail.deliver("alice", folder="Sent")
    result = await engine.sync_account(session)
    assert result.ok
    assert [(m.folder, m.uid) for m in result.new_messages] == [("INBOX", first), ("Sent", sent)]
    assert (result.folders_checked, result.folders_synced, result.round_trips) == (2, 2, 1)
    assert (await engine.sync_account(session)).new_messages == ()
    mail.set_flags("alice", first, ["\\Seen"])
    mail.expunge("alice", sent, folder="Sent")
    changed = await engine.sync_account(session)
    assert [(c.folder, c.uid, c.new) for c in changed.flag_changes] == [
        ("INBOX", first, ("\\Seen",))
    ]
    assert [(d.folder, d.uid) for d in changed.deletions] == [("Sent", sent)]


async def test_on_logged_gets_each_update_s_events_as_logged(store: SQLiteStore) -> None:
    mail = mail_of("alice")
    session = MemoryProvider(mail).session(account("alice", folders=("INBOX", "Sent")))
    handed: list[LoggedEvent] = []
    engine = SyncEngine(store, on_logged=handed.extend)
    uid = mail.deliver("alice")
    sent = mail.deliver("alice", folder="Sent")
    await engine.sync_account(session)
    assert [(e.id, type(e)) for e in handed] == [(1, NewMessages), (2, NewMessages)]
    assert handed == await store.events_after(0)
    mail.set_flags("alice", uid, ["\\Seen"])
    mail.expunge("alice", sent, folder="Sent")
    await engine.sync_account(session)
    assert [(e.id, type(e)) for e in handed[2:]] == [(3, FlagsChanged), (4, MessagesDeleted)]


async def test_a_first_sync_announces_only_what_arrives_after_it(store: SQLiteStore) -> None:
    mail = mail_of("alice")
    session = MemoryProvider(mail).session(memory_account("alice", folders=("INBOX", "Sent")))
    engine = SyncEngine(store)
    for n in range(5):
        mail.deliver("alice", subject=f"old {n}")
    first = await engine.sync_account(session)
    assert first.ok
    assert first.new_messages == ()
    assert len(await store.messages("alice")) == 5  # stored, not announced
    uid = mail.deliver("alice", subject="new")
    assert [m.uid for m in (await engine.sync_account(session)).new_messages] == [uid]
    # Sent, first synced now (after the account's first sync): mail it got since counts.
    sent = mail.deliver("alice", folder="Sent")
    result = await engine.sync_account(session)
    assert [(m.folder, m.uid) for m in result.new_messages] == [("Sent", sent)]


async def test_a_recreated_folder_is_reported_anew(store: SQLiteStore) -> None:
    mail = mail_of("alice")
    session = MemoryProvider(mail).session(account("alice"))
    engine = SyncEngine(store)
    mail.deliver("alice")
    await engine.sync_account(session)
    mail.recreate("alice", "INBOX")
    uid = mail.deliver("alice", subject="in the new folder")
    result = await engine.sync_account(session)
    assert result.folders_reset == 1
    assert [(m.uid, m.subject) for m in result.new_messages] == [(uid, "in the new folder")]
    assert [m.uid for m in await store.messages("alice")] == [uid]


async def test_a_timeout_keeps_what_was_stored_and_reports_it_next_time(
    autojump_clock: trio.testing.MockClock, store: SQLiteStore
) -> None:
    mail = mail_of("alice")
    session = MemoryProvider(mail).session(account("alice"))
    engine = SyncEngine(store)
    uid = mail.deliver("alice")
    mail.hang_syncs("alice")
    started = trio.current_time()
    hung = await engine.sync_account(session, timeout=30)
    assert trio.current_time() - started == 30
    assert hung.error == "alice: the sync took longer than 30 s; abandoned"
    assert hung.new_messages == ()
    mail.hang_syncs("alice", False)
    assert [m.uid for m in (await engine.sync_account(session)).new_messages] == [uid]


async def test_any_exception_is_the_result_s_error(store: SQLiteStore) -> None:
    mail = mail_of("alice", "bob")
    provider = MemoryProvider(mail)
    alice, bob = provider.session(account("alice")), provider.session(account("bob"))
    mail.deliver("alice")
    mail.deliver("bob")
    mail.fail_syncs("bob", KeyError("a bug"))
    seen: list[str] = []
    results = await SyncEngine(store).sync_all_accounts(
        [alice, bob], on_result=lambda r: seen.append(r.account)
    )
    assert [r.account for r in results] == ["alice", "bob"]
    assert sorted(seen) == ["alice", "bob"]
    assert results[0].ok
    assert len(results[0].new_messages) == 1
    assert results[1].error == "bob: 'a bug' (KeyError)"


class _FailingStore(SQLiteStore):
    """A store that cannot apply one folder's update while ``broken``."""

    broken = False

    async def apply(
        self, account: str, folder: str, update: FolderUpdate, *, notify_from: float
    ) -> list[LoggedEvent]:
        if self.broken and folder == "Sent":
            raise sqlite3.OperationalError("database is locked")
        return await super().apply(account, folder, update, notify_from=notify_from)


async def test_a_store_that_fails_half_way_loses_nothing(tmp_path: Path) -> None:
    store = await _FailingStore.open(tmp_path / "s.sqlite3", inline=True)
    mail = mail_of("alice")
    session = MemoryProvider(mail).session(account("alice", folders=("INBOX", "Sent")))
    engine = SyncEngine(store)
    inbox = mail.deliver("alice")
    sent = mail.deliver("alice", folder="Sent")
    store.broken = True
    failed = await engine.sync_account(session)
    assert failed.error == "alice: database is locked (OperationalError)"
    # What was applied before the failure is logged and reported; the rest is not.
    assert [m.uid for m in failed.new_messages] == [inbox]
    store.broken = False
    assert [(m.folder, m.uid) for m in (await engine.sync_account(session)).new_messages] == [
        ("Sent", sent)
    ]
    logged = await store.events_after(0)
    assert [[m.uid for m in e.messages] for e in logged if isinstance(e, NewMessages)] == [
        [inbox],
        [sent],
    ]
    await store.aclose()


async def test_one_sync_per_account_at_a_time(
    autojump_clock: trio.testing.MockClock, store: SQLiteStore
) -> None:
    mail = mail_of("alice", "bob")
    provider = MemoryProvider(mail, sync_duration=1.0)
    alice, bob = provider.session(account("alice")), provider.session(account("bob"))
    engine = SyncEngine(store)
    results: list[SyncResult] = []

    async def sync(session: object) -> None:
        assert session in (alice, bob)
        results.append(await engine.sync_account(alice if session is alice else bob))

    started = trio.current_time()
    async with trio.open_nursery() as nursery:
        for session in (alice, alice, alice, bob):
            nursery.start_soon(sync, session)
    # alice's three one after the other (3 s), bob's beside them.
    assert trio.current_time() - started == 3
    assert provider.stats.max_running == 2


async def test_a_request_narrows_the_sync(store: SQLiteStore) -> None:
    mail = mail_of("alice")
    session = MemoryProvider(mail).session(account("alice", folders=("INBOX", "Sent")))
    engine = SyncEngine(store)
    mail.deliver("alice", folder="Sent")
    inbox_only = await engine.sync_account(session, request=SyncRequest(folders=("INBOX",)))
    assert (inbox_only.folders_checked, inbox_only.new_messages) == (1, ())
    assert len((await engine.sync_account(session)).new_messages) == 1
