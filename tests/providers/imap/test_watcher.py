"""IMAP accounts in the service: the IDLE watcher, polling, reconnects, against the testing server.

Under a MockClock; the service's own behaviour, provider aside, is tested over
the in-memory provider in ``tests/service``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import trio
import trio.testing

from tests.service_support import (
    announced,
    drain,
    next_event,
    plain,
    running,
    service_config,
    wait_for_state,
    watcher_stats,
)
from tests.support import Connect
from trio_mailsync.core.events import AccountState, NewMessages, SyncCompleted
from trio_mailsync.providers.imap.watcher import IDLE_ANSWER_TIMEOUT
from trio_mailsync.testing import (
    Behavior,
    CommandInfo,
    IMAPTestServer,
    MailStore,
    Session,
    sample_message,
)
from trio_mailsync.testing._server import DEFAULT_CAPABILITIES, Hook


async def settled(service_idle: float = 10) -> None:
    """Let the startup sweep and the first INBOX sync finish (instant under MockClock)."""
    await trio.sleep(service_idle)


async def test_new_mail_reaches_subscribers_at_once_and_once(
    autojump_clock: trio.testing.MockClock,
    plain_connector: Connect,
    mail: MailStore,
    tmp_path: Path,
) -> None:
    mail.deliver("alice", sample_message(1, subject="old"))
    config = service_config(plain(), plain("bob"))
    async with running(config, plain_connector, tmp_path) as service:
        with service.subscribe(1000) as events:
            await wait_for_state(service, "alice", AccountState.IDLE)
            await settled()
            assert service.statistics().sweeps == 1
            drain(events)
            started = trio.current_time()
            uid = mail.deliver("alice", sample_message(2, subject="fresh"))
            news = await next_event(events, NewMessages)
            assert trio.current_time() - started < 0.1
            assert news.account == "alice"
            assert [(m.folder, m.uid, m.subject) for m in news.messages] == [
                ("INBOX", uid, "fresh")
            ]
            done = await next_event(events, SyncCompleted)
            assert done.trigger == "exists"
            assert [r.account for r in done.results] == ["alice"]
            # An hour of sweeps and IDLE re-issues reports nothing again.
            await trio.sleep(3600)
            later = drain(events)
            assert announced(later) == []
            assert service.statistics().sweeps >= 12
        logged = await service.store.events_after(0)
        assert [
            (e.account, [m.uid for m in e.messages]) for e in logged if isinstance(e, NewMessages)
        ] == [("alice", [1]), ("alice", [uid])]


async def test_idle_is_reissued_before_the_limit(
    autojump_clock: trio.testing.MockClock,
    plain_connector: Connect,
    behavior: Behavior,
    tmp_path: Path,
) -> None:
    starts: list[float] = []

    async def record(session: Session, command: CommandInfo) -> bool:
        if command.name == "IDLE":
            starts.append(trio.current_time())
        return False

    behavior.on_command = record
    config = service_config(idle_reissue=600, silence_timeout=10_000, sweep_interval=10_000)
    async with running(config, plain_connector, tmp_path) as service:
        await trio.sleep(3600)
        stats = watcher_stats(service, "alice")
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(starts) >= 6
    # IDLE also ends when a sync borrows the connection (the startup sweep, at once).
    assert all(0 <= gap <= 600 for gap in gaps), gaps
    assert stats.reissues >= 5
    assert stats.connections == 1  # re-issued on the same connection


async def test_a_silent_connection_is_found_out_and_mail_still_arrives(
    autojump_clock: trio.testing.MockClock,
    plain_connector: Connect,
    behavior: Behavior,
    mail: MailStore,
    tmp_path: Path,
) -> None:
    silenced: list[Session] = []
    armed = False

    async def go_silent(session: Session, command: CommandInfo) -> bool:
        if command.name == "IDLE" and armed and not silenced:
            # A half-open connection: IDLE accepted, then nothing, not even to DONE.
            silenced.append(session)
            await session.send(b"+ idling")
            await session.stall()
        return False

    behavior.on_command = go_silent
    config = service_config(silence_timeout=180, idle_reissue=600, sweep_interval=10_000)
    async with running(config, plain_connector, tmp_path) as service:
        with service.subscribe(1000) as events:
            await wait_for_state(service, "alice", AccountState.IDLE)
            # The startup syncs borrow the connection (DONE, IDLE again): the IDLE that
            # goes silent is the one after the first probe, once all is quiet.
            await settled()
            armed = True
            while not silenced:
                await trio.sleep(1)
            started = trio.current_time()
            uid = mail.deliver("alice", sample_message(1))
            news = await next_event(events, NewMessages)
            waited = trio.current_time() - started
            # DONE and the next IDLE go out together; neither is answered.
            assert 170 < waited <= 180 + IDLE_ANSWER_TIMEOUT + 1
            assert [m.uid for m in news.messages] == [uid]
            stats = watcher_stats(service, "alice")
            assert stats.connections == 2
            assert stats.failures == 1


async def test_a_server_without_idle_is_polled(
    autojump_clock: trio.testing.MockClock,
    plain_connector: Connect,
    behavior: Behavior,
    server: IMAPTestServer,
    mail: MailStore,
    tmp_path: Path,
) -> None:
    behavior.capabilities = tuple(c for c in DEFAULT_CAPABILITIES if c != "IDLE")
    config = service_config(poll_interval=60, sweep_interval=10_000)
    async with running(config, plain_connector, tmp_path) as service:
        with service.subscribe(1000) as events:
            await wait_for_state(service, "alice", AccountState.POLLING)
            await settled()
            started = trio.current_time()
            uid = mail.deliver("alice", sample_message(1))
            news = await next_event(events, NewMessages)
            assert trio.current_time() - started <= 60
            assert [m.uid for m in news.messages] == [uid]
            await trio.sleep(600)
            assert announced(drain(events)) == []
    assert "IDLE" not in server.statistics().commands
    assert watcher_stats(service, "alice").polls >= 10


async def test_refused_idle_falls_back_to_polling_then_returns(
    autojump_clock: trio.testing.MockClock,
    plain_connector: Connect,
    behavior: Behavior,
    mail: MailStore,
    tmp_path: Path,
) -> None:
    refuse = True

    async def refuse_idle(session: Session, command: CommandInfo) -> bool:
        if command.name == "IDLE" and refuse:
            await session.send(f"{command.tag} NO IDLE is switched off".encode())
            return True
        return False

    behavior.on_command = refuse_idle
    config = service_config(poll_interval=60, idle_retry_interval=600, sweep_interval=10_000)
    async with running(config, plain_connector, tmp_path) as service:
        with service.subscribe(1000) as events:
            await wait_for_state(service, "alice", AccountState.POLLING)
            await settled()
            started = trio.current_time()
            first = mail.deliver("alice", sample_message(1))
            news = await next_event(events, NewMessages)
            assert trio.current_time() - started <= 60
            assert [m.uid for m in news.messages] == [first]
            refuse = False
            await wait_for_state(service, "alice", AccountState.IDLE, within=660)
            await settled()
            started = trio.current_time()
            second = mail.deliver("alice", sample_message(2))
            news = await next_event(events, NewMessages)
            assert trio.current_time() - started < 0.1
            assert [m.uid for m in news.messages] == [second]


def remember_idling(behavior: Behavior) -> list[Session]:
    """The server's sessions that entered IDLE, latest last (a hook on ``behavior``)."""
    idling: list[Session] = []

    async def remember(session: Session, command: CommandInfo) -> bool:
        if command.name == "IDLE":
            idling.append(session)
        return False

    behavior.on_command = remember
    return idling


