"""The sync engine against the testing server, with and without CONDSTORE/QRESYNC."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
import trio
import trio.testing

from tests.support import ALICE_PASSWORD, Connect
from trio_mailsync.config import Account, AccountLimits, PasswordAuth, Security
from trio_mailsync.imap import open_pool
from trio_mailsync.sync import AsyncStore, Store, SyncEngine
from trio_mailsync.testing import IMAPTestServer, MailStore, sample_message

from .conftest import VARIANTS, server_view, store_view

FOLDERS = ["INBOX", "Sent", "Drafts", "Archive", "Junk", "Trash"]


def message(n: int) -> bytes:
    return sample_message(
        n,
        subject=f"hello {n}",
        sender="=?utf-8?q?J=C3=B6rg?= <joerg@example.com>",
        to="alice@example.com",
        cc="bob@example.com",
    )


def alice() -> Account:
    return Account(
        id="alice",
        host="imap.test",
        username="alice",
        auth=PasswordAuth(password=ALICE_PASSWORD),
        security=Security.NONE,
        allow_insecure=True,
        limits=AccountLimits(),
    )


@pytest.fixture(params=list(VARIANTS))
def variant(request: pytest.FixtureRequest, server: IMAPTestServer) -> str:
    server.behavior.capabilities = VARIANTS[request.param]
    return str(request.param)


async def test_first_sync_then_nothing_costs_one_round_trip(
    variant: str, plain_connector: Connect, store: AsyncStore, mail: MailStore
) -> None:
    for n in range(3):
        mail.deliver("alice", message(n), flags=["\\Seen"] if n else [])
    mail.deliver("alice", message(9), folder="Sent")
    account = alice()
    async with open_pool([account], connector=plain_connector) as pool:
        engine = SyncEngine(pool, store, flag_resync_interval=3600)
        first = await engine.sync_account(account)
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
            "Jörg <joerg@example.com>",
            "<m0@example.com>",
        )
        assert m.recipients == ("alice@example.com", "bob@example.com")
        assert first.folders_checked == 6
        second = await engine.sync_account(account)
        assert second.ok
        assert second.new_messages == ()
        assert second.round_trips == 1
        assert set(second.commands) == {"STATUS"}
        assert second.commands["STATUS"] == 6
    assert store_view(store.store, account) == server_view(mail, "alice", FOLDERS)


async def test_new_mail_flags_and_deletions_are_picked_up(
    variant: str, plain_connector: Connect, store: AsyncStore, mail: MailStore
) -> None:
    account = alice()
    for n in range(5):
        mail.deliver("alice", message(n))
    async with open_pool([account], connector=plain_connector) as pool:
        # Without CONDSTORE, flags are looked at every flag_resync_interval.
        engine = SyncEngine(pool, store, flag_resync_interval=0)
        await engine.sync_account(account)
        mail.deliver("alice", message(5))
        mail.set_flags("alice", 2, ["\\Seen", "\\Flagged"])
        mail.expunge("alice", [4])
        result = await engine.sync_account(account)
        assert result.ok, result.error
        assert [m.uid for m in result.new_messages] == [6]
        assert [(c.uid, c.new) for c in result.flag_changes] == [(2, ("\\Flagged", "\\Seen"))]
        assert [(d.folder, d.uid) for d in result.deletions] == [("INBOX", 4)]
        assert result.round_trips == 2  # STATUS, then one pipelined batch for INBOX
    assert store_view(store.store, account) == server_view(mail, "alice", FOLDERS)


async def test_recreated_folder_is_synced_anew(
    variant: str, plain_connector: Connect, store: AsyncStore, mail: MailStore
) -> None:
    account = alice()
    for n in range(3):
        mail.deliver("alice", message(n), folder="Archive")
    async with open_pool([account], connector=plain_connector) as pool:
        engine = SyncEngine(pool, store)
        await engine.sync_account(account)
        mail.recreate("alice", "Archive")
        mail.deliver("alice", message(7), folder="Archive")
        result = await engine.sync_account(account)
        assert result.folders_reset == 1
        assert [(m.folder, m.uid, m.subject) for m in result.new_messages] == [
            ("Archive", 1, "hello 7")
        ]
    assert store_view(store.store, account) == server_view(mail, "alice", FOLDERS)


async def test_a_wrong_password_is_that_account_s_error_only(
    plain_connector: Connect, store: AsyncStore, mail: MailStore
) -> None:
    good = alice()
    bad = Account(
        id="bob",
        host="imap.test",
        username="bob",
        auth=PasswordAuth(password="wrong"),
        security=Security.NONE,
        allow_insecure=True,
    )
    mail.deliver("alice", message(1))
    async with open_pool([good, bad], connector=plain_connector) as pool:
        results = await SyncEngine(pool, store).sync_all_accounts()
    by_id = {r.account: r for r in results}
    assert by_id["alice"].ok
    assert len(by_id["alice"].new_messages) == 1
    assert by_id["bob"].error is not None
    assert by_id["bob"].error.startswith("bob: AUTHENTICATE failed: NO [AUTHENTICATIONFAILED]")


async def test_a_sync_killed_part_way_then_restarted_reports_each_message_once(
    plain_connector: Connect, mail: MailStore, server: IMAPTestServer, tmp_path: Path
) -> None:
    account = alice()
    for folder in ("INBOX", "Sent", "Archive"):
        for n in range(3):
            mail.deliver("alice", message(n), folder=folder)
    path = tmp_path / "state.sqlite3"
    reported: list[tuple[str, int]] = []
    server.behavior.delays["EXAMINE"] = 0.05
    store = await AsyncStore.open(path)
    async with open_pool([account], connector=plain_connector) as pool:
        # The "process" dies between folders: some are committed, nothing was reported.
        with trio.move_on_after(0.12):
            result = await SyncEngine(pool, store).sync_account(account)
            reported += [(m.folder, m.uid) for m in result.new_messages]
    await store.aclose()
    assert reported == []
    with contextlib.closing(Store(path)) as peek:
        assert 0 < len(peek.messages("alice")) < 9
    server.behavior.delays.clear()
    # A new process: new store object, pool and engine over the same database.
    store = await AsyncStore.open(path)
    async with open_pool([account], connector=plain_connector) as pool:
        engine = SyncEngine(pool, store)
        for _ in range(3):
            result = await engine.sync_account(account)
            reported += [(m.folder, m.uid) for m in result.new_messages]
    await store.aclose()
    expected = {(f, uid) for f in ("INBOX", "Sent", "Archive") for uid in (1, 2, 3)}
    assert sorted(reported) == sorted(expected)


async def test_a_folder_known_to_have_changed_costs_one_round_trip(
    variant: str, plain_connector: Connect, store: AsyncStore, mail: MailStore
) -> None:
    mail.deliver("alice", message(1))
    account = alice()
    async with open_pool([account], connector=plain_connector) as pool:
        engine = SyncEngine(pool, store, flag_resync_interval=3600)
        await engine.sync_account(account)
        mail.deliver("alice", message(2))
        told = await engine.sync_account(account, folders=["INBOX"], changed=["INBOX"])
        assert told.ok, told.error
        assert [m.uid for m in told.new_messages] == [2]
        assert told.round_trips == 1
        # A deletion is not what was guessed: the real plan runs after, one more trip.
        mail.expunge("alice", [1])
        mail.deliver("alice", message(3))
        told = await engine.sync_account(account, folders=["INBOX"], changed=["INBOX"])
        assert [m.uid for m in told.new_messages] == [3]
        assert [d.uid for d in told.deletions] == [1]
        # Without the hint: STATUS first, then the fetches.
        mail.deliver("alice", message(4))
        plain = await engine.sync_account(account, folders=["INBOX"])
        assert [m.uid for m in plain.new_messages] == [4]
        assert plain.round_trips == 2
