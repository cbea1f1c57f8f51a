"""The operator's endpoints on the broadcaster's port: health, metrics, the JSON API, and
accounts added, changed, paused and removed while the others keep their connections."""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
import trio
import trustme
from prometheus_client.parser import text_string_to_metric_families
from trio_websocket import open_websocket_url

from tests.service_support import BEARER, TOKEN, plain, service_config, serving
from tests.support import Connect
from trio_mailsync.app import Running
from trio_mailsync.core.events import AccountState
from trio_mailsync.sinks import websocket
from trio_mailsync.testing import IMAPTestServer, MailStore, sample_message

AUTH = {"Authorization": f"Bearer {TOKEN}"}
CAROL_PASSWORD = "carol-password"


def carol_table(**more: Any) -> dict[str, Any]:
    """The JSON an operator posts to add carol (her password in an environment variable)."""
    return {
        "id": "carol",
        "host": "imap.test",
        "username": "carol",
        "password_env": "CAROL_PASSWORD",
        "security": "none",
        "allow_insecure": True,
        "notify_from": "all",
        **more,
    }


@pytest.fixture
def carol(mail: MailStore, monkeypatch: pytest.MonkeyPatch) -> None:
    mail.add_user("carol", CAROL_PASSWORD)
    monkeypatch.setenv("CAROL_PASSWORD", CAROL_PASSWORD)


@asynccontextmanager
async def client(running: Running) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=running.broadcaster.http_url, timeout=10) as http:
        yield http


async def until_state(running: Running, account: str, state: AccountState) -> None:
    with trio.fail_after(10):
        while account not in {a.id for a in running.service.accounts} or (
            running.service.state(account) is not state
        ):
            await trio.sleep(0.01)


def metrics(text: str) -> dict[str, float]:
    """Every sample of a Prometheus text page, by name and labels."""
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return samples


