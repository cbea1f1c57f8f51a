# ruff: noqa: S603 - runs Dovecot and apt-get with fixed arguments
"""A private Dovecot instance on loopback, for integration tests and benchmarks.

::

    with DovecotServer({"alice": "secret"}) as dovecot:
        account = dovecot.account("alice")   # implicit TLS, trusting its own CA

It writes its own config (own base_dir, state_dir and log, 127.0.0.1 and free
ports, passwd-file users, a certificate from its own CA, raised connection
limits), starts ``dovecot -F`` and stops it on exit. :func:`ensure_installed`
installs Debian's ``dovecot-imapd`` when it is missing, without starting the
system-wide service.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Literal

from trio_mailsync.core.config import Account
from trio_mailsync.providers.auth import PasswordAuth
from trio_mailsync.providers.imap import AccountLimits, Security, imap_account
from trio_mailsync.testing._debian import ensure_program
from trio_mailsync.testing._processes import free_port, stop_process

__all__ = ["DovecotServer", "DovecotUnavailable", "ensure_installed"]

SPECIAL_FOLDERS = {
    "Sent": "\\Sent",
    "Drafts": "\\Drafts",
    "Trash": "\\Trash",
    "Junk": "\\Junk",
    "Archive": "\\Archive",
}


class DovecotUnavailable(RuntimeError):
    """Dovecot is not installed and cannot be installed here."""


def ensure_installed() -> str:
    """The path of ``dovecot``; installs ``dovecot-core dovecot-imapd`` if needed (root only)."""
    return ensure_program(
        lambda: (
            shutil.which("dovecot")
            or ("/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None)
        ),
        ["dovecot-core", "dovecot-imapd"],
        DovecotUnavailable,
        "dovecot is not installed",
    )


def _hash(password: str) -> str:
    result = subprocess.run(
        [shutil.which("doveadm") or "/usr/bin/doveadm", "pw", "-s", "SHA512-CRYPT", "-p", password],
        capture_output=True,
        check=True,
        timeout=30,
    )
    return result.stdout.decode().strip()


class DovecotServer:
    """A Dovecot for the ``with`` block. ``users`` maps user names to passwords."""

    def __init__(
        self,
        users: dict[str, str],
        *,
        directory: Path | None = None,
        max_userip_connections: int = 200,
        extra_config: str = "",
    ) -> None:
        # Dovecot's auth and mail processes run as other users and must reach the
        # folder: a fresh one under /tmp, not pytest's (whose parent is 0700).
        self._own_dir = directory is None
        self.dir = Path(directory or tempfile.mkdtemp(prefix="trio-mailsync-dovecot-"))
        self.users = dict(users)
        self.max_userip_connections = max_userip_connections
        self.extra_config = extra_config
        self.imap_port = 0
        self.imaps_port = 0
        self.ca_file = self.dir / "ca.pem"
        self._process: subprocess.Popen[bytes] | None = None

    # ------------------------------------------------------------ accounts

    def account(
        self,
        user: str,
        *,
        security: Security = Security.TLS,
        password: str | None = None,
        account_id: str | None = None,
        notify_from: datetime | Literal["all"] | None = "all",
        **limits: float,
    ) -> Account:
        """An account for ``user`` on this server (STARTTLS uses the plain port).

        It announces all its mail (``notify_from = "all"``): tests deliver, then sync.
        """
        return imap_account(
            account_id or user,
            notify_from=notify_from,
            host="localhost",
            port=self.imaps_port if security is Security.TLS else self.imap_port,
            security=security,
            username=user,
            auth=PasswordAuth(password=password if password is not None else self.users[user]),
            ca_file=self.ca_file,
            allow_insecure=security is Security.NONE,
            limits=AccountLimits(**limits),  # type: ignore[arg-type]
        )

    # ------------------------------------------------------------ lifecycle

    def __enter__(self) -> DovecotServer:
        self.start()
        return self

    def __exit__(
        self, typ: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Write the configuration and start Dovecot on its ports (waits until it listens)."""
        binary = ensure_installed()
        self.dir.mkdir(parents=True, exist_ok=True)
        # Dovecot's auth and mail processes run as other users: let them in.
        self.dir.chmod(0o755)
        mail = self.dir / "mail"
        mail.mkdir(exist_ok=True)
        for sub in ("run", "state"):
            (self.dir / sub).mkdir(exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(mail, "nobody", "nogroup")
        self._write_certificate()
        users_file = self.dir / "users"
        users_file.write_text("".join(f"{u}:{_hash(p)}::::::\n" for u, p in self.users.items()))
        users_file.chmod(0o644)
        self.imap_port, self.imaps_port = free_port(), free_port()
        config = self.dir / "dovecot.conf"
        config.write_text(self._config())
        self._launch(binary)

    def restart(self) -> None:
        """Stop and start again: same ports, mail and certificate (a server reboot).

        Every connection is closed as Dovecot closes them when it stops.
        """
        self._terminate()
        self._launch(ensure_installed())

    def _launch(self, binary: str | Path) -> None:
        config = self.dir / "dovecot.conf"
        with (self.dir / "dovecot.stderr").open("wb") as stderr:
            self._process = subprocess.Popen(
                [binary, "-F", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=stderr
            )
        self._wait_ready()

    def _write_certificate(self) -> None:
        import trustme

        ca = trustme.CA()
        ca.cert_pem.write_to_path(str(self.ca_file))
        cert = self.dir / "server.pem"
        ca.issue_cert("localhost", "127.0.0.1").private_key_and_cert_chain_pem.write_to_path(
            str(cert)
        )
        cert.chmod(0o600)

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                stderr = (self.dir / "dovecot.stderr").read_text(errors="replace")
                raise RuntimeError(
                    f"dovecot exited at start: {stderr[-1000:]} {self.log()[-1000:]}"
                )
            try:
                with (
                    socket.create_connection(("127.0.0.1", self.imaps_port), timeout=1),
                    socket.create_connection(("127.0.0.1", self.imap_port), timeout=1),
                ):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("dovecot did not start listening within 20 s")

    def stop(self) -> None:
        """Stop Dovecot, and remove its directory if it made one."""
        self._terminate()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def _terminate(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        stop_process(process)
        with contextlib.suppress(FileNotFoundError):
            (self.dir / "run" / "master.pid").unlink()

    def log(self) -> str:
        """Dovecot's log so far, for a failing test's message."""
        path = self.dir / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def _config(self) -> str:
        d = self.dir
        mailboxes = "".join(
            f"  mailbox {name} {{\n    special_use = {use}\n    auto = create\n  }}\n"
            for name, use in SPECIAL_FOLDERS.items()
        )
        return f"""\
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
info_log_path = {d}/dovecot.log
listen = 127.0.0.1
protocols = imap
ssl = yes
ssl_cert = <{d}/server.pem
ssl_key = <{d}/server.pem
disable_plaintext_auth = yes
auth_mechanisms = plain login
auth_failure_delay = 0
login_trusted_networks = 127.0.0.0/8
mail_location = maildir:{d}/mail/%u
mail_uid = nobody
mail_gid = nogroup
first_valid_uid = 1
last_valid_uid = 0
first_valid_gid = 1
mail_max_userip_connections = {self.max_userip_connections}
default_internal_user = dovecot
default_login_user = dovenull
passdb {{
  driver = passwd-file
  args = scheme=SHA512-CRYPT {d}/users
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={d}/mail/%u
}}
namespace inbox {{
  inbox = yes
  separator = /
{mailboxes}}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.imaps_port}
    ssl = yes
  }}
  service_count = 0
  client_limit = 1000
  process_min_avail = 1
}}
service imap {{
  process_limit = 5000
}}
service anvil {{
  client_limit = 3000
}}
{self.extra_config}
"""
