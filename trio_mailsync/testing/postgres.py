# ruff: noqa: S603 - runs Debian's PostgreSQL programs with fixed arguments
"""A real PostgreSQL for the scale-out tests, on loopback, started and stopped by them.

::

    with PostgresServer() as pg:          # installs Debian's postgresql if missing (root)
        psycopg.connect(pg.dsn)           # postgresql://postgres@127.0.0.1:<port>/postgres

A cluster of its own (``initdb`` in a temporary directory), a free port on 127.0.0.1,
trust authentication for loopback only, ``fsync`` off (tests, not durability); stopped
and removed when the block ends. PostgreSQL refuses to run as root: as root, the server
runs as the ``postgres`` user Debian's package creates.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from trio_mailsync.testing._debian import ensure_program
from trio_mailsync.testing._processes import free_port, stop_process

__all__ = ["PostgresServer", "PostgresUnavailable", "ensure_installed"]

#: Seconds PostgreSQL has to start accepting connections.
START_TIMEOUT = 30.0


class PostgresUnavailable(RuntimeError):
    """PostgreSQL is not installed and cannot be installed here."""


def _bin_dir() -> Path | None:
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    return found[-1].parent if found else None


def ensure_installed() -> Path:
    """The directory of ``initdb`` and ``postgres``; installs Debian's ``postgresql`` if
    needed (root)."""
    return ensure_program(
        _bin_dir, ["postgresql"], PostgresUnavailable, "PostgreSQL is not installed"
    )


class PostgresServer:
    """PostgreSQL on 127.0.0.1 at a free port, for the block (see the module's doc)."""

    def __init__(self, *, durable: bool = False) -> None:
        #: ``fsync`` on (a benchmark of commits); off by default (tests).
        self.durable = durable
        self.dir = Path(tempfile.mkdtemp(prefix="trio-mailsync-pg-"))
        self.port = 0
        self._databases = 0
        self._process: subprocess.Popen[bytes] | None = None
        # As root, the server runs as Debian's "postgres" user (it refuses root).
        self._user = "postgres" if os.geteuid() == 0 else None

    @property
    def dsn(self) -> str:
        """``postgresql://postgres@127.0.0.1:<port>/postgres``."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def create_database(self) -> str:
        """A new, empty database of this server (``db1``, ``db2``...); its DSN."""
        import psycopg  # the test extra's; the harness itself needs only the programs

        self._databases += 1
        name = f"db{self._databases}"
        with psycopg.connect(self.dsn, autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {name}")  # a name of ours, not data
        return self.dsn.rsplit("/", 1)[0] + f"/{name}"

    def __enter__(self) -> PostgresServer:
        self.start()
        return self

    def __exit__(
        self, typ: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        """``initdb`` a cluster of its own, start it on a free port, wait until it answers."""
        binaries = ensure_installed()
        if self._user is not None:
            shutil.chown(self.dir, self._user)
        data = self.dir / "data"
        subprocess.run(
            [
                binaries / "initdb",
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-instructions",
            ],
            user=self._user,
            check=True,
            capture_output=True,
            timeout=120,
        )
        self.port = free_port()
        self._launch(binaries)

    def restart(self) -> None:
        """Stop (fast shutdown) and start again: same port and data."""
        self._terminate()
        self._launch(ensure_installed())

    def stop(self) -> None:
        """Stop PostgreSQL and remove its directory."""
        self._terminate()
        shutil.rmtree(self.dir, ignore_errors=True)

    def log(self) -> str:
        """The server's log so far, for a failing test's message."""
        path = self.dir / "postgres.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def _launch(self, binaries: Path) -> None:
        log = self.dir / "postgres.log"
        with log.open("ab") as out:
            if self._user is not None:
                shutil.chown(log, self._user)
            self._process = subprocess.Popen(
                [
                    binaries / "postgres",
                    "-D",
                    str(self.dir / "data"),
                    "-p",
                    str(self.port),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    f"unix_socket_directories={self.dir}",
                    "-c",
                    f"fsync={'on' if self.durable else 'off'}",
                    "-c",
                    "max_connections=200",
                ],
                user=self._user,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self._wait_ready(binaries)

    def _wait_ready(self, binaries: Path) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise RuntimeError(f"postgres exited at start: {self.log()[-1000:]}")
            ready = subprocess.run(
                [binaries / "pg_isready", "-h", "127.0.0.1", "-p", str(self.port), "-q"],
                check=False,
                timeout=10,
            )
            if ready.returncode == 0:
                return
            time.sleep(0.1)
        self._terminate()
        raise RuntimeError(
            f"postgres did not start within {START_TIMEOUT:g} s: {self.log()[-500:]}"
        )

    def _terminate(self) -> None:
        process, self._process = self._process, None
        stop_process(process, sig=signal.SIGINT, grace=20)  # SIGINT: a fast shutdown
