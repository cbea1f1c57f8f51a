"""The Gmail API provider against the local Gmail-API server: sync, cost, tokens, faults."""

from __future__ import annotations

import logging
import traceback
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from tests.service_support import announced, drain, next_event
from trio_mailsync.app import open_sync_service
from trio_mailsync.core.config import Account, Config, ServiceSettings
from trio_mailsync.core.errors import AuthenticationFailed, ServerBusy
from trio_mailsync.core.events import AccountState, NewMessages, to_json
from trio_mailsync.core.model import SyncRequest
from trio_mailsync.providers.auth import OAuth2Auth
from trio_mailsync.providers.gmail import GmailProvider, gmail_account, open_gmail_provider
from trio_mailsync.providers.gmail import provider as gmail_provider
from trio_mailsync.service import SyncService
from trio_mailsync.stores.sqlite import SQLiteStore
from trio_mailsync.sync import SyncEngine
from trio_mailsync.testing.gmail import (
    GmailFault,
    GmailMail,
    GmailTestServer,
    open_gmail_server,
)

ALICE = "alice@gmail.test"
BASE = "http://gmail.test"


def account(
    account_id: str = "galice",
    *,
    refresh_token: str = "rt-alice",  # noqa: S107 (the testing server's)
    folders: Sequence[str] = ("INBOX", "role:sent", "STARRED"),
    base: str = BASE,
    **settings: Any,
) -> Account:
    return gmail_account(
        account_id,
        auth=OAuth2Auth(token_url=f"{base}/token", client_id="client", refresh_token=refresh_token),
        username=ALICE,
        base_url=base,
        folders=folders,
        notify_from="all",
        **settings,
    )


@pytest.fixture
def gmail() -> GmailMail:
    mail = GmailMail()
    mail.add_user(ALICE, "rt-alice")
    return mail


@pytest.fixture
def gmail_server(gmail: GmailMail) -> GmailTestServer:
    return GmailTestServer(gmail)


@asynccontextmanager
async def provider_on(
    server: GmailTestServer, nursery: trio.Nursery
) -> AsyncIterator[GmailProvider]:
    async with open_gmail_provider(transport=server.transport(nursery)) as provider:
        yield provider


@asynccontextmanager
async def gmail_service(
    server: GmailTestServer,
    nursery: trio.Nursery,
    tmp_path: Path,
    *accounts: Account,
    **settings: Any,
) -> AsyncIterator[SyncService]:
    config = Config(
        accounts=accounts or (account(),),
        service=ServiceSettings(**{"sweep_interval": 86_400, **settings}),
    )
    store = await SQLiteStore.open(tmp_path / "sync.sqlite3", inline=True)
    try:
        async with (
            provider_on(server, nursery) as provider,
            open_sync_service(config, providers={"gmail_api": provider}, store=store) as service,
        ):
            yield service
    finally:
        await store.aclose()


async def until_polling(service: SyncService, account_id: str = "galice") -> None:
    with trio.fail_after(600):
        while (
            service.state(account_id) is not AccountState.POLLING
            or not (await service.account_status(account_id)).attempted
        ):
            await trio.sleep(0.1)


async def test_first_sync_then_new_mail_deletion_and_labels(
    autojump_clock: trio.testing.MockClock,
    gmail: GmailMail,
    gmail_server: GmailTestServer,
    nursery: trio.Nursery,
    tmp_path: Path,
) -> None:
    old = gmail.deliver(ALICE, subject="before the first sync")
    sent = gmail.deliver(ALICE, labels=("SENT",), subject="sent by alice")
    async with gmail_service(gmail_server, nursery, tmp_path) as service:
        with service.subscribe(1000) as events:
            await until_polling(service)
            first = announced(drain(events))
            assert sorted(first) == sorted(
                [("galice", "INBOX", int(old, 16)), ("galice", "SENT", int(sent, 16))]
            )
            new = gmail.deliver(ALICE, subject="after", sender="Bob <bob@example.com>")
            news = await next_event(events, NewMessages, within=120)
            assert [(m.uid, m.subject, m.folder) for m in news.messages] == [
                (int(new, 16), "after", "INBOX")
            ]
            (message,) = news.messages
            assert message.sender is not None
            assert (message.sender.name, message.sender.address) == ("Bob", "bob@example.com")
            assert message.flags == ()  # UNREAD
            assert message.email_id == new
            # Starred: listed in STARRED too, announced once; read: \Seen.
            gmail.relabel(ALICE, new, add=["STARRED"], remove=["UNREAD"])
            await trio.sleep(120)
            assert announced(drain(events)) == []
            stored = await service.store.messages("galice")
            assert {(m.folder, m.uid, m.flags) for m in stored if m.uid == int(new, 16)} == {
                ("INBOX", int(new, 16), ("\\Flagged", "\\Seen")),
                ("STARRED", int(new, 16), ("\\Flagged", "\\Seen")),
            }
            gmail.delete(ALICE, old)
            gmail.relabel(ALICE, new, remove=["INBOX"])  # archived
            await trio.sleep(120)
            stored = await service.store.messages("galice")
            assert {(m.folder, m.uid) for m in stored} == {
                ("SENT", int(sent, 16)),
                ("STARRED", int(new, 16)),
            }


