"""IMAP syncs through the engine against the testing server, with and without CONDSTORE/QRESYNC."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio
import trio.testing

from tests.support import Connect, make_account
from trio_mailsync.core.config import Account
from trio_mailsync.core.events import LoggedEvent, NewMessages
from trio_mailsync.core.model import Address, SyncRequest, SyncResult
from trio_mailsync.providers.imap import Security, open_imap_provider
from trio_mailsync.providers.imap.provider import FLAG_RESYNC_INTERVAL
from trio_mailsync.stores.sqlite import SQLiteStore
from trio_mailsync.sync import SyncEngine
from trio_mailsync.testing import CommandInfo, IMAPTestServer, MailStore, Session, sample_message

from .conftest import server_view, store_view

FOLDERS = ["INBOX", "Sent", "Drafts", "Archive", "Junk", "Trash"]
INBOX_CHANGED = SyncRequest(folders=("INBOX",), changed=frozenset({"INBOX"}))
Sync = Callable[..., Awaitable[SyncResult]]


@asynccontextmanager
async def syncing(
    account: Account,
    connector: Connect,
    store: SQLiteStore,
    *,
    flag_resync_interval: float = FLAG_RESYNC_INTERVAL,
) -> AsyncIterator[Sync]:
    """Syncs of ``account`` through the engine, over an IMAP provider open for the block."""
    async with open_imap_provider(
        [account], connector=connector, flag_resync_interval=flag_resync_interval
    ) as imap:
        engine = SyncEngine(store)
        session = imap.session(account)

        async def sync(request: SyncRequest | None = None) -> SyncResult:
            return await engine.sync_account(session, request=request)

        yield sync


def message(n: int) -> bytes:
    return sample_message(
        n,
        subject=f"hello {n}",
        sender="=?utf-8?q?J=C3=B6rg?= <joerg@example.com>",
        to="alice@example.com",
        cc="bob@example.com",
    )


def alice() -> Account:
    return make_account(security=Security.NONE, allow_insecure=True)


async def test_first_sync_then_nothing_costs_one_round_trip(
    variant: str, plain_connector: Connect, store: SQLiteStore, mail: MailStore
) -> None:
    for n in range(3):
        mail.deliver("alice", message(n), flags=["\\Seen"] if n else [])
    mail.deliver("alice", message(9), folder="Sent")
    account = alice()
    async with syncing(account, plain_connector, store, flag_resync_interval=3600) as sync:
        first = await sync()
        assert first.ok, first.error
        assert [(m.folder, m.uid) for m in first.new_messages] == [
            ("INBOX", 1),
            ("INBOX", 2),
            ("INBOX", 3),
            ("Sent", 1),
        ]
        m = first.new_messages[0]
        assert (m.subject, m.sender, m.message_id) == (
            "hello 0",
            Address("Jörg", "joerg@example.com"),
            "<m0@example.com>",
        )
        assert m.recipients == (
            Address(None, "alice@example.com"),
            Address(None, "bob@example.com"),
        )
        assert first.folders_checked == 6
        second = await sync()
        assert second.ok
        assert second.new_messages == ()
        assert second.round_trips == 1
        assert set(second.commands) == {"STATUS"}
        assert second.commands["STATUS"] == 6
    assert await store_view(store, account) == server_view(mail, "alice", FOLDERS)


async def test_an_empty_folder_is_synced_from_its_status_alone(
    variant: str, plain_connector: Connect, store: SQLiteStore, mail: MailStore
) -> None:
    # STATUS MESSAGES 0 says all there is: no EXAMINE, FETCH or UNSELECT for such a folder,
    # whether it was never synced, has been emptied, or was recreated empty.
    account = alice()
    mail.deliver("alice", message(0))
    for n in range(2):
        mail.deliver("alice", message(n), folder="Sent")
    mail.deliver("alice", message(5), folder="Archive")
    async with syncing(account, plain_connector, store) as sync:
        first = await sync()
        assert first.ok, first.error
        assert first.commands["EXAMINE"] == 3  # INBOX, Sent, Archive; not the 3 empty ones
        mail.expunge("alice", [1, 2], folder="Sent")
        mail.recreate("alice", "Archive")
        mail.deliver("alice", message(6), folder="Drafts")
        mail.expunge("alice", [1], folder="Drafts")  # came and went between two syncs
        second = await sync()
        assert second.ok, second.error
        assert "EXAMINE" not in second.commands
        assert second.round_trips == 1
        assert sorted((d.folder, d.uid) for d in second.deletions) == [("Sent", 1), ("Sent", 2)]
        assert second.folders_reset == 1
        assert second.new_messages == ()
        mail.deliver("alice", message(7), folder="Drafts")
        third = await sync()
        assert [(m.folder, m.uid) for m in third.new_messages] == [("Drafts", 2)]
        assert (await sync()).round_trips == 1
    assert await store_view(store, account) == server_view(mail, "alice", FOLDERS)


async def test_new_mail_flags_and_deletions_are_picked_up(
    variant: str, plain_connector: Connect, store: SQLiteStore, mail: MailStore
) -> None:
    account = alice()
    for n in range(5):
        mail.deliver("alice", message(n))
    # Without CONDSTORE, flags are looked at every flag_resync_interval.
    async with syncing(account, plain_connector, store, flag_resync_interval=0) as sync:
        await sync()
        mail.deliver("alice", message(5))
        mail.set_flags("alice", 2, ["\\Seen", "\\Flagged"])
        mail.expunge("alice", [4])
        result = await sync()
        assert result.ok, result.error
        assert [m.uid for m in result.new_messages] == [6]
        assert [(c.uid, c.new) for c in result.flag_changes] == [(2, ("\\Flagged", "\\Seen"))]
        assert [(d.folder, d.uid) for d in result.deletions] == [("INBOX", 4)]
        assert result.round_trips == 2  # STATUS, then one pipelined batch for INBOX
    assert await store_view(store, account) == server_view(mail, "alice", FOLDERS)


async def test_recreated_folder_is_synced_anew(
    variant: str, plain_connector: Connect, store: SQLiteStore, mail: MailStore
) -> None:
    account = alice()
    for n in range(3):
        mail.deliver("alice", message(n), folder="Archive")
    async with syncing(account, plain_connector, store) as sync:
        await sync()
        mail.recreate("alice", "Archive")
        mail.deliver("alice", message(7), folder="Archive")
        result = await sync()
        assert result.folders_reset == 1
        assert [(m.folder, m.uid, m.subject) for m in result.new_messages] == [
            ("Archive", 1, "hello 7")
        ]
    assert await store_view(store, account) == server_view(mail, "alice", FOLDERS)


async def test_a_wrong_password_is_that_account_s_error_only(
    plain_connector: Connect, store: SQLiteStore, mail: MailStore
) -> None:
    good = alice()
    bad = make_account("bob", security=Security.NONE, allow_insecure=True, password="wrong")
    mail.deliver("alice", message(1))
    async with open_imap_provider([good, bad], connector=plain_connector) as imap:
        sessions = [imap.session(good), imap.session(bad)]
        results = await SyncEngine(store).sync_all_accounts(sessions)
    by_id = {r.account: r for r in results}
    assert by_id["alice"].ok
    assert len(by_id["alice"].new_messages) == 1
    assert by_id["bob"].error is not None
    assert by_id["bob"].error.startswith("bob: AUTHENTICATE failed: NO [AUTHENTICATIONFAILED]")


async def test_a_sync_killed_part_way_then_restarted_logs_each_message_once(
    plain_connector: Connect, mail: MailStore, server: IMAPTestServer, tmp_path: Path
) -> None:
    account = alice()
    for folder in ("INBOX", "Sent", "Archive"):
        for n in range(3):
            mail.deliver("alice", message(n), folder=folder)
    path = tmp_path / "state.sqlite3"
    server.behavior.delays["EXAMINE"] = 0.05
    store = await SQLiteStore.open(path)
    async with open_imap_provider([account], connector=plain_connector) as imap:
        # The "process" dies between folders: some are committed, and logged with them.
        with trio.move_on_after(0.12):
            await SyncEngine(store).sync_account(imap.session(account))
    await store.aclose()
    peek = await SQLiteStore.open(path)
    stored = len(await peek.messages("alice"))
    assert 0 < stored < 9
    assert len(logged_uids(await peek.events_after(0))) == stored
    await peek.aclose()
    server.behavior.delays.clear()
    # A new process: new store object, provider and engine over the same database.
    store = await SQLiteStore.open(path)
    async with syncing(account, plain_connector, store) as sync:
        for _ in range(3):
            await sync()
    logged = logged_uids(await store.events_after(0))
    await store.aclose()
    expected = [(f, uid) for f in ("INBOX", "Sent", "Archive") for uid in (1, 2, 3)]
    assert sorted(logged) == sorted(expected)


def logged_uids(events: list[LoggedEvent]) -> list[tuple[str, int]]:
    return [(m.folder, m.uid) for e in events if isinstance(e, NewMessages) for m in e.messages]


async def test_a_folder_known_to_have_changed_costs_one_round_trip(
    variant: str, plain_connector: Connect, store: SQLiteStore, mail: MailStore
) -> None:
    mail.deliver("alice", message(1))
    account = alice()
    async with syncing(account, plain_connector, store, flag_resync_interval=3600) as sync:
        await sync()
        mail.deliver("alice", message(2))
        told = await sync(INBOX_CHANGED)
        assert told.ok, told.error
        assert [m.uid for m in told.new_messages] == [2]
        assert told.round_trips == 1
        # A deletion is not what was guessed: the real plan runs after, one more trip.
        mail.expunge("alice", [1])
        mail.deliver("alice", message(3))
        told = await sync(INBOX_CHANGED)
        assert [m.uid for m in told.new_messages] == [3]
        assert [d.uid for d in told.deletions] == [1]
        # Without the hint: STATUS first, then the fetches.
        mail.deliver("alice", message(4))
        plain = await sync(SyncRequest(folders=("INBOX",)))
        assert [m.uid for m in plain.new_messages] == [4]
        assert plain.round_trips == 2


@pytest.mark.parametrize("folder", ["Archive", "INBOX"])  # STATUS first; told it changed
async def test_a_folder_recreated_between_status_and_examine_is_reported_once(
    variant: str,
    folder: str,
    plain_connector: Connect,
    store: SQLiteStore,
    mail: MailStore,
    server: IMAPTestServer,
) -> None:
    # STATUS saw the old folder, EXAMINE the new one: what EXAMINE says about itself wins
    # (issue 17, finding 3: the new messages were stored under the old UIDVALIDITY, then
    # reset and reported again by the next sync).
    account = alice()
    mail.deliver("alice", message(1), folder=folder)
    recreated: list[int] = []

    async def recreate_before_examine(s: Session, c: CommandInfo) -> bool:
        if c.name == "EXAMINE" and c.args[0] in (folder, folder.encode()) and not recreated:
            mail.recreate("alice", folder)
            recreated.append(mail.deliver("alice", message(2), folder=folder))
        return False

    request = INBOX_CHANGED if folder == "INBOX" else None
    async with syncing(account, plain_connector, store) as sync:
        await sync()
        mail.deliver("alice", message(3), folder=folder)  # STATUS will see a change
        server.behavior.on_command = recreate_before_examine
        result = await sync(request)
        assert recreated
        new = [(m.folder, m.generation, m.uid, m.subject) for m in result.new_messages]
        recreated_folder = mail.user("alice").folder(folder)
        assert new == [(folder, recreated_folder.uidvalidity, recreated[0], "hello 2")]
        assert (await sync()).new_messages == ()
    assert await store_view(store, account) == server_view(mail, "alice", FOLDERS)
