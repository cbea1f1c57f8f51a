"""Start-up and reconnect storms (issue 16): new connections to one host, spread out.

Many accounts on one testing server, under a MockClock. The service starts, every
account IDLEs on its one connection; then the server drops every connection at once (a
restart). Logins per second of mock time, counted by the server, must stay within the
configured ``connect_rate``, and every account must be back within about
``accounts / connect_rate`` seconds.
"""

from __future__ import annotations

import collections
import math
from pathlib import Path

import pytest
import trio
import trio.testing

from tests.service_support import plain, running, service_config
from tests.support import ALICE_PASSWORD, Connect
from trio_mailsync.core.events import AccountState
from trio_mailsync.testing import Behavior, CommandInfo, IMAPTestServer, MailStore, Session


async def _storm(
    accounts: int,
    rate: float,
    plain_connector: Connect,
    server: IMAPTestServer,
    behavior: Behavior,
    mail: MailStore,
    tmp_path: Path,
) -> None:
    names = [f"user{i:05d}" for i in range(accounts)]
    for name in names:
        mail.add_user(name, ALICE_PASSWORD)
    logins: list[float] = []

    async def count(session: Session, command: CommandInfo) -> bool:
        if command.name in ("LOGIN", "AUTHENTICATE"):
            logins.append(trio.current_time())
        return False

    behavior.on_command = count
    config = service_config(
        *(plain(name, password=ALICE_PASSWORD) for name in names),
        connect_rate=rate,
        sweep_interval=100_000,
    )
    async with running(config, plain_connector, tmp_path) as service:

        async def all_idle(within: float) -> float:
            started = trio.current_time()
            with trio.fail_after(within):
                while any(service.state(n) is not AccountState.IDLE for n in names):
                    await trio.sleep(1)
            return trio.current_time() - started

        needed = accounts / rate
        await all_idle(needed + 30)
        _check_rate(logins, rate)
        assert len(logins) == accounts, "one connection per account"

        logins.clear()
        for session in list(server.sessions):
            await session.close()  # the server restarts: every connection is gone at once
        back = await all_idle(needed + 60)
        assert len(logins) == accounts
        _check_rate(logins, rate)
        # Spread, not trickled: about accounts / rate seconds, not much more.
        assert back <= needed + 10, back


def _check_rate(times: list[float], rate: float) -> None:
    """At most ``rate`` logins (plus the burst of the first second) in any one second."""
    per_second = collections.Counter(math.floor(t) for t in times)
    assert max(per_second.values()) <= 2 * rate, per_second.most_common(3)
    # After the first second the bucket is empty: the steady pace is the rate itself.
    first = min(per_second)
    later = [n for second, n in per_second.items() if second > first + 1]
    assert not later or max(later) <= rate + 1, sorted(per_second.items())[:10]


async def test_a_restarted_server_sees_its_accounts_come_back_at_the_configured_rate(
    autojump_clock: trio.testing.MockClock,
    plain_connector: Connect,
    server: IMAPTestServer,
    behavior: Behavior,
    mail: MailStore,
    tmp_path: Path,
) -> None:
    await _storm(200, 20, plain_connector, server, behavior, mail, tmp_path)


@pytest.mark.slow
async def test_two_thousand_accounts_reconnect_at_the_configured_rate(
    autojump_clock: trio.testing.MockClock,
    plain_connector: Connect,
    server: IMAPTestServer,
    behavior: Behavior,
    mail: MailStore,
    tmp_path: Path,
) -> None:
    await _storm(2000, 50, plain_connector, server, behavior, mail, tmp_path)
