"""NOTIFY against a real Dovecot (issue 16): every folder pushed on the one connection.

Without NOTIFY, mail in a folder other than INBOX waits for the sweep (here set to hours);
with it, Dovecot reports the folder's new STATUS on the IDLE-ing connection and the
folder is synced at once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import attrs
import trio

from trio_mailsync.app import open_sync_service
from trio_mailsync.core.config import Account, Config, ServiceSettings
from trio_mailsync.core.events import AccountState, NewMessages, ServiceEvent
from trio_mailsync.providers.imap import ImapSession, connect_account, open_imap_provider
from trio_mailsync.service import SyncService
from trio_mailsync.service.hub import Subscription
from trio_mailsync.stores.sqlite import SQLiteStore
from trio_mailsync.testing import sample_message
from trio_mailsync.testing.dovecot import DovecotServer


@asynccontextmanager
async def serving(account: Account, tmp_path: Path, notify: bool) -> AsyncIterator[SyncService]:
    config = Config(
        accounts=(account,), service=ServiceSettings(sweep_interval=10_000, notify=notify)
    )
    store = await SQLiteStore.open(tmp_path / f"notify-{notify}.sqlite3")
    try:
        async with (
            open_imap_provider(config.accounts, settings=config.service) as imap,
            open_sync_service(config, providers={"imap": imap}, store=store) as service,
        ):
            with trio.fail_after(30):
                while service.state(account.id) is not AccountState.IDLE:
                    await trio.sleep(0.05)
            yield service
    finally:
        await store.aclose()


async def new_mail(events: Subscription, subject: str, within: float) -> NewMessages | None:
    """The new_messages event of the message called ``subject``, if it comes in time."""
    with trio.move_on_after(within):
        async for event in events:
            if isinstance(event, NewMessages) and any(m.subject == subject for m in event.messages):
                return event
    return None


def notified(service: SyncService, account: str) -> bool:
    session = service.session(account)
    assert isinstance(session, ImapSession)
    return session.watcher.statistics().notify


async def test_mail_in_another_folder_is_pushed(dovecot: DovecotServer, tmp_path: Path) -> None:
    account = attrs.evolve(dovecot.account("notify1"), folders=("*",))
    writer = await connect_account(account)
    try:
        await writer.create("Work")
        async with serving(account, tmp_path, notify=True) as service:
            assert notified(service, account.id)
            with service.subscribe(1000) as events:
                # Mail filed into a folder (a server rule, another device): pushed.
                uid = await writer.append("Work", sample_message(1, subject="filed"))
                event = await new_mail(events, "filed", within=10)
                assert event is not None, "not pushed"
                assert [(m.folder, m.uid) for m in event.messages] == [("Work", uid)]
                # A folder created meanwhile is found (LIST), and its mail pushed too.
                await writer.create("Projects")
                await trio.sleep(1)
                uid = await writer.append("Projects", sample_message(2, subject="new folder"))
                event = await new_mail(events, "new folder", within=10)
                assert event is not None, "mail in a new folder not pushed"
                assert [(m.folder, m.uid) for m in event.messages] == [("Projects", uid)]
                # INBOX as before.
                await writer.append("INBOX", sample_message(3, subject="inbox"))
                assert await new_mail(events, "inbox", within=10) is not None
                received: list[ServiceEvent] = events.take_queued()
                assert not [e for e in received if isinstance(e, NewMessages)], "each once"
    finally:
        await writer.logout()


async def test_without_notify_other_folders_wait_for_the_sweep(
    dovecot: DovecotServer, tmp_path: Path
) -> None:
    account = attrs.evolve(dovecot.account("notify2"), folders=("*",))
    writer = await connect_account(account)
    try:
        await writer.create("Work")
        async with serving(account, tmp_path, notify=False) as service:
            assert not notified(service, account.id)
            with service.subscribe(1000) as events:
                await writer.append("Work", sample_message(1, subject="filed"))
                assert await new_mail(events, "filed", within=3) is None
    finally:
        await writer.logout()


async def test_a_folder_the_account_does_not_sync_is_not_synced(
    dovecot: DovecotServer, tmp_path: Path
) -> None:
    account = attrs.evolve(dovecot.account("notify3"), folders=("INBOX", "Work"))
    writer = await connect_account(account)
    try:
        await writer.create("Work")
        await writer.create("Elsewhere")
        async with serving(account, tmp_path, notify=True) as service:
            with service.subscribe(1000) as events:
                await writer.append("Elsewhere", sample_message(1, subject="elsewhere"))
                await writer.append("Work", sample_message(2, subject="work"))
                event = await new_mail(events, "work", within=10)
                assert event is not None
                await trio.sleep(1)
            # Notified of it, but not one of the account's folders: not synced.
            assert await service.store.messages(account.id, "Elsewhere") == []
            assert [m.subject for m in await service.store.messages(account.id, "Work")] == ["work"]
    finally:
        await writer.logout()
