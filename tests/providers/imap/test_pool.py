"""The connection pool, with the testing server and a MockClock (autojump_clock)."""

from __future__ import annotations

import itertools
import random

import pytest
import trio
import trio.testing

from tests.support import Connect, drop_on_noop, make_account, oauth_credentials
from trio_mailsync.core.config import Account
from trio_mailsync.core.errors import AuthenticationFailed, ConnectionLost
from trio_mailsync.providers.imap import ConnectionPool, Security, open_pool
from trio_mailsync.testing import CommandInfo, IMAPTestServer, Session


def plain_account(**limits: object) -> Account:
    return make_account(security=Security.NONE, allow_insecure=True, **limits)  # type: ignore[arg-type]


async def test_connections_are_reused(
    autojump_clock: trio.testing.MockClock, plain_connector: Connect, server: IMAPTestServer
) -> None:
    async with open_pool([plain_account()], connector=plain_connector) as pool:
        for _ in range(10):
            async with pool.connection("alice") as conn:
                await conn.select("INBOX")
            await trio.sleep(5)
        stats = pool.statistics()
    assert (stats.connections_opened, stats.authentications, stats.reused) == (1, 1, 9)
    assert server.statistics().connections == 1
    assert server.statistics().commands["LOGOUT"] == 1  # closed with the pool


async def test_health_check_after_idle(
    autojump_clock: trio.testing.MockClock, plain_connector: Connect, server: IMAPTestServer
) -> None:
    account = plain_account(health_check_after=60, max_idle_time=3600)
    async with open_pool([account], connector=plain_connector) as pool:
        async with pool.connection("alice"):
            pass
        await trio.sleep(30)
        async with pool.connection("alice"):
            pass
        assert pool.statistics().health_checks == 0
        await trio.sleep(61)
        async with pool.connection("alice"):
            pass
        stats = pool.statistics()
    assert stats.health_checks == 1
    assert stats.connections_opened == 1
    assert server.statistics().commands["NOOP"] == 1


async def test_failed_health_check_replaces_the_connection(
    autojump_clock: trio.testing.MockClock, plain_connector: Connect, server: IMAPTestServer
) -> None:
    account = plain_account(health_check_after=60, max_idle_time=3600)
    async with open_pool([account], connector=plain_connector) as pool:
        async with pool.connection("alice"):
            pass
        generation = pool.generation("alice")
        server.behavior.on_command = drop_on_noop
        await trio.sleep(120)
        async with pool.connection("alice") as conn:
            assert not conn.broken
        stats = pool.statistics()
        assert pool.generation("alice") == generation + 1
    assert (stats.health_checks, stats.health_check_failures) == (1, 1)
    assert stats.connections_opened == 2


async def test_idle_connections_close_after_max_idle_time(
    autojump_clock: trio.testing.MockClock, plain_connector: Connect, server: IMAPTestServer
) -> None:
    account = plain_account(max_idle_time=300)
    async with open_pool([account], connector=plain_connector) as pool:
        async with pool.connection("alice"):
            pass
        await trio.sleep(299)
        assert pool.statistics().idle == 1
        await trio.sleep(2)
        stats = pool.statistics()
        assert (stats.idle, stats.closed_idle) == (0, 1)
        assert server.statistics().commands.get("LOGOUT") == 1
        assert server.statistics().open_sessions == 0


async def test_a_short_idle_time_is_kept_between_janitor_rounds(
    autojump_clock: trio.testing.MockClock, plain_connector: Connect, server: IMAPTestServer
) -> None:
    # Shorter than the janitor's tick (60 s): the returned connection must wake it.
    account = plain_account(max_idle_time=10)
    async with open_pool([account], connector=plain_connector) as pool:
        await trio.sleep(5)  # the janitor is asleep until its next tick
        async with pool.connection("alice"):
            pass
        await trio.sleep(9)
        assert pool.statistics().idle == 1
        await trio.sleep(2)
        assert pool.statistics().closed_idle == 1