async def test_a_connection_dropped_mid_idle_comes_back_and_reports_mail_once(
    autojump_clock: trio.testing.MockClock,
    plain_connector: Connect,
    behavior: Behavior,
    mail: MailStore,
    tmp_path: Path,
) -> None:
    idling = remember_idling(behavior)
    config = service_config(sweep_interval=300)
    async with running(config, plain_connector, tmp_path) as service:
        with service.subscribe(1000) as events:
            await wait_for_state(service, "alice", AccountState.IDLE)
            await settled()
            # The server goes down: new connections are turned away, the IDLE is cut.
            behavior.greeting = b"* BYE Down for maintenance"
            await idling[-1].close()
            uid = mail.deliver("alice", sample_message(1, subject="while away"))
            await trio.sleep(100)
            assert service.state("alice") is not AccountState.IDLE
            behavior.greeting = None
            news = await next_event(events, NewMessages, within=600)
            assert [(m.uid, m.subject) for m in news.messages] == [(uid, "while away")]
            await wait_for_state(service, "alice", AccountState.IDLE)
            await trio.sleep(3600)
            assert announced(drain(events)) == []
        assert watcher_stats(service, "alice").connections >= 2


async def test_a_burst_of_notifications_causes_at_most_two_syncs(
    autojump_clock: trio.testing.MockClock,
    plain_connector: Connect,
    behavior: Behavior,
    mail: MailStore,
    tmp_path: Path,
) -> None:
    idling = remember_idling(behavior)
    config = service_config(sweep_interval=10_000)
    async with running(config, plain_connector, tmp_path) as service:
        with service.subscribe(1000) as events:
            await wait_for_state(service, "alice", AccountState.IDLE)
            await settled()
            syncs = service.statistics().syncs
            notified = watcher_stats(service, "alice").notifications
            await idling[-1].send_raw(b"".join(b"* %d EXISTS\r\n" % n for n in range(1, 101)))
            for n in range(100):
                mail.deliver("alice", sample_message(n))
            await trio.sleep(60)
            assert watcher_stats(service, "alice").notifications - notified >= 100
            assert service.statistics().syncs - syncs <= 2
            assert sorted(uid for _, _, uid in announced(drain(events))) == list(range(1, 101))


