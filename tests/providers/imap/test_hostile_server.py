"""One account's server turns hostile; the others do not notice (issue 17's property test).

Hypothesis scripts bob's server from the behaviours the adversarial run used: numbers
beyond 64 bits, endless data for one command, silence after login, BYE again and again,
garbage, dropped connections, each at some command. Alice, on the same testing server,
must get each of her messages announced within a minute of delivery (MockClock), once,
and the process's traced memory must stay under a bound while bob's server misbehaves.
"""

from __future__ import annotations

import tempfile
import tracemalloc
from pathlib import Path

import trio
import trio.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.service_support import announced, drain, running, service_config
from tests.support import ALICE_PASSWORD, make_account
from trio_mailsync.core.config import Account
from trio_mailsync.core.events import ServiceEvent
from trio_mailsync.providers.imap import Security
from trio_mailsync.testing import CommandInfo, IMAPTestServer, MailStore, Session, sample_message

#: Bob's commands the script can act on, and what it can do there.
COMMANDS = ("LIST", "STATUS", "EXAMINE", "UID FETCH", "IDLE", "NOOP")
BEHAVIOURS = ("huge", "endless", "silent", "bye", "garbage", "drop")
#: Traced memory while bob's server misbehaves: his command budget is 1 MiB, so this
#: bounds what the rest costs (the testing server's mail, the service, the parser).
MEMORY_BOUND = 48 * 2**20

# IDLE claims no data: an endless stream there is a flood of notifications, bounded by
# time only (and a MockClock never moves while it flows), so it is left out.
step = st.sampled_from(COMMANDS).flatmap(
    lambda c: st.tuples(
        st.just(c), st.sampled_from([b for b in BEHAVIOURS if c != "IDLE" or b != "endless"])
    )
)
script = st.lists(step, min_size=1, max_size=4, unique_by=lambda s: s[0])


def _claimed(c: CommandInfo) -> bytes:
    """A line of the data ``c`` claims (so it counts against its budget)."""
    if c.name == "LIST":
        return b'* LIST () "/" "more"\r\n'
    if c.name == "STATUS":
        mailbox = c.args[0] if isinstance(c.args[0], bytes) else str(c.args[0]).encode()
        return b'* STATUS "%s" (MESSAGES 1)\r\n' % mailbox
    return b"* 1 FETCH (UID 1 FLAGS (\\Seen))\r\n"


async def _misbehave(s: Session, c: CommandInfo, behaviour: str) -> bool:
    if behaviour == "huge":
        await s.send(b"* 1 FETCH (UID 9223372036854775808 FLAGS () RFC822.SIZE 1)")
        await s.send(f"{c.tag} OK done".encode())
        return True
    if behaviour == "endless":
        chunk = _claimed(c) * 500
        while True:  # until the client's budget closes the connection
            await s.stream.send_all(chunk)
    if behaviour == "silent":
        await s.stall()
    if behaviour == "bye":
        await s.bye("go away")
    if behaviour == "garbage":
        await s.send_raw(b"\x00\xff* 1 FETCH (((((\r\n")
        return False
    await s.drop()
    return True  # pragma: no cover - drop() ends the session


async def _run(tmp_path: Path, steps: list[tuple[str, str]]) -> None:
    mail = MailStore()
    mail.add_user("alice", ALICE_PASSWORD)
    mail.add_user("bob", "bob-password")
    server = IMAPTestServer(mail)
    actions = dict(steps)

    async def hook(s: Session, c: CommandInfo) -> bool:
        if s.user is not None and s.user.name == "bob" and c.name in actions:
            return await _misbehave(s, c, actions[c.name])
        return False

    server.behavior.on_command = hook
    alice: Account = make_account(security=Security.NONE, allow_insecure=True)
    bob = make_account(
        "bob", security=Security.NONE, allow_insecure=True, password="bob-password",
        max_command_data=2**20, backoff_initial=1.0, backoff_max=30.0,
    )  # fmt: skip
    config = service_config(alice, bob, sweep_interval=300, sync_timeout=120)
    async with trio.open_nursery() as nursery:
        connect = server.connector(nursery)

        async def connector(account: Account) -> trio.abc.Stream:
            return await connect()

        tracemalloc.start()
        try:
            async with running(config, connector, tmp_path) as service:
                with service.subscribe(100_000) as events:
                    seen: list[ServiceEvent] = []
                    for n in range(3):
                        await trio.sleep(200)
                        uid = mail.deliver("alice", sample_message(n))
                        with trio.fail_after(60):  # within a minute, whatever bob's server does
                            while ("alice", "INBOX", uid) not in announced(seen):
                                await trio.sleep(1)
                                seen += drain(events)
                    peak = tracemalloc.get_traced_memory()[1]
                    alices = [key for key in announced(seen) if key[0] == "alice"]
                    assert len(alices) == len(set(alices)) == 3, alices
        finally:
            tracemalloc.stop()
        nursery.cancel_scope.cancel()
    assert peak < MEMORY_BOUND, peak


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(script)
def test_a_hostile_server_for_one_account_leaves_the_others_be(
    tmp_path: Path, steps: list[tuple[str, str]]
) -> None:
    clock = trio.testing.MockClock(autojump_threshold=0)
    store_dir = Path(tempfile.mkdtemp(dir=tmp_path))  # a fresh store for every example
    trio.run(_run, store_dir, steps, clock=clock)
