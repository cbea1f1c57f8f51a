"""The sync engine against a real Dovecot, four accounts at once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import attrs
import pytest

from trio_mailsync.core.config import Account
from trio_mailsync.core.model import SyncResult
from trio_mailsync.providers.auth import PasswordAuth
from trio_mailsync.providers.imap import (
    IMAPConnection,
    connect_account,
    imap_settings,
    open_imap_provider,
)
from trio_mailsync.stores.sqlite import SQLiteStore
from trio_mailsync.sync import SyncEngine
from trio_mailsync.testing import sample_message
from trio_mailsync.testing.dovecot import DovecotServer

FOLDERS = ["INBOX", "Sent", "Drafts", "Archive", "Junk", "Trash"]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    s = await SQLiteStore.open(tmp_path / "sync.sqlite3")
    yield s
    await s.aclose()


async def server_state(conn: IMAPConnection) -> dict[tuple[str, int], tuple[str, ...]]:
    """What Dovecot has: (folder, uid) -> sorted flags, read over its own connection."""
    state = {}
    for name in FOLDERS:
        box = await conn.select(name, readonly=True)
        if box.exists:
            fetched, _ = await conn.uid_fetch("1:*", ["UID", "FLAGS"])
            for item in fetched:
                assert item.uid is not None
                # \Recent belongs to one session; the store keeps lasting flags only.
                state[(name, item.uid)] = tuple(
                    sorted(f for f in item.flags or () if f != "\\Recent")
                )
    return state


async def store_state(
    store: SQLiteStore, account: Account
) -> dict[tuple[str, int], tuple[str, ...]]:
    return {(r.folder, r.uid): tuple(sorted(r.flags)) for r in await store.messages(account.id)}


async def test_four_accounts_in_parallel(dovecot: DovecotServer, store: SQLiteStore) -> None:
    accounts = [dovecot.account(f"sync{i}") for i in range(1, 5)]
    writers = {a.id: await connect_account(a) for a in accounts}
    for i, account in enumerate(accounts):
        for n in range(3 + i):
            flags = ["\\Seen"] if n % 2 else []
            await writers[account.id].append("INBOX", sample_message(n), flags=flags)
        await writers[account.id].append("Sent", sample_message(99))
    user1 = dovecot.account("user1")
    broken = attrs.evolve(
        user1,
        id="wrong",
        settings=attrs.evolve(imap_settings(user1), auth=PasswordAuth(password="not-the-password")),
    )

    async with open_imap_provider([*accounts, broken]) as imap:
        engine = SyncEngine(store)
        sessions = [imap.session(a) for a in accounts]
        everyone = [*sessions, imap.session(broken)]
        results = {r.account: r for r in await engine.sync_all_accounts(everyone)}
        assert results["wrong"].error is not None
        assert "AUTHENTICATIONFAILED" in results["wrong"].error
        for i, account in enumerate(accounts):
            result = results[account.id]
            assert result.ok, result.error
            assert len(result.new_messages) == 3 + i + 1
            assert await store_state(store, account) == await server_state(writers[account.id])

        # Nothing changed: STATUS only, one round trip per account.
        again = {r.account: r for r in await engine.sync_all_accounts(sessions)}
        for account in accounts:
            r = again[account.id]
            assert r.ok
            assert set(r.commands) == {"STATUS"}, r.commands
            assert r.round_trips == 1
            assert (r.new_messages, r.flag_changes, r.deletions) == ((), (), ())

        # An APPEND, a flag change and an EXPUNGE, each picked up.
        first, second, third, fourth = accounts
        await writers[first.id].append("INBOX", sample_message(50))
        w = writers[second.id]
        await w.select("INBOX")
        await w.uid_store("1", "+FLAGS", ["\\Flagged"])
        w = writers[third.id]
        await w.select("INBOX")
        await w.uid_store("2", "+FLAGS", ["\\Deleted"])
        await w.uid_expunge("2")
        # A recreated folder: a new UIDVALIDITY.
        w = writers[fourth.id]
        await w.delete("Archive")
        await w.create("Archive")
        await w.append("Archive", sample_message(77))
        changes: dict[str, SyncResult] = {
            r.account: r for r in await engine.sync_all_accounts(sessions)
        }
        assert [m.subject for m in changes[first.id].new_messages] == ["message 50"]
        assert [(c.folder, c.uid, c.new) for c in changes[second.id].flag_changes] == [
            ("INBOX", 1, ("\\Flagged",))
        ]
        assert [(d.folder, d.uid) for d in changes[third.id].deletions] == [("INBOX", 2)]
        assert changes[fourth.id].folders_reset == 1
        assert [(m.folder, m.subject) for m in changes[fourth.id].new_messages] == [
            ("Archive", "message 77")
        ]
        for account in accounts:
            assert await store_state(store, account) == await server_state(writers[account.id])
    for conn in writers.values():
        await conn.logout()
