"""A large folder's first sync is windowed: newest first, bounded batches, new mail not held up."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest
import trio
import trio.testing

from tests.providers.imap.test_sync import alice, syncing
from tests.service_support import (
    plain,
    running,
    service_config,
    wait_for_state,
)
from tests.support import Connect, make_account
from trio_mailsync.core.events import AccountState, NewMessages, SyncCompleted
from trio_mailsync.core.model import SyncRequest
from trio_mailsync.providers.imap import Security, planner
from trio_mailsync.stores.sqlite import SQLiteStore
from trio_mailsync.testing import MailStore, sample_message

from .conftest import server_view, store_view

#: Traced memory a 20,000-message first sync may add at its peak, the testing server's
#: share included (measured 2026-12-02: 7.4 MiB in batches of 500; 39.2 MiB for the
#: same sync in one UID FETCH, as before windowing, which this bound fails).
MEMORY_BOUND = 16 * 1024 * 1024
INBOX = SyncRequest(folders=("INBOX",))


def fill(mail: MailStore, count: int, folder: str = "INBOX") -> None:
    for n in range(count):
        mail.deliver("alice", sample_message(n, subject=f"old {n}"), folder=folder)


async def test_a_large_first_sync_goes_newest_first_in_batches_and_new_mail_comes_first(
    variant: str, plain_connector: Connect, store: SQLiteStore, mail: MailStore
) -> None:
    batch, per_sync = planner.BACKFILL_BATCH, planner.BACKFILL_BATCHES_PER_SYNC
    total = batch * per_sync + batch + 7  # two syncs: one full, then the rest
    fill(mail, total)
    account = make_account(security=Security.NONE, allow_insecure=True, notify_from="all")
    async with syncing(account, plain_connector, store) as sync:
        first = await sync(INBOX)
        assert first.ok, first.error
        assert first.more == ("INBOX",)
        got = [m.uid for m in first.new_messages]
        # Newest first, batch by batch; each batch in UID order.
        assert got[:batch] == list(range(total - batch + 1, total + 1))
        assert len(got) == batch * per_sync
        assert min(got) == total - batch * per_sync + 1
        # One listing, then one round trip (EXAMINE, UID FETCH, UNSELECT) per batch.
        assert (first.commands["UID SEARCH"], first.commands["UID FETCH"]) == (1, per_sync)

        # Mail arriving meanwhile is fetched before the rest of the backfill.
        fresh = mail.deliver("alice", sample_message(99_999, subject="fresh"))
        second = await sync(INBOX)
        assert second.ok, second.error
        assert second.more == ()
        assert second.new_messages[0].uid == fresh
        rest = [m.uid for m in second.new_messages[1:]]
        assert sorted(rest) == list(range(1, total - batch * per_sync + 1))

        third = await sync(INBOX)
        assert third.new_messages == ()
        assert third.round_trips == 1
    assert await store_view(store, account) == server_view(mail, "alice", ["INBOX"])
    events = await store.events_after(0, 10_000)
    uids = [m.uid for e in events if isinstance(e, NewMessages) for m in e.messages]
    assert sorted(uids) == list(range(1, total + 2)), "each message logged once"
    assert len(uids) == len(set(uids))


async def test_a_backfill_goes_on_after_the_process_stops_midway(
    plain_connector: Connect, store: SQLiteStore, mail: MailStore
) -> None:
    fill(mail, planner.BACKFILL_BATCH * planner.BACKFILL_BATCHES_PER_SYNC * 2)
    account = alice()
    async with syncing(account, plain_connector, store) as sync:
        first = await sync()
        assert first.more == ("INBOX",)
    state = (await store.folder_states("alice"))["INBOX"]
    assert state.cursor["backfill"] == len(mail.user("alice").folder("INBOX").messages) // 2 + 1
    async with syncing(account, plain_connector, store) as sync:  # a new process
        second = await sync()
        assert second.ok, second.error
        assert second.more == ()
    state = (await store.folder_states("alice"))["INBOX"]
    assert "backfill" not in state.cursor
    assert await store_view(store, account) == server_view(mail, "alice", ["INBOX"])


@pytest.mark.slow  # 45 s: tracemalloc slows the testing server's envelopes down 5x
async def test_the_first_sync_of_20000_messages_stays_within_its_memory_bound(
    plain_connector: Connect, store: SQLiteStore, mail: MailStore
) -> None:
    fill(mail, 20_000)
    account = make_account(security=Security.NONE, allow_insecure=True, notify_from="all")
    async with syncing(account, plain_connector, store) as sync:
        tracemalloc.start()
        try:
            base, _ = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            result = await sync()
            syncs = 1
            while result.more:
                result = await sync()
                syncs += 1
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    size = planner.BACKFILL_BATCH * planner.BACKFILL_BATCHES_PER_SYNC
    assert syncs == -(-20_000 // size)
    print(f"traced peak {(peak - base) / 2**20:.1f} MiB over {syncs} syncs")
    assert peak - base < MEMORY_BOUND, f"peak {(peak - base) / 2**20:.1f} MiB"
    assert len(await store.messages("alice")) == 20_000
    await trio.lowlevel.checkpoint()


async def test_a_small_folder_is_fetched_in_one_round_trip_as_before(
    plain_connector: Connect, store: SQLiteStore, mail: MailStore
) -> None:
    fill(mail, planner.BACKFILL_BATCH)
    async with syncing(alice(), plain_connector, store) as sync:
        first = await sync(INBOX)
        assert first.more == ()
        assert first.commands["UID FETCH"] == 1
        assert "UID SEARCH" not in first.commands


async def test_the_service_goes_on_with_a_backfill_by_itself_and_announces_only_news(
    autojump_clock: trio.testing.MockClock,
    plain_connector: Connect,
    mail: MailStore,
    tmp_path: Path,
) -> None:
    old = planner.BACKFILL_BATCH * planner.BACKFILL_BATCHES_PER_SYNC * 2 + 10
    fill(mail, old)
    account = plain(notify_from=None)  # the default: news only
    config = service_config(account, sweep_interval=10_000)
    async with running(config, plain_connector, tmp_path) as service:
        with service.subscribe(1000) as events:
            with trio.fail_after(600):
                while len(await service.store.messages("alice", "INBOX")) < old:
                    await trio.sleep(1)
            await wait_for_state(service, "alice", AccountState.IDLE)
            await trio.sleep(2)  # past the second the backfill's messages arrived in
            uid = mail.deliver("alice", sample_message(1, subject="news"))
            seen = []
            with trio.fail_after(60):
                async for event in events:
                    seen.append(event)
                    if isinstance(event, NewMessages):
                        break
            assert isinstance(event, NewMessages)
            assert [m.uid for m in event.messages] == [uid]
            triggers = [e.trigger for e in seen if isinstance(e, SyncCompleted)]
            # Three syncs' worth of batches: the startup sync, the watcher's catch-up,
            # and one the service asked for because the folder had more.
            assert triggers[-1] == "backfill"
            assert isinstance(service.store, SQLiteStore)
            assert await store_view(service.store, account) == server_view(mail, "alice", ["INBOX"])
