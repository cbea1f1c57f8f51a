"""Bad input from a user: one clear line per account naming the cause; a non-zero exit."""

from __future__ import annotations

import io
import ssl
from functools import partial
from pathlib import Path

import pytest
import trio
import trustme

from tests.support import ALICE_PASSWORD
from trio_mailsync import cli
from trio_mailsync.stores.sqlite import SQLiteStore
from trio_mailsync.testing import IMAPTestServer, MailStore


async def test_check_names_each_account_and_its_cause(
    mail: MailStore, ca: trustme.CA, ca_file: Path, tmp_path: Path, nursery: trio.Nursery
) -> None:
    plain = await nursery.start(partial(IMAPTestServer(mail).serve_tcp, host="127.0.0.1"))
    wrong_name = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("somewhere-else.example").configure_cert(wrong_name)
    tls = await nursery.start(
        partial(IMAPTestServer(mail).serve_tcp, host="127.0.0.1", ssl_context=wrong_name)
    )
    closed = trio.socket.socket()
    await closed.bind(("127.0.0.1", 0))
    nobody_port = closed.getsockname()[1]  # bound, never listening: connections are refused
    config = tmp_path / "mailsync.toml"
    config.write_text(
        f"""
[accounts.good]
host = "127.0.0.1"
port = {plain}
security = "none"
allow_insecure = true
username = "alice"
password = "{ALICE_PASSWORD}"

[accounts.wrongname]
host = "localhost"
port = {tls}
ca_file = "{ca_file}"
username = "alice"
password = "{ALICE_PASSWORD}"

[accounts.unreachable]
host = "127.0.0.1"
port = {nobody_port}
username = "alice"
password = "whatever"

[accounts.nopass]
host = "127.0.0.1"
port = {plain}
security = "none"
allow_insecure = true
username = "alice"
password_command = ["{tmp_path}/no-such-password-helper"]
"""
    )
    out, err = io.StringIO(), io.StringIO()
    with trio.fail_after(60):
        argv = ["check", "--config", str(config)]
        status = await trio.to_thread.run_sync(cli.run, argv, out, err)
    closed.close()
    lines = {line.split(":")[0]: line for line in out.getvalue().splitlines() if ":" in line}
    assert status == 1
    assert "good: ok" in lines["good"]
    assert "certificate" in lines["wrongname"]
    assert "Hostname mismatch" in lines["wrongname"]
    assert "cannot connect" in lines["unreachable"]
    assert "no-such-password-helper" in lines["nopass"]
    assert ALICE_PASSWORD not in out.getvalue() + err.getvalue()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[accounts.a]\nhost = 'h'\n", "accounts.a.username: is missing"),
        ("[accounts.a]\nhost='h'\nusername='u'\npassword='p'\ncolour='red'\n", "unknown key"),
        ("[accounts.a\n", "not valid TOML"),
    ],
)
def test_a_bad_config_stops_with_one_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    for command in ("check", "sync", "serve"):
        out, err = io.StringIO(), io.StringIO()
        assert cli.run([command, "--config", str(path)], out, err) == 2
        assert len(err.getvalue().splitlines()) == 1, err.getvalue()
        assert str(path) in err.getvalue()
        assert message in err.getvalue(), err.getvalue()


def _config(tmp_path: Path, imap_port: int, broadcast_port: int = 0) -> Path:
    path = tmp_path / "mailsync.toml"
    path.write_text(
        f"""
[store]
path = "{tmp_path / "state.sqlite3"}"

[broadcast]
port = {broadcast_port}
token = "t0ken"

[accounts.good]
host = "127.0.0.1"
port = {imap_port}
security = "none"
allow_insecure = true
username = "alice"
password = "{ALICE_PASSWORD}"
"""
    )
    return path


async def test_a_port_in_use_is_one_line_and_nobody_logs_in(
    mail: MailStore, tmp_path: Path, nursery: trio.Nursery
) -> None:
    # Issue 17, finding 15: a 60-line exception group, after logging every account in.
    server = IMAPTestServer(mail)
    imap_port = await nursery.start(partial(server.serve_tcp, host="127.0.0.1"))
    taken = trio.socket.socket()
    await taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    out, err = io.StringIO(), io.StringIO()
    with trio.fail_after(30):
        argv = ["serve", "--config", str(_config(tmp_path, imap_port, port))]
        status = await trio.to_thread.run_sync(cli.run, argv, out, err)
    taken.close()
    assert status == 1
    assert err.getvalue().splitlines() == [
        f"error: [Errno 98] cannot listen on 127.0.0.1:{port}: Address already in use"
    ]
    assert server.statistics().logins == 0


