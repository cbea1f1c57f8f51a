"""Random histories against the testing server: the store follows the server, nothing twice.

Each example draws a capability variant and a list of operations (deliver,
expunge, set flags, recreate a folder, drop the connection, jump the clock,
sync), runs them on a MockClock, and checks after every sync that succeeded
that the store equals the server, and over the whole history that no message
was ever reported new twice and every message still on the server was
reported.
"""

from __future__ import annotations

from typing import Any

import trio
import trio.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support import ALICE_PASSWORD, make_account
from trio_mailsync.core.config import Account
from trio_mailsync.core.model import SyncRequest
from trio_mailsync.providers.imap import Security, open_imap_provider
from trio_mailsync.stores.sqlite import SQLiteStore
from trio_mailsync.sync import SyncEngine
from trio_mailsync.testing import Behavior, CommandInfo, IMAPTestServer, MailStore, Session

from .conftest import VARIANTS, server_view, store_view

FOLDERS = ["INBOX", "Sent", "Archive"]
ALL_FOLDERS = ["INBOX", "Sent", "Drafts", "Archive", "Junk", "Trash"]
FLAG_SETS = [(), ("\\Seen",), ("\\Seen", "\\Flagged"), ("$Label1",)]

folder = st.sampled_from(FOLDERS)
operation = st.one_of(
    st.tuples(st.just("deliver"), folder, st.sampled_from(FLAG_SETS)),
    st.tuples(st.just("expunge"), folder, st.integers(0, 20)),
    st.tuples(st.just("flags"), folder, st.integers(0, 20), st.sampled_from(FLAG_SETS)),
    st.tuples(st.just("recreate"), folder),
    st.tuples(st.just("drop"), st.integers(1, 12)),
    st.tuples(st.just("jump"), st.sampled_from([1.0, 61.0, 301.0, 3600.0])),
    st.just(("sync",)),
    # A sync told that folders changed (as after IDLE), whether they did or not.
    st.tuples(st.just("sync"), st.sampled_from([("INBOX",), ("INBOX", "Archive")])),
)


def run_history(variant: str, operations: list[tuple[Any, ...]]) -> None:
    clock = trio.testing.MockClock(autojump_threshold=0)
    trio.run(_history, variant, operations, clock=clock)


async def _history(variant: str, operations: list[tuple[Any, ...]]) -> None:
    mail = MailStore()
    mail.add_user("alice", ALICE_PASSWORD)
    behavior = Behavior(capabilities=VARIANTS[variant])
    server = IMAPTestServer(mail, behavior)
    account = make_account(security=Security.NONE, allow_insecure=True, backoff_initial=0.5)
    store = await SQLiteStore.open(":memory:", inline=True)
    reported: list[tuple[str, int, int]] = []
    delivered = 0
    drop_at: list[int] = []

    async def maybe_drop(session: Session, command: CommandInfo) -> bool:
        if drop_at and command.number >= drop_at[0]:
            drop_at.clear()
            await session.drop()
        return False

    behavior.on_command = maybe_drop
    async with trio.open_nursery() as nursery:
        connect = server.connector(nursery)

        async def connector(_: Account) -> trio.abc.Stream:
            return await connect()

        async with open_imap_provider(
            [account], connector=connector, jitter=lambda: 0.5, flag_resync_interval=0
        ) as imap:
            engine = SyncEngine(store)
            session = imap.session(account)

            async def sync(changed: tuple[str, ...] = ()) -> bool:
                request = SyncRequest(changed=frozenset(changed))
                result = await engine.sync_account(session, request=request)
                reported.extend((m.folder, m.generation, m.uid) for m in result.new_messages)
                assert len(reported) == len(set(reported)), "a message was reported twice"
                if result.ok and not result.folder_errors:
                    assert await store_view(store, account) == server_view(
                        mail, "alice", ALL_FOLDERS
                    )
                    return True
                return False

            for op in operations:
                kind = op[0]
                messages = (
                    None
                    if kind in ("drop", "jump", "sync")
                    else mail.user("alice").folder(op[1]).messages
                )
                if kind == "deliver":
                    delivered += 1
                    mail.deliver(
                        "alice",
                        b"Subject: m%d\r\n\r\nbody\r\n" % delivered,
                        folder=op[1],
                        flags=op[2],
                    )
                elif kind == "expunge" and messages:
                    mail.expunge("alice", [messages[op[2] % len(messages)].uid], folder=op[1])
                elif kind == "flags" and messages:
                    mail.set_flags(
                        "alice", messages[op[2] % len(messages)].uid, op[3], folder=op[1]
                    )
                elif kind == "recreate":
                    mail.recreate("alice", op[1])
                elif kind == "drop":
                    drop_at[:] = [op[1]]
                elif kind == "jump":
                    await trio.sleep(op[1])
                elif kind == "sync":
                    await sync(*op[1:])
            drop_at.clear()
            # A last clean sync: everything still on the server was reported once.
            for _ in range(3):
                if await sync():
                    break
                await trio.sleep(1)
            else:
                raise AssertionError("the final syncs did not succeed")
            on_server = {
                (name, mail.user("alice").folder(name).uidvalidity, m.uid)
                for name in ALL_FOLDERS
                for m in mail.user("alice").folder(name).messages
            }
            assert on_server <= set(reported), "a message on the server was never reported"
        nursery.cancel_scope.cancel()


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(list(VARIANTS)), st.lists(operation, max_size=40))
def test_store_follows_server_and_reports_each_message_once(
    variant: str, operations: list[tuple[Any, ...]]
) -> None:
    run_history(variant, operations)


def test_a_history_with_every_kind_of_event() -> None:
    for variant in VARIANTS:
        run_history(
            variant,
            [
                ("deliver", "INBOX", ()),
                ("deliver", "Sent", ("\\Seen",)),
                ("sync",),
                ("flags", "INBOX", 0, ("\\Flagged",)),
                ("deliver", "INBOX", ()),
                ("drop", 2),
                ("sync",),
                ("expunge", "INBOX", 0),
                ("jump", 3600.0),
                ("sync", ("INBOX",)),
                ("deliver", "INBOX", ()),
                ("deliver", "INBOX", ()),
                ("sync", ("INBOX",)),
                ("recreate", "Sent"),
                ("recreate", "INBOX"),
                ("deliver", "Sent", ()),
                ("deliver", "INBOX", ()),
                ("sync", ("INBOX", "Archive")),
                ("sync",),
            ],
        )
