"""SIGKILL ``serve`` at random moments while mail arrives; a resuming client misses nothing.

``trio-mailsync serve`` runs as a subprocess against the session's Dovecot. A
generator APPENDs mail to two accounts all along; the process is killed with
SIGKILL at random moments and started again on the same store. A WebSocket
client reconnects after each kill and resumes with ``since`` = the last id it
saw. In the end it must have seen every delivered message exactly once, by
(account, folder, uidvalidity, uid), and event ids that only ever went up.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import trio

from trio_mailsync.providers.imap import connect_account
from trio_mailsync.sinks.client import EventStreamClosed, EventStreamRejected, open_event_stream
from trio_mailsync.testing import sample_message
from trio_mailsync.testing.dovecot import DovecotServer

USERS = ("crash1", "crash2")
TOKEN = "crash-test-token-0123456789"
KILLS = int(os.environ.get("TRIO_MAILSYNC_CRASH_KILLS", "5"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def write_config(tmp_path: Path, dovecot: DovecotServer, port: int) -> Path:
    text = f"""
[store]
path = "{tmp_path / "state.sqlite3"}"
[service]
sweep_interval = 5
[broadcast]
port = {port}
token = "{TOKEN}"
"""
    for user in USERS:
        text += f"""
[accounts.{user}]
host = "localhost"
port = {dovecot.imaps_port}
username = "{user}"
password = "{dovecot.users[user]}"
ca_file = "{dovecot.ca_file}"
notify_from = "all"
"""
    path = tmp_path / "crash.toml"
    path.write_text(text)
    return path


def test_sigkill_at_random_moments_loses_and_repeats_nothing(
    dovecot: DovecotServer, tmp_path: Path
) -> None:
    rng = random.Random(int(os.environ.get("TRIO_MAILSYNC_CRASH_SEED", "12")))
    port = free_port()
    config = write_config(tmp_path, dovecot, port)
    log = (tmp_path / "serve.log").open("ab")
    delivered: set[tuple[str, str, int]] = set()
    seen: list[tuple[str, str, int, int]] = []  # (account, folder, uidvalidity, uid)
    ids: list[int] = []
    kills = 0

    async def serve_and_kill(stop_killing: trio.Event) -> None:
        nonlocal kills
        while True:
            process = await trio.lowlevel.open_process(
                [sys.executable, "-m", "trio_mailsync", "serve", "--config", str(config)],
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
            try:
                if stop_killing.is_set():
                    await trio.sleep_forever()
                await trio.sleep(rng.uniform(0.8, 3.0))
                process.send_signal(signal.SIGKILL)
                kills += 1
                await process.wait()
                if kills >= KILLS:
                    stop_killing.set()
            finally:
                if process.returncode is None:
                    process.kill()
                    with trio.CancelScope(shield=True):
                        await process.wait()

    async def deliver(until: trio.Event) -> None:
        conns = {}
        n = 0
        try:
            for user in USERS:
                conns[user] = await connect_account(dovecot.account(user))
            while not until.is_set():
                user = rng.choice(USERS)
                n += 1
                uid = await conns[user].append("INBOX", sample_message(n, subject=f"crash {n}"))
                assert uid is not None
                delivered.add((user, "INBOX", uid))
                await trio.sleep(rng.uniform(0.02, 0.15))
        finally:
            # Closed even when the test fails (cancelled): no socket left to a later test.
            with trio.CancelScope(shield=True):
                for conn in conns.values():
                    await conn.aclose()

    async def read() -> None:
        url = f"ws://127.0.0.1:{port}/"
        since: int | None = 0
        while True:
            try:
                async with open_event_stream(url, TOKEN, since=since) as events:
                    async for event in events:
                        if isinstance(event.get("id"), int):
                            assert not ids or event["id"] > ids[-1], "an id repeated or went back"
                            ids.append(event["id"])
                            since = event["id"]
                        if event["type"] == "reset":
                            raise AssertionError(f"reset: {event}")
                        if event["type"] == "new_messages":
                            seen.extend(_keys(event))
            except (OSError, EventStreamClosed, EventStreamRejected):
                await trio.sleep(0.1)  # killed: back soon

    async def main() -> None:
        stop_killing = trio.Event()
        stop_delivering = trio.Event()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(serve_and_kill, stop_killing)
            nursery.start_soon(read)
            nursery.start_soon(deliver, stop_delivering)
            with trio.fail_after(KILLS * 4 + 60):
                await stop_killing.wait()
                await trio.sleep(1)
                stop_delivering.set()
                while not delivered <= {(a, f, u) for a, f, _, u in seen}:
                    await trio.sleep(0.1)
                await trio.sleep(1)  # anything reported twice would come now
            nursery.cancel_scope.cancel()

    try:
        trio.run(main)
    finally:
        log.close()
    assert kills == KILLS
    keys = [(a, f, u) for a, f, _, u in seen]
    assert len(keys) == len(set(keys)), "a message was reported twice"
    assert set(keys) == delivered, "a message was lost (or made up)"
    assert len({v for a, f, v, u in seen if a == USERS[0]}) == 1
    assert len(delivered) > 20


def _keys(event: dict[str, Any]) -> list[tuple[str, str, int, int]]:
    return [(event["account"], m["folder"], m["uidvalidity"], m["uid"]) for m in event["messages"]]
