"""One connection per account (issue 16): syncs borrow the watcher's connection between IDLEs.

Against the testing server, under a MockClock. The server's own counters say how many
connections and logins there were; the watcher's say how often it lent its connection.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import attrs
import pytest
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
from tests.support import Connect, oauth_credentials
from trio_mailsync.core.config import Account
from trio_mailsync.core.events import AccountState, NewMessages, SyncCompleted
from trio_mailsync.providers.imap.connection import CLEANUP_TIMEOUT
from trio_mailsync.testing import (
    Behavior,
    CommandInfo,
    IMAPTestServer,
    MailStore,
    Session,
    sample_message,
)
from trio_mailsync.testing._server import DEFAULT_CAPABILITIES

from .conftest import VARIANTS


async def test_a_quiet_account_gets_its_mail_on_its_one_connection(
    autojump_clock: trio.testing.MockClock,
    plain_connector: Connect,
    server: IMAPTestServer,
    mail: MailStore,
    tmp_path: Path,
    variant: str,
) -> None:
    """An hour of silence, then mail: no reconnect, no NOOP, one connection all along."""
    config = service_config(plain(), plain("bob"))
    async with running(config, plain_connector, tmp_path) as service:
        with service.subscribe(1000) as events:
            await wait_for_state(service, "alice", AccountState.IDLE)
            await trio.sleep(3600)
            drain(events)
            started = trio.current_time()
            uid = mail.deliver("alice", sample_message(1, subject="after an hour"))
            news = await next_event(events, NewMessages)
            assert trio.current_time() - started < 0.1
            assert [(m.uid, m.subject) for m in news.messages] == [(uid, "after an hour")]
            stats = watcher_stats(service, "alice")
    assert stats.connections == 1
    assert stats.loans >= 13, "the startup sync, 12 sweeps, the new mail"
    # Two accounts, each logged in once: every sync used the watcher's connection.
    assert (server.statistics().connections, server.statistics().logins) == (2, 2)
    assert "NOOP" not in server.statistics().commands


async def test_mail_that_arrives_while_the_connection_is_lent_is_synced_at_once(
    autojump_clock: trio.testing.MockClock,
    plain_connector: Connect,
    behavior: Behavior,
    mail: MailStore,
    tmp_path: Path,
    variant: str,
) -> None:
    """INBOX is not watched during a sync: what changed meanwhile is found on return."""
    deliveries: list[int] = []

    async def deliver_after_status(session: Session, command: CommandInfo) -> bool:
        # Mail arrives after the sync has looked at INBOX, before the watcher is back.
        if command.name == "UID FETCH" and armed and not deliveries:
            deliveries.append(mail.deliver("alice", sample_message(9, subject="in the gap")))
        return False

    behavior.on_command = deliver_after_status
    armed = False
    config = service_config(sweep_interval=10_000)
    async with running(config, plain_connector, tmp_path) as service:
        with service.subscribe(1000) as events:
            await wait_for_state(service, "alice", AccountState.IDLE)
            await trio.sleep(10)
            drain(events)
            armed = True
            first = mail.deliver("alice", sample_message(1, subject="first"))
            await trio.sleep(60)
            stats = watcher_stats(service, "alice")
            got = announced(drain(events))
    assert deliveries, "the hook ran"
    assert got == [("alice", "INBOX", first), ("alice", "INBOX", deliveries[0])]
    assert stats.changed_while_lent == 1
    assert stats.connections == 1


async def test_a_bye_during_a_borrowed_sync_reconnects_and_loses_nothing(
    autojump_clock: trio.testing.MockClock,
    plain_connector: Connect,
    behavior: Behavior,
    mail: MailStore,
    tmp_path: Path,
) -> None:
    byes: list[float] = []

    async def bye_once(session: Session, command: CommandInfo) -> bool:
        if command.name == "UID FETCH" and armed and not byes:
            byes.append(trio.current_time())
            await session.bye("shutting down")
        return False

    behavior.on_command = bye_once
    armed = False
    config = service_config(sweep_interval=10_000)
    async with running(config, plain_connector, tmp_path) as service:
        with service.subscribe(1000) as events:
            await wait_for_state(service, "alice", AccountState.IDLE)
            await trio.sleep(10)
            drain(events)
            armed = True
            uid = mail.deliver("alice", sample_message(1))
            news = await next_event(events, NewMessages, within=120)
            assert [m.uid for m in news.messages] == [uid]
            await trio.sleep(600)
            assert announced(drain(events)) == []
            assert service.state("alice") is AccountState.IDLE
            stats = watcher_stats(service, "alice")
    assert byes
    assert stats.connections == 2
    assert stats.failures == 1


async def test_start_up_is_one_sync_per_account_on_its_one_connection(
    autojump_clock: trio.testing.MockClock,
    plain_connector: Connect,
    server: IMAPTestServer,
    mail: MailStore,
    tmp_path: Path,
    variant: str,
) -> None:
    """The start-up sync waits for the watcher's first connection, and the watcher's
    catch-up request merges into it: one sync per account, not two."""
    names = ("alice", "bob", "carol")
    mail.add_user("carol", "carol-password")
    accounts = [plain(n, password="carol-password" if n == "carol" else None) for n in names]
    # One sync at a time: the watchers are all connected before most syncs start.
    config = service_config(*accounts, sweep_interval=10_000, concurrency=1)
    async with running(config, plain_connector, tmp_path) as service:
        with service.subscribe(1000) as events:
            sweep = await next_event(events, SyncCompleted)
            while sweep.trigger != "startup":
                sweep = await next_event(events, SyncCompleted)
            assert [r.error for r in sweep.results] == [None] * 3
            await trio.sleep(60)
            assert service.statistics().syncs == 3
            assert [watcher_stats(service, a).loans for a in names] == [1] * 3
    assert server.statistics().logins == 3


async def test_a_sync_waiting_for_its_watcher_to_connect_holds_no_slot(
    autojump_clock: trio.testing.MockClock,
    plain_connector: Connect,
    server: IMAPTestServer,
    behavior: Behavior,
    tmp_path: Path,
) -> None:
    """One sync at a time (``concurrency = 1``); alice's watcher reconnects and its login
    takes 30 s. Alice's sync waits for that connection without the one slot: bob's runs."""
    stalling = trio.Event()

    async def slow_relogin(session: Session, command: CommandInfo) -> bool:
        if armed and command.name in ("LOGIN", "AUTHENTICATE") and not stalling.is_set():
            stalling.set()
            await trio.sleep(30)
        return False

    behavior.on_command = slow_relogin
    armed = False
    config = service_config(plain(), plain("bob"), sweep_interval=10_000, concurrency=1)
    async with running(config, plain_connector, tmp_path) as service:
        with service.subscribe(1000) as events:
            await wait_for_state(service, "alice", AccountState.IDLE)
            await wait_for_state(service, "bob", AccountState.IDLE)
            await trio.sleep(10)
            armed = True
            (alice,) = [s for s in server.sessions if s.user and s.user.name == "alice"]
            await alice.close()
            with trio.fail_after(60):
                await stalling.wait()
            drain(events)
            asked = trio.current_time()
            service.request("alice")
            await trio.sleep(0.1)
            service.request("bob")
            done = await next_event(events, SyncCompleted)
            assert [r.account for r in done.results] == ["bob"]
            assert trio.current_time() - asked < 1
            done = await next_event(events, SyncCompleted, within=60)
            assert [(r.account, r.error) for r in done.results] == [("alice", None)]
            assert trio.current_time() - asked > 29
    assert watcher_stats(service, "alice").connections == 2


@pytest.mark.parametrize("where", ["DONE", "sync", "EXAMINE"])
async def test_cancelled_anywhere_in_a_loan_the_account_stops_cleanly(
    plain_connector: Connect,
    behavior: Behavior,
    tmp_path: Path,
    where: str,
) -> None:
    """Stopping the service while DONE, a borrowed sync or the EXAMINE after it hangs."""
    hung = trio.Event()
    armed = False

    async def hang(session: Session, command: CommandInfo) -> bool:
        if not armed:
            return False
        if where == "DONE" and command.name == "IDLE":
            # IDLE accepted, then silence: the DONE a borrower causes is never answered.
            hung.set()
            await session.send(b"+ idling")
            await session.stall()
        if command.name == {"sync": "STATUS", "EXAMINE": "EXAMINE"}.get(where):
            hung.set()
            await session.stall()
        return False

    behavior.on_command = hang
    config = service_config(sweep_interval=10_000)
    with trio.fail_after(30):  # real time: nothing may wait out a long timeout
        async with running(config, plain_connector, tmp_path) as service:
            await wait_for_state(service, "alice", AccountState.IDLE)
            await trio.sleep(0.5)
            armed = True
            service.request("alice")  # a loan: the next IDLE (or the sync itself) hangs
            await hung.wait()
            if where == "DONE":
                service.request("alice")  # borrowing now ends an IDLE nobody answers
            await trio.sleep(0.2)
            stopping = trio.current_time()
    # The hung command costs at most the shielded cleanups (DONE, LOGOUT), bounded.
    assert trio.current_time() - stopping < 2 * CLEANUP_TIMEOUT + 1


async def test_without_idle_syncs_take_pooled_connections(
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
            uid = mail.deliver("alice", sample_message(1))
            news = await next_event(events, NewMessages, within=120)
            assert [m.uid for m in news.messages] == [uid]
            assert watcher_stats(service, "alice").loans == 0


async def test_qresync_is_enabled_on_the_watchers_connection(
    autojump_clock: trio.testing.MockClock,
    plain_connector: Connect,
    behavior: Behavior,
    server: IMAPTestServer,
    mail: MailStore,
    tmp_path: Path,
) -> None:
    """ENABLE must come before the watcher's EXAMINE: syncs on that connection need it."""
    behavior.capabilities = VARIANTS["qresync"]
    config = service_config(sweep_interval=10_000)
    async with running(config, plain_connector, tmp_path) as service:
        with service.subscribe(1000) as events:
            await wait_for_state(service, "alice", AccountState.IDLE)
            await trio.sleep(10)
            mail.deliver("alice", sample_message(1))
            await next_event(events, NewMessages, within=60)
            assert watcher_stats(service, "alice").loans >= 2
    commands = server.statistics().commands
    assert commands.get("ENABLE") == 1
    assert server.statistics().syntax_errors == 0


