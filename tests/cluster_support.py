"""What the cluster's process tests share: ``trio-mailsync`` processes started as an operator
would, WebSocket clients of the broadcasters, and counting what they were told."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import coredis
import trio

from trio_mailsync.cluster.leases import Leases
from trio_mailsync.sinks.client import open_event_stream


def cluster_config(
    *,
    imap_port: int,
    redis_port: int,
    dsn: str,
    lease_ttl: float,
    token: str,
    accounts: Mapping[str, str],
    prefix: str = "mailsync",
) -> str:
    """A cluster's TOML: the store, Redis, the broadcasters' token, and ``accounts``
    (user -> password) on a plain IMAP server on loopback, announcing all their mail."""
    lines = [
        "[store]",
        'backend = "postgres"',
        f'dsn = "{dsn}"',
        "[cluster]",
        f'redis_url = "redis://127.0.0.1:{redis_port}"',
        f"lease_ttl = {lease_ttl}",
        f'prefix = "{prefix}"',
        "[broadcast]",
        f'token = "{token}"',
        "[service]",
        "sweep_interval = 3600",
        "[account_defaults]",
        'host = "127.0.0.1"',
        f"port = {imap_port}",
        'security = "none"',
        "allow_insecure = true",
        'notify_from = "all"',
    ]
    for user, password in accounts.items():
        lines += [f"[accounts.{user}]", f'username = "{user}"', f'password = "{password}"']
    return "\n".join(lines) + "\n"


async def lease_holders(
    client: coredis.Redis[str], accounts: Iterable[str], prefix: str = "mailsync"
) -> dict[str, str]:
    """account -> the worker holding its lease, for the accounts that are held."""
    return await Leases(client, "observer", ttl=1, prefix=prefix).holders(accounts)


class Processes:
    """``python -m trio_mailsync <command>`` processes, each with its own copy of a config
    (``[cluster] name`` set to the process's name) and its output in ``<name>.log``."""

    def __init__(self, directory: Path, config: str) -> None:
        self.dir = directory
        self.config = config
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, command: str, name: str, *more: str) -> subprocess.Popen[bytes]:
        path = self.dir / f"{name}.toml"
        path.write_text(self.config.replace("[cluster]", f'[cluster]\nname = "{name}"'))
        with (self.dir / f"{name}.log").open("ab") as log:
            self.running[name] = subprocess.Popen(
                [sys.executable, "-m", "trio_mailsync", command, "--config", str(path), *more],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        return self.running[name]

    def log(self, name: str) -> str:
        """What the process printed so far."""
        return (self.dir / f"{name}.log").read_text(errors="replace")

    def kill_all(self) -> None:
        """Kill what still runs (a stopped one is continued first), and reap it."""
        for process in self.running.values():
            if process.poll() is None:
                process.send_signal(signal.SIGCONT)
                process.kill()
                process.wait(timeout=10)


async def until_listening(port: int) -> None:
    """Wait (bounded) until something accepts connections on the loopback port."""
    with trio.fail_after(30):
        while True:
            try:
                stream = await trio.open_tcp_stream("127.0.0.1", port)
            except OSError:
                await trio.sleep(0.1)
                continue
            await stream.aclose()
            return


async def collect(
    url: str,
    token: str,
    since: int | None,
    into: list[dict[str, Any]],
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """A client of a broadcaster: its ``new_messages`` events into ``into``, until cancelled."""
    async with open_event_stream(url, token, since=since) as events:
        assert (await events.receive())["type"] == "hello"
        task_status.started()
        while True:
            event = await events.receive()
            if event["type"] == "new_messages":
                into.append(event)


def reported(events: list[dict[str, Any]]) -> Counter[tuple[str, int]]:
    """How many times each (account, uid) was reported in these ``new_messages`` events."""
    return Counter((e["account"], m["uid"]) for e in events for m in e["messages"])
