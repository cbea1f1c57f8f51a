"""Webhooks against a receiver on loopback that fails, stalls, throttles and restarts.

Real sockets and httpx, so these run on the real clock with short retry delays.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio

from tests.service_support import next_event, running_in_memory, wait_for_state
from trio_mailsync import cli
from trio_mailsync.app import serve
from trio_mailsync.config import parse_config
from trio_mailsync.core.config import BroadcastSettings, Config, ServiceSettings, WebhookSettings
from trio_mailsync.core.errors import ConfigError
from trio_mailsync.core.events import AccountState, DeliveryFailed, LoggedEvent
from trio_mailsync.service import SyncService
from trio_mailsync.sinks.webhooks import WebhookSink, _retry_after, sign
from trio_mailsync.stores.sqlite import SQLiteStore
from trio_mailsync.testing import MemoryMail, MemoryProvider, memory_account
from trio_mailsync.testing.receiver import Answer, WebhookReceiver

SECRET = "webhook-secret-for-tests"


@attrs.define
class Setup:
    service: SyncService
    mail: MemoryMail
    receiver: WebhookReceiver
    port: int
    path: Path
    nursery: trio.Nursery
    receiver_scope: trio.CancelScope = attrs.field(factory=trio.CancelScope)

    async def serve_receiver(
        self, receiver: WebhookReceiver, port: int, *, task_status: trio.TaskStatus[int]
    ) -> None:
        """Serve ``receiver`` until ``receiver_scope`` is cancelled (a fresh scope each time)."""
        with trio.CancelScope() as self.receiver_scope:
            await receiver.serve(port, task_status=task_status)

    def hook(self, **settings: Any) -> WebhookSettings:
        values: dict[str, Any] = {
            "name": "test",
            "url": f"http://127.0.0.1:{self.port}/hook",
            "secret": SECRET,
            "timeout": 2.0,
            "retry_initial": 0.01,
            "retry_max": 0.2,
        }
        values.update(settings)
        return WebhookSettings(**values)

    async def start(self, sink: WebhookSink) -> trio.CancelScope:
        """Run the sink until the returned scope is cancelled."""

        async def run(*, task_status: trio.TaskStatus[trio.CancelScope]) -> None:
            async with trio.open_nursery() as nursery:
                await nursery.start(partial(sink.run, self.service))
                task_status.started(nursery.cancel_scope)

        scope: trio.CancelScope = await self.nursery.start(run)
        return scope

    async def logged(self) -> list[LoggedEvent]:
        return await self.service.store.events_after(0, 100_000)

    async def caught_up(self, sink: WebhookSink, events: int = 1) -> list[LoggedEvent]:
        """Once at least ``events`` are logged and the sink's cursor is past them all."""
        with trio.fail_after(20):
            while True:
                logged = await self.logged()
                if len(logged) >= events and sink.stats.position >= logged[-1].id:
                    return logged
                await trio.sleep(0.05)

    def deliver(self, count: int) -> None:
        for n in range(count):
            self.mail.deliver("alice" if n % 2 else "bob", subject=f"m{n}")


@asynccontextmanager
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    mail = MemoryMail()
    for account in ("alice", "bob"):
        mail.add_account(account)
    config = Config(
        accounts=(memory_account("alice"), memory_account("bob")),
        service=ServiceSettings(sweep_interval=600),
    )
    receiver = WebhookReceiver(SECRET)
    path = tmp_path / "s.sqlite3"
    store = await SQLiteStore.open(path)
    async with (
        running_in_memory(config, MemoryProvider(mail), tmp_path, store=store) as service,
        trio.open_nursery() as nursery,
    ):
        await wait_for_state(service, "bob", AccountState.IDLE, within=10)
        s = Setup(service, mail, receiver, 0, path, nursery)
        s.port = await nursery.start(s.serve_receiver, receiver, 0)
        yield s
        nursery.cancel_scope.cancel()


def assert_in_order_each_once(ids: list[int], expected: list[int]) -> None:
    """First occurrences in increasing order, and exactly the expected ids (retries repeat)."""
    first = list(dict.fromkeys(ids))
    assert first == sorted(first), "out of order"
    assert first == expected