async def test_a_done_nobody_answers_fails_the_borrowed_sync_within_seconds(
    autojump_clock: trio.testing.MockClock,
    plain_connector: Connect,
    behavior: Behavior,
    mail: MailStore,
    tmp_path: Path,
) -> None:
    """The sync's commands follow DONE at once; if DONE gets no answer the connection is
    dead, and the watcher closes it within CLEANUP_TIMEOUT, not at the sync's timeout."""
    stalled: list[float] = []

    async def stall_idle(session: Session, command: CommandInfo) -> bool:
        if command.name == "IDLE" and armed and not stalled:
            stalled.append(trio.current_time())
            await session.send(b"+ idling")
            await session.stall()
        return False

    behavior.on_command = stall_idle
    armed = False
    config = service_config(sweep_interval=10_000, sync_timeout=900)
    async with running(config, plain_connector, tmp_path) as service:
        with service.subscribe(1000) as events:
            await wait_for_state(service, "alice", AccountState.IDLE)
            await trio.sleep(10)
            armed = True
            service.request("alice")  # a loan; the IDLE after it goes silent
            while not stalled:
                await trio.sleep(1)
            await trio.sleep(1)
            drain(events)
            started = trio.current_time()
            service.request("alice")  # borrowing ends the silent IDLE: DONE is not answered
            uid = mail.deliver("alice", sample_message(1))
            news = await next_event(events, NewMessages, within=120)
            assert [m.uid for m in news.messages] == [uid]
            assert trio.current_time() - started <= CLEANUP_TIMEOUT + 1
            stats = watcher_stats(service, "alice")
    assert stats.connections == 2


