"""The scale-out work's Redis: Debian's redis-server started by the tests on loopback, and
coredis on Trio doing what leases need (SET NX PX, INCR for fencing tokens)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import coredis
import pytest
import trio

from tests.support import installed_or_skip
from trio_mailsync.testing.redis import RedisServer, RedisUnavailable, ensure_installed


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    installed_or_skip(ensure_installed, RedisUnavailable)
    with RedisServer() as server:
        yield server


async def test_leases_and_fencing_tokens_with_coredis_on_trio(redis_server: RedisServer) -> None:
    client = coredis.Redis(host="127.0.0.1", port=redis_server.port, decode_responses=True)
    async with client:
        assert await client.set("lease:alice", "worker-1", condition=coredis.PureToken.NX, px=500)
        # Held: a second worker cannot take it ...
        assert not await client.set(
            "lease:alice", "worker-2", condition=coredis.PureToken.NX, px=500
        )
        assert await client.incr("fence:alice") == 1
        await trio.sleep(0.6)
        # ... until it expires; the next owner's fencing token is higher.
        assert await client.set("lease:alice", "worker-2", condition=coredis.PureToken.NX, px=500)
        assert await client.incr("fence:alice") == 2


def test_a_restart_keeps_the_port_and_loses_the_keys(redis_server: RedisServer) -> None:
    port = redis_server.port

    def ask(command: bytes) -> bytes:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(command)
            return s.recv(64)

    assert ask(b"SET k v\r\n") == b"+OK\r\n"
    redis_server.restart()
    assert redis_server.port == port
    assert ask(b"GET k\r\n") == b"$-1\r\n"  # nothing kept: no persistence
    redis_server.stop()
    with pytest.raises(ConnectionRefusedError):
        ask(b"PING\r\n")
