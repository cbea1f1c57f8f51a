"""Helpers shared by the tests (fixtures live in conftest.py)."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import attrs
import httpx
import pytest
import trio

from trio_mailsync.core.config import Account
from trio_mailsync.providers.auth import OAuth2Auth, OAuth2Credentials, PasswordAuth
from trio_mailsync.providers.imap import AccountLimits, Security, imap_account
from trio_mailsync.testing import CommandInfo, IMAPTestServer, Session

ALICE_PASSWORD = "alice-correct-horse"

Connect = Callable[[Account], Awaitable[trio.abc.Stream]]


def make_account(
    account_id: str = "alice",
    *,
    ca_file: Path | None = None,
    security: Security = Security.TLS,
    password: str = ALICE_PASSWORD,
    allow_insecure: bool = False,
    notify_from: datetime | Literal["all"] | None = "all",
    host: str = "imap.test",
    port: int | None = None,
    **limits: Any,
) -> Account:
    """An IMAP account of the testing server (host ``imap.test``, reached over memory
    streams; or ``host`` and ``port``), user = account id.

    ``notify_from`` is ``"all"``: tests deliver mail and then start the service.
    """
    where: dict[str, Any] = {} if port is None else {"port": port}
    return imap_account(
        account_id,
        notify_from=notify_from,
        host=host,
        **where,
        username=account_id,
        auth=PasswordAuth(password=password),
        security=security,
        allow_insecure=allow_insecure,
        ca_file=ca_file,
        limits=AccountLimits(**limits),
    )


async def drop_on_noop(session: Session, command: CommandInfo) -> bool:
    """A server hook: a NOOP (a health check) finds the connection gone."""
    if command.name == "NOOP":
        await session.drop()
    return False


def oauth_credentials(server: IMAPTestServer, user: str = "alice") -> OAuthGrant:
    """OAuth credentials for ``user`` whose token endpoint (an httpx MockTransport) issues
    ``token-1``, ``token-2``... for an hour each, every one accepted by ``server``."""
    issued: list[str] = []

    def token_endpoint(request: httpx.Request) -> httpx.Response:
        token = f"token-{len(issued) + 1}"
        issued.append(token)
        server.store.user(user).tokens.add(token)
        return httpx.Response(200, json={"access_token": token, "expires_in": 3600})

    auth = OAuth2Auth(token_url="https://auth.test/token", client_id="c", refresh_token="r")
    http = httpx.AsyncClient(transport=httpx.MockTransport(token_endpoint))
    return OAuthGrant(OAuth2Credentials(user, auth, account_id=user, http=http), issued)


@attrs.frozen
class OAuthGrant:
    """What :func:`oauth_credentials` gives: the credentials, and the tokens issued so far."""

    credentials: OAuth2Credentials
    issued: list[str]


def installed_or_skip(ensure_installed: Callable[[], object], unavailable: type[Exception]) -> None:
    """A real peer's program is there (installed now if need be), else the test is skipped;
    as root, which can install it, not having it is a failure."""
    try:
        ensure_installed()
    except unavailable as exc:
        if os.geteuid() == 0:
            raise
        pytest.skip(str(exc))