async def test_a_status_behind_the_examine_after_it_does_not_cost_the_new_mail(
    autojump_clock: trio.testing.MockClock,
    plain_connector: Connect,
    behavior: Behavior,
    mail: MailStore,
    tmp_path: Path,
    variant: str,
) -> None:
    """Dovecot, now and then, answers the STATUS that follows an IDLE notification with
    the mailbox as it was; the EXAMINE pipelined after it shows the new mail, and the
    sync plans from that, in the same round trip."""
    stale: list[bytes] = []

    async def old_status(session: Session, command: CommandInfo) -> bool:
        if command.name == "STATUS" and stale and armed:
            await session.send(stale.pop())
            await session.send(f"{command.tag} OK STATUS completed".encode())
            return True
        return False

    behavior.on_command = old_status
    armed = False
    config = service_config(sweep_interval=10_000)
    async with running(config, plain_connector, tmp_path) as service:
        with service.subscribe(1000) as events:
            await wait_for_state(service, "alice", AccountState.IDLE)
            await trio.sleep(10)
            drain(events)
            inbox = mail.user("alice").folder("INBOX")
            stale.append(
                b"* STATUS INBOX (MESSAGES %d UIDNEXT %d UIDVALIDITY %d%s)"
                % (
                    len(inbox.messages),
                    inbox.uidnext,
                    inbox.uidvalidity,
                    b"" if variant == "plain" else b" HIGHESTMODSEQ %d" % inbox.highestmodseq,
                )
            )
            armed = True
            uid = mail.deliver("alice", sample_message(1))
            news = await next_event(events, NewMessages, within=60)
            assert [m.uid for m in news.messages] == [uid]
            await trio.sleep(60)
            assert announced(drain(events)) == []
            stats = watcher_stats(service, "alice")
    assert not stale, "the stale STATUS was sent"
    assert stats.changed_while_lent == 0, "the notification's own sync found the mail"