async def test_backoff_schedule(autojump_clock: trio.testing.MockClock) -> None:
    attempts: list[float] = []

    async def refusing(account: Account) -> trio.abc.Stream:
        attempts.append(trio.current_time())
        raise OSError("connection refused")

    account = plain_account(backoff_initial=1, backoff_max=30)
    async with open_pool([account], connector=refusing, jitter=lambda: 1.0) as pool:
        for _ in range(8):
            with pytest.raises(ConnectionLost, match="connection refused"):
                async with pool.connection("alice"):
                    pass
    gaps = [round(b - a, 6) for a, b in itertools.pairwise(attempts)]
    assert gaps == [1, 2, 4, 8, 16, 30, 30]


async def test_backoff_jitter_stays_in_the_upper_half(
    autojump_clock: trio.testing.MockClock,
) -> None:
    attempts: list[float] = []

    async def refusing(account: Account) -> trio.abc.Stream:
        attempts.append(trio.current_time())
        raise OSError("refused")

    rng = random.Random(7)
    account = plain_account(backoff_initial=4, backoff_max=64)
    async with open_pool([account], connector=refusing, jitter=rng.random) as pool:
        for _ in range(6):
            with pytest.raises(ConnectionLost):
                async with pool.connection("alice"):
                    pass
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    for i, gap in enumerate(gaps):
        base = min(64, 4 * 2**i)
        assert base / 2 <= gap <= base
    assert len(set(gaps)) == len(gaps)  # jittered


async def test_budget_is_never_exceeded(
    autojump_clock: trio.testing.MockClock, plain_connector: Connect, server: IMAPTestServer
) -> None:
    peak = 0

    async def track(session: Session, command: CommandInfo) -> bool:
        nonlocal peak
        peak = max(peak, server.statistics().open_sessions)
        return False

    server.behavior.on_command = track
    server.behavior.delays["SELECT"] = 1.0
    account = plain_account(max_connections=3)
    rng = random.Random(1)

    async with open_pool([account], connector=plain_connector) as pool:

        async def worker() -> None:
            for _ in range(5):
                async with pool.connection("alice") as conn:
                    assert pool.statistics().in_use <= 3
                    await conn.select("INBOX")
                    await trio.sleep(rng.random() * 3)

        async with trio.open_nursery() as nursery:
            for _ in range(20):
                nursery.start_soon(worker)
        stats = pool.statistics()
    assert peak == 3
    assert stats.connections_opened == 3
    assert stats.reused == 100 - 3


async def test_too_many_connections_is_back_pressure(
    autojump_clock: trio.testing.MockClock, plain_connector: Connect, server: IMAPTestServer
) -> None:
    server.behavior.max_connections_per_user = 1
    account = plain_account(max_connections=3, backoff_initial=1)
    finished: list[str] = []
    async with open_pool([account], connector=plain_connector) as pool:

        async def user(name: str, hold: float) -> None:
            async with pool.connection("alice") as conn:
                await conn.noop()
                await trio.sleep(hold)
            finished.append(name)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(user, "first", 10)
            await trio.sleep(1)
            nursery.start_soon(user, "second", 0)
        stats = pool.statistics()
        assert pool.needs_attention("alice") is None
    assert finished == ["first", "second"]
    assert stats.busy >= 1
    assert stats.failures == 0
    assert stats.connections_opened == 1  # the second waited and got the first's connection


async def test_refused_credentials_are_not_retried_in_a_storm(
    autojump_clock: trio.testing.MockClock, plain_connector: Connect, server: IMAPTestServer
) -> None:
    account = make_account(
        security=Security.NONE, allow_insecure=True, password="wrong", auth_retry_after=900
    )
    async with open_pool([account], connector=plain_connector) as pool:
        with pytest.raises(AuthenticationFailed):
            async with pool.connection("alice"):
                pass
        assert pool.needs_attention("alice") is not None
        for _ in range(10):
            with pytest.raises(AuthenticationFailed, match="not retried for"):
                async with pool.connection("alice"):
                    pass
        assert server.statistics().login_failures == 1  # the server was asked once
        await trio.sleep(901)
        with pytest.raises(AuthenticationFailed):
            async with pool.connection("alice"):
                pass
        assert server.statistics().login_failures == 2
        pool.reset("alice")
        assert pool.needs_attention("alice") is None


