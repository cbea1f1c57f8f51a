"""No credential in logs, events, reprs or tracebacks: captured everywhere and searched."""

from __future__ import annotations

import logging
import traceback
from pathlib import Path

import pytest
import trio

from tests.service_support import TOKEN, next_event, plain, serving, wait_for_state
from tests.support import ALICE_PASSWORD, Connect
from trio_mailsync.config import load_config
from trio_mailsync.core.events import AccountState, NewMessages, to_json
from trio_mailsync.testing import MailStore, sample_message

WRONG_PASSWORD = "bobs-wrong-s3cret-guess"


async def test_no_secret_leaks_anywhere(
    plain_connector: Connect, mail: MailStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    accounts = [plain("alice"), plain("bob", password=WRONG_PASSWORD)]
    texts += [repr(a) for a in accounts] + [str(a) for a in accounts]
    async with serving(plain_connector, tmp_path, accounts=accounts) as running:
        texts += [repr(running), repr(running.broadcaster), repr(running.service.config)]
        with running.service.subscribe() as events:
            await wait_for_state(running.service, "alice", AccountState.IDLE, within=10)
            await wait_for_state(running.service, "bob", AccountState.AUTH_FAILED, within=10)
            mail.deliver("alice", sample_message(1))
            await next_event(events, NewMessages, within=10)
            with trio.move_on_after(0.2):
                async for event in events:
                    texts.append(to_json(event))
        texts.append(to_json(running.service.hello()))
        for result_error in filter(None, map(running.service.error, ("alice", "bob"))):
            texts.append(result_error)
    texts.append(caplog.text)
    texts += [
        "".join(traceback.format_exception(r.exc_info[1])) for r in caplog.records if r.exc_info
    ]
    everything = "\n".join(texts)
    assert "bob: AUTHENTICATE failed" in everything  # the capture did capture
    assert "alice" in everything
    for secret in (ALICE_PASSWORD, WRONG_PASSWORD, TOKEN):
        assert secret not in everything


def test_a_config_with_secrets_has_a_safe_repr(tmp_path: Path) -> None:
    path = tmp_path / "mailsync.toml"
    path.write_text(
        """
[accounts.a]
host = "imap.example.com"
username = "a@example.com"
password = "inline-pa55word"
[accounts.g]
host = "imap.gmail.com"
username = "g@example.com"
[accounts.g.oauth2]
token_url = "https://oauth2.example.com/token"
client_id = "client"
client_secret = "client-s3cret"
refresh_token = "refresh-t0ken"
[broadcast]
token = "broadcast-t0ken"
"""
    )
    config = load_config(path)
    shown = repr(config) + str(config)
    for secret in ("inline-pa55word", "client-s3cret", "refresh-t0ken", "broadcast-t0ken"):
        assert secret not in shown
