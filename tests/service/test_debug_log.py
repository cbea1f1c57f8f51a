"""At DEBUG the service says what it decides: each folder's plan, merged requests, the
outcome of each sync, and backoff. An operator reads these to see why a sync did what it
did; they must stay quiet (nothing) at the default INFO level."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import trio
import trio.testing

from tests.service_support import (
    plain,
    running,
    service_config,
    wait_for_state,
)
from tests.support import Connect
from trio_mailsync.core.config import Account
from trio_mailsync.core.events import AccountState
from trio_mailsync.testing import MailStore, sample_message


def lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]


async def test_debug_lines_tell_the_plan_the_merges_and_the_outcome(
    autojump_clock: trio.testing.MockClock,
    plain_connector: Connect,
    mail: MailStore,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="trio_mailsync")
    mail.deliver("alice", sample_message(1))
    async with running(
        service_config(plain(), sweep_interval=10_000), plain_connector, tmp_path
    ) as service:
        await wait_for_state(service, "alice", AccountState.IDLE)
        await trio.sleep(1)
        first = lines(caplog)
        caplog.clear()
        # Two requests before the account's loop runs: one sync.
        service.request("alice", "manual")
        service.request("alice", "api")
        await trio.sleep(1)
        again = lines(caplog)
    assert "alice: INBOX: first sync: Examine, UidFetch, Unselect" in first
    assert "alice: Trash: empty, as STATUS says; nothing to fetch" in first
    assert "alice: syncing 6 folders: STATUS for 6 in one write" in first
    # The watcher's catch-up merged into the start-up sweep's: one sync.
    assert "alice: connected merged into the pending sync (a sweep)" in first
    [synced] = [line for line in first if line.startswith("alice: synced (connected) in")]
    assert "3 round trip(s), 6 of 6 folders changed, 1 new" in synced  # LIST, STATUS, FETCH
    assert "alice: api merged into the pending sync (manual)" in again
    assert "alice: INBOX: unchanged since the last sync; nothing to fetch" in again
    [synced] = [line for line in again if line.startswith("alice: synced (manual)")]
    assert "1 round trip(s), 0 of 6 folders changed, 0 new" in synced


async def test_a_refused_connection_logs_its_backoff(
    autojump_clock: trio.testing.MockClock,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def refused(account: Account) -> trio.abc.Stream:
        raise ConnectionRefusedError(111, "Connection refused")

    caplog.set_level(logging.DEBUG, logger="trio_mailsync")
    async with running(service_config(plain()), refused, tmp_path):
        await trio.sleep(120)
    backoff = [line for line in lines(caplog) if "failed attempts in a row; the next in" in line]
    assert backoff
    assert backoff[0].startswith("alice: 1 failed attempts in a row; the next in ")


async def test_nothing_is_logged_at_info_when_nothing_changed(
    autojump_clock: trio.testing.MockClock,
    plain_connector: Connect,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="trio_mailsync")
    async with running(
        service_config(plain(), sweep_interval=60), plain_connector, tmp_path
    ) as service:
        await wait_for_state(service, "alice", AccountState.IDLE)
        caplog.clear()
        await trio.sleep(600)  # ten sweeps
    assert [r.getMessage() for r in caplog.records] == []
