"""The whole service against a real Dovecot: IDLE, sync, store and the WebSocket broadcaster."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import trio

from trio_mailsync.app import Running, serve
from trio_mailsync.core.config import BroadcastSettings, Config, ServiceSettings
from trio_mailsync.providers.imap import connect_account
from trio_mailsync.sinks import EventStream, EventStreamRejected, open_event_stream
from trio_mailsync.stores.sqlite import SQLiteStore
from trio_mailsync.testing import sample_message
from trio_mailsync.testing.dovecot import DovecotServer

TOKEN = "dovecot-service-token"
USERS = [f"svc{i}" for i in range(1, 5)]


@asynccontextmanager
async def serving(dovecot: DovecotServer, tmp_path: Path) -> AsyncIterator[Running]:
    config = Config(
        accounts=tuple(dovecot.account(user) for user in USERS),
        service=ServiceSettings(sweep_interval=10_000),
        broadcast=BroadcastSettings(port=0, token=TOKEN),
    )
    store = await SQLiteStore.open(tmp_path / "sync.sqlite3")
    try:
        async with trio.open_nursery() as nursery:
            yield await nursery.start(partial(serve, config, store=store))
            nursery.cancel_scope.cancel()
    finally:
        await store.aclose()


async def until(events: EventStream, kind: str, **match: Any) -> dict[str, Any]:
    """The next event of ``kind`` whose fields include ``match``."""
    with trio.fail_after(30):
        async for event in events:
            if event["type"] == kind and match.items() <= event.items():
                return event
    raise AssertionError(f"the stream ended before a {kind} event")


async def test_appended_message_reaches_a_websocket_client(
    dovecot: DovecotServer, tmp_path: Path
) -> None:
    async with (
        serving(dovecot, tmp_path) as running,
        open_event_stream(running.broadcaster.url, TOKEN) as events,
    ):
        hello = await events.receive()
        assert hello["type"] == "hello"
        assert [a["id"] for a in hello["accounts"]] == USERS
        states = {a["id"]: a["state"] for a in hello["accounts"]}
        while any(state != "idle" for state in states.values()):
            event = await until(events, "account_state")
            states[event["account"]] = event["state"]

        target = dovecot.account("svc3")
        writer = await connect_account(target)
        try:
            # Twice to the same account: the second must come through the same IDLE.
            for n, subject in enumerate(["Grüße aus Dovecot", "And another"]):
                uid = await writer.append("INBOX", sample_message(n, subject=subject))
                event = await until(events, "new_messages", account="svc3")
                assert [(m["folder"], m["uid"], m["subject"]) for m in event["messages"]] == [
                    ("INBOX", uid, subject)
                ]
                # The sync that reports it was caused by a notification: the IDLE's EXISTS
                # ("exists"), the watcher's look at INBOX after a loan ("changed"), or,
                # merged with it, NOTIFY's news of folders Dovecot creates at the first
                # login ("folders"); never a sweep.
                result = await until(events, "sync_result")
                while not any(r["new"] for r in result["results"]):
                    result = await until(events, "sync_result")
                assert result["trigger"] in ("exists", "changed", "folders")
                assert [(r["account"], r["new"]) for r in result["results"]] == [("svc3", 1)]
        finally:
            await writer.aclose()


async def test_no_event_without_the_token(dovecot: DovecotServer, tmp_path: Path) -> None:
    async with serving(dovecot, tmp_path) as running:
        with pytest.raises(EventStreamRejected) as rejected:
            async with open_event_stream(running.broadcaster.url, "not-the-token"):
                pass  # pragma: no cover - the handshake fails
        assert rejected.value.status == 401

        # A client that ignores the refusal reads the 401 and nothing else.
        stream = await trio.open_tcp_stream("127.0.0.1", running.broadcaster.port)
        async with stream:
            await stream.send_all(
                b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
            )
            received = b""
            with trio.fail_after(10):
                while chunk := await stream.receive_some():
                    received += chunk
        assert received.startswith(b"HTTP/1.1 401")
        assert b"hello" not in received
        assert b"accounts" not in received
