"""``[cluster]``: what a worker reads, and the clear errors of a table that cannot work."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from trio_mailsync import cli
from trio_mailsync.config import parse_config
from trio_mailsync.core.errors import ConfigError

ACCOUNTS = {"a": {"host": "h", "username": "u", "password": "p"}}
POSTGRES = {"backend": "postgres", "dsn": "postgresql://mail@db/mail"}


def parsed(cluster: dict[str, Any], store: dict[str, Any] = POSTGRES) -> Any:
    return parse_config({"accounts": ACCOUNTS, "store": store, "cluster": cluster})


def test_a_cluster_table_is_read_with_its_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDISPW", "redis-secret")
    config = parsed({"redis_url": "redis://10.0.0.5:6379/2", "password_env": "REDISPW"})
    cluster = config.cluster
    assert cluster.redis_url == "redis://10.0.0.5:6379/2"
    assert cluster.password.reveal() == "redis-secret"
    assert (cluster.lease_ttl, cluster.max_accounts, cluster.prefix) == (30.0, 10_000, "mailsync")
    assert "redis-secret" not in repr(config)
    assert parse_config({"accounts": ACCOUNTS}).cluster is None


@pytest.mark.parametrize(
    ("cluster", "store", "key", "says"),
    [
        ({"redis_url": "redis://h"}, {}, "cluster", 'needs [store] backend = "postgres"'),
        ({"redis_url": "redis://:hunter2@h"}, POSTGRES, "cluster.redis_url", "password"),
        ({"redis_url": "http://h"}, POSTGRES, "cluster.redis_url", "must be redis://"),
        ({"redis_url": "redis://h", "name": "a b"}, POSTGRES, "cluster.name", "no spaces"),
        ({"redis_url": "redis://h", "lease_ttl": 0.1}, POSTGRES, "cluster.lease_ttl", "at least"),
        ({}, POSTGRES, "cluster.redis_url", "is missing"),
    ],
)
def test_a_cluster_table_that_cannot_work_is_one_clear_error(
    cluster: dict[str, Any], store: dict[str, Any], key: str, says: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parsed(cluster, store)
    assert caught.value.key == key
    assert says in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_worker_without_a_cluster_says_so(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[accounts.a]\nhost = "h"\nusername = "u"\npassword = "p"\n')
    err = io.StringIO()
    assert cli.run(["worker", "--config", str(config)], io.StringIO(), err) == 2
    assert "a worker needs a [cluster] table" in err.getvalue()
