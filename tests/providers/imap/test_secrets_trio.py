"""No password or token in logs, reprs or errors of the Trio layer."""

from __future__ import annotations

import logging

import httpx
import pytest
import trio
import trio.testing

from tests.support import ALICE_PASSWORD, Connect, make_account
from trio_mailsync.core.errors import AuthenticationFailed
from trio_mailsync.providers.auth import (
    OAuth2Auth,
    OAuth2Credentials,
    PasswordAuth,
    PasswordCredentials,
)
from trio_mailsync.providers.imap import Security, open_pool
from trio_mailsync.testing import IMAPTestServer

TOKENS = ["ya29.first-secret-token", "ya29.second-secret-token"]


async def test_logs_and_reprs_are_clean(
    autojump_clock: trio.testing.MockClock,
    plain_connector: Connect,
    server: IMAPTestServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    good = make_account(security=Security.NONE, allow_insecure=True)
    bad = make_account("bob", security=Security.NONE, allow_insecure=True, password="bob-wrong-pw")
    server.store.user("alice").tokens.add(TOKENS[1])
    http = httpx.AsyncClient(
        transport=httpx.MockTransport(
            lambda request: httpx.Response(
                200, json={"access_token": TOKENS.pop(0) if TOKENS else "x", "expires_in": 3600}
            )
        )
    )
    oauth = make_account("alice", security=Security.NONE, allow_insecure=True)
    auth = OAuth2Auth(
        token_url="https://auth.test/t", client_id="c", refresh_token="1//refresh-secret"
    )
    texts: list[str] = []
    creds = {"bob": PasswordCredentials("bob", PasswordAuth(password="bob-wrong-pw"))}
    async with open_pool([good, bad], connector=plain_connector, credentials=creds) as pool:
        async with pool.connection("alice") as conn:
            texts.append(repr(conn))
        with pytest.raises(AuthenticationFailed) as info:
            async with pool.connection("bob"):
                pass
        texts += [str(info.value), repr(info.value), repr(pool.statistics()), repr(good), repr(bad)]
    oauth_creds = OAuth2Credentials("alice", auth, account_id="alice", http=http)
    async with (
        open_pool([oauth], connector=plain_connector, credentials={"alice": oauth_creds}) as pool,
        pool.connection("alice") as conn,
    ):
        texts.append(repr(conn))
    texts += [repr(oauth_creds), repr(auth), caplog.text]
    secrets = [
        ALICE_PASSWORD,
        "bob-wrong-pw",
        "ya29.first-secret-token",
        "ya29.second-secret-token",
        "1//refresh-secret",
    ]
    for text in texts:
        for secret in secrets:
            assert secret not in text, (secret, text[:200])
