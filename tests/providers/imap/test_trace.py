"""The wire trace (``--trace``): both ways recorded, credentials never, read back by ``parse``."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest

from tests.support import Connect, make_account
from trio_mailsync import cli
from trio_mailsync.config import load_config
from trio_mailsync.core.config import ServiceSettings
from trio_mailsync.providers.imap import Security, open_imap_provider
from trio_mailsync.providers.imap.trace import WireTrace, is_trace, server_bytes
from trio_mailsync.stores.sqlite import SQLiteStore
from trio_mailsync.sync import SyncEngine
from trio_mailsync.testing import IMAPTestServer, MailStore, sample_message

from .conftest import VARIANTS

# Quotes and 8-bit force a literal (sent after the server's "+"): that must be hidden too.
ODD_PASSWORD = 'p"wörd\\with-quotes'


@pytest.mark.parametrize("auth", ["LOGIN", "AUTHENTICATE"])
async def test_a_trace_records_both_ways_and_never_the_password(
    auth: str,
    plain_connector: Connect,
    store: SQLiteStore,
    mail: MailStore,
    server: IMAPTestServer,
    tmp_path: Path,
) -> None:
    # Without LITERAL+ and SASL-IR the secret goes after the server's "+": the path where
    # the client sends what it had to hold back.
    plain = [c for c in VARIANTS["condstore"] if c not in ("LITERAL+", "SASL-IR")]
    if auth == "LOGIN":
        plain = [c for c in plain if not c.startswith("AUTH=")]
    server.behavior.capabilities = tuple(plain)
    mail.add_user("carol", ODD_PASSWORD)
    mail.deliver("carol", sample_message(1, subject="traced"))
    account = make_account(
        "carol", security=Security.NONE, allow_insecure=True, password=ODD_PASSWORD
    )
    path = tmp_path / "wire.trace"
    settings = ServiceSettings(trace=path)
    async with open_imap_provider([account], settings=settings, connector=plain_connector) as imap:
        result = await SyncEngine(store).sync_account(imap.session(account))
        assert result.ok, result.error
    text = path.read_bytes()
    assert is_trace(text.splitlines()[0])
    assert (path.stat().st_mode & 0o777) == 0o600
    plain_blob = base64.b64encode(b"\0carol\0" + ODD_PASSWORD.encode())
    for secret in (ODD_PASSWORD.encode(), "wörd".encode(), b"with-quotes", plain_blob[:20]):
        assert secret not in text
    assert b"<redacted>" in text
    assert f" carol C A1 {auth}".encode() in text or f" carol C A2 {auth}".encode() in text
    assert b" carol S " in text
    assert b"traced" in text  # what the server sent about the message
    received = server_bytes(text.splitlines(keepends=True))["carol"]
    assert received.startswith(b"* OK")
    assert b"Subject: traced" in received or b'"traced"' in received

    out, err = io.StringIO(), io.StringIO()
    assert cli.run(["parse", str(path)], out, err) == 0, out.getvalue()
    lines = out.getvalue().splitlines()
    assert lines[0] == "== carol"
    assert any("FetchData" in line and "traced" in line for line in lines)


def test_parse_still_reads_raw_server_bytes(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.write_bytes(b"* OK hello\r\n* 3 EXISTS\r\nA1 OK done\r\n")
    out, err = io.StringIO(), io.StringIO()
    assert cli.run(["parse", str(raw)], out, err) == 0
    assert len(out.getvalue().splitlines()) == 3


def test_a_trace_is_appended_and_escapes_what_is_not_text(tmp_path: Path) -> None:
    path = tmp_path / "t"
    for _ in range(2):
        trace = WireTrace.open(path)
        trace.write("a", "S", b"* 1 FETCH (BODY[] {4}\r\n\x00\xff\\\n)\r\n")
        trace.close()
    lines = path.read_bytes().splitlines(keepends=True)
    assert len(lines) == 6
    assert server_bytes(lines)["a"] == b"* 1 FETCH (BODY[] {4}\r\n\x00\xff\\\n)\r\n" * 2


def test_the_config_key_sets_the_trace(tmp_path: Path) -> None:
    """``[service] trace``; ``--trace`` sets the same setting, which the provider opens."""
    config = tmp_path / "c.toml"
    config.write_text(
        f'[service]\ntrace = "{tmp_path / "from-config.trace"}"\n'
        '[accounts.a]\nhost = "h"\nusername = "u"\npassword = "p"\n'
    )
    assert load_config(config).service.trace == tmp_path / "from-config.trace"