async def test_a_no_change_sync_is_one_request_on_a_kept_connection(
    autojump_clock: trio.testing.MockClock,
    gmail: GmailMail,
    gmail_server: GmailTestServer,
    nursery: trio.Nursery,
    tmp_path: Path,
) -> None:
    gmail.deliver(ALICE)
    async with gmail_service(gmail_server, nursery, tmp_path) as service:
        await until_polling(service)
        before = gmail_server.statistics()
        results = await service.sync_all()
        after = gmail_server.statistics()
        counters = (await service.overview()).counters
    # The provider's own counters reach the overview (and /metrics).
    assert counters["api_calls"] == sum(after.requests.values()) - after.requests["token"]
    assert counters["token_refreshes"] == after.tokens_issued == 1
    assert counters["quota_units"] >= 1 + 1 + 5 + 5 + 2  # labels, profile, list, get, history
    assert counters["api_retries"] == 0
    assert [r.error for r in results] == [None]
    assert sum(after.requests.values()) - sum(before.requests.values()) == 1
    assert after.requests["history"] - before.requests["history"] == 1
    assert after.connections == before.connections
    assert results[0].commands == {"history.list": 1}


async def test_the_token_is_refreshed_before_it_expires_and_only_then(
    autojump_clock: trio.testing.MockClock,
    gmail: GmailMail,
    gmail_server: GmailTestServer,
    nursery: trio.Nursery,
    tmp_path: Path,
) -> None:
    # Ten hours of polling every 60 s with tokens that live an hour: a refresh every
    # 3,300 s (refresh_margin 300 s before the expiry), so 11 in 36,000 s counting the
    # first; never a request with an expired token.
    async with gmail_service(gmail_server, nursery, tmp_path):
        await trio.sleep(10 * 3600)
    stats = gmail_server.statistics()
    assert stats.requests["history"] >= 590
    assert stats.tokens_issued == 11
    assert stats.expired_tokens == 0


async def test_fifty_calls_at_the_expiry_share_one_refresh(
    autojump_clock: trio.testing.MockClock,
    gmail: GmailMail,
    gmail_server: GmailTestServer,
    nursery: trio.Nursery,
) -> None:
    async with provider_on(gmail_server, nursery) as provider:
        api = provider.session(account()).api
        await api.get("users.getProfile", "/profile", cost=1)
        await trio.sleep(3300)  # the token is due
        async with trio.open_nursery() as calls:
            for _ in range(50):
                calls.start_soon(lambda: api.get("users.getProfile", "/profile", cost=1))
    assert gmail_server.statistics().tokens_issued == 2
    assert gmail_server.statistics().requests["profile"] == 51


async def test_a_refused_token_is_refreshed_once_then_the_account_is_auth_failed(
    autojump_clock: trio.testing.MockClock,
    gmail: GmailMail,
    gmail_server: GmailTestServer,
    nursery: trio.Nursery,
) -> None:
    async with provider_on(gmail_server, nursery) as provider:
        api = provider.session(account()).api
        gmail_server.faults.append(GmailFault("401", "/profile"))
        await api.get("users.getProfile", "/profile", cost=1)  # refreshed, retried, fine
        assert gmail_server.statistics().tokens_issued == 2
        gmail_server.faults += [GmailFault("401", "/profile"), GmailFault("401", "/profile")]
        with pytest.raises(AuthenticationFailed, match="refused a fresh access token"):
            await api.get("users.getProfile", "/profile", cost=1)
        calls = gmail_server.statistics().requests["profile"]
        with pytest.raises(AuthenticationFailed):  # not tried again before auth_retry_after
            await api.get("users.getProfile", "/profile", cost=1)
        assert gmail_server.statistics().requests["profile"] == calls
        await trio.sleep(900)
        await api.get("users.getProfile", "/profile", cost=1)


async def test_rate_limits_and_server_errors_are_waited_out(
    autojump_clock: trio.testing.MockClock,
    gmail: GmailMail,
    gmail_server: GmailTestServer,
    nursery: trio.Nursery,
) -> None:
    async with provider_on(gmail_server, nursery) as provider:
        api = provider.session(account()).api
        gmail_server.faults += [
            GmailFault("429", "/profile", retry_after=30),
            GmailFault("403", "/profile"),
            GmailFault("500", "/profile"),
            GmailFault("drop", "/profile"),
        ]
        started = trio.current_time()
        await api.get("users.getProfile", "/profile", cost=1)
        assert trio.current_time() - started >= 30  # Retry-After honoured
        assert api.statistics().retries == 4
        gmail_server.faults += [GmailFault("429", "/profile")] * 5
        with pytest.raises(ServerBusy, match="429"):
            await api.get("users.getProfile", "/profile", cost=1)


