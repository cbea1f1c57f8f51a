"""One account's failure is that account's alone: supervision, over the in-memory provider.

Three accounts; faults hit bob only. Alice and carol must keep getting their mail
at once, bob must show ``error`` with the cause, recover once the fault is lifted,
and no message may be reported twice (or not at all).
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import attrs
import pytest
import trio
import trio.testing

from tests.service_support import announced, drain, running_in_memory, wait_for_state
from trio_mailsync.app import open_sync_service
from trio_mailsync.core.config import Config, ServiceSettings
from trio_mailsync.core.events import (
    AccountState,
    AccountStateChanged,
    LoggedEvent,
    NewMessages,
    ServiceEvent,
)
from trio_mailsync.core.model import FolderState, FolderUpdate
from trio_mailsync.core.ports import StateStore
from trio_mailsync.providers.auth import PasswordAuth
from trio_mailsync.providers.imap import Security, imap_account
from trio_mailsync.service import SyncService
from trio_mailsync.service.hub import Subscription
from trio_mailsync.stores.sqlite import SQLiteStore
from trio_mailsync.testing import MemoryMail, MemoryProvider, memory_account

ACCOUNTS = ("alice", "bob", "carol")


class FaultyStore(SQLiteStore):
    """A store whose calls fail for bob while ``failing`` names them."""

    failing: set[str]

    def _check(self, method: str, account: str) -> None:
        if account == "bob" and method in self.failing:
            raise sqlite3.OperationalError("disk I/O error")

    async def folder_states(self, account: str) -> dict[str, FolderState]:
        self._check("folder_states", account)
        return await super().folder_states(account)

    async def apply(
        self, account: str, folder: str, update: FolderUpdate, *, notify_from: float
    ) -> list[LoggedEvent]:
        self._check("apply", account)
        return await super().apply(account, folder, update, notify_from=notify_from)


def config(**settings: float) -> Config:
    return Config(
        accounts=tuple(memory_account(a, notify_from="all") for a in ACCOUNTS),
        service=ServiceSettings(sweep_interval=600, **settings),  # type: ignore[arg-type]
    )


@attrs.define
class Run:
    """Three accounts in the service over the in-memory provider, and what a subscriber saw."""

    service: SyncService
    mail: MemoryMail
    events: Subscription
    seen: list[ServiceEvent] = attrs.field(factory=list)

    async def healthy_accounts_get_their_mail(self, rounds: int = 3) -> None:
        """Mail to alice and carol reaches the subscriber at once, every time."""
        for n in range(rounds):
            for account in ("alice", "carol"):
                delivered = trio.current_time()
                uid = self.mail.deliver(account, subject=f"{account} {n}")
                news = None
                with trio.fail_after(60):
                    async for event in self.events:
                        self.seen.append(event)
                        if isinstance(event, NewMessages) and event.account == account:
                            news = event
                            break
                assert news is not None
                assert [m.uid for m in news.messages] == [uid]
                assert trio.current_time() - delivered < 0.1

    async def bob_recovers(self, within: float = 60) -> None:
        """Once the fault is lifted, bob's next mail brings him back, and a sweep adds nothing."""
        self.mail.deliver("bob", subject="after")
        await wait_for_state(self.service, "bob", AccountState.IDLE, within=within)
        await trio.sleep(700)
        self.seen += drain(self.events)


@asynccontextmanager
async def three_accounts(
    tmp_path: Path, *, store: StateStore | None = None, **settings: float
) -> AsyncIterator[Run]:
    """The service for the block; afterwards, every message was announced exactly once."""
    mail = MemoryMail()
    for account in ACCOUNTS:
        mail.add_account(account)
    provider = MemoryProvider(mail)
    async with running_in_memory(config(**settings), provider, tmp_path, store=store) as service:
        with service.subscribe(10_000) as events:
            run = Run(service, mail, events)
            await wait_for_state(service, "carol", AccountState.IDLE)
            yield run
            run.seen += drain(events)
    reported = announced(run.seen)
    assert len(reported) == len(set(reported)), "a message was reported twice"
    assert set(reported) == {(a, "INBOX", uid) for a in ACCOUNTS for uid in mail.uids(a)}
    others = [e for e in run.seen if isinstance(e, AccountStateChanged) and e.account != "bob"]
    assert AccountState.ERROR not in [e.state for e in others]