@pytest.mark.parametrize("command", ["serve", "sync"])
async def test_a_store_in_use_or_unusable_is_one_line(
    mail: MailStore, tmp_path: Path, nursery: trio.Nursery, command: str
) -> None:
    # Issue 17, findings 15 and 16: tracebacks; and a second process on one store reported
    # mail twice. The holder here is this very process.
    server = IMAPTestServer(mail)
    imap_port = await nursery.start(partial(server.serve_tcp, host="127.0.0.1"))
    config = _config(tmp_path, imap_port)
    holder = await SQLiteStore.open(tmp_path / "state.sqlite3")
    try:
        out, err = io.StringIO(), io.StringIO()
        with trio.fail_after(30):
            argv = [command, "--config", str(config)]
            status = await trio.to_thread.run_sync(cli.run, argv, out, err)
    finally:
        await holder.aclose()
    assert status == 1
    (line,) = err.getvalue().splitlines()
    assert line.startswith(f"error: {tmp_path / 'state.sqlite3'} is in use by process ")
    assert server.statistics().logins == 0
    # A directory where the store should be: one line too.
    (tmp_path / "state.sqlite3").unlink()
    (tmp_path / "state.sqlite3").mkdir()
    out, err = io.StringIO(), io.StringIO()
    status = await trio.to_thread.run_sync(cli.run, [command, "--config", str(config)], out, err)
    assert status == 1
    assert err.getvalue() == f"error: {tmp_path / 'state.sqlite3'} is a directory, not a store\n"


async def test_tls_mistakes_get_a_stage_and_a_hint(
    mail: MailStore, ca: trustme.CA, tmp_path: Path, nursery: trio.Nursery
) -> None:
    plain = await nursery.start(partial(IMAPTestServer(mail).serve_tcp, host="127.0.0.1"))
    private = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(private)  # a CA the system does not trust
    tls = await nursery.start(
        partial(IMAPTestServer(mail).serve_tcp, host="127.0.0.1", ssl_context=private)
    )
    silent = (await trio.open_tcp_listeners(0, host="127.0.0.1"))[0]
    silent_port = silent.socket.getsockname()[1]  # accepts (the backlog), never greets
    closed = trio.socket.socket()
    await closed.bind(("127.0.0.1", 0))
    refused_port = closed.getsockname()[1]
    config = tmp_path / "mailsync.toml"
    login = f'username = "alice"\npassword = "{ALICE_PASSWORD}"\n'
    config.write_text(
        f"""
[accounts.selfsigned]
host = "127.0.0.1"
port = {tls}
{login}
[accounts.plainport]
host = "127.0.0.1"
port = {plain}
{login}
[accounts.refused]
host = "127.0.0.1"
port = {refused_port}
{login}
[accounts.silent]
host = "127.0.0.1"
port = {silent_port}
security = "starttls"
{login}
[accounts.silent.limits]
connect_timeout = 0.5
"""
    )
    out, err = io.StringIO(), io.StringIO()
    with trio.fail_after(60):
        status = await trio.to_thread.run_sync(
            cli.run, ["check", "--config", str(config)], out, err
        )
    closed.close()
    await silent.aclose()
    lines = {line.split(":")[0]: line for line in out.getvalue().splitlines()}
    assert status == 1
    assert len(out.getvalue().splitlines()) == 4  # one line each
    assert lines["selfsigned"].startswith("selfsigned: error at TLS (")
    assert "certificate not trusted" in lines["selfsigned"]
    assert "hint: for a self-signed or private CA, set ca_file" in lines["selfsigned"]
    assert lines["plainport"].startswith("plainport: error at TLS (")
    assert 'security = "starttls"' in lines["plainport"]
    assert lines["refused"].startswith("refused: error at connect (")
    assert "hint: nothing listens there: check host and port" in lines["refused"]
    assert lines["silent"].startswith("silent: error at greeting (")
    assert "timed out" in lines["silent"]
    for line in lines.values():
        account = line.split(":")[0]
        assert line.count(f"{account}:") == 1  # the account is named once, not twice
    assert err.getvalue() == ""


def test_global_options_work_after_the_subcommand(tmp_path: Path) -> None:
    config = tmp_path / "mailsync.toml"
    config.write_text("[accounts.a]\nhost = 'h'\n")
    for argv in (
        ["check", "--config", str(config), "-v"],
        ["--log-level", "debug", "check", "--config", str(config)],
        ["check", "--config", str(config), "--quiet", "--json-logs"],
    ):
        err = io.StringIO()
        assert cli.run(argv, io.StringIO(), err) == 2
        assert err.getvalue() == f"error: {config}: accounts.a.username: is missing\n"