async def test_an_expired_history_lists_again_and_announces_only_the_gap(
    autojump_clock: trio.testing.MockClock,
    gmail: GmailMail,
    gmail_server: GmailTestServer,
    nursery: trio.Nursery,
    tmp_path: Path,
) -> None:
    kept = gmail.deliver(ALICE, subject="kept")
    gone = gmail.deliver(ALICE, subject="deleted in the gap")
    async with gmail_service(gmail_server, nursery, tmp_path, poll_interval=86_400) as service:
        with service.subscribe(1000) as events:
            await until_polling(service)
            drain(events)
            gap = gmail.deliver(ALICE, subject="in the gap")
            gmail.delete(ALICE, gone)
            gmail.expire_history(ALICE)
            (result,) = await service.sync_all()
            assert result.error is None
            assert announced(drain(events)) == [("galice", "INBOX", int(gap, 16))]
            stored = {m.uid for m in await service.store.messages("galice")}
            assert stored == {int(kept, 16), int(gap, 16)}


# ------------------------------------------------------------ over loopback TCP, real client

SECRET_REFRESH = "rt-alice-9f8e7d6c5b4a"


async def test_over_tcp_a_no_change_poll_is_one_request_on_the_kept_connection(
    gmail: GmailMail, tmp_path: Path
) -> None:
    gmail.deliver(ALICE)
    async with open_gmail_server(gmail) as (server, url):
        alice = account(base=url)
        store = await SQLiteStore.open(tmp_path / "sync.sqlite3")
        try:
            async with (
                open_gmail_provider([alice]) as provider,
                open_sync_service(
                    Config(accounts=(alice,), service=ServiceSettings(sweep_interval=86_400)),
                    providers={"gmail_api": provider},
                    store=store,
                ) as service,
            ):
                await until_polling(service)
                before = server.statistics()
                for _ in range(3):
                    (result,) = await service.sync_all()
                    assert result.error is None
                after = server.statistics()
        finally:
            await store.aclose()
    assert after.requests - before.requests == Counter({"history": 3})
    assert after.connections == before.connections == 1  # token, labels, API: one connection