def bob_stalls(when: Callable[[str], bool]) -> Hook:
    """A hook: bob's session stalls at the first command whose name ``when`` accepts."""

    async def hook(session: Session, command: CommandInfo) -> bool:
        user = session.user
        if user is not None and user.name == "bob" and when(command.name):
            await session.stall()
        return False

    return hook


async def test_a_hanging_server_does_not_delay_another_account(
    autojump_clock: trio.testing.MockClock,
    plain_connector: Connect,
    behavior: Behavior,
    mail: MailStore,
    tmp_path: Path,
) -> None:
    behavior.on_command = bob_stalls(lambda name: name != "LOGOUT")
    config = service_config(plain(), plain("bob"), sync_timeout=120, sweep_interval=10_000)
    async with running(config, plain_connector, tmp_path) as service:
        with service.subscribe(1000) as events:
            await wait_for_state(service, "alice", AccountState.IDLE)
            started = trio.current_time()
            mail.deliver("bob", sample_message(1))
            uid = mail.deliver("alice", sample_message(2))
            news = await next_event(events, NewMessages)
            assert trio.current_time() - started < 0.1
            assert (news.account, [m.uid for m in news.messages]) == ("alice", [uid])
            # The startup sweep gives up on bob after sync_timeout; alice's result is in it.
            sweep = await next_event(events, SyncCompleted, within=600)
            while sweep.trigger != "startup":
                sweep = await next_event(events, SyncCompleted, within=600)
            errors = {r.account: r.error for r in sweep.results}
            assert errors["alice"] is None
            assert "longer than 120 s" in (errors["bob"] or "")
            assert service.state("bob") in (AccountState.ERROR, AccountState.CONNECTING)


async def test_a_hanging_server_does_not_delay_another_account_s_sweeps(
    autojump_clock: trio.testing.MockClock,
    plain_connector: Connect,
    behavior: Behavior,
    mail: MailStore,
    tmp_path: Path,
) -> None:
    # Folders other than INBOX are found by sweeps; bob's sweep hangs for sync_timeout
    # (15 min) and alice's folders must still be swept every sweep_interval (60 s).
    behavior.on_command = bob_stalls(lambda name: name == "STATUS")
    config = service_config(plain(), plain("bob"), sync_timeout=900, sweep_interval=60)
    async with running(config, plain_connector, tmp_path) as service:
        with service.subscribe(1000) as events:
            await wait_for_state(service, "alice", AccountState.IDLE)
            await trio.sleep(61)  # bob's first sweep hangs; the second round is under way
            for n in range(3):
                delivered = trio.current_time()
                uid = mail.deliver("alice", sample_message(n), folder="Sent")
                news = await next_event(events, NewMessages, within=600)
                assert (news.account, [(m.folder, m.uid) for m in news.messages]) == (
                    "alice",
                    [("Sent", uid)],
                )
                assert trio.current_time() - delivered <= 61
            assert trio.current_time() < 900  # all before bob's sweep gave up


async def test_a_wrong_password_is_that_account_s_state_only(
    autojump_clock: trio.testing.MockClock,
    plain_connector: Connect,
    mail: MailStore,
    tmp_path: Path,
) -> None:
    config = service_config(plain(), plain("bob", password="wrong"))
    async with running(config, plain_connector, tmp_path) as service:
        with service.subscribe(1000) as events:
            await wait_for_state(service, "bob", AccountState.AUTH_FAILED)
            await wait_for_state(service, "alice", AccountState.IDLE)
            await settled()
            uid = mail.deliver("alice", sample_message(1))
            news = await next_event(events, NewMessages)
            assert (news.account, [m.uid for m in news.messages]) == ("alice", [uid])
            await wait_for_state(service, "alice", AccountState.IDLE)
            hello = service.hello()
            assert hello.accounts == {"alice": AccountState.IDLE, "bob": AccountState.AUTH_FAILED}
            assert "bob-password" not in repr(drain(events))


async def test_a_trigger_during_a_sync_causes_one_more_sync(
    autojump_clock: trio.testing.MockClock,
    plain_connector: Connect,
    behavior: Behavior,
    mail: MailStore,
    tmp_path: Path,
) -> None:
    # With a connection of its own the watcher hears of mail during a sync (on one
    # shared connection it finds out on return: tests/providers/imap/test_one_connection).
    config = service_config(sweep_interval=10_000, share_connection=False)
    async with running(config, plain_connector, tmp_path) as service:
        with service.subscribe(1000) as events:
            await wait_for_state(service, "alice", AccountState.IDLE)
            await settled()
            syncs = service.statistics().syncs
            behavior.delays["STATUS"] = 10  # every sync now takes 10 s
            first = mail.deliver("alice", sample_message(1))
            await trio.sleep(5)
            assert service.state("alice") is AccountState.SYNCING
            second = mail.deliver("alice", sample_message(2))
            third = mail.deliver("alice", sample_message(3))
            await trio.sleep(60)
            assert service.statistics().syncs - syncs == 2
            assert announced(drain(events)) == [
                ("alice", "INBOX", first),
                ("alice", "INBOX", second),
                ("alice", "INBOX", third),
            ]
