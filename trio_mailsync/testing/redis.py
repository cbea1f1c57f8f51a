# ruff: noqa: S603 - runs redis-server with fixed arguments
"""A real Redis for the scale-out tests, on loopback, started and stopped by them.

::

    with RedisServer() as redis:          # installs Debian's redis-server if missing (root)
        client = coredis.Redis(host="127.0.0.1", port=redis.port)
        redis.restart()                   # same port, nothing kept (no persistence)

It runs with its own directory and a free port, bound to 127.0.0.1 only, without
persistence (a restart loses every key, as a failover to an empty replica would), and is
stopped, its directory removed, when the block ends.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from trio_mailsync.testing._debian import ensure_program
from trio_mailsync.testing._processes import free_port, stop_process

__all__ = ["RedisServer", "RedisUnavailable", "ensure_installed"]

#: Seconds Redis has to start listening.
START_TIMEOUT = 20.0


class RedisUnavailable(RuntimeError):
    """Redis is not installed and cannot be installed here."""


def ensure_installed() -> str:
    """The path of ``redis-server``; installs Debian's ``redis-server`` if needed (root)."""
    return ensure_program(
        lambda: (
            shutil.which("redis-server")
            or ("/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None)
        ),
        ["redis-server"],
        RedisUnavailable,
        "redis-server is not installed",
    )


class RedisServer:
    """``redis-server`` on 127.0.0.1 at a free port, for the block (see the module's doc)."""

    def __init__(self, directory: Path | None = None) -> None:
        self._own_dir = directory is None
        self.dir = (
            Path(tempfile.mkdtemp(prefix="trio-mailsync-redis-"))
            if directory is None
            else directory
        )
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(
        self, typ: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Start on a free port and wait until it answers PING."""
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self._launch()

    def restart(self) -> None:
        """Stop and start again on the same port: clients are cut off, every key is gone."""
        self._terminate()
        self._launch()

    def stop(self) -> None:
        """Stop Redis, and remove its directory if it made one."""
        self._terminate()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def log(self) -> str:
        """Redis's log so far, for a failing test's message."""
        path = self.dir / "redis.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def _launch(self) -> None:
        binary = ensure_installed()
        self._process = subprocess.Popen(
            [
                binary,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--dir",
                str(self.dir),
                "--logfile",
                str(self.dir / "redis.log"),
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise RuntimeError(f"redis-server exited at start: {self.log()[-1000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(64).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        self._terminate()
        raise RuntimeError(f"redis-server did not answer within {START_TIMEOUT:g} s")

    def _terminate(self) -> None:
        process, self._process = self._process, None
        stop_process(process)
