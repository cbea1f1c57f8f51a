"""The service's own behaviour, provider aside: over the in-memory provider, under a MockClock.

(IMAP accounts in the service, IDLE and polling, are in ``tests/providers/imap``.)
"""

from __future__ import annotations

import time
from pathlib import Path

import trio
import trio.testing

from tests.service_support import (
    announced,
    drain,
    next_event,
    running_in_memory,
    wait_for_state,
)
from trio_mailsync.core.config import Config, ServiceSettings
from trio_mailsync.core.events import AccountState, LoggedEvent, NewMessages, SyncCompleted
from trio_mailsync.core.model import FolderUpdate
from trio_mailsync.stores.sqlite import SQLiteStore
from trio_mailsync.testing import MemoryMail, MemoryProvider, memory_account


def setup(*accounts: str, sync_duration: float = 0.0) -> tuple[MemoryMail, MemoryProvider]:
    mail = MemoryMail()
    for account in accounts:
        mail.add_account(account)
    return mail, MemoryProvider(mail, sync_duration=sync_duration)


async def test_every_sync_takes_the_limiter(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    names = [f"a{i:03d}" for i in range(200)]
    mail, provider = setup(*names, sync_duration=1.0)
    config = Config(
        accounts=tuple(memory_account(n) for n in names),
        service=ServiceSettings(concurrency=10, sweep_interval=10_000),
    )
    async with running_in_memory(config, provider, tmp_path) as service:
        # Start-up: 200 watchers connect (200 "connected" changes) and a sweep, at once.
        await trio.sleep(100)
        assert provider.stats.max_running == 10
        # 200 accounts triggered at once: still 10 at a time, and all of them done.
        with service.subscribe(10_000) as events:
            syncs = provider.stats.syncs
            for name in names:
                mail.deliver(name)
            await trio.sleep(19.5)
            assert provider.stats.syncs - syncs == 200  # 20 rounds of 10, 1 s each
            await trio.sleep(1)
            assert len(announced(drain(events))) == 200
        # A manual sync of everything, and requests, take the same limit.
        async with trio.open_nursery() as nursery:
            nursery.start_soon(service.sync_all)
            for name in names:
                service.request(name, "manual")
        assert provider.stats.max_running == 10
    assert provider.stats.running == 0


async def test_new_mail_in_any_folder_reaches_subscribers_at_once_and_once_old_mail_never(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    mail, provider = setup("alice", "bob")
    mail.deliver("alice", subject="before the start")
    config = Config(
        accounts=(memory_account("alice", folders=("INBOX", "role:sent")), memory_account("bob")),
        service=ServiceSettings(sweep_interval=300),
    )
    async with running_in_memory(config, provider, tmp_path) as service:
        with service.subscribe(1000) as events:
            await wait_for_state(service, "alice", AccountState.IDLE)
            # The account's first sync stored what was there, and announced none of it.
            assert [m.subject for m in await service.store.messages("alice")] == [
                "before the start"
            ]
            for folder in ("INBOX", "Sent"):
                started = trio.current_time()
                uid = mail.deliver("alice", folder=folder, subject=folder)
                news = await next_event(events, NewMessages)
                assert trio.current_time() - started < 0.01
                assert [(m.folder, m.uid) for m in news.messages] == [(folder, uid)]
                done = await next_event(events, SyncCompleted)
                assert (done.trigger, [r.account for r in done.results]) == ("exists", ["alice"])
            await trio.sleep(3600)  # twelve sweeps: nothing again
            assert announced(drain(events)) == []
            assert service.statistics().sweeps >= 12
        logged = await service.store.events_after(0)
        assert announced(logged) == [("alice", "INBOX", 2), ("alice", "Sent", 1)]


async def test_a_change_during_a_sync_causes_exactly_one_more_sync(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    mail, provider = setup("alice", sync_duration=10.0)
    config = Config(
        accounts=(memory_account("alice"),), service=ServiceSettings(sweep_interval=10_000)
    )
    async with running_in_memory(config, provider, tmp_path) as service:
        with service.subscribe(1000) as events:
            await trio.sleep(60)
            syncs = service.statistics().syncs
            first = mail.deliver("alice")
            await trio.sleep(5)
            assert service.state("alice") is AccountState.SYNCING
            second = mail.deliver("alice")  # during the sync: merged into one more
            third = mail.deliver("alice")
            await trio.sleep(60)
            assert service.statistics().syncs - syncs == 2
            assert announced(drain(events)) == [
                ("alice", "INBOX", first),
                ("alice", "INBOX", second),
                ("alice", "INBOX", third),
            ]


async def test_a_sweep_reports_every_account_in_one_event_and_waits_for_none(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    mail, provider = setup("alice", "bob")
    config = Config(
        accounts=(memory_account("alice"), memory_account("bob")),
        service=ServiceSettings(sweep_interval=60, sync_timeout=600),
    )
    async with running_in_memory(config, provider, tmp_path) as service:
        with service.subscribe(1000) as events:
            sweep = await next_event(events, SyncCompleted)
            while sweep.trigger != "startup":
                sweep = await next_event(events, SyncCompleted)
            assert [r.account for r in sweep.results] == ["alice", "bob"]
            # bob hangs for sync_timeout (600 s); alice is swept every 60 s meanwhile.
            mail.hang_syncs("bob")
            await trio.sleep(55)
            drain(events)
            rounds = []
            while trio.current_time() < 55 + 300:
                event = await next_event(events, SyncCompleted)
                if event.trigger == "sweep":
                    rounds.append([r.account for r in event.results])
            assert rounds
            assert all(accounts == ["alice"] for accounts in rounds), rounds


async def test_a_sweep_and_a_change_during_a_sync_become_one_sync_serving_both(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    mail, provider = setup("alice", sync_duration=10.0)
    config = Config(
        accounts=(memory_account("alice", folders=("INBOX", "Sent")),),
        service=ServiceSettings(sweep_interval=10_000),
    )
    async with running_in_memory(config, provider, tmp_path) as service:
        with service.subscribe(1000) as events:
            await trio.sleep(60)
            drain(events)
            syncs = service.statistics().syncs
            service.request("alice", "manual", folders=["Sent"])  # a sync of Sent starts
            await trio.sleep(1)
            uid = mail.deliver("alice")  # INBOX changed, during that sync...
            async with trio.open_nursery() as nursery:
                nursery.start_soon(service.sync_all, "manual")  # ...and a sweep is asked for
                await trio.sleep(30)
            assert service.statistics().syncs - syncs == 2  # Sent; then INBOX and the sweep
            completed = [e for e in drain(events) if isinstance(e, SyncCompleted)]
            # The merged sync answered the change (its own event) and the sweep (its round).
            assert [e.trigger for e in completed] == ["manual", "exists", "manual"]
            assert [r.new_messages[0].uid for r in completed[1].results] == [uid]
            assert completed[2].results == completed[1].results


class SlowStore(SQLiteStore):
    """A store whose applies take a second of the worker thread's time (a slow disk)."""

    async def apply(
        self, account: str, folder: str, update: FolderUpdate, *, notify_from: float
    ) -> list[LoggedEvent]:
        def slow_apply() -> list[LoggedEvent]:
            time.sleep(1.0)
            return self._database.apply(account, folder, update, notify_from)

        return await trio.to_thread.run_sync(slow_apply)


async def test_a_stop_during_a_store_call_loses_no_report(tmp_path: Path) -> None:
    """Issue 17, finding 13: Ctrl-C while a sync's store call runs announced to nobody.

    The call runs on in its thread and commits; the event is in the log with the row, so
    a subscriber that resumes after the restart gets it, once.
    """
    mail = MemoryMail()
    mail.add_account("alice")
    config = Config(
        accounts=(memory_account("alice", notify_from="all"),),
        service=ServiceSettings(sweep_interval=600),
    )
    path = tmp_path / "s.sqlite3"
    store = await SlowStore.open(path)
    with trio.move_on_after(10):
        async with running_in_memory(config, MemoryProvider(mail), tmp_path, store=store) as s:
            with s.subscribe() as events:
                await wait_for_state(s, "alice", AccountState.IDLE, within=10)
                mail.deliver("alice", subject="during the stop")
                with trio.fail_after(5):
                    while s.state("alice") is not AccountState.SYNCING:
                        await trio.sleep(0.01)
                await trio.sleep(0.3)  # in the store call
            # leaving the block stops the service in the middle of the call
    reopened = await SQLiteStore.open(path)
    async with running_in_memory(config, MemoryProvider(mail), tmp_path, store=reopened) as s:
        with s.subscribe(since=0) as events:
            got = []
            with trio.move_on_after(1):
                async for event in events:
                    if isinstance(event, NewMessages):
                        got += [m.subject for m in event.messages]
    assert got == ["during the stop"]
