"""The service's CLI commands: demo, serve and watch."""

from __future__ import annotations

import io
import json
import re
import signal
import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest
import trio

from tests.service_support import TOKEN, loopback_account, serving, until_served
from tests.support import ALICE_PASSWORD, Connect
from trio_mailsync import cli
from trio_mailsync.core.config import BroadcastSettings, Config, ServiceSettings
from trio_mailsync.core.events import AccountState
from trio_mailsync.sinks import EventStreamClosed, open_event_stream
from trio_mailsync.sinks.client import EventStream
from trio_mailsync.testing import IMAPTestServer, MailStore, sample_message


def test_demo_runs_the_whole_path_and_reports_latency() -> None:
    out, err = io.StringIO(), io.StringIO()
    status = cli.run(["demo", "--duration", "2", "--interval", "0.4", "--accounts", "2"], out, err)
    text = out.getvalue()
    assert status == 0, text + err.getvalue()
    assert "testing IMAP server on 127.0.0.1:" in text
    assert "trio-mailsync watch ws://127.0.0.1:" in text
    assert "local Gmail API server on http://127.0.0.1:" in text
    imap = re.findall(r"> delivered a message to (demo\d) \(UID (\d+)\)", text)
    gmail = re.findall(r"> delivered a message to (gdemo) \(Gmail id ([0-9a-f]+)\)", text)
    delivered = imap + [(user, str(int(message_id, 16))) for user, message_id in gmail]
    assert len(delivered) >= 3
    for user, uid in delivered:
        assert re.search(rf"{user}: new in INBOX \(UID {uid}\) .*ms after delivery", text)
    # The toy processor labels each one after its event (the last may still be running).
    labelled = re.findall(r"(demo\d|gdemo): classify on INBOX \(UID (\d+)\): \{\"label\"", text)
    assert len(labelled) >= len(delivered) - 1
    assert set(labelled) <= set(delivered)
    assert re.search(r"(\d+) delivered, \1 reached the WebSocket client", text)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["demo", "--interval", "0"], "must be positive"),
        (["watch", "ws://127.0.0.1:9/"], "a token is needed"),
        (["watch", "http://127.0.0.1:9/", "--token", "t"], "not a ws://"),
        (["watch", "ws://127.0.0.1:9/", "--token", "t"], "error:"),  # nothing listens
    ],
)
def test_bad_arguments_get_one_clear_line(
    argv: list[str], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(cli.TOKEN_ENV, raising=False)
    out, err = io.StringIO(), io.StringIO()
    assert cli.run(argv, out, err) in (1, 2)
    assert message in err.getvalue()
    assert len(err.getvalue().strip().splitlines()) == 1


async def test_serve_and_watch(tmp_path: Path) -> None:
    mail = MailStore()
    mail.add_user("alice", ALICE_PASSWORD)
    server = IMAPTestServer(mail)
    out, err = io.StringIO(), io.StringIO()
    async with trio.open_nursery() as nursery:
        port = await nursery.start(server.serve_tcp)
        config = Config(
            accounts=(loopback_account(port),),
            service=ServiceSettings(sweep_interval=3600),
            broadcast=BroadcastSettings(port=0),  # no token: one is made up and shown
        )
        nursery.start_soon(cli._serve, config, tmp_path / "s.sqlite3", False, out, err)
        url, token = await until_served(out, err)
        # watch --json, in a thread of its own as from another terminal.
        watched = io.StringIO()
        argv = ["watch", url, "--token", token, "--json", "--count", "2"]
        watch = partial(cli.run, argv, watched, io.StringIO())
        # Bounded: a watch that never gets its second event fails the test, not hangs it
        # (the thread is abandoned; the process ends it).
        with trio.fail_after(30):
            async with trio.open_nursery() as watchers:
                watchers.start_soon(partial(trio.to_thread.run_sync, watch, abandon_on_cancel=True))
                async with open_event_stream(url, token) as events:
                    assert (await events.receive())["type"] == "hello"
                    with trio.fail_after(10):
                        # Delivered once watch has its hello: mail delivered before it
                        # connected would not be live news to it (and --count 2 would wait).
                        while not watched.getvalue():
                            await trio.sleep(0.01)
                    uid = mail.deliver("alice", sample_message(1, subject="served"))
                    with trio.fail_after(10):
                        while (event := await events.receive())["type"] != "new_messages":
                            pass
        assert [(m["uid"], m["subject"]) for m in event["messages"]] == [(uid, "served")]
        lines = [json.loads(line) for line in watched.getvalue().splitlines()]
        assert lines[0]["type"] == "hello"
        assert len(lines) == 2
        with trio.fail_after(10):
            while "alice: new in INBOX (UID 1)" not in out.getvalue():
                await trio.sleep(0.01)
        nursery.cancel_scope.cancel()
    assert token not in out.getvalue()


async def test_watch_says_why_it_stopped(plain_connector: Connect, tmp_path: Path) -> None:
    async with serving(plain_connector, tmp_path) as running:
        url = running.broadcaster.url
        err = io.StringIO()
        refused = partial(cli.run, ["watch", url, "--token", "wrong"], io.StringIO(), err)
        assert await trio.to_thread.run_sync(refused) == 1
        assert err.getvalue() == f"error: {url}: wrong or missing token (HTTP 401)\n"
        # A watcher told not to reconnect ends cleanly when the service stops.
        out = io.StringIO()
        status: list[int] = []

        def watch() -> None:
            argv = ["watch", url, "--token", TOKEN, "--no-reconnect"]
            status.append(cli.run(argv, out, io.StringIO()))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(trio.to_thread.run_sync, watch)
            with trio.fail_after(10):
                while "account(s): alice" not in out.getvalue():
                    await trio.sleep(0.01)
            running.service.close_subscriptions()
    assert status == [0]


async def test_watch_reconnects_and_resumes_after_the_last_id_it_printed(
    plain_connector: Connect, mail: MailStore, tmp_path: Path
) -> None:
    async with serving(plain_connector, tmp_path) as running:
        url = running.broadcaster.url
        out, err = io.StringIO(), io.StringIO()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(cli._watch, url, TOKEN, False, None, None, True, out, err)
            with trio.fail_after(10):
                while "account(s): alice" not in out.getvalue():
                    await trio.sleep(0.01)
                while running.service.state("alice") is not AccountState.IDLE:
                    await trio.sleep(0.01)
            # The service drops its clients (as a restart would); mail comes meanwhile.
            running.service.close_subscriptions()
            uid = mail.deliver("alice", sample_message(1, subject="while away"))
            with trio.fail_after(20):
                while "while away" not in out.getvalue():
                    await trio.sleep(0.05)
            nursery.cancel_scope.cancel()
        assert "the service stopped; reconnecting in 1 s, resuming after event 0" in err.getvalue()
        assert f"alice: new in INBOX (UID {uid})" in out.getvalue()
        assert out.getvalue().count("while away") == 1


@pytest.mark.parametrize(
    ("signum", "said", "status"),
    [(signal.SIGINT, "interrupted", 130), (signal.SIGTERM, "terminated", 143)],
)
def test_a_stop_signal_stops_cleanly(signum: int, said: str, status: int) -> None:
    # Ctrl-C, or systemd's and docker's SIGTERM: one line and 128 + the signal, not a
    # traceback, whatever task was running when it came.
    script = Path(sys.executable).parent / "trio-mailsync"
    with subprocess.Popen(
        [script, "demo", "--duration", "0", "--accounts", "1", "--interval", "0.2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:  # bounded: the first delivery comes within a second
            if line.startswith("> delivered"):
                break
        process.send_signal(signum)
        _, err = process.communicate(timeout=30)
    assert process.returncode == status, err
    assert err.strip() == said


def _account_table(name: str, port: int, password: str) -> str:
    return (
        f'[accounts.{name}]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
        f'allow_insecure = true\nusername = "{name}"\npassword = "{password}"\n'
    )


async def _until_closed(events: EventStream) -> None:
    while True:
        await events.receive()


async def test_serve_reloads_on_sighup_and_stops_on_sigterm_with_1001(tmp_path: Path) -> None:
    # A real process and real signals: SIGHUP adds an account (the other keeps its
    # connection), `status` reads the running service, SIGTERM closes clients with 1001.
    mail = MailStore()
    mail.add_user("alice", ALICE_PASSWORD)
    mail.add_user("carol", "carol-password")
    server = IMAPTestServer(mail)
    config = tmp_path / "mailsync.toml"
    async with trio.open_nursery() as nursery:
        port = await nursery.start(partial(server.serve_tcp, host="127.0.0.1"))
        probe = trio.socket.socket()
        await probe.bind(("127.0.0.1", 0))
        web_port = probe.getsockname()[1]
        probe.close()
        head = (
            f'[store]\npath = "{tmp_path / "s.sqlite3"}"\n'
            f'[broadcast]\nport = {web_port}\ntoken = "{TOKEN}"\n'
        )
        config.write_text(head + _account_table("alice", port, ALICE_PASSWORD))
        script = Path(sys.executable).parent / "trio-mailsync"
        process = await trio.lowlevel.open_process(
            [str(script), "serve", "--config", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        assert process.stderr is not None
        said = b""

        async def read_until(text: bytes) -> None:
            nonlocal said
            with trio.fail_after(20):
                while text not in said:
                    chunk = await process.stderr.receive_some(4096)  # type: ignore[union-attr]
                    assert chunk, said
                    said += chunk

        try:
            await read_until(b"dashboard on http://127.0.0.1:")
            url = f"ws://127.0.0.1:{web_port}/"
            async with open_event_stream(url, TOKEN) as events:
                hello = await events.receive()
                assert [a["id"] for a in hello["accounts"]] == ["alice"]
                with trio.fail_after(20):
                    while (await events.receive()).get("state") != "idle":
                        pass
                logins = server.statistics().logins
                config.write_text(
                    head
                    + _account_table("alice", port, ALICE_PASSWORD)
                    + _account_table("carol", port, "carol-password")
                )
                process.send_signal(signal.SIGHUP)
                await read_until(b"config reloaded: added carol; removed none; changed none")
                with trio.fail_after(20):
                    while True:
                        event = await events.receive()
                        if (event.get("account"), event.get("state")) == ("carol", "idle"):
                            break
                assert server.statistics().logins == logins + 1  # carol's; alice kept hers
                status_out, status_err = io.StringIO(), io.StringIO()
                argv = ["status", "--config", str(config)]
                code = await trio.to_thread.run_sync(cli.run, argv, status_out, status_err)
                assert code == 0, status_err.getvalue()
                table = status_out.getvalue().splitlines()
                assert table[0].split()[:2] == ["account", "state"]
                assert [row.split()[:2] for row in table[2:]] == [
                    ["alice", "idle"],
                    ["carol", "idle"],
                ]
                process.send_signal(signal.SIGTERM)
                with trio.fail_after(20), pytest.raises(EventStreamClosed) as closed:
                    await _until_closed(events)
                assert closed.value.code == 1001
            with trio.fail_after(30):
                assert await process.wait() == 128 + signal.SIGTERM
            await read_until(b"terminated")
            assert b"Traceback" not in said
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        nursery.cancel_scope.cancel()