async def test_everything_but_the_page_wants_the_token(
    plain_connector: Connect, tmp_path: Path
) -> None:
    async with serving(plain_connector, tmp_path) as running, client(running) as http:
        for path in ("/healthz", "/metrics", "/api/accounts", "/api/overview"):
            refused = await http.get(path)
            assert refused.status_code == 401, path
            assert refused.headers["www-authenticate"].startswith("Bearer")
            wrong = await http.get(path, headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 401, path
            assert TOKEN not in wrong.text
        page = await http.get("/")
        assert page.status_code == 200
        assert "text/html" in page.headers["content-type"]
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert TOKEN not in page.text
        assert (await http.get("/dashboard.js")).status_code == 200
        assert (await http.get("/nothing-here", headers=AUTH)).status_code == 404


async def test_open_endpoints_serve_health_and_metrics_without_the_token(
    plain_connector: Connect, tmp_path: Path
) -> None:
    async with (
        serving(plain_connector, tmp_path, open_endpoints=("healthz", "metrics")) as running,
        client(running) as http,
    ):
        assert (await http.get("/metrics")).status_code == 200
        assert (await http.get("/healthz")).status_code in (200, 503)
        assert (await http.get("/api/accounts")).status_code == 401


async def test_healthz_is_ready_once_every_account_had_a_sync(
    plain_connector: Connect, tmp_path: Path
) -> None:
    async with serving(plain_connector, tmp_path) as running, client(running) as http:
        health = (await http.get("/healthz", headers=AUTH)).json()
        assert set(health["accounts"]) == {"alice", "bob"}
        with trio.fail_after(10):
            while (answer := await http.get("/healthz", headers=AUTH)).status_code != 200:
                assert answer.status_code == 503
                assert answer.json()["status"] == "starting"
                await trio.sleep(0.01)
        assert answer.json()["status"] == "ready"
        assert all(a["attempted"] for a in answer.json()["accounts"].values())


async def test_metrics_parse_and_move_with_a_sync_and_a_delivery(
    plain_connector: Connect, mail: MailStore, tmp_path: Path
) -> None:
    async with serving(plain_connector, tmp_path) as running, client(running) as http:
        await until_state(running, "alice", AccountState.IDLE)
        await until_state(running, "bob", AccountState.IDLE)
        with trio.fail_after(10):
            while not (await http.get("/healthz", headers=AUTH)).is_success:
                await trio.sleep(0.01)
        before = metrics((await http.get("/metrics", headers=AUTH)).text)
        assert before["trio_mailsync_account_state{account=alice,state=idle}"] == 1
        assert before["trio_mailsync_accounts{state=idle}"] == 2
        assert before["trio_mailsync_connections_open"] == 2  # one per account, shared
        assert before["trio_mailsync_syncs_total"] >= 2
        assert before["trio_mailsync_new_mail_latency_seconds_count"] == 0
        mail.deliver("alice", sample_message(1))
        with trio.fail_after(10):
            while True:
                after = metrics((await http.get("/metrics", headers=AUTH)).text)
                if after["trio_mailsync_new_mail_latency_seconds_count"] == 1:
                    break
                await trio.sleep(0.01)
        assert after["trio_mailsync_syncs_total"] > before["trio_mailsync_syncs_total"]
        assert (
            after["trio_mailsync_events_logged_total"] > before["trio_mailsync_events_logged_total"]
        )
        assert (
            after["trio_mailsync_sync_duration_seconds_count"] == after["trio_mailsync_syncs_total"]
        )
        assert after["trio_mailsync_new_mail_latency_seconds_bucket{le=+Inf}"] == 1
        assert after["trio_mailsync_connections_opened_total"] == 2  # nothing new opened
        overview = (await http.get("/api/overview", headers=AUTH)).json()
        assert len(overview["recent_latency"]) == 1
        (alice,) = [a for a in overview["accounts"] if a["id"] == "alice"]
        assert alice["messages_today"] == 1
        assert (alice["state"], alice["connections"]) == ("idle", 1)


async def test_an_account_added_and_removed_at_runtime_leaves_the_others_connected(
    plain_connector: Connect, server: IMAPTestServer, mail: MailStore, carol: None, tmp_path: Path
) -> None:
    async with serving(plain_connector, tmp_path) as running, client(running) as http:
        service = running.service
        await until_state(running, "alice", AccountState.IDLE)
        await until_state(running, "bob", AccountState.IDLE)
        opened = {
            a: service.session(a).status().counters["connections_opened"] for a in ("alice", "bob")
        }
        added = await http.post("/api/accounts", headers=AUTH, json=carol_table())
        assert added.status_code == 201, added.text
        assert added.json()["source"] == "api"
        await until_state(running, "carol", AccountState.IDLE)
        mail.deliver("carol", sample_message(3))
        with trio.fail_after(10):
            while not await service.store.messages("carol", "INBOX"):
                await trio.sleep(0.01)
        again = await http.post("/api/accounts", headers=AUTH, json=carol_table())
        assert again.status_code == 409
        logouts = server.statistics().commands.get("LOGOUT", 0)
        removed = await http.delete("/api/accounts/carol", headers=AUTH)
        assert removed.status_code == 200, removed.text
        assert "carol" not in {a.id for a in service.accounts}
        assert server.statistics().commands.get("LOGOUT", 0) == logouts + 1  # carol's one
        assert (await http.get("/api/accounts/carol", headers=AUTH)).status_code == 404
        # The others never noticed: same connections, still IDLE-ing.
        for account in ("alice", "bob"):
            assert (
                service.session(account).status().counters["connections_opened"] == opened[account]
            )
            assert service.state(account) is AccountState.IDLE


async def test_the_api_refuses_what_it_must(
    plain_connector: Connect, carol: None, tmp_path: Path
) -> None:
    async with serving(plain_connector, tmp_path) as running, client(running) as http:
        inline = carol_table(password=CAROL_PASSWORD)
        del inline["password_env"]
        refused = await http.post("/api/accounts", headers=AUTH, json=inline)
        assert refused.status_code == 400
        assert "accounts.carol.password" in refused.json()["error"]
        assert CAROL_PASSWORD not in refused.text
        bad = await http.post("/api/accounts", headers=AUTH, json=carol_table(port="x"))
        assert bad.status_code == 400
        assert "accounts.carol.port" in bad.json()["error"]
        not_json = await http.post("/api/accounts", headers=AUTH, content=b"{")
        assert not_json.status_code == 400
        no_id = await http.post("/api/accounts", headers=AUTH, json={"host": "h"})
        assert no_id.status_code == 400
        from_file = await http.put("/api/accounts/alice", headers=AUTH, json=carol_table())
        assert from_file.status_code == 409
        assert "config file" in from_file.json()["error"]
        assert (await http.delete("/api/accounts/alice", headers=AUTH)).status_code == 409
        assert (await http.post("/api/accounts/nobody/sync", headers=AUTH)).status_code == 404
        assert (await http.post("/api/accounts/alice/explode", headers=AUTH)).status_code == 404
        assert (await http.get("/api/accounts/alice/sync", headers=AUTH)).status_code == 405


async def test_sync_pause_resume_and_retry_from_the_api(
    plain_connector: Connect, tmp_path: Path
) -> None:
    async with serving(plain_connector, tmp_path) as running, client(running) as http:
        service = running.service
        await until_state(running, "alice", AccountState.IDLE)
        async with open_websocket_url(running.broadcaster.url, extra_headers=BEARER) as ws:
            assert json.loads(await ws.get_message())["type"] == "hello"
            asked = await http.post("/api/accounts/alice/sync", headers=AUTH)
            assert asked.status_code == 202
            with trio.fail_after(10):
                while True:
                    event = json.loads(await ws.get_message())
                    if event["type"] == "sync_result" and event["trigger"] == "manual":
                        break
            assert [r["account"] for r in event["results"]] == ["alice"]
        paused = await http.post("/api/accounts/alice/pause", headers=AUTH)
        assert paused.json()["state"] == "paused"
        assert paused.json()["connections"] == 0
        assert service.state("alice") is AccountState.PAUSED
        assert (await http.post("/api/accounts/alice/sync", headers=AUTH)).status_code == 409
        assert service.state("bob") is AccountState.IDLE
        await http.post("/api/accounts/alice/resume", headers=AUTH)
        await until_state(running, "alice", AccountState.IDLE)
        opened = service.session("alice").status().counters["connections_opened"]
        assert opened == 1  # a fresh session: its own count
        retried = await http.post("/api/accounts/alice/retry", headers=AUTH)
        assert retried.status_code == 200
        await until_state(running, "alice", AccountState.IDLE)


async def test_an_account_left_in_auth_failed_is_retried_at_once(
    plain_connector: Connect, mail: MailStore, tmp_path: Path
) -> None:
    wrong = plain("alice", password="wrong")
    async with serving(plain_connector, tmp_path, accounts=[wrong, plain("bob")]) as running:
        await until_state(running, "alice", AccountState.AUTH_FAILED)
        status = (await running.service.overview()).accounts[0]
        assert status.next_retry is not None  # when the pool would try again (15 min)
        assert status.detail is not None
        assert "alice" in status.detail
        mail.add_user("alice", "wrong")  # the server now takes that password
        async with client(running) as http:
            await http.post("/api/accounts/alice/retry", headers=AUTH)
        await until_state(running, "alice", AccountState.IDLE)


async def test_accounts_added_at_runtime_run_again_after_a_restart(
    plain_connector: Connect, carol: None, tmp_path: Path
) -> None:
    async with serving(plain_connector, tmp_path) as running, client(running) as http:
        assert (await http.post("/api/accounts", headers=AUTH, json=carol_table())).is_success
        await until_state(running, "carol", AccountState.IDLE)
    async with serving(plain_connector, tmp_path) as running:
        assert [a.id for a in running.service.accounts] == ["alice", "bob", "carol"]
        await until_state(running, "carol", AccountState.IDLE)
        async with client(running) as http:
            assert (await http.delete("/api/accounts/carol", headers=AUTH)).is_success
    async with serving(plain_connector, tmp_path) as running:
        assert [a.id for a in running.service.accounts] == ["alice", "bob"]


async def test_a_pause_outlives_a_restart_until_resumed(
    plain_connector: Connect, tmp_path: Path
) -> None:
    async with serving(plain_connector, tmp_path) as running, client(running) as http:
        await until_state(running, "alice", AccountState.IDLE)
        assert (await http.post("/api/accounts/alice/pause", headers=AUTH)).is_success
    async with serving(plain_connector, tmp_path) as running, client(running) as http:
        await until_state(running, "bob", AccountState.IDLE)
        alice = (await http.get("/api/accounts/alice", headers=AUTH)).json()
        assert (alice["state"], alice["paused"], alice["connections"]) == ("paused", True, 0)
        assert alice["counters"].get("connections_opened", 0) == 0  # never connected
        assert (await http.post("/api/accounts/alice/resume", headers=AUTH)).is_success
        await until_state(running, "alice", AccountState.IDLE)
    async with serving(plain_connector, tmp_path) as running:
        await until_state(running, "alice", AccountState.IDLE)  # resumed for good


async def test_a_paused_account_changed_through_the_api_stays_paused(
    plain_connector: Connect, carol: None, tmp_path: Path
) -> None:
    async with serving(plain_connector, tmp_path) as running, client(running) as http:
        assert (await http.post("/api/accounts", headers=AUTH, json=carol_table())).is_success
        await until_state(running, "carol", AccountState.IDLE)
        assert (await http.post("/api/accounts/carol/pause", headers=AUTH)).is_success
        changed = carol_table(folders=["INBOX", "Archive"])
        del changed["id"]
        assert (await http.put("/api/accounts/carol", headers=AUTH, json=changed)).is_success
        assert running.service.state("carol") is AccountState.PAUSED
        assert (await http.post("/api/accounts/carol/resume", headers=AUTH)).is_success
        await until_state(running, "carol", AccountState.IDLE)
        assert [a.folders for a in running.service.accounts if a.id == "carol"] == [
            ("INBOX", "Archive")
        ]


async def test_a_reload_restarts_only_the_accounts_that_changed(
    plain_connector: Connect, carol: None, tmp_path: Path
) -> None:
    async with serving(plain_connector, tmp_path) as running:
        service = running.service
        for account in ("alice", "bob"):
            await until_state(running, account, AccountState.IDLE)
        alice = service.session("alice")
        changed_bob = attrs.evolve(plain("bob"), folders=("INBOX", "Sent"))
        added = plain("carol", password=CAROL_PASSWORD)
        done = await service.reload(service_config(plain("alice"), changed_bob, added))
        assert done == {"added": ["carol"], "removed": [], "changed": ["bob"]}
        assert service.session("alice") is alice  # untouched, same connection
        assert alice.status().counters["connections_opened"] == 1
        await until_state(running, "carol", AccountState.IDLE)
        await until_state(running, "bob", AccountState.IDLE)
        assert service.session("bob").account.folders == ("INBOX", "Sent")
        done = await service.reload(service_config(plain("alice")))
        assert done == {"added": [], "removed": ["bob", "carol"], "changed": []}
        assert [a.id for a in service.accounts] == ["alice"]
        assert service.session("alice") is alice


async def test_plain_http_and_websockets_share_the_port_and_bad_requests_get_400(
    plain_connector: Connect, tmp_path: Path
) -> None:
    async with serving(plain_connector, tmp_path) as running:
        stream = await trio.open_tcp_stream("127.0.0.1", running.broadcaster.port)
        async with stream:
            await stream.send_all(b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")
            with trio.fail_after(10):
                answer = await stream.receive_some(4096)
            assert answer.startswith(b"HTTP/1.1 400 ")
        async with client(running) as http:
            # Keep-alive: several requests on one connection.
            for _ in range(3):
                assert (await http.get("/api/accounts", headers=AUTH)).status_code == 200
        async with open_websocket_url(running.broadcaster.url, extra_headers=BEARER) as ws:
            assert json.loads(await ws.get_message())["type"] == "hello"


async def test_with_a_certificate_the_port_speaks_wss_and_https_only(
    plain_connector: Connect, tmp_path: Path, ca: trustme.CA
) -> None:
    cert = ca.issue_cert("127.0.0.1")
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    trusting = ssl.create_default_context()
    ca.configure_trust(trusting)
    async with serving(
        plain_connector, tmp_path, cert_file=cert_file, key_file=key_file
    ) as running:
        assert running.broadcaster.url.startswith("wss://")
        assert running.broadcaster.http_url.startswith("https://")
        async with open_websocket_url(
            running.broadcaster.url, ssl_context=trusting, extra_headers=BEARER
        ) as ws:
            assert json.loads(await ws.get_message())["type"] == "hello"
        async with httpx.AsyncClient(
            base_url=running.broadcaster.http_url, verify=trusting, timeout=10
        ) as http:
            assert (await http.get("/api/accounts", headers=AUTH)).status_code == 200
        # It is the certificate given: a client that does not trust its CA refuses it ...
        untrusting = await trio.open_ssl_over_tcp_stream(
            "127.0.0.1", running.broadcaster.port, ssl_context=ssl.create_default_context()
        )
        with pytest.raises(trio.BrokenResourceError) as refused:
            await untrusting.do_handshake()
        assert isinstance(refused.value.__cause__, ssl.SSLCertVerificationError)
        await trio.aclose_forcefully(untrusting)
        # ... and a client speaking plain HTTP to the TLS port gets no answer in clear.
        stream = await trio.open_tcp_stream("127.0.0.1", running.broadcaster.port)
        async with stream:
            await stream.send_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            with trio.fail_after(10):
                answer = await stream.receive_some(4096)
            assert not answer.startswith(b"HTTP/1.1 ")


async def test_a_kept_alive_http_connection_outlives_the_handshake_timeout(
    plain_connector: Connect, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The handshake's bound is for reading the first request; a dashboard's connection,
    # kept alive between fetches, is bounded by HTTP_CONNECTION_TIMEOUT instead.
    monkeypatch.setattr(websocket, "HANDSHAKE_TIMEOUT", 0.2)
    async with serving(plain_connector, tmp_path) as running:
        stream = await trio.open_tcp_stream("127.0.0.1", running.broadcaster.port)
        async with stream:
            for _ in range(2):
                await stream.send_all(
                    b"GET /api/accounts HTTP/1.1\r\nHost: x\r\n"
                    b"Authorization: Bearer " + TOKEN.encode() + b"\r\n\r\n"
                )
                with trio.fail_after(10):
                    answer = await stream.receive_some(65536)
                assert answer.startswith(b"HTTP/1.1 200 "), answer[:100]
                await trio.sleep(0.5)
