"""An odd server answer costs one message, never the folder (issue 11).

The testing server sends one message's FETCH answer with an unbalanced quote: whole
(framed), but unreadable. The sync must complete, store and report the message once
(from a simpler fetch of its headers, or by its UID alone), advance, and later mail and
later syncs must not notice, on every capability variant.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Literal

import pytest

from tests.providers.imap.test_sync import INBOX_CHANGED, alice, syncing
from tests.support import Connect
from trio_mailsync import cli
from trio_mailsync.core.events import NewMessages
from trio_mailsync.core.model import Address, SyncRequest
from trio_mailsync.stores.sqlite import SQLiteStore
from trio_mailsync.testing import IMAPTestServer, MailStore, sample_message

from .conftest import server_view, store_view

INBOX = SyncRequest(folders=("INBOX",))


def deliver(mail: MailStore, n: int) -> int:
    return mail.deliver(
        "alice", sample_message(n, subject=f"odd {n}", sender="Ann Example <ann@example.com>")
    )


@pytest.mark.parametrize("form", ["quote", "shape"])
async def test_an_unreadable_envelope_costs_nothing_but_its_fields(
    form: Literal["quote", "shape"],
    variant: str,
    plain_connector: Connect,
    store: SQLiteStore,
    mail: MailStore,
    server: IMAPTestServer,
) -> None:
    for n in range(3):
        deliver(mail, n)
    server.behavior.broken_envelopes = {"<m1@example.com>", "<m4@example.com>"}
    # Unreadable when the response is parsed (quote), or only when its envelope is read.
    server.behavior.broken_envelope_form = form
    account = alice()
    async with syncing(account, plain_connector, store) as sync:
        first = await sync(INBOX)
        assert first.ok, first.error
        assert [m.uid for m in first.new_messages] == [1, 2, 3]
        odd = first.new_messages[1]
        assert odd.degraded is not None
        assert "headers from a simpler fetch" in odd.degraded
        assert (odd.subject, odd.sender, odd.message_id) == (
            "odd 1",
            Address("Ann Example", "ann@example.com"),
            "<m1@example.com>",
        )
        assert [m.degraded for m in first.new_messages[::2]] == [None, None]

        # Later mail, one of it odd, by the path an IDLE notification takes.
        fresh = deliver(mail, 3)
        broken = deliver(mail, 4)
        second = await sync(INBOX_CHANGED)
        assert second.ok, second.error
        assert [m.uid for m in second.new_messages] == [fresh, broken]
        assert second.new_messages[1].degraded is not None

        third = await sync(INBOX)
        assert third.ok
        assert third.new_messages == ()
        assert third.round_trips == 1
    assert await store_view(store, account) == server_view(mail, "alice", ["INBOX"])
    stored = {m.uid: m.degraded for m in await store.messages("alice", "INBOX")}
    assert [uid for uid, why in stored.items() if why] == [2, broken]
    events = await store.events_after(0, 100)
    uids = [m.uid for e in events if isinstance(e, NewMessages) for m in e.messages]
    assert uids == [1, 2, 3, fresh, broken], "each reported once"
    # Listed by the CLI, while the store is held.
    config = store.path + ".toml"
    Path(config).write_text('[accounts.alice]\nhost = "h"\nusername = "u"\npassword = "p"\n')
    out, err = io.StringIO(), io.StringIO()
    assert cli.run(["degraded", "--config", config, "--store", store.path], out, err) == 0, err
    rows = out.getvalue().splitlines()[2:]
    assert [row.split()[:3] for row in rows] == [
        ["alice", "INBOX", "2"],
        ["alice", "INBOX", str(broken)],
    ]
    assert all("headers from a simpler fetch" in row for row in rows)


async def test_a_message_no_fetch_can_read_is_kept_by_its_uid(
    variant: str,
    plain_connector: Connect,
    store: SQLiteStore,
    mail: MailStore,
    server: IMAPTestServer,
) -> None:
    for n in range(3):
        deliver(mail, n)
    server.behavior.broken_fetches = {"<m0@example.com>"}
    account = alice()
    async with syncing(account, plain_connector, store) as sync:
        first = await sync(INBOX)
        assert first.ok, first.error
        lost = first.new_messages[0]
        assert (lost.uid, lost.subject, lost.sender) == (1, None, None)
        assert lost.degraded is not None
        assert "nothing more could be read" in lost.degraded
        assert [m.subject for m in first.new_messages[1:]] == ["odd 1", "odd 2"]
        later = deliver(mail, 3)
        second = await sync(INBOX)
        assert [m.uid for m in second.new_messages] == [later]
    assert await store_view(store, account) == server_view(mail, "alice", ["INBOX"])