async def test_no_token_leaks_into_logs_events_reprs_or_tracebacks(
    gmail: GmailMail, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # httpx and httpcore log each request at DEBUG
    gmail.add_user("bob@gmail.test", "rt-bob-0a1b2c3d4e5f")
    gmail.deliver(ALICE)
    texts: list[str] = []
    async with open_gmail_server(gmail) as (server, url):
        alice = account(base=url, refresh_token=SECRET_REFRESH)
        wrong = account("gbob", base=url, refresh_token="rt-bob-wrong-7e6d5c")
        gmail.users[ALICE].refresh_token = SECRET_REFRESH
        config = Config(accounts=(alice, wrong), service=ServiceSettings(sweep_interval=86_400))
        texts += [repr(alice), str(alice), repr(config)]
        store = await SQLiteStore.open(tmp_path / "sync.sqlite3")
        try:
            async with (
                open_gmail_provider([alice, wrong]) as provider,
                open_sync_service(
                    config, providers={"gmail_api": provider}, store=store
                ) as service,
            ):
                with service.subscribe(1000) as events:
                    await until_polling(service)
                    server.faults += [GmailFault("401", "/history")] * 2  # auth_failed
                    results = await service.sync_all()
                    texts += [r.error or "" for r in results]
                    session = provider.session(alice)
                    texts += [repr(provider), repr(session), repr(session.api)]
                    texts += [repr(session.api.credentials), repr(session.status())]
                    texts += [repr(await service.overview())]
                    texts += [to_json(e) for e in drain(events)]
        finally:
            await store.aclose()
    texts.append(caplog.text)
    texts += [
        "".join(traceback.format_exception(r.exc_info[1])) for r in caplog.records if r.exc_info
    ]
    everything = "\n".join(texts)
    assert "refused a fresh access token" in everything  # the capture did capture
    assert "invalid_grant" in everything  # bob's refresh token was refused
    assert "HTTP Request: GET" in everything  # httpx's own DEBUG lines are in it
    issued = gmail_server_tokens(server)
    assert issued  # some access tokens were issued, and are searched for
    for secret in (SECRET_REFRESH, "rt-bob-wrong-7e6d5c", *issued):
        assert secret not in everything


def gmail_server_tokens(server: GmailTestServer) -> list[str]:
    """Every access token the server issued (its own record of them)."""
    return [f"ya29.test-{n}" for n in range(1, server.statistics().tokens_issued + 1)]


async def test_an_account_refused_twice_shows_auth_failed_until_the_operator_retries(
    autojump_clock: trio.testing.MockClock,
    gmail: GmailMail,
    gmail_server: GmailTestServer,
    nursery: trio.Nursery,
    tmp_path: Path,
) -> None:
    async with gmail_service(gmail_server, nursery, tmp_path) as service:
        await until_polling(service)
        await trio.sleep(1)  # just after a poll: the next is 59 s away
        gmail_server.faults += [GmailFault("401", "/history")] * 2
        started = trio.current_time()
        service.request("galice")
        with trio.fail_after(600):
            while service.state("galice") is not AccountState.AUTH_FAILED:
                await trio.sleep(0.5)
        assert trio.current_time() - started <= 1  # shown at once, not at the next poll
        status = await service.account_status("galice")
        assert status.detail is not None
        assert "refused a fresh access token" in status.detail
        assert status.next_retry is not None
        calls = gmail_server.statistics().requests["history"]
        await trio.sleep(600)  # polls do not call the API meanwhile
        assert gmail_server.statistics().requests["history"] == calls
        assert service.state("galice") is AccountState.AUTH_FAILED
        await service.retry("galice")  # the operator: a fresh session, at once
        await until_polling(service)
        assert gmail_server.statistics().requests["history"] > calls


async def test_a_large_label_is_fetched_newest_first_a_page_a_sync(
    autojump_clock: trio.testing.MockClock,
    gmail: GmailMail,
    gmail_server: GmailTestServer,
    nursery: trio.Nursery,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(gmail_provider, "LIST_PAGE", 10)
    ids = [gmail.deliver(ALICE, subject=f"old {n}") for n in range(25)]
    alice = account(folders=("INBOX",))
    async with (
        provider_on(gmail_server, nursery) as provider,
    ):
        store = await SQLiteStore.open(tmp_path / "sync.sqlite3", inline=True)
        engine = SyncEngine(store)
        session = provider.session(alice)
        first = await engine.sync_account(session)
        # The newest page only, and more to come.
        assert first.commands["messages.get"] == 10
        assert first.more == ("INBOX",)
        assert {m.subject for m in first.new_messages} == {f"old {n}" for n in range(15, 25)}
        new = gmail.deliver(ALICE, subject="new meanwhile")
        second = await engine.sync_account(session, request=SyncRequest(folders=first.more))
        # New mail first (from the history), then the next page of old mail.
        assert second.new_messages[0].subject == "new meanwhile"
        assert second.more == ("INBOX",)
        third = await engine.sync_account(session, request=SyncRequest(folders=second.more))
        assert third.more == ()
        stored = {m.email_id for m in await store.messages("galice")}
        assert stored == {*ids, new}
        announced = [m.email_id or "" for r in (first, second, third) for m in r.new_messages]
        assert sorted(announced) == sorted({*ids, new})  # each once (notify_from = "all")
        await store.aclose()


@pytest.mark.slow  # 7 s of real time: httpx's keep-alive runs on the wall clock
async def test_polls_a_while_apart_keep_their_connection(gmail: GmailMail) -> None:
    gmail.deliver(ALICE)
    async with open_gmail_server(gmail) as (server, url):
        alice = account(base=url)
        async with open_gmail_provider([alice]) as provider:
            api = provider.session(alice).api
            await api.get("users.getProfile", "/profile", cost=1)
            await trio.sleep(7)  # past httpx's default keep-alive (5 s)
            await api.get("users.getProfile", "/profile", cost=1)
    assert server.statistics().connections == 1


async def test_a_backfill_page_token_the_api_refuses_ends_that_backfill_only(
    autojump_clock: trio.testing.MockClock,
    gmail: GmailMail,
    gmail_server: GmailTestServer,
    nursery: trio.Nursery,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(gmail_provider, "LIST_PAGE", 2)
    for n in range(5):
        gmail.deliver(ALICE, subject=f"old {n}")
    async with provider_on(gmail_server, nursery) as provider:
        store = await SQLiteStore.open(tmp_path / "sync.sqlite3", inline=True)
        engine = SyncEngine(store)
        session = provider.session(account(folders=("INBOX",)))
        first = await engine.sync_account(session)
        assert first.more == ("INBOX",)
        gmail_server.faults.append(GmailFault("400", "/messages"))
        second = await engine.sync_account(session)
        assert (second.error, second.more) == (None, ())
        assert "backfill given up" in caplog.text
        assert len(await store.messages("galice")) == 2  # the newest page, and no more
        new = gmail.deliver(ALICE, subject="new")
        third = await engine.sync_account(session)  # the history goes on as before
        assert [m.email_id for m in third.new_messages] == [new]
        await store.aclose()
