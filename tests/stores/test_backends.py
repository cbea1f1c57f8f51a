"""Choosing the store by config: ``[store] backend``, and ``serve`` on PostgreSQL end to end."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
import trio

from tests.service_support import loopback_account, until_served
from tests.support import ALICE_PASSWORD
from trio_mailsync import cli
from trio_mailsync.app import store_name, store_reader
from trio_mailsync.config import parse_config
from trio_mailsync.core.config import BroadcastSettings, Config, ServiceSettings, StoreSettings
from trio_mailsync.core.errors import ConfigError, StoreInUse
from trio_mailsync.sinks.client import open_event_stream
from trio_mailsync.stores import listings
from trio_mailsync.testing import IMAPTestServer, MailStore, sample_message

ACCOUNT = {"accounts": {"a": {"host": "h", "username": "u", "password": "p"}}}


def parsed(store: dict[str, Any]) -> Config:
    return parse_config({**ACCOUNT, "store": store})


def test_the_store_is_sqlite_unless_the_config_says_postgres(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert parsed({}).store == StoreSettings()
    assert parsed({"path": "/tmp/x.sqlite3"}).store_path == Path("/tmp/x.sqlite3")
    monkeypatch.setenv("PGPW", "from-the-environment")
    config = parsed(
        {
            "backend": "postgres",
            "dsn": "postgresql://mail@db.internal/mail",
            "password_env": "PGPW",
            "connections": 4,
            "lock_timeout": 2,
        }
    )
    assert config.store.backend == "postgres"
    assert (config.store.connections, config.store.lock_timeout) == (4, 2.0)
    assert config.store.password is not None
    assert config.store.password.reveal() == "from-the-environment"
    assert "from-the-environment" not in repr(config)
    assert store_name(config) == "postgresql://mail@db.internal:5432/mail"


@pytest.mark.parametrize(
    ("store", "key", "says"),
    [
        ({"backend": "mysql"}, "store.backend", 'must be "sqlite" or "postgres"'),
        ({"dsn": "postgresql://h/db"}, "store.dsn", 'is for backend = "postgres"'),
        ({"backend": "postgres"}, "store.dsn", "is missing"),
        (
            {"backend": "postgres", "dsn": "postgresql://h/db", "path": "/x"},
            "store.path",
            'is for backend = "sqlite"',
        ),
        (
            {"backend": "postgres", "dsn": "postgresql://u:s3cret-pw@h/db"},
            "store.dsn",
            "must not hold the password",
        ),
        (
            {"backend": "postgres", "dsn": "host=h dbname=db password=s3cret-pw"},
            "store.dsn",
            "must not hold the password",
        ),
        (
            {"backend": "postgres", "dsn": "postgresql://h/db", "connections": 0},
            "store.connections",
            "must be an integer from 1",
        ),
        (
            {"backend": "postgres", "dsn": "postgresql://h/db", "lock_timeout": 0},
            "store.lock_timeout",
            "must be a number of at least 0.1",
        ),
        ({"lock_timeout": 5}, "store.lock_timeout", 'is for backend = "postgres"'),
    ],
)
def test_a_store_table_that_cannot_work_is_one_clear_error(
    store: dict[str, Any], key: str, says: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parsed(store)
    assert caught.value.key == key
    assert says in str(caught.value)
    assert "s3cret-pw" not in str(caught.value)


async def test_serve_on_postgres_reports_mail_and_keeps_it_there(
    postgres_dsn: str, tmp_path: Path
) -> None:
    mail = MailStore()
    mail.add_user("alice", ALICE_PASSWORD)
    server = IMAPTestServer(mail)
    out, err = io.StringIO(), io.StringIO()
    async with trio.open_nursery() as nursery:
        port = await nursery.start(server.serve_tcp)
        config = Config(
            accounts=(loopback_account(port),),
            store=StoreSettings(backend="postgres", dsn=postgres_dsn),
            service=ServiceSettings(sweep_interval=3600),
            broadcast=BroadcastSettings(port=0),
        )
        nursery.start_soon(cli._serve, config, None, False, out, err)
        url, token = await until_served(out, err)
        assert f"state in {store_name(config)}" in err.getvalue()
        # A second serve on the same database is refused: both would announce the mail.
        with pytest.raises(StoreInUse, match="is in use by other processes"):
            await cli._serve(config, None, True, io.StringIO(), io.StringIO())
        async with open_event_stream(url, token) as events:
            assert (await events.receive())["type"] == "hello"
            uid = mail.deliver("alice", sample_message(1, subject="kept in postgres"))
            with trio.fail_after(20):
                while (event := await events.receive())["type"] != "new_messages":
                    pass
        assert [(m["uid"], m["subject"]) for m in event["messages"]] == [(uid, "kept in postgres")]
        # Listed from the database while serve holds it.
        folders, messages, _ = listings.account_overview(store_reader(config))["alice"]
        assert (folders, messages) >= (1, 1)
        listed = io.StringIO()
        assert cli._failures(store_reader(config), listed, io.StringIO()) == 0
        assert "no failed deliveries" in listed.getvalue()
        nursery.cancel_scope.cancel()
