"""What the test suites' real peers (Dovecot, Redis, PostgreSQL) share: a free loopback
port, and a server process stopped politely, then for good."""

from __future__ import annotations

import signal
import socket
import subprocess


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def stop_process(
    process: subprocess.Popen[bytes] | None, *, sig: int = signal.SIGTERM, grace: float = 10.0
) -> None:
    """Send ``sig`` (the server's own "shut down"), wait ``grace`` seconds, then kill."""
    if process is None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