async def test_events_arrive_signed_in_order_and_batched(tmp_path: Path) -> None:
    async with setup(tmp_path) as s:
        sink = WebhookSink(s.hook())
        await s.start(sink)
        s.deliver(20)
        await s.caught_up(sink, 2)
        s.mail.set_flags("bob", 1, ["\\Seen"])
        s.mail.expunge("alice", 2)
        logged = await s.caught_up(sink, 4)
        assert all(d.verified for d in s.receiver.deliveries)
        assert all(d.headers["content-type"] == "application/json" for d in s.receiver.deliveries)
        assert_in_order_each_once(s.receiver.event_ids(), [e.id for e in logged])
        kinds = {e["type"] for e in s.receiver.accepted_events()}
        assert kinds == {"new_messages", "flags_changed", "messages_deleted"}
        assert sink.statistics().delivered == len(logged)


async def test_every_event_arrives_through_failures_stalls_and_throttling(tmp_path: Path) -> None:
    async with setup(tmp_path) as s:
        sink = WebhookSink(s.hook(timeout=0.5, batch_size=3))
        await s.start(sink)
        s.receiver.script(
            Answer(status=500),
            Answer(status=503),
            Answer(status=429, retry_after="1"),
            Answer(drop=True),
            Answer(delay=1.0),  # past the timeout: answered 200, but too late
            Answer(status=502),
        )
        s.deliver(6)
        await trio.sleep(0.2)
        s.deliver(6)
        await trio.sleep(0.5)
        logged = await s.caught_up(sink)
        throttled = next(d for d in s.receiver.deliveries if d.answer.status == 429)
        after = [d for d in s.receiver.deliveries if d.time > throttled.time]
        assert after[0].time - throttled.time >= 0.2  # Retry-After, cut to retry_max
        assert sink.statistics().retries == 6
        assert sink.statistics().failed == 0
        assert_in_order_each_once(s.receiver.event_ids(), [e.id for e in logged])
        assert all(d.verified for d in s.receiver.deliveries)
        attempts = [int(d.headers["x-mailsync-attempt"]) for d in s.receiver.deliveries]
        assert max(attempts) >= 2


async def test_a_receiver_that_restarts_misses_nothing(tmp_path: Path) -> None:
    async with setup(tmp_path) as s:
        sink = WebhookSink(s.hook(retry_max=0.1, max_attempts=1000))
        await s.start(sink)
        first = s.receiver
        s.deliver(4)
        await first.wait_for_events(1, within=10)
        s.receiver_scope.cancel()  # down: connections to its port are refused
        await trio.sleep(0.1)
        s.deliver(4)
        await trio.sleep(0.5)
        assert sink.statistics().retries > 0
        second = WebhookReceiver(SECRET)
        await s.nursery.start(s.serve_receiver, second, s.port)
        logged = await s.caught_up(sink)
        ids = first.event_ids() + second.event_ids()
        assert_in_order_each_once(ids, [e.id for e in logged])


async def test_a_webhook_resumes_from_its_cursor_after_a_stop(tmp_path: Path) -> None:
    async with setup(tmp_path) as s:
        sink = WebhookSink(s.hook())
        scope = await s.start(sink)
        s.deliver(3)
        await s.caught_up(sink, 2)  # (stopped in the middle of a POST, a batch is sent again)
        scope.cancel()
        await trio.sleep(0.1)
        s.deliver(5)  # while the webhook is stopped
        await trio.sleep(0.3)
        sink = WebhookSink(s.hook())
        await s.start(sink)
        logged = await s.logged()
        await s.receiver.wait_for_events(len(logged), within=10)
        assert_in_order_each_once(s.receiver.event_ids(), [e.id for e in logged])
        assert len(s.receiver.event_ids()) == len(logged), "nothing sent twice"


