"""Random histories against the local Gmail-API server: the store follows the server, and
each message is announced once, whatever its labels do.

Each example is a list of operations (deliver with labels, delete, add or remove a
label, mark read, expire the history, expire every token, a 429, a 500, a dropped
connection, let time pass, sync), run on a MockClock. After every sync that succeeded,
the store holds exactly what the server has under each watched label, with its flags;
over the whole history no message is announced twice (by its Gmail id), and in the end
every message still under a watched label was announced.
"""

from __future__ import annotations

from typing import Any

import trio
import trio.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.providers.gmail.test_gmail import ALICE, account
from trio_mailsync.providers.gmail import open_gmail_provider
from trio_mailsync.providers.gmail import provider as gmail_provider
from trio_mailsync.stores.sqlite import SQLiteStore
from trio_mailsync.sync import SyncEngine
from trio_mailsync.testing.gmail import GmailFault, GmailMail, GmailTestServer

#: Watched: INBOX, SENT (role:sent) and STARRED; CATEGORY_PERSONAL is not.
WATCHED = ("INBOX", "SENT", "STARRED")
LABELS = ("INBOX", "SENT", "STARRED", "UNREAD", "CATEGORY_PERSONAL")
LABEL_SETS = [
    ("INBOX", "UNREAD"),
    ("INBOX",),
    ("SENT",),
    ("INBOX", "STARRED"),
    ("CATEGORY_PERSONAL", "UNREAD"),
]

label = st.sampled_from(LABELS)
operation = st.one_of(
    st.tuples(st.just("deliver"), st.sampled_from(LABEL_SETS)),
    st.tuples(st.just("delete"), st.integers(0, 20)),
    st.tuples(st.just("add"), st.integers(0, 20), label),
    st.tuples(st.just("remove"), st.integers(0, 20), label),
    st.tuples(st.just("expire_history")),
    st.tuples(st.just("expire_tokens")),
    st.tuples(st.just("fault"), st.sampled_from(["429", "500", "drop", "401"])),
    st.tuples(st.just("jump"), st.sampled_from([1.0, 61.0, 3600.0])),
    st.just(("sync",)),
)


def flags_of(labels: set[str]) -> tuple[str, ...]:
    flags = [] if "UNREAD" in labels else ["\\Seen"]
    if "STARRED" in labels:
        flags.append("\\Flagged")
    return tuple(sorted(flags))


def server_view(mail: GmailMail) -> set[tuple[str, int, tuple[str, ...]]]:
    return {
        (label, int(m.id, 16), flags_of(m.labels))
        for m in mail.users[ALICE].messages.values()
        for label in WATCHED
        if label in m.labels
    }


def run_history(operations: list[tuple[Any, ...]]) -> None:
    clock = trio.testing.MockClock(autojump_threshold=0)
    # Pages of 2: first syncs, backfills and relistings span several pages.
    saved = gmail_provider.LIST_PAGE
    gmail_provider.LIST_PAGE = 2
    try:
        trio.run(_history, operations, clock=clock)
    finally:
        gmail_provider.LIST_PAGE = saved


async def _history(operations: list[tuple[Any, ...]]) -> None:
    mail = GmailMail()
    mail.add_user(ALICE, "rt-alice")
    server = GmailTestServer(mail)
    alice = account(backoff_initial=0.5, backoff_max=5.0)
    store = await SQLiteStore.open(":memory:", inline=True)
    announced: list[str] = []
    async with (
        trio.open_nursery() as nursery,
        open_gmail_provider(transport=server.transport(nursery)) as provider,
    ):
        engine = SyncEngine(store)
        session = provider.session(alice)

        async def sync() -> bool | None:
            """One sync; ``True``: done and the store checked, ``None``: more to fetch."""
            result = await engine.sync_account(session)
            announced.extend(m.email_id or "" for m in result.new_messages)
            assert len(announced) == len(set(announced)), "a message was announced twice"
            if not result.ok:
                return False
            if result.more:
                return None  # a backfill under way: older mail still to come
            stored = {(m.folder, m.uid, m.flags) for m in await store.messages("galice")}
            assert stored == server_view(mail)
            return True

        def pick(index: int) -> str | None:
            ids = sorted(mail.users[ALICE].messages)
            return ids[index % len(ids)] if ids else None

        for op in operations:
            kind = op[0]
            if kind == "deliver":
                mail.deliver(ALICE, labels=op[1])
            elif kind == "delete" and (chosen := pick(op[1])):
                mail.delete(ALICE, chosen)
            elif kind == "add" and (chosen := pick(op[1])):
                mail.relabel(ALICE, chosen, add=[op[2]])
            elif kind == "remove" and (chosen := pick(op[1])):
                mail.relabel(ALICE, chosen, remove=[op[2]])
            elif kind == "expire_history":
                mail.expire_history(ALICE)
            elif kind == "expire_tokens":
                server._tokens.clear()  # every access token revoked: the next call gets 401
            elif kind == "fault":
                server.faults.append(GmailFault(op[1]))
            elif kind == "jump":
                await trio.sleep(op[1])
            elif kind == "sync":
                await sync()
        server.faults.clear()
        # Last clean syncs (as the service does, one after another while there is more):
        # everything under a watched label was announced once.
        for _ in range(100):
            done = await sync()
            assert done is not False, "the final sync failed"
            if done:
                break
        else:
            raise AssertionError("the backfill did not end")
        under_watched = {
            i for i, m in mail.users[ALICE].messages.items() if m.labels & set(WATCHED)
        }
        assert under_watched <= set(announced), "a message was never announced"
        nursery.cancel_scope.cancel()
    await store.aclose()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(operation, max_size=40))
def test_store_follows_the_labels_and_announces_each_message_once(
    operations: list[tuple[Any, ...]],
) -> None:
    run_history(operations)


def test_a_history_with_every_kind_of_event() -> None:
    run_history(
        [
            ("deliver", ("INBOX", "UNREAD")),
            ("deliver", ("SENT",)),
            ("deliver", ("CATEGORY_PERSONAL", "UNREAD")),
            ("sync",),
            ("add", 0, "STARRED"),
            ("remove", 0, "UNREAD"),
            ("add", 2, "INBOX"),  # into a watched label: announced now
            ("fault", "429"),
            ("sync",),
            ("remove", 0, "INBOX"),
            ("delete", 1),
            ("fault", "drop"),
            ("sync",),
            ("deliver", ("INBOX",)),
            ("expire_history",),
            ("expire_tokens",),
            ("sync",),
            ("fault", "500"),
            ("fault", "401"),
            ("jump", 3600.0),
            ("sync",),
        ]
    )


def test_a_backfill_across_deletions_and_new_mail() -> None:
    run_history(
        [
            *[("deliver", ("INBOX",))] * 7,
            ("sync",),  # the newest page; more to come
            ("delete", 3),
            ("deliver", ("INBOX", "UNREAD")),
            ("sync",),  # new mail, a deletion, the next page
            ("remove", 1, "INBOX"),
            ("expire_history",),
            ("sync",),  # listed anew, mid-backfill
            ("sync",),
        ]
    )
