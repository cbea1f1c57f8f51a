"""Helpers for tests of the service: configs, the service over IMAP or in memory, events."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any, Literal, TypeVar

import attrs
import trio

from tests.support import ALICE_PASSWORD, Connect, make_account
from trio_mailsync.app import Running, open_sync_service, serve
from trio_mailsync.core.config import Account, BroadcastSettings, Config, ServiceSettings
from trio_mailsync.core.events import AccountState, NewMessages, ServiceEvent
from trio_mailsync.core.ports import StateStore
from trio_mailsync.providers.auth import Credentials
from trio_mailsync.providers.imap import (
    ImapSession,
    Security,
    WatcherStatistics,
    open_imap_provider,
)
from trio_mailsync.service import SyncService
from trio_mailsync.service.hub import Subscription
from trio_mailsync.stores.sqlite import SQLiteStore
from trio_mailsync.testing import MemoryProvider

BOB_PASSWORD = "bob-password"

E = TypeVar("E", bound=ServiceEvent)


def plain(account_id: str = "alice", *, password: str | None = None, **limits: Any) -> Account:
    """An IMAP account of the testing server, over plain TCP."""
    if password is None:
        password = BOB_PASSWORD if account_id == "bob" else ALICE_PASSWORD
    return make_account(
        account_id, security=Security.NONE, allow_insecure=True, password=password, **limits
    )


def service_config(*accounts: Account, **settings: Any) -> Config:
    return Config(accounts=accounts or (plain(),), service=ServiceSettings(**settings))


@asynccontextmanager
async def running(
    config: Config,
    connector: Connect,
    tmp_path: Path,
    *,
    credentials: Mapping[str, Credentials] | None = None,
) -> AsyncIterator[SyncService]:
    """The service over IMAP (the testing server), with a store that works under MockClock."""
    store = await SQLiteStore.open(tmp_path / "sync.sqlite3", inline=True)
    try:
        async with (
            open_imap_provider(
                config.accounts,
                settings=config.service,
                connector=connector,
                credentials=credentials,
            ) as imap,
            open_sync_service(config, providers={"imap": imap}, store=store) as service,
        ):
            yield service
    finally:
        await store.aclose()


@asynccontextmanager
async def running_in_memory(
    config: Config, provider: MemoryProvider, tmp_path: Path, *, store: StateStore | None = None
) -> AsyncIterator[SyncService]:
    """The service over the in-memory provider, with a store that works under MockClock."""
    if store is None:
        store = await SQLiteStore.open(tmp_path / "sync.sqlite3", inline=True)
    try:
        async with open_sync_service(
            config, providers={"memory": provider}, store=store
        ) as service:
            yield service
    finally:
        await store.aclose()


def watcher_stats(service: SyncService, account: str) -> WatcherStatistics:
    """What an IMAP account's IDLE watcher did."""
    session = service.session(account)
    assert isinstance(session, ImapSession)
    return session.watcher.statistics()


async def wait_for_state(
    service: SyncService, account: str, state: AccountState, *, within: float = 3600
) -> None:
    with trio.fail_after(within):
        while service.state(account) is not state:
            await trio.sleep(0.5)


async def next_event(events: Subscription, kind: type[E], *, within: float = 3600) -> E:
    with trio.fail_after(within):
        async for event in events:
            if isinstance(event, kind):
                return event
    raise AssertionError(f"the stream ended before a {kind.__name__}")


def drain(events: Subscription) -> list[ServiceEvent]:
    """Every event already queued."""
    return events.take_queued()


def announced(events: Sequence[ServiceEvent]) -> list[tuple[str, str, int]]:
    """(account, folder, uid) of every message in these NewMessages events."""
    return [
        (e.account, m.folder, m.uid)
        for e in events
        if isinstance(e, NewMessages)
        for m in e.messages
    ]


def uids_of(event: NewMessages) -> list[int]:
    return [m.uid for m in event.messages]


TOKEN = "s3cret-token-for-tests"
BEARER = [(b"Authorization", b"Bearer " + TOKEN.encode())]


@asynccontextmanager
async def serving(
    connector: Connect, tmp_path: Path, *, accounts: Sequence[Account] = (), **settings: Any
) -> AsyncIterator[Running]:
    """``serve`` (alice and bob by default) on an ephemeral loopback port, for the block."""
    config = attrs.evolve(
        service_config(*(accounts or (plain(), plain("bob"))), sweep_interval=10_000),
        broadcast=BroadcastSettings(port=0, token=TOKEN, **settings),
    )
    store = await SQLiteStore.open(tmp_path / "sync.sqlite3")
    try:
        async with (
            open_imap_provider(
                config.accounts, settings=config.service, connector=connector
            ) as imap,
            trio.open_nursery() as nursery,
        ):
            running = await nursery.start(
                partial(serve, config, providers={"imap": imap}, store=store)
            )
            yield running
            nursery.cancel_scope.cancel()
    finally:
        await store.aclose()


def loopback_account(
    port: int,
    user: str = "alice",
    password: str = ALICE_PASSWORD,
    notify_from: Literal["all"] | None = None,
) -> Account:
    """An IMAP account of a testing server listening on loopback ``port``, plain TCP."""
    return make_account(
        user,
        host="127.0.0.1",
        port=port,
        password=password,
        security=Security.NONE,
        allow_insecure=True,
        notify_from=notify_from,
    )


async def until_served(
    out: io.StringIO, err: io.StringIO, account: str = "alice", within: float = 20
) -> tuple[str, str]:
    """Wait (bounded) until a ``serve`` writing to ``out`` and ``err`` (``cli._serve``)
    shows ``account`` IDLE-ing; the events URL and the made-up token it printed."""
    with trio.fail_after(within):
        while f"{account}: idle" not in out.getvalue():
            await trio.sleep(0.01)
    url = re.search(r"events on (\S+)", err.getvalue())
    token = re.search(r"token \(made up .*\): (\S+)", err.getvalue())
    assert url is not None, err.getvalue()
    assert token is not None, err.getvalue()
    return url[1], token[1]
