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
