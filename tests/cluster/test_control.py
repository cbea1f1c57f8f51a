"""The operator's endpoints in a cluster: a broadcaster's dashboard API asks the workers
through Redis (``cluster.control``). Two workers and a broadcaster in this process, on
the session's Redis and a fresh database; the accounts on the testing IMAP server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Any

import coredis
import httpx
import pytest
import trio

from tests.cluster_support import lease_holders
from trio_mailsync.app import run_broadcaster, run_worker
from trio_mailsync.cluster.control import ClusterControl, ControlServer
from trio_mailsync.cluster.leases import Leases
from trio_mailsync.cluster.worker import Worker
from trio_mailsync.config import parse_account, parse_config
from trio_mailsync.core.config import Config
from trio_mailsync.core.errors import AccountConflict, ConfigError
from trio_mailsync.core.events import AccountState
from trio_mailsync.providers.imap import imap_settings
from trio_mailsync.stores.postgres import PostgresStore
from trio_mailsync.testing import IMAPTestServer, MailStore, sample_message
from trio_mailsync.testing.redis import RedisServer

TOKEN = "control-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PASSWORDS = {"alice": "alice-pw", "bob": "bob-pw", "carol": "carol-pw"}


def imap(port: int, user: str, **more: Any) -> dict[str, Any]:
    return {
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "allow_insecure": True,
        "username": user,
        "password": PASSWORDS[user],
        "notify_from": "all",
        **more,
    }


def carol_table(port: int, **more: Any) -> dict[str, Any]:
    """carol's table as an operator posts it (the password from the environment: a
    secret inline would be kept in the store in clear text, and is refused)."""
    table = imap(port, "carol", password_env="CAROL_PW", **more)
    del table["password"]
    return table


class Setup:
    """Two workers (w1, w2) and a broadcaster over one Redis prefix and one database."""

    def __init__(
        self, mail: MailStore, imap_port: int, redis_port: int, prefix: str, dsn: str
    ) -> None:
        self.mail = mail
        self.imap_port = imap_port
        self.data: dict[str, Any] = {
            "store": {"backend": "postgres", "dsn": dsn},
            "cluster": {
                "redis_url": f"redis://127.0.0.1:{redis_port}",
                "prefix": prefix,
                "lease_ttl": 3,
            },
            "broadcast": {"port": 0, "token": TOKEN},
            "accounts": {user: imap(imap_port, user) for user in ("alice", "bob")},
        }
        self.workers: dict[str, Worker] = {}
        #: Each worker's cancel scope: cancelled, the worker stops (its leases given up).
        self.scopes: dict[str, trio.CancelScope] = {}

    def config(self, name: str) -> Config:
        return parse_config({**self.data, "cluster": {**self.data["cluster"], "name": name}})

    def owner(self, account: str) -> Worker:
        (owner,) = [w for w in self.workers.values() if account in w.held]
        return owner


@pytest.fixture
async def cluster(
    redis_session: RedisServer, redis_prefix: str, postgres_dsn: str
) -> AsyncIterator[tuple[Setup, httpx.AsyncClient]]:
    mail = MailStore()
    for user, password in PASSWORDS.items():
        mail.add_user(user, password)
    async with trio.open_nursery() as nursery:
        port = await nursery.start(IMAPTestServer(mail).serve_tcp)
        setup = Setup(mail, port, redis_session.port, redis_prefix, postgres_dsn)
        for name in ("w1", "w2"):
            scope = setup.scopes[name] = trio.CancelScope()

            async def run_one(
                config: Config, scope: trio.CancelScope, task_status: trio.TaskStatus[Worker]
            ) -> None:
                with scope:
                    await run_worker(config, task_status=task_status)

            setup.workers[name] = await nursery.start(run_one, setup.config(name), scope)
        broadcaster = await nursery.start(run_broadcaster, setup.config("b1"))
        async with httpx.AsyncClient(
            base_url=broadcaster.http_url, headers=AUTH, timeout=20
        ) as http:
            yield setup, http
        nursery.cancel_scope.cancel()


async def until(check: Callable[[], Any], what: str) -> Any:
    """Poll ``check`` (sync or async) until it returns something true (bounded)."""
    with trio.fail_after(20):
        while True:
            found = check()
            if hasattr(found, "__await__"):
                found = await found
            if found:
                return found
            await trio.sleep(0.1)
    raise AssertionError(what)  # pragma: no cover


async def states(http: httpx.AsyncClient) -> dict[str, str]:
    overview = (await http.get("/api/overview")).json()
    return {a["id"]: a["state"] for a in overview["accounts"]}


async def test_the_api_of_a_broadcaster_sees_and_changes_every_workers_accounts(
    cluster: tuple[Setup, httpx.AsyncClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAROL_PW", PASSWORDS["carol"])
    setup, http = cluster
    assert await until(lambda: _all_idle(http, {"alice", "bob"}), "alice and bob idle") == {
        "alice": "idle",
        "bob": "idle",
    }
    overview = (await http.get("/api/overview")).json()
    assert overview["counters"]["workers"] == 2
    assert overview["ready"] is True
    assert {a["source"] for a in overview["accounts"]} == {"config"}
    assert (await http.get("/healthz")).status_code == 200

    # Added through a broadcaster: kept in the store, taken on by a worker at its step.
    created = await http.post("/api/accounts", json={"id": "carol", **carol_table(setup.imap_port)})
    assert created.status_code == 201, created.text
    assert created.json()["source"] == "api"
    await until(lambda: _all_idle(http, {"alice", "bob", "carol"}), "carol idle")
    # A delivery is seen by the worker that runs carol (a sync asked through the API).
    setup.mail.deliver("carol", sample_message(1))
    synced = await http.post("/api/accounts/carol/sync")
    assert synced.status_code == 202
    await until(lambda: _status(http, "carol", lambda a: a["syncs"] >= 2), "carol synced again")

    # Pause goes to the worker that holds alice's lease, and only there.
    paused = await http.post("/api/accounts/alice/pause")
    assert paused.status_code == 200, paused.text
    assert paused.json()["state"] == "paused"
    owner = setup.owner("alice")
    assert owner.service.state("alice") is AccountState.PAUSED
    resumed = await http.post("/api/accounts/alice/resume")
    assert resumed.status_code == 200
    await until(lambda: _all_idle(http, {"alice"}), "alice idle again")
    retried = await http.post("/api/accounts/bob/retry")
    assert retried.status_code == 200

    # What the API refuses, as serve's does.
    assert (await http.delete("/api/accounts/alice")).status_code == 409  # the file's
    assert (await http.post("/api/accounts", json={"id": "bob", "host": "h"})).status_code == 409
    bad = await http.post("/api/accounts", json={"id": "dave", "host": "h"})
    assert bad.status_code == 400
    assert "username" in bad.json()["error"]
    assert (await http.get("/api/accounts/nobody")).status_code == 404
    assert (await http.post("/api/accounts/nobody/pause")).status_code == 404

    # Changed: its worker restarts it; removed: its worker stops it, and it is gone.
    changed = await http.put(
        "/api/accounts/carol", json=carol_table(setup.imap_port, limits={"max_connections": 2})
    )
    assert changed.status_code == 200, changed.text

    def restarted() -> bool:
        running = [a for w in setup.workers.values() for a in w.service.accounts if a.id == "carol"]
        return [imap_settings(a).limits.max_connections for a in running] == [2]

    await until(restarted, "carol restarted with its new limits")
    removed = await http.delete("/api/accounts/carol")
    assert removed.status_code == 200
    await until(
        lambda: all("carol" not in w.held for w in setup.workers.values()), "carol given up"
    )
    assert set(await states(http)) == {"alice", "bob"}
    metrics = (await http.get("/metrics")).text
    assert 'trio_mailsync_accounts{state="idle"} 2.0' in metrics


async def _all_idle(http: httpx.AsyncClient, accounts: set[str]) -> dict[str, str] | None:
    found = {a: s for a, s in (await states(http)).items() if a in accounts}
    return found if found and set(found) == accounts and set(found.values()) == {"idle"} else None


async def _status(
    http: httpx.AsyncClient, account: str, check: Callable[[dict[str, Any]], bool]
) -> bool:
    return check((await http.get(f"/api/accounts/{account}")).json())


async def test_a_worker_that_does_not_answer_is_shown_not_waited_on(
    redis_session: RedisServer,
    redis_prefix: str,
    postgres_dsn: str,
) -> None:
    # "ghost" lives (its heartbeat) and holds alice's lease, but answers nothing: a worker
    # stopped (SIGSTOP) before its lease ran out.
    client: coredis.Redis[str] = coredis.Redis(
        host="127.0.0.1", port=redis_session.port, decode_responses=True
    )
    store = await PostgresStore.open(postgres_dsn, shared=True, connections=1)
    config = parse_config(
        {"accounts": {user: imap(1, user) for user in ("alice", "bob")}},
    )
    try:
        async with client:
            ghost = Leases(client, "ghost", ttl=30, prefix=redis_prefix)
            await ghost.heartbeat()
            assert await ghost.take("alice") is not None
            control = ClusterControl(
                client,
                store,
                prefix=redis_prefix,
                accounts=config.accounts,
                parse=parse_account,
                leases=Leases(client, "b1", ttl=30, prefix=redis_prefix),
                timeout=0.5,
            )
            # Saved by something else than the API (an older version, a hand-made row):
            # the workers cannot run it, and the operator sees why.
            await store.save_account("erin", {"host": "h"})
            with trio.fail_after(5):
                overview = await control.overview()
            rows = {a.id: a for a in overview.accounts}
            assert rows["alice"].detail == "held by worker ghost, which did not answer"
            assert rows["bob"].detail == "waiting for a worker (no lease held)"
            assert (rows["erin"].state, rows["erin"].source) == (AccountState.ERROR, "api")
            assert "accounts.erin.username" in str(rows["erin"].detail)
            await store.save_account("erin", None)
            assert overview.counters["workers_unanswered"] == 1
            assert not overview.ready
            with pytest.raises(AccountConflict, match="ghost did not answer"):
                await control.pause("alice")
            with pytest.raises(AccountConflict, match="no worker runs it"):
                await control.pause("bob")
            with pytest.raises(KeyError):
                await control.pause("nobody")
            with pytest.raises(ConfigError):
                await control.add_account("dave", {"host": "h"})
            assert await store.saved_accounts() == {}
            # The ghost wakes up a minute later: the pause asked then is not done now.
            server = ControlServer(client, _no_service(), worker="ghost", prefix=redis_prefix)
            # And whatever else was pushed on its list is counted, not fallen over on.
            garbage = ["not json", "[1]", '{"op": "explode", "reply": "r", "until": 1e12}']
            garbage.append('{"op": "pause", "reply": "r", "until": "soon"}')
            await client.rpush(f"{redis_prefix}:control:ghost", garbage)
            async with trio.open_nursery() as nursery:
                await nursery.start(server.run)
                with trio.fail_after(5):
                    while server.statistics().expired + server.statistics().malformed < 6:
                        await trio.sleep(0.05)
                nursery.cancel_scope.cancel()
            assert (server.statistics().expired, server.statistics().malformed) == (2, 4)
            assert server.statistics().answered == 0
            assert await lease_holders(client, ["alice"], prefix=redis_prefix) == {"alice": "ghost"}
    finally:
        await store.aclose()


def _no_service() -> Any:
    """A service that fails the test if the control server calls it."""

    class Untouchable:
        def __getattr__(self, name: str) -> Any:
            raise AssertionError(f"the service was asked for {name}")

    return Untouchable()


async def test_the_dashboard_of_a_broadcaster_shows_and_pauses_the_workers_accounts(
    cluster: tuple[Setup, httpx.AsyncClient], browser: Any
) -> None:
    from tests.dashboard_support import click, in_browser, log_in, row_state, tail_lines, wait_for

    setup, http = cluster
    await until(lambda: _all_idle(http, {"alice", "bob"}), "alice and bob idle")
    url = str(http.base_url)
    shown = await in_browser(partial(log_in, browser, url, TOKEN, ["alice", "bob"]))
    assert shown == {"alice": "idle", "bob": "idle"}

    # New mail: from the worker that runs alice, through the stream, to the page.
    setup.mail.deliver("alice", sample_message(7, subject="Seen through the cluster"))

    def delivered() -> list[str]:
        wait_for(browser, lambda d: any("Seen through the cluster" in t for t in tail_lines(d)))
        return tail_lines(browser)

    assert any("alice INBOX: new from" in t for t in await in_browser(delivered))

    def pause_bob() -> str:
        click(browser, 'tr[data-account="bob"] button[data-action="pause"]')
        return str(wait_for(browser, lambda d: row_state(d, "bob") == "paused" and "paused"))

    assert await in_browser(pause_bob) == "paused"
    assert setup.owner("bob").service.state("bob") is AccountState.PAUSED
    assert setup.owner("alice").service.state("alice") is AccountState.IDLE


async def test_a_paused_account_stays_paused_on_its_next_worker(
    cluster: tuple[Setup, httpx.AsyncClient],
) -> None:
    setup, http = cluster
    await until(lambda: _all_idle(http, {"alice", "bob"}), "alice and bob idle")
    assert (await http.post("/api/accounts/bob/pause")).status_code == 200
    first = setup.owner("bob")
    (other,) = [w for w in setup.workers.values() if w is not first]
    setup.scopes[first.name].cancel()  # its worker stops: bob's lease moves on
    await until(lambda: "bob" in other.held, "bob taken on by the other worker")
    assert other.service.state("bob") is AccountState.PAUSED
    assert other.service.session("bob").status().connections == 0
    bob = (await http.get("/api/accounts/bob")).json()
    assert (bob["state"], bob["paused"]) == ("paused", True)
    assert (await http.post("/api/accounts/bob/resume")).status_code == 200
    await until(lambda: _all_idle(http, {"bob"}), "bob idle on its new worker")