@pytest.mark.parametrize("method", ["folder_states", "apply"])
async def test_a_store_error_is_that_account_s_error_only(
    autojump_clock: trio.testing.MockClock, tmp_path: Path, method: str
) -> None:
    store = await FaultyStore.open(tmp_path / "s.sqlite3", inline=True)
    store.failing = set()
    async with three_accounts(tmp_path, store=store) as run:
        store.failing.add(method)
        run.mail.deliver("bob", subject="while failing")
        await wait_for_state(run.service, "bob", AccountState.ERROR, within=60)
        assert "disk I/O error" in (run.service.error("bob") or "")
        await run.healthy_accounts_get_their_mail()
        store.failing.clear()
        await run.bob_recovers()
    bobs = [e for e in run.seen if isinstance(e, NewMessages) and e.account == "bob"]
    assert [m.subject for e in bobs for m in e.messages] == ["while failing", "after"]


async def test_an_unexpected_exception_in_a_sync_is_that_account_s_error_only(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    async with three_accounts(tmp_path) as run:
        run.mail.fail_syncs("bob", ZeroDivisionError("a bug in a provider"))
        run.mail.deliver("bob")
        await wait_for_state(run.service, "bob", AccountState.ERROR, within=60)
        assert "a bug in a provider (ZeroDivisionError)" in (run.service.error("bob") or "")
        await run.healthy_accounts_get_their_mail()
        run.mail.fail_syncs("bob", None)
        await run.bob_recovers()


async def test_a_hung_sync_is_abandoned_and_the_account_recovers(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    async with three_accounts(tmp_path, sync_timeout=120) as run:
        run.mail.hang_syncs("bob")
        hung_at = trio.current_time()
        run.mail.deliver("bob", subject="stuck")
        await run.healthy_accounts_get_their_mail()
        await wait_for_state(run.service, "bob", AccountState.ERROR, within=200)
        assert 120 <= trio.current_time() - hung_at <= 121
        assert "longer than 120 s" in (run.service.error("bob") or "")
        run.mail.hang_syncs("bob", False)
        await run.bob_recovers()


async def test_a_crashing_watcher_restarts_its_account_with_backoff(
    autojump_clock: trio.testing.MockClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with three_accounts(tmp_path) as run:
        run.mail.fail_watch("bob", RuntimeError("the watcher tripped"))
        await wait_for_state(run.service, "bob", AccountState.ERROR, within=60)
        assert run.service.error("bob") == "bob: RuntimeError: the watcher tripped"
        await run.healthy_accounts_get_their_mail()
        await trio.sleep(30)
        # Restarted after 1, 2, 4, 8, 16 s: about five times in the first 30 s, not 30.
        assert 4 <= run.service.statistics().restarts <= 6
        run.mail.fail_watch("bob", None)
        await run.bob_recovers(within=600)
    crashes = [r for r in caplog.records if "restarting it" in r.getMessage()]
    assert crashes
    assert all(r.exc_info is not None for r in crashes)  # logged with its traceback


async def test_a_provider_first_needed_at_runtime_outlives_the_task_that_asked(
    tmp_path: Path,
) -> None:
    # A worker's step (or an HTTP handler) takes on the first account of a kind: the
    # provider, which holds a nursery, was opened in that task, and Trio's task tree
    # was corrupted when the task ended before the service ("Nursery stack corrupted").
    store = await SQLiteStore.open(tmp_path / "s.sqlite3")
    account = imap_account(  # a closed loopback port: it tries, and waits to try again
        "alice",
        host="127.0.0.1",
        port=1,
        username="alice",
        auth=PasswordAuth(password="pw"),
        security=Security.NONE,
        allow_insecure=True,
    )
    try:
        async with open_sync_service(Config(accounts=()), store=store) as service:
            async with trio.open_nursery() as asking:
                asking.start_soon(service.run_account, account)
            assert [a.id for a in service.accounts] == ["alice"]
            await trio.sleep(0.05)  # the account tries to connect, on its own tasks
    finally:
        await store.aclose()
