"""The store port's behaviour, the same for every store: each test runs against SQLite and
against PostgreSQL (a database of the session's server, started by the tests)."""

from __future__ import annotations

import json
import math
import time
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Protocol

import attrs
import pytest

from tests.stores.support import apply, at, record, update
from trio_mailsync.core.events import (
    FlagsChanged,
    FlagUpdate,
    FolderReset,
    MessageProcessed,
    MessagesDeleted,
    NewMessages,
    to_json,
)
from trio_mailsync.core.model import Address, MessageRecord
from trio_mailsync.stores.postgres import PostgresStore
from trio_mailsync.stores.sqlite import MAX_MESSAGES_PER_EVENT, SQLiteStore

Store = SQLiteStore | PostgresStore


class Opener(Protocol):
    def __call__(self, *, dry_run: bool = False) -> Awaitable[SQLiteStore | PostgresStore]: ...


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    """Each test of the port runs against each store."""
    return str(request.param)


@pytest.fixture
def open_store(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Opener:
    """Opens the test's one store, again and again (a reopen sees what was written)."""
    dsn = request.getfixturevalue("postgres_dsn") if backend == "postgres" else ""

    async def opener(*, dry_run: bool = False) -> SQLiteStore | PostgresStore:
        if backend == "postgres":
            return await PostgresStore.open(dsn, inline=True, dry_run=dry_run, connections=2)
        return await SQLiteStore.open(tmp_path / "s.sqlite3", inline=True, dry_run=dry_run)

    return opener


@pytest.fixture
async def store(open_store: Opener) -> AsyncIterator[SQLiteStore | PostgresStore]:
    s = await open_store()
    yield s
    await s.aclose()


async def test_present_removes_what_the_server_no_longer_has_but_not_what_is_new(
    store: Store,
) -> None:
    await apply(store, update(reset=True, new=(record(1), record(2), record(3))))
    logged = await apply(store, update(new=(record(4),), present=frozenset({1, 3}), deleted=(9,)))
    new, deleted = logged
    assert isinstance(new, NewMessages)
    assert [m.uid for m in new.messages] == [4]
    # 9 was never stored; 4 is new, not missing.
    assert isinstance(deleted, MessagesDeleted)
    assert list(deleted.uids) == [2]
    assert (deleted.folder, deleted.generation) == ("INBOX", 7)
    assert [m.uid for m in await store.messages("alice")] == [1, 3, 4]
    (state,) = (await store.folder_states("alice")).values()
    assert state.messages == 3


async def test_flag_changes_are_logged_only_when_they_change(
    store: Store,
) -> None:
    await apply(store, update(reset=True, new=(record(1), record(2))))
    (changed,) = await apply(
        store, update(flags={1: (("\\Seen",), 5), 2: ((), 6), 3: (("\\Seen",), 7)})
    )
    assert isinstance(changed, FlagsChanged)
    assert list(changed.messages) == [FlagUpdate(1, ("\\Seen",), ())]
    assert [(m.uid, m.flags, m.version) for m in await store.messages("alice")] == [
        (1, ("\\Seen",), 5),
        (2, (), 6),
    ]
    assert await apply(store, update(flags={1: (("\\Seen",), 8)})) == []


async def test_a_reset_drops_the_old_generation_and_keeps_the_cursor_as_given(
    store: Store,
) -> None:
    await apply(store, update(reset=True, new=(record(1),)))
    await apply(
        store,
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


async def test_a_reset_is_logged_and_renumbered_messages_are_not_new_again(
    store: Store,
) -> None:
    await apply(store, update(reset=True, new=(record(1, message_id="<a>"), record(2))))
    logged = await apply(
        store,
        update(
            generation=8,
            reset=True,
            new=(
                record(10, generation=8, message_id="<a>"),  # known by its Message-ID
                record(11, generation=8, message_id="<b>"),  # new
                record(12, generation=8),  # no Message-ID: cannot tell, so new
            ),
        ),
    )
    reset, new = logged
    assert isinstance(reset, FolderReset)
    assert (reset.folder, reset.generation, reset.previous) == ("INBOX", 8, 7)
    assert isinstance(new, NewMessages)
    assert [m.uid for m in new.messages] == [11, 12]
    assert reset.id < new.id


async def test_last_full_sync_moves_only_on_a_full_sync(store: Store) -> None:
    await apply(store, update(reset=True, full_sync=True, now=100.0))
    await apply(store, update(now=200.0))
    (state,) = (await store.folder_states("alice")).values()
    assert (state.last_sync, state.last_full_sync) == (200.0, 100.0)


async def test_a_first_sync_announces_only_what_arrived_after_notify_from(
    store: Store,
) -> None:
    old = record(1, internaldate="2026-11-30T10:00:00+00:00")
    recent = record(2, internaldate="2026-12-01T10:00:00+00:00")
    undated = record(3)
    first = update(reset=True, new=(old, recent, undated))
    (new,) = await apply(store, first, notify_from=at("2026-12-01T00:00:00+00:00"))
    assert isinstance(new, NewMessages)
    assert [m.uid for m in new.messages] == [2]
    # Every one is stored; later mail is announced whatever its date.
    assert [m.uid for m in await store.messages("alice")] == [1, 2, 3]
    (later,) = await apply(store, update(new=(record(4),)), notify_from=at("2030-01-01T00:00:00Z"))
    assert [m.uid for m in later.messages] == [4]  # type: ignore[attr-defined]
    # A backfill's batch is old mail, like the first sync's.
    assert await apply(store, update(baseline=True, new=(record(0),)), notify_from=0.0) == []


async def test_a_message_fetched_again_is_not_logged_again(
    store: Store,
) -> None:
    await apply(store, update(reset=True, new=(record(1),)))
    assert await apply(store, update(new=(record(1),))) == []


async def test_account_summary_counts_todays_announced_and_the_degraded_per_account(
    store: Store,
) -> None:
    start = time.time()
    await apply(store, update(reset=True, new=(record(1), record(2, degraded="unreadable"))))
    bob = [attrs.evolve(record(uid), account="bob") for uid in (1, 2, 3)]
    await store.apply("bob", "INBOX", update(reset=True, new=tuple(bob)), notify_from=-math.inf)
    assert await store.account_summary(start - 1) == {"alice": (2, 1), "bob": (3, 0)}
    assert await store.account_summary(start - 1, "bob") == {"bob": (3, 0)}
    assert await store.account_summary(start - 1, "alice") == {"alice": (2, 1)}
    # Announced before ``since``: not today's; the degraded message is still stored.
    assert await store.account_summary(time.time() + 1, "alice") == {"alice": (0, 1)}
    assert await store.account_summary(start - 1, "carol") == {}


async def test_a_message_under_two_labels_is_listed_in_both_and_announced_once(
    store: Store,
) -> None:
    def labelled(folder: str) -> MessageRecord:
        return record(0x18C0, generation=0, folder=folder, email_id="18c0")

    inbox = await store.apply(
        "alice",
        "INBOX",
        update(generation=0, new=(labelled("INBOX"),), shared_messages=True),
        notify_from=-math.inf,
    )
    starred = await store.apply(
        "alice",
        "STARRED",
        update(generation=0, new=(labelled("STARRED"),), shared_messages=True),
        notify_from=-math.inf,
    )
    assert [type(e).__name__ for e in inbox] == ["NewMessages"]
    assert starred == []
    assert [m.folder for m in await store.messages("alice")] == ["INBOX", "STARRED"]
    # Without shared_messages (IMAP: a copy is a message of its own) both are announced.
    assert await store.apply(
        "alice", "Copies", update(generation=0, new=(labelled("Copies"),)), notify_from=-math.inf
    )


async def test_first_synced_is_recorded_once(store: Store) -> None:
    assert await store.first_synced("alice", 100.0) == 100.0
    assert await store.first_synced("alice", 200.0) == 100.0
    assert await store.first_synced("bob", 300.0) == 300.0


async def test_an_operators_pause_is_kept_until_resumed(open_store: Opener) -> None:
    store = await open_store()
    try:
        assert await store.paused_accounts() == set()
        await store.set_paused("alice", True)
        await store.set_paused("alice", True)  # twice: still one
        await store.set_paused("bob", True)
        await store.set_paused("bob", False)
        await store.set_paused("carol", False)  # never paused: nothing to do
    finally:
        await store.aclose()
    store = await open_store()
    try:
        assert await store.paused_accounts() == {"alice"}
    finally:
        await store.aclose()


async def test_log_ids_increase_and_survive_a_reopen(open_store: Opener) -> None:
    store = await open_store()
    try:
        ids = [e.id for n in range(1, 4) for e in await apply(store, update(new=(record(n),)))]
        assert ids == [1, 2, 3]
        await store.prune(before=1e12, keep=0)  # everything
        assert await store.log_bounds() == (3, 3)
    finally:
        await store.aclose()
    store = await open_store()
    try:
        (again,) = await apply(store, update(new=(record(9),)))
        assert again.id == 4  # never reused, even after the rows went
        assert [e.id for e in await store.events_after(0)] == [4]
    finally:
        await store.aclose()


async def test_prune_by_age_and_by_count(store: Store) -> None:
    for n in range(1, 6):
        await apply(store, update(new=(record(n),)))
    assert await store.prune(before=0.0, keep=3) == 2
    assert await store.log_bounds() == (2, 5)
    assert [e.id for e in await store.events_after(0)] == [3, 4, 5]
    assert await store.prune(before=0.0, keep=3) == 0
    assert await store.prune(before=time.time() + 10, keep=100) == 3
    assert await store.log_bounds() == (5, 5)


async def test_events_come_back_as_they_were_logged(store: Store) -> None:
    message = record(
        1,
        sender=Address("Lovelace, Ada", "ada@x"),
        recipients=(Address(None, "b@x"), Address("Grüße", "g@x")),
        subject="Grüße",
        flags=("\\Seen",),
        internaldate="2026-12-01T10:00:00+00:00",
    )
    logged = await apply(store, update(reset=True, new=(message,)))
    assert await store.events_after(0) == logged
    processed = MessageProcessed(
        account="alice", processor="p", folder="INBOX", generation=7, uid=1, result={"x": [1]}
    )
    (appended,) = await store.append([processed])
    assert appended.id == 2
    assert await store.events_after(1) == [appended]
    assert await store.processed("p", [("alice", "INBOX", 7, 1), ("alice", "INBOX", 7, 2)]) == {
        ("alice", "INBOX", 7, 1)
    }


async def test_cursors_and_failures(store: Store) -> None:
    assert await store.cursor("webhook:a") is None
    await store.set_cursor("webhook:a", 5)
    await store.set_cursor("webhook:a", 7)
    assert await store.cursor("webhook:a") == 7
    await store.record_failure("webhook:a", [6], "HTTP 500")
    ((consumer, event_id, _, error),) = await store.failures("webhook:a")
    assert (consumer, event_id, error) == ("webhook:a", 6, "HTTP 500")
    assert await store.failures("webhook:b") == []


async def test_a_dry_run_stores_nothing_but_says_what_it_would_log(open_store: Opener) -> None:
    store = await open_store()
    await apply(store, update(reset=True, new=(record(1),)))
    await store.aclose()
    dry = await open_store(dry_run=True)
    try:
        (would,) = await apply(dry, update(new=(record(2),)))
        assert isinstance(would, NewMessages)
        assert would.id == 2
        assert [m.uid for m in await dry.messages("alice")] == [1]
        assert await dry.log_bounds() == (0, 1)
    finally:
        await dry.aclose()


async def test_a_large_change_is_logged_as_events_of_bounded_size(
    store: Store,
) -> None:
    many = MAX_MESSAGES_PER_EVENT * 2 + 50
    logged = await apply(
        store, update(reset=True, new=tuple(record(u) for u in range(1, many + 1)))
    )
    assert [len(e.messages) for e in logged if isinstance(e, NewMessages)] == [
        MAX_MESSAGES_PER_EVENT,
        MAX_MESSAGES_PER_EVENT,
        50,
    ]
    assert [e.id for e in logged] == [1, 2, 3]
    uids = [m.uid for e in logged if isinstance(e, NewMessages) for m in e.messages]
    assert uids == list(range(1, many + 1))
    flagged = await apply(store, update(flags={u: (("\\Seen",), None) for u in range(1, many + 1)}))
    assert [len(e.messages) for e in flagged if isinstance(e, FlagsChanged)] == [200, 200, 50]
    assert max(len(to_json(e)) for e in logged) < 200 * 1024