async def test_a_batch_is_given_up_after_max_attempts_visibly_and_the_rest_goes_on(
    tmp_path: Path,
) -> None:
    async with setup(tmp_path) as s:
        sink = WebhookSink(s.hook(max_attempts=3, batch_size=1))
        with s.service.subscribe(100) as events:
            await s.start(sink)
            s.receiver.script(Answer(status=500), Answer(status=500), Answer(status=500))
            s.deliver(1)
            event = await next_event(events, DeliveryFailed, within=10)
            assert event.consumer == "webhook:test"
            assert "HTTP 500" in event.error
            assert "attempt 3" in event.error
            s.receiver.script(Answer(status=400))  # refused: given up at once
            s.deliver(1)
            event = await next_event(events, DeliveryFailed, within=10)
            assert "attempt 1: HTTP 400" in event.error
            s.deliver(1)
            logged = await s.caught_up(sink, 3)
        failures = await s.service.store.failures("webhook:test")
        assert [f[1] for f in failures] == [e.id for e in logged[:2]]
        assert s.receiver.event_ids() == [logged[-1].id]
        assert sink.statistics().failed == 2
        assert s.service.statistics().gave_up == 2


async def test_filters_choose_event_types_and_accounts(tmp_path: Path) -> None:
    async with setup(tmp_path) as s:
        sink = WebhookSink(s.hook(events=frozenset({"new_messages"}), accounts=frozenset({"bob"})))
        await s.start(sink)
        s.deliver(4)
        await s.caught_up(sink, 2)
        s.mail.set_flags("bob", 1, ["\\Seen"])
        logged = await s.caught_up(sink, 3)
        chosen = [e.id for e in logged if e.account == "bob" and type(e).__name__ == "NewMessages"]
        assert s.receiver.event_ids() == chosen
        assert chosen


def test_the_signature_recipe() -> None:
    body = b'{"webhook":"x","events":[]}'
    assert sign(SECRET, 1796200000, body) == sign(SECRET, 1796200000, body)
    assert sign(SECRET, 1796200000, body) != sign(SECRET, 1796200001, body)
    receiver = WebhookReceiver(SECRET)
    now = int(time.time())
    headers = {"x-mailsync-timestamp": str(now), "x-mailsync-signature": sign(SECRET, now, body)}
    assert receiver.verify(headers, body)
    assert not receiver.verify(headers, body + b" ")
    old = {"x-mailsync-timestamp": "1000", "x-mailsync-signature": sign(SECRET, 1000, body)}
    assert not receiver.verify(old, body)


def test_retry_after_reads_seconds_and_dates() -> None:
    assert _retry_after("7") == 7.0
    assert _retry_after(None) is None
    assert _retry_after("soon") is None
    assert _retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


BASE = {"accounts": {"a": {"host": "imap.example.com", "username": "u", "password": "p"}}}


def config_with(**hook: Any) -> dict[str, Any]:
    return {**BASE, "webhooks": [hook]}


