"""The scale-out work's PostgreSQL: a cluster of the tests' own on loopback, and psycopg's
synchronous API from Trio's worker threads doing what fencing needs (a write refused when
its token is older than the one the row holds)."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
import trio

from tests.support import installed_or_skip
from trio_mailsync.testing.postgres import PostgresServer, PostgresUnavailable, ensure_installed


@pytest.fixture
def postgres() -> Iterator[PostgresServer]:
    installed_or_skip(ensure_installed, PostgresUnavailable)
    with PostgresServer() as server:
        yield server


def fenced_write(dsn: str, account: str, token: int, value: str) -> bool:
    """Write ``value`` for ``account`` unless a newer fencing token has written already."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        cursor = conn.execute(
            "INSERT INTO owned (account, fence, value) VALUES (%s, %s, %s) "
            "ON CONFLICT (account) DO UPDATE SET fence = excluded.fence, value = excluded.value "
            "WHERE owned.fence <= excluded.fence",
            (account, token, value),
        )
        return cursor.rowcount == 1


async def test_a_write_with_an_older_fencing_token_is_refused(postgres: PostgresServer) -> None:
    def setup() -> None:
        with psycopg.connect(postgres.dsn, autocommit=True) as conn:
            conn.execute("CREATE TABLE owned (account text PRIMARY KEY, fence bigint, value text)")

    await trio.to_thread.run_sync(setup)
    assert await trio.to_thread.run_sync(fenced_write, postgres.dsn, "alice", 1, "first owner")
    assert await trio.to_thread.run_sync(fenced_write, postgres.dsn, "alice", 2, "second owner")
    # The first owner wakes up after its lease moved: its write is refused.
    assert not await trio.to_thread.run_sync(fenced_write, postgres.dsn, "alice", 1, "stale")

    def value() -> object:
        with psycopg.connect(postgres.dsn) as conn:
            row = conn.execute("SELECT value FROM owned WHERE account = 'alice'").fetchone()
            return None if row is None else row[0]

    assert await trio.to_thread.run_sync(value) == "second owner"


def test_a_restart_keeps_the_data_and_the_port(postgres: PostgresServer) -> None:
    with psycopg.connect(postgres.dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (n int)")
        conn.execute("INSERT INTO kept VALUES (7)")
    port = postgres.port
    postgres.restart()
    assert postgres.port == port
    with psycopg.connect(postgres.dsn) as conn:
        assert conn.execute("SELECT n FROM kept").fetchone() == (7,)
