"""`trio-mailsync sync` against the testing server on loopback: bounded, and nothing lost."""

from __future__ import annotations

import io
from functools import partial
from pathlib import Path

import pytest
import trio

from tests.service_support import loopback_account
from tests.support import ALICE_PASSWORD
from trio_mailsync import cli
from trio_mailsync.core.config import Config, ServiceSettings
from trio_mailsync.core.events import NewMessages
from trio_mailsync.stores.sqlite import SQLiteStore
from trio_mailsync.testing import (
    CommandInfo,
    IMAPTestServer,
    MailStore,
    Session,
    sample_message,
)


def config(port: int, **service: float) -> Config:
    passwords = {"alice": ALICE_PASSWORD, "bob": "bob-password"}
    return Config(
        accounts=tuple(
            loopback_account(port, user, password, notify_from="all")
            for user, password in passwords.items()
        ),
        service=ServiceSettings(**service),  # type: ignore[arg-type]
    )


@pytest.fixture
def bob_goes_silent(mail: MailStore, server: IMAPTestServer) -> None:
    """Bob's server logs him in, then never answers again."""

    async def hook(s: Session, c: CommandInfo) -> bool:
        if s.user is not None and s.user.name == "bob":
            await s.stall()
        return False

    for n in range(2):
        mail.deliver("alice", sample_message(n, subject=f"for alice {n}"))
        mail.deliver("bob", sample_message(n))
    server.behavior.on_command = hook


async def test_a_server_that_stops_answering_cannot_hang_sync(
    bob_goes_silent: None, server: IMAPTestServer, tmp_path: Path, nursery: trio.Nursery
) -> None:
    # Issue 17, finding 5: connect_timeout bounded the login only, and the command had no
    # sync timeout: it hung for ever. It takes the service's sync_timeout now.
    port = await nursery.start(partial(server.serve_tcp, host="127.0.0.1"))
    out, err = io.StringIO(), io.StringIO()
    started = trio.current_time()
    with trio.fail_after(30):
        status = await cli._sync(
            config(port, sync_timeout=1), tmp_path / "s.sqlite3", 4, False, False, out, err
        )
    assert trio.current_time() - started < 10
    assert status == 1
    assert "bob: error: the sync took longer than 1 s; abandoned" in err.getvalue()
    assert "alice: 2 new" in err.getvalue()
    nursery.cancel_scope.cancel()


async def test_a_stop_never_loses_what_sync_list_had_not_printed(
    bob_goes_silent: None, server: IMAPTestServer, tmp_path: Path, nursery: trio.Nursery
) -> None:
    # Issue 17, finding 6: alice's messages were marked announced when her sync ended, but
    # listed only once every account had ended: a Ctrl-C while bob hung lost them for good.
    port = await nursery.start(partial(server.serve_tcp, host="127.0.0.1"))
    out, err = io.StringIO(), io.StringIO()
    store_path = tmp_path / "s.sqlite3"
    with trio.move_on_after(30) as stop:  # the user's Ctrl-C, while bob still hangs
        command = partial(cli._sync, config(port), store_path, 4, True, False, out, err)
        async with trio.open_nursery() as inner:
            inner.start_soon(command)
            while "[1/2] alice" not in err.getvalue():
                await trio.sleep(0.01)
            await trio.sleep(0.2)
            stop.cancel()
    listed = [line for line in out.getvalue().splitlines() if "for alice" in line]
    store = await SQLiteStore.open(store_path)
    try:
        logged = await store.events_after(0)
    finally:
        await store.aclose()
    # Listed as alice's sync ended, and in the log for `serve` and its clients.
    assert len(listed) == 2
    assert [(e.account, len(e.messages)) for e in logged if isinstance(e, NewMessages)] == [
        ("alice", 2)
    ]
    nursery.cancel_scope.cancel()
