"""Fixtures for the Trio layer: a testing server reached over in-memory streams."""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import trio
import trustme

from trio_mailsync.config import Account, AccountLimits, PasswordAuth, Security
from trio_mailsync.testing import Behavior, IMAPTestServer, MailStore

ALICE_PASSWORD = "alice-correct-horse"


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture(scope="session")
def server_ssl_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("imap.test", "localhost", "127.0.0.1").configure_cert(context)
    return context


@pytest.fixture
def store() -> MailStore:
    store = MailStore()
    store.add_user("alice", ALICE_PASSWORD)
    store.add_user("bob", "bob-password")
    return store


@pytest.fixture
def behavior() -> Behavior:
    return Behavior()


@pytest.fixture
def server(store: MailStore, behavior: Behavior) -> IMAPTestServer:
    return IMAPTestServer(store, behavior)


def make_account(
    account_id: str = "alice",
    *,
    ca_file: Path | None = None,
    security: Security = Security.TLS,
    password: str = ALICE_PASSWORD,
    allow_insecure: bool = False,
    **limits: Any,
) -> Account:
    return Account(
        id=account_id,
        host="imap.test",
        username=account_id,
        auth=PasswordAuth(password=password),
        security=security,
        allow_insecure=allow_insecure,
        ca_file=ca_file,
        limits=AccountLimits(**limits),
    )


Connect = Callable[[Account], Awaitable[trio.abc.Stream]]


@pytest.fixture
def tls_connector(
    server: IMAPTestServer, nursery: trio.Nursery, server_ssl_context: ssl.SSLContext
) -> Connect:
    """Reaches ``server`` over memory streams; the server side speaks implicit TLS."""
    connect = server.connector(nursery, server_ssl_context)

    async def connector(account: Account) -> trio.abc.Stream:
        return await connect()

    return connector


@pytest.fixture
def plain_connector(server: IMAPTestServer, nursery: trio.Nursery) -> Connect:
    """Reaches ``server`` over memory streams without TLS."""
    connect = server.connector(nursery)

    async def connector(account: Account) -> trio.abc.Stream:
        return await connect()

    return connector