async def test_an_oauth_connection_is_replaced_before_its_token_expires(
    autojump_clock: trio.testing.MockClock,
    plain_connector: Connect,
    server: IMAPTestServer,
    behavior: Behavior,
    mail: MailStore,
    tmp_path: Path,
) -> None:
    """Outlook drops a session when its token expires (BYE ... AccessTokenExpired): the
    watcher's one connection is replaced a little before, and no mail is missed."""
    grant = oauth_credentials(server)
    logins: list[float] = []

    async def record(session: Session, command: CommandInfo) -> bool:
        if command.name == "AUTHENTICATE":
            logins.append(trio.current_time())
        return False

    behavior.on_command = record
    config = service_config(sweep_interval=10_000)
    async with running(
        config, plain_connector, tmp_path, credentials={"alice": grant.credentials}
    ) as service:
        with service.subscribe(1000) as events:
            await wait_for_state(service, "alice", AccountState.IDLE)
            delivered = []
            for hour in range(3):
                await trio.sleep(3600 - 5)  # just before the token's hour is up...
                delivered.append(mail.deliver("alice", sample_message(hour)))
                await trio.sleep(10)  # ...and just after
            got = [uid for _, _, uid in announced(drain(events))]
            stats = watcher_stats(service, "alice")
    assert got == delivered, "each message once"
    assert stats.reauthentications >= 3
    gaps = [b - a for a, b in itertools.pairwise(logins)]
    assert gaps, logins
    assert all(3000 <= gap < 3600 for gap in gaps), gaps
    assert len(grant.issued) == len(logins), "a fresh token for each connection"


def everything(account_id: str = "alice") -> Account:
    """An account that syncs every folder."""
    return attrs.evolve(plain(account_id), folders=("*",))


async def test_notify_pushes_every_folder(
    autojump_clock: trio.testing.MockClock,
    plain_connector: Connect,
    behavior: Behavior,
    mail: MailStore,
    tmp_path: Path,
    variant: str,
) -> None:
    behavior.capabilities = (*VARIANTS[variant], "NOTIFY")
    mail.create("alice", "Work")
    config = service_config(everything(), sweep_interval=100_000)
    async with running(config, plain_connector, tmp_path) as service:
        with service.subscribe(1000) as events:
            await wait_for_state(service, "alice", AccountState.IDLE)
            await trio.sleep(10)
            assert watcher_stats(service, "alice").notify
            drain(events)
            started = trio.current_time()
            filed = mail.deliver("alice", sample_message(1, subject="filed"), folder="Work")
            news = await next_event(events, NewMessages, within=60)
            assert trio.current_time() - started < 0.1
            assert [(m.folder, m.uid) for m in news.messages] == [("Work", filed)]
            # A folder created while the service runs: listed again, its mail pushed too.
            mail.create("alice", "Projects")
            await trio.sleep(1)
            started = trio.current_time()
            later = mail.deliver("alice", sample_message(2), folder="Projects")
            news = await next_event(events, NewMessages, within=60)
            assert trio.current_time() - started < 0.1
            assert [(m.folder, m.uid) for m in news.messages] == [("Projects", later)]
            inbox = mail.deliver("alice", sample_message(3))
            await trio.sleep(60)
            assert announced(drain(events)) == [("alice", "INBOX", inbox)]
            stats = watcher_stats(service, "alice")
    assert stats.connections == 1


async def test_a_refused_notify_leaves_other_folders_to_the_sweep(
    autojump_clock: trio.testing.MockClock,
    plain_connector: Connect,
    behavior: Behavior,
    mail: MailStore,
    tmp_path: Path,
) -> None:
    async def refuse(session: Session, command: CommandInfo) -> bool:
        if command.name == "NOTIFY":
            await session.send(f"{command.tag} NO [CANNOT] Not today".encode())
            return True
        return False

    behavior.capabilities = (*VARIANTS["condstore"], "NOTIFY")
    behavior.on_command = refuse
    mail.create("alice", "Work")
    config = service_config(everything(), sweep_interval=300)
    async with running(config, plain_connector, tmp_path) as service:
        with service.subscribe(1000) as events:
            await wait_for_state(service, "alice", AccountState.IDLE)
            await trio.sleep(10)
            assert not watcher_stats(service, "alice").notify
            drain(events)
            started = trio.current_time()
            filed = mail.deliver("alice", sample_message(1), folder="Work")
            news = await next_event(events, NewMessages, within=400)
            assert 10 < trio.current_time() - started <= 300
            assert [(m.folder, m.uid) for m in news.messages] == [("Work", filed)]
            assert service.state("alice") is AccountState.IDLE