@pytest.mark.parametrize(
    ("hook", "key", "message"),
    [
        ({"secret": "s"}, "webhooks[0].url", "is missing"),
        ({"url": "https://h.example/x"}, "webhooks[0].secret", "is missing"),
        ({"url": "ftp://h.example/x", "secret": "s"}, "webhooks[0].url", "http:// or https://"),
        ({"url": "http://h.example/x", "secret": "s"}, "webhooks[0].url", "allow_insecure"),
        ({"url": "https://u:p@h.example/", "secret": "s"}, "webhooks[0].url", "credentials"),
        (
            {"url": "https://h.example/", "secret": "s", "events": ["new_mail"]},
            "webhooks[0].events[0]",
            "unknown event type 'new_mail'",
        ),
        (
            {"url": "https://h.example/", "secret": "s", "accounts": ["b"]},
            "webhooks[0].accounts[0]",
            "no account 'b'",
        ),
        (
            {"url": "https://h.example/", "secret": "s", "retry_initial": 5, "retry_max": 1},
            "webhooks[0].retry_max",
            "at least retry_initial",
        ),
        (
            {"url": "https://h.example/", "secret": "s", "colour": 1},
            "webhooks[0].colour",
            "unknown",
        ),
    ],
)
def test_webhook_config_errors_name_the_key(hook: dict[str, Any], key: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(config_with(**hook))
    assert caught.value.key == key
    assert message in str(caught.value)


def test_webhook_config_reads_every_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_SECRET", "from-env")
    config = parse_config(
        {
            **BASE,
            "webhooks": [
                {"url": "http://127.0.0.1:9/x", "secret_env": "HOOK_SECRET"},
                {
                    "name": "crm",
                    "url": "http://crm.internal/x",
                    "allow_insecure": True,
                    "secret": "s",
                    "events": ["new_messages", "message_processed"],
                    "accounts": ["a"],
                    "batch_size": 10,
                    "timeout": 3,
                    "max_attempts": 4,
                    "retry_initial": 2,
                    "retry_max": 60,
                },
            ],
        }
    )
    first, crm = config.webhooks
    assert first.name == "127.0.0.1"
    assert first.secret.reveal() == "from-env"
    assert "from-env" not in repr(first)
    assert crm.events == frozenset({"new_messages", "message_processed"})
    assert crm.accounts == frozenset({"a"})
    assert (crm.batch_size, crm.timeout, crm.max_attempts) == (10, 3, 4)
    assert (crm.retry_initial, crm.retry_max) == (2, 60)
    with pytest.raises(ConfigError, match="names another webhook"):
        parse_config({**BASE, "webhooks": [{"url": "https://h/", "secret": "s"}] * 2})


async def test_the_cli_lists_failures_while_the_store_is_held(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    config = tmp_path / "c.toml"
    config.write_text(
        f'[store]\npath = "{path}"\n[accounts.a]\nhost = "h"\nusername = "u"\npassword = "p"\n'
    )
    out, err = io.StringIO(), io.StringIO()
    assert cli.run(["failures", "--config", str(config)], out, err) == 1
    assert "no such store" in err.getvalue()
    store = await SQLiteStore.open(path)  # held, as by a running serve
    try:
        out = io.StringIO()
        assert cli.run(["failures", "--config", str(config)], out, err) == 0
        assert out.getvalue() == "no failed deliveries\n"
        await store.record_failure("webhook:crm", [7, 8], "attempt 8: HTTP 503")
        out = io.StringIO()
        assert cli.run(["failures", "--config", str(config)], out, err) == 0
    finally:
        await store.aclose()
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["consumer", "event", "gave", "up", "at", "(UTC)", "error"]
    assert lines[2].startswith("webhook:crm  7 ")
    assert lines[3].endswith("attempt 8: HTTP 503")


async def test_serve_runs_the_config_s_webhooks(tmp_path: Path) -> None:
    mail = MemoryMail()
    mail.add_account("alice")
    receiver = WebhookReceiver(SECRET)
    store = await SQLiteStore.open(tmp_path / "s.sqlite3")
    try:
        async with trio.open_nursery() as nursery:
            port = await nursery.start(receiver.serve)
            hook = WebhookSettings(name="h", url=f"http://127.0.0.1:{port}/", secret=SECRET)
            config = Config(
                accounts=(memory_account("alice"),),
                broadcast=BroadcastSettings(port=0, token="t"),
                webhooks=(hook,),
            )
            running = await nursery.start(
                partial(serve, config, providers={"memory": MemoryProvider(mail)}, store=store)
            )
            await wait_for_state(running.service, "alice", AccountState.IDLE, within=10)
            mail.deliver("alice", subject="hooked")
            await receiver.wait_for_events(1, within=10)
            (event,) = receiver.accepted_events()
            assert event["messages"][0]["subject"] == "hooked"
            with trio.fail_after(10):
                while running.webhooks[0].statistics().delivered < 1:
                    await trio.sleep(0.01)
            nursery.cancel_scope.cancel()
    finally:
        await store.aclose()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl")
def test_the_documented_shell_recipe_computes_the_signature(tmp_path: Path) -> None:
    docs = Path(__file__).parents[2] / "docs" / "events.md"
    (line,) = [x for x in docs.read_text().splitlines() if x.startswith("printf '%s.' ")]
    body = b'{"webhook":"crm","events":[{"id":1,"subject":"Gr\xc3\xbc\xc3\x9fe"}]}'
    (tmp_path / "body.json").write_bytes(body)
    done = subprocess.run(
        ["/bin/sh", "-c", line],
        cwd=tmp_path,
        env={"PATH": os.environ["PATH"], "TS": "1796205601", "SECRET": SECRET},
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == sign(SECRET, 1796205601, body)