async def test_cancellation_mid_command_discards_the_connection(
    autojump_clock: trio.testing.MockClock, plain_connector: Connect, server: IMAPTestServer
) -> None:
    server.behavior.delays["UID SEARCH"] = 60
    async with open_pool([plain_account()], connector=plain_connector) as pool:
        async with pool.connection("alice") as conn:
            await conn.select("INBOX")
            with trio.move_on_after(5):
                await conn.uid_search("ALL")
            assert conn.broken
        server.behavior.delays.clear()
        async with pool.connection("alice") as fresh:
            assert fresh is not conn
            await fresh.select("INBOX")
            assert await fresh.uid_search("ALL") == []
        stats = pool.statistics()
    assert (stats.discarded, stats.connections_opened) == (1, 2)


async def test_one_account_failing_does_not_block_another(
    autojump_clock: trio.testing.MockClock, plain_connector: Connect, server: IMAPTestServer
) -> None:
    bad = make_account("bob", security=Security.NONE, allow_insecure=True, password="nope")
    good = plain_account()
    async with open_pool([good, bad], connector=plain_connector) as pool:
        with pytest.raises(AuthenticationFailed):
            async with pool.connection("bob"):
                pass
        async with pool.connection("alice") as conn:
            await conn.noop()
        assert pool.statistics("alice").failures == 0
        assert pool.statistics("bob").failures == 1


def test_pool_rejects_unknown_accounts() -> None:
    pool = ConnectionPool([plain_account()])
    with pytest.raises(KeyError, match="no account 'zed'"):
        pool.statistics("zed")


async def test_bye_for_an_expired_token_refreshes_and_reconnects(
    autojump_clock: trio.testing.MockClock, plain_connector: Connect, server: IMAPTestServer
) -> None:
    grant = oauth_credentials(server)
    creds, issued = grant.credentials, grant.issued

    async def expire_on_noop(session: Session, command: CommandInfo) -> bool:
        if command.name == "NOOP":
            await session.bye("[AUTHENTICATIONFAILED] Session invalidated - AccessTokenExpired")
        return False

    account = plain_account()
    async with open_pool(
        [account], connector=plain_connector, credentials={"alice": creds}
    ) as pool:
        server.behavior.on_command = expire_on_noop
        async with pool.connection("alice") as conn:
            with pytest.raises(ConnectionLost, match="AccessTokenExpired"):
                await conn.noop()
        server.behavior.on_command = None
        async with pool.connection("alice") as conn:
            await conn.noop()
        stats = pool.statistics()
    assert issued == ["token-1", "token-2"]  # one refresh for the reconnect, no storm
    assert (stats.discarded, stats.connections_opened, stats.failures) == (1, 2, 0)


async def test_a_server_down_for_thousands_of_attempts_is_still_retried(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # 2.0 ** 1024 overflowed after 1,024 failures: days of outage with the defaults,
    # minutes with small backoffs, and the OverflowError ended every account (issue 17, 2).
    attempts = 0

    async def down(account: Account) -> trio.abc.Stream:
        nonlocal attempts
        attempts += 1
        raise OSError("connection refused")

    account = plain_account(backoff_initial=0.001, backoff_max=2.0)
    async with open_pool([account], connector=down, jitter=lambda: 1.0) as pool:
        for _ in range(1500):
            with pytest.raises(ConnectionLost, match="connection refused"):
                async with pool.connection(account):
                    pass  # pragma: no cover - never connected
        started = trio.current_time()
        with pytest.raises(ConnectionLost):
            async with pool.connection(account):
                pass  # pragma: no cover
        assert trio.current_time() - started == pytest.approx(2.0)  # backoff_max, no more
    assert attempts == 1501


async def test_a_pooled_oauth_connection_is_replaced_before_its_token_expires(
    autojump_clock: trio.testing.MockClock, plain_connector: Connect, server: IMAPTestServer
) -> None:
    grant = oauth_credentials(server)
    creds, issued = grant.credentials, grant.issued

    account = plain_account(health_check_after=10_000, max_idle_time=10_000)
    async with open_pool(
        [account], connector=plain_connector, credentials={"alice": creds}
    ) as pool:
        async with pool.connection("alice") as conn:
            first = conn
        await trio.sleep(3550)  # inside the token's last minute
        async with pool.connection("alice") as conn:
            assert conn is not first
            await conn.noop()
        stats = pool.statistics()
    assert issued == ["token-1", "token-2"]
    assert (stats.expired, stats.connections_opened, stats.discarded) == (1, 2, 0)
