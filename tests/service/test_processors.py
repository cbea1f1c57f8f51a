"""Processors: run after the new-mail event, never delaying it; each outcome logged once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from tests.service_support import next_event, running_in_memory, wait_for_state
from trio_mailsync.core.config import Config, ServiceSettings
from trio_mailsync.core.events import AccountState, MessageProcessed, NewMessages
from trio_mailsync.core.model import MessageRecord
from trio_mailsync.service import SyncService
from trio_mailsync.stores.sqlite import SQLiteStore
from trio_mailsync.testing import MemoryMail, MemoryProvider, memory_account


def make_mail() -> MemoryMail:
    mail = MemoryMail()
    for account in ("alice", "bob"):
        mail.add_account(account)
    return mail


@asynccontextmanager
async def service_on(mail: MemoryMail, path: Path) -> AsyncIterator[SyncService]:
    """The service over ``mail``, with its store at ``path`` (reopened by each call)."""
    config = Config(
        accounts=(memory_account("alice"), memory_account("bob")),
        service=ServiceSettings(sweep_interval=600),
    )
    store = await SQLiteStore.open(path, inline=True)
    async with running_in_memory(config, MemoryProvider(mail), path.parent, store=store) as service:
        await wait_for_state(service, "bob", AccountState.IDLE)
        yield service


async def results_in_log(path: Path) -> list[MessageProcessed]:
    store = await SQLiteStore.open(path, inline=True)
    try:
        events = await store.events_after(0, 10_000)
    finally:
        await store.aclose()
    return [e for e in events if isinstance(e, MessageProcessed)]


async def test_each_new_message_gets_one_logged_result_after_its_event(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    mail = make_mail()
    seen: list[str] = []

    async def classify(message: MessageRecord) -> dict[str, Any]:
        seen.append(f"{message.account}:{message.uid}")
        return {"label": "invoice" if "invoice" in (message.subject or "") else "other"}

    path = tmp_path / "s.sqlite3"
    async with service_on(mail, path) as service:
        runner = service.add_processor(classify, concurrency=2)
        with service.subscribe(1000) as events:
            await trio.sleep(1)  # started at the log's end
            mail.deliver("alice", subject="your invoice")
            mail.deliver("bob", subject="lunch")
            news = await next_event(events, NewMessages, within=5)
            result = await next_event(events, MessageProcessed, within=5)
            assert result.id > news.id
            await trio.sleep(5)
        assert runner.statistics().processed == 2
    results = await results_in_log(path)
    assert sorted((r.account, r.uid, r.result["label"]) for r in results) == [
        ("alice", 1, "invoice"),
        ("bob", 1, "other"),
    ]
    assert sorted(seen) == ["alice:1", "bob:1"]


async def test_a_failing_hanging_or_slow_processor_never_delays_new_mail(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    mail = make_mail()

    async def failing(message: MessageRecord) -> None:
        raise RuntimeError("model unavailable")

    async def hanging(message: MessageRecord) -> None:
        await trio.sleep_forever()

    async def slow(message: MessageRecord) -> str:
        await trio.sleep(20)
        return "done"

    path = tmp_path / "s.sqlite3"
    async with service_on(mail, path) as service:
        service.add_processor(failing)
        service.add_processor(hanging, timeout=30)
        service.add_processor(slow, concurrency=1)
        with service.subscribe(1000) as events:
            await trio.sleep(1)
            for n in range(3):
                for account in ("alice", "bob"):
                    delivered = trio.current_time()
                    uid = mail.deliver(account, subject=f"m{n}")
                    while True:
                        event = await next_event(events, NewMessages, within=5)
                        if event.account == account:
                            break
                    assert [m.uid for m in event.messages] == [uid]
                    assert trio.current_time() - delivered < 0.1
            await trio.sleep(200)  # slow's six calls, one at a time; hanging's timeouts
    outcomes = {
        (r.processor, r.account, r.uid): (r.result, r.error) for r in await results_in_log(path)
    }
    assert len(outcomes) == len(await results_in_log(path)) == 18, "one result per message each"
    for account in ("alice", "bob"):
        for uid in (1, 2, 3):
            assert outcomes["failing", account, uid] == (None, "RuntimeError: model unavailable")
            assert outcomes["hanging", account, uid] == (None, "timed out after 30 s")
            assert outcomes["slow", account, uid] == ("done", None)


async def test_calls_cut_short_by_a_stop_run_again_after_a_restart_and_done_ones_do_not(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    mail = make_mail()
    calls: list[int] = []

    async def slow(message: MessageRecord) -> int:
        calls.append(message.uid)
        await trio.sleep(10)
        return message.uid

    path = tmp_path / "s.sqlite3"
    async with service_on(mail, path) as service:
        service.add_processor(slow, concurrency=1)
        await trio.sleep(1)
        for _ in range(3):
            mail.deliver("alice")
        await trio.sleep(15)  # uid 1 done, uid 2 running, uid 3 waiting: then a stop
    assert calls == [1, 2]
    assert [r.uid for r in await results_in_log(path)] == [1]

    async with service_on(mail, path) as service:
        runner = service.add_processor(slow, concurrency=1)
        await trio.sleep(60)
        position = runner.statistics().position
    assert position == (await results_in_log(path))[-1].id
    assert calls == [1, 2, 2, 3]
    assert [r.uid for r in await results_in_log(path)] == [1, 2, 3]


async def test_a_processor_runs_at_most_concurrency_calls_at_once(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    mail = make_mail()
    running = 0
    most = 0

    async def busy(message: MessageRecord) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await trio.sleep(1)
        running -= 1

    path = tmp_path / "s.sqlite3"
    async with service_on(mail, path) as service:
        runner = service.add_processor(busy, concurrency=3)
        await trio.sleep(1)
        for n in range(40):
            mail.deliver("alice" if n % 2 else "bob")
        await trio.sleep(60)
        assert runner.statistics().processed == 40
    assert most == 3


async def test_a_processor_whose_store_fails_is_restarted_and_loses_nothing(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    mail = make_mail()

    async def echo(message: MessageRecord) -> str:
        return message.subject or ""

    path = tmp_path / "s.sqlite3"
    async with service_on(mail, path) as service:
        runner = service.add_processor(echo)
        await trio.sleep(1)
        real_append = service.store.append
        failures = 0

        async def flaky_append(events: Any) -> Any:
            nonlocal failures
            if failures < 2 and any(isinstance(e, MessageProcessed) for e in events):
                failures += 1
                raise OSError("disk full")
            return await real_append(events)

        service.store.append = flaky_append  # type: ignore[method-assign]
        mail.deliver("alice", subject="one")
        await trio.sleep(30)
        assert service.statistics().restarts == 2
        assert service.state("alice") is AccountState.IDLE
        assert runner.statistics().processed == 1
    assert [r.result for r in await results_in_log(path)] == ["one"]


async def test_processor_names_are_unique_and_settings_checked(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    async def p(message: MessageRecord) -> None:
        return None

    async with service_on(make_mail(), tmp_path / "s.sqlite3") as service:
        service.add_processor(p)
        with pytest.raises(ValueError, match="already added"):
            service.add_processor(p)
        with pytest.raises(ValueError, match="concurrency"):
            service.add_processor(p, name="q", concurrency=0)
        with pytest.raises(ValueError, match="timeout"):
            service.add_processor(p, name="r", timeout=0)
        assert list(service.processors) == ["p"]


async def test_a_result_that_is_not_json_is_logged_as_an_error(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    async def odd(message: MessageRecord) -> object:
        return {1, 2}

    mail = make_mail()
    path = tmp_path / "s.sqlite3"
    async with service_on(mail, path) as service:
        service.add_processor(odd)
        await trio.sleep(1)
        mail.deliver("bob")
        await trio.sleep(5)
    (result,) = await results_in_log(path)
    assert result.result is None
    assert "not JSON" in (result.error or "")
