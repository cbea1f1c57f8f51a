"""The command line against a real Dovecot: sync, check, and their errors."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

from trio_mailsync.cli import run
from trio_mailsync.testing.dovecot import DovecotServer


def config_file(tmp_path: Path, dovecot: DovecotServer, *, wrong: bool = False) -> Path:
    accounts = ""
    for user in ("cli1", "cli2"):
        password = "nope" if wrong and user == "cli2" else dovecot.users[user]
        accounts += f"""
[accounts.{user}]
host = "localhost"
port = {dovecot.imaps_port}
username = "{user}"
password = "{password}"
ca_file = "{dovecot.ca_file}"
"""
    path = tmp_path / "mailsync.toml"
    path.write_text(f'[store]\npath = "{tmp_path / "state.sqlite3"}"\n' + accounts)
    return path


def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = run(list(args), out, err)
    return status, out.getvalue(), err.getvalue()


def test_sync_prints_progress_and_a_table(dovecot: DovecotServer, tmp_path: Path) -> None:
    import trio

    from trio_mailsync.providers.imap import connect_account

    async def deliver(first: int) -> None:
        account = dovecot.account("cli1")
        conn = await connect_account(account)
        for n in range(first, first + 2):
            await conn.append("INBOX", b"From: x@example.com\r\nSubject: cli %d\r\n\r\nhi\r\n" % n)
        await conn.logout()

    trio.run(deliver, 0)
    config = config_file(tmp_path, dovecot)
    # The first sync stores what is there and announces none of it (the baseline).
    status, out, err = cli("sync", "--config", str(config), "--list")
    assert status == 0, err
    assert "[1/2]" in err
    assert "[2/2]" in err
    lines = out.splitlines()
    assert lines[0].split() == ["account", "new", "changed", "deleted", "duration", "error"]
    table = {line.split()[0]: line.split()[1:4] for line in lines[2:4]}
    assert table == {"cli1": ["0", "0", "0"], "cli2": ["0", "0", "0"]}
    trio.run(deliver, 2)
    # A dry run says what it would log, and stores nothing.
    status, out, err = cli("sync", "--config", str(config), "--dry-run")
    assert status == 0, err
    assert "dry run: nothing is stored" in err
    assert out.splitlines()[:2] == [
        "would log: cli1: new in INBOX (UID 3) from x@example.com: cli 2",
        "would log: cli1: new in INBOX (UID 4) from x@example.com: cli 3",
    ]
    # The new messages as each account ends, then the table; they are in the log.
    status, out, err = cli("sync", "--config", str(config), "--list")
    assert status == 0, err
    lines = out.splitlines()
    assert lines[:2] == [
        "cli1  INBOX  3  x@example.com  cli 2",
        "cli1  INBOX  4  x@example.com  cli 3",
    ]
    assert "logged 1 event(s), ids 1 to 1" in err
    status, out, err = cli("sync", "--config", str(config))
    assert status == 0
    assert {line.split()[0]: line.split()[1] for line in out.splitlines()[2:4]} == {
        "cli1": "0",
        "cli2": "0",
    }


def test_sync_failure_gives_a_non_zero_status(dovecot: DovecotServer, tmp_path: Path) -> None:
    status, out, err = cli("sync", "--config", str(config_file(tmp_path, dovecot, wrong=True)))
    assert status == 1
    assert "cli2: error: AUTHENTICATE failed: NO [AUTHENTICATIONFAILED]" in err
    assert "nope" not in out + err


def test_check(dovecot: DovecotServer, tmp_path: Path) -> None:
    status, out, _ = cli("check", "--config", str(config_file(tmp_path, dovecot)))
    assert status == 0
    for user in ("cli1", "cli2"):
        assert (
            f"{user}: ok (localhost:{dovecot.imaps_port} tls): 6 folders, roles inbox, sent, "
            "drafts, archive, junk, trash; 6 to sync" in out
        )
    status, out, _ = cli("check", "--config", str(config_file(tmp_path, dovecot, wrong=True)))
    assert status == 1
    assert "cli2: error at login (" in out
    assert "cli1: ok" in out


def test_a_bad_config_is_one_clear_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[accounts.a]\nhost = 'h'\nusername = 'u'\npassword = 'p'\nport = 'x'\n")
    status, _out, err = cli("sync", "--config", str(path))
    assert status == 2
    assert err == f"error: {path}: accounts.a.port: must be an integer from 1 to 65535, not 'x'\n"


def test_the_console_script_is_installed() -> None:
    result = subprocess.run(
        [Path(sys.executable).parent / "trio-mailsync", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.startswith("trio-mailsync ")
