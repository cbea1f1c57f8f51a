"""``app.run_worker``: the accounts of the config file and those added at runtime (kept in
the shared store) are the cluster's; a worker alone takes them all, and gives them back
when it stops."""

from __future__ import annotations

from typing import Any

import coredis
import pytest
import trio

from trio_mailsync import app
from trio_mailsync.app import run_worker
from trio_mailsync.config import parse_account, parse_config
from trio_mailsync.core.config import Account
from trio_mailsync.stores.postgres import PostgresStore
from trio_mailsync.testing.redis import RedisServer

# A closed loopback port: the accounts try to connect and wait to try again.
IMAP = {"host": "127.0.0.1", "port": 1, "security": "none", "allow_insecure": True}


async def test_a_worker_runs_the_files_accounts_and_the_stores(
    redis_session: RedisServer,
    redis_prefix: str,
    postgres_dsn: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PW", "from-the-environment")
    store = await PostgresStore.open(postgres_dsn, shared=True, connections=1)
    try:
        await store.save_account("added", {**IMAP, "username": "a", "password_env": "PW"})
        await store.save_account("broken", {"host": "h"})  # no username: cannot run
    finally:
        await store.aclose()
    config = parse_config(
        {
            "store": {"backend": "postgres", "dsn": postgres_dsn},
            "cluster": {
                "redis_url": f"redis://127.0.0.1:{redis_session.port}",
                "prefix": redis_prefix,
                "lease_ttl": 3,
            },
            "accounts": {"file": {**IMAP, "username": "f", "password": "p"}},
        }
    )
    client: coredis.Redis[str] = coredis.Redis(
        host="127.0.0.1", port=redis_session.port, decode_responses=True
    )
    parsed: list[str] = []

    def counting_parse(account_id: str, *args: Any, **kwargs: Any) -> Account:
        parsed.append(account_id)
        return parse_account(account_id, *args, **kwargs)

    monkeypatch.setattr(app, "parse_account", counting_parse)
    async with client, trio.open_nursery() as nursery:
        worker = await nursery.start(run_worker, config)
        assert sorted(worker.held) == ["added", "file"]
        assert sorted(a.id for a in worker.service.accounts) == ["added", "file"]
        steps = worker.statistics().steps
        with trio.fail_after(10):
            while worker.statistics().steps < steps + 2:
                await trio.sleep(0.1)
        # Each step reads the saved tables; an unchanged one is not parsed again, and the
        # account it runs is the same (not restarted).
        assert parsed.count("added") == 1
        assert worker.statistics().taken == 2
        nursery.cancel_scope.cancel()
    async with client:
        assert await client.keys(f"{redis_prefix}:lease:*") == set()  # given back
        assert await client.zrange(f"{redis_prefix}:workers", 0, -1) == ()
