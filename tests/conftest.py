"""Fixtures shared by all tests: the testing IMAP server, reached over memory streams."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio
import trustme

from tests.support import ALICE_PASSWORD, Connect, installed_or_skip
from trio_mailsync.core.config import Account
from trio_mailsync.testing import Behavior, IMAPTestServer, MailStore, postgres, redis
from trio_mailsync.testing.postgres import PostgresServer
from trio_mailsync.testing.redis import RedisServer


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


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL for the session (initdb takes seconds); tests take a database each."""
    installed_or_skip(postgres.ensure_installed, postgres.PostgresUnavailable)
    with PostgresServer() as server:
        yield server


@pytest.fixture(scope="session")
def redis_session() -> Iterator[RedisServer]:
    """One Redis for the session; tests keep apart by key prefix (``redis_prefix``)."""
    installed_or_skip(redis.ensure_installed, redis.RedisUnavailable)
    with RedisServer() as server:
        yield server


@pytest.fixture
def redis_prefix(request: pytest.FixtureRequest) -> str:
    """A key prefix of this test's own in the session's Redis."""
    return f"t{abs(hash(request.node.nodeid)):x}"


@pytest.fixture
def postgres_dsn(postgres_server: PostgresServer) -> str:
    """The DSN of a new, empty database of the session's PostgreSQL, for this test alone."""
    return postgres_server.create_database()


@pytest.fixture
def mail() -> MailStore:
    """The testing server's mail: users alice and bob."""
    mail = MailStore()
    mail.add_user("alice", ALICE_PASSWORD)
    mail.add_user("bob", "bob-password")
    return mail


@pytest.fixture
def behavior() -> Behavior:
    return Behavior()


@pytest.fixture
def server(
    mail: MailStore, behavior: Behavior, request: pytest.FixtureRequest
) -> Iterator[IMAPTestServer]:
    """The testing server. A command it cannot read fails the test: the client wrote it.

    A test whose client must send what is not a command marks it ``client_sends_garbage``.
    """
    server = IMAPTestServer(mail, behavior)
    yield server
    if request.node.get_closest_marker("client_sends_garbage") is None:
        errors = server.statistics().syntax_errors
        assert errors == 0, "the client sent a command outside the grammar"


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


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Keep each test's call report on its item (the browser fixture saves a screenshot
    when the test failed)."""
    outcome = yield
    if call.when == "call":
        item.outcome_call = outcome.get_result()  # type: ignore[attr-defined]


@pytest.fixture
def browser(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """Headless Chromium for the dashboard's tests (``tests/dashboard_support.py``)."""
    pytest.importorskip("selenium.webdriver")
    from tests.dashboard_support import open_browser

    yield from open_browser(request, tmp_path)
