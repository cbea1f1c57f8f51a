"""OAuth2 credentials against a real HTTP token endpoint on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import tracemalloc
import urllib.parse
from functools import partial
from pathlib import Path

import attrs
import h11
import httpx
import pytest
import trio
import trio.testing

from trio_mailsync.core.errors import CredentialsError
from trio_mailsync.providers import auth as auth_module
from trio_mailsync.providers.auth import (
    MAX_PASSWORD_OUTPUT,
    OAuth2Auth,
    OAuth2Credentials,
    PasswordAuth,
    PasswordCredentials,
)
from trio_mailsync.secret import Secret

REFRESH_TOKEN = "1//refresh-token-do-not-log"


@attrs.define
class TokenEndpoint:
    """A tiny OAuth 2.0 token endpoint: counts refreshes, can rotate, delay or refuse."""

    url: str = ""
    requests: list[dict[str, str]] = attrs.field(factory=list)
    expires_in: int = 3600
    delay: float = 0.0
    rotate_to: str | None = None
    refuse: bool = False
    counter: int = 0

    def respond(self, form: dict[str, str]) -> tuple[int, dict[str, object]]:
        self.requests.append(form)
        if self.refuse or form.get("grant_type") != "refresh_token":
            return 400, {"error": "invalid_grant"}
        self.counter += 1
        body: dict[str, object] = {
            "access_token": f"access-{self.counter}",
            "expires_in": self.expires_in,
            "token_type": "Bearer",
        }
        if self.rotate_to:
            body["refresh_token"] = self.rotate_to
        return 200, body


async def _serve_one(stream: trio.SocketStream, endpoint: TokenEndpoint) -> None:
    conn = h11.Connection(h11.SERVER)
    body = b""
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(await stream.receive_some(65536))
            continue
        if isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            break
        elif isinstance(event, h11.ConnectionClosed):
            return
    form = dict(urllib.parse.parse_qsl(body.decode()))
    if endpoint.delay:
        await trio.sleep(endpoint.delay)
    status, payload = endpoint.respond(form)
    data = json.dumps(payload).encode()
    headers = [("content-type", "application/json"), ("content-length", str(len(data)))]
    await stream.send_all(conn.send(h11.Response(status_code=status, headers=headers)) or b"")
    await stream.send_all(conn.send(h11.Data(data=data)) or b"")
    await stream.send_all(conn.send(h11.EndOfMessage()) or b"")
    await stream.aclose()


@pytest.fixture
async def endpoint(nursery: trio.Nursery) -> TokenEndpoint:
    state = TokenEndpoint()

    async def handler(stream: trio.SocketStream) -> None:
        await _serve_one(stream, state)

    listeners = await nursery.start(partial(trio.serve_tcp, handler, 0, host="127.0.0.1"))
    port = listeners[0].socket.getsockname()[1]
    state.url = f"http://127.0.0.1:{port}/token"
    return state


def credentials(endpoint: TokenEndpoint, *, margin: float = 300, **kw: object) -> OAuth2Credentials:
    auth = OAuth2Auth(
        token_url=endpoint.url,
        client_id="client-id",
        client_secret="client-secret-do-not-log",
        refresh_token=REFRESH_TOKEN,
        scope="https://mail.google.com/",
        refresh_margin=margin,
    )
    return OAuth2Credentials("alice@example.com", auth, account_id="gmail", **kw)  # type: ignore[arg-type]


async def test_fifty_concurrent_users_cause_one_refresh(endpoint: TokenEndpoint) -> None:
    endpoint.delay = 0.2
    creds = credentials(endpoint)
    tokens: list[Secret] = []

    async def user() -> None:
        tokens.append(await creds.access_token())

    async with trio.open_nursery() as nursery:
        for _ in range(50):
            nursery.start_soon(user)
    assert len(endpoint.requests) == 1
    assert {t.reveal() for t in tokens} == {"access-1"}
    form = endpoint.requests[0]
    assert form["grant_type"] == "refresh_token"
    assert form["refresh_token"] == REFRESH_TOKEN
    assert form["client_id"] == "client-id"
    assert form["scope"] == "https://mail.google.com/"


async def test_token_is_refreshed_before_it_expires(
    endpoint: TokenEndpoint, mock_clock: trio.testing.MockClock
) -> None:
    # One-hour tokens refreshed five minutes ahead; the clock jumps, no one waits.
    creds = credentials(endpoint, margin=300)
    first = await creds.access_token()
    mock_clock.jump(3299)
    assert (await creds.access_token()) == first  # 301 s left: still good
    assert len(endpoint.requests) == 1
    mock_clock.jump(2)
    second = await creds.access_token()  # 299 s left: refreshed before it expires
    assert second != first
    assert len(endpoint.requests) == 2


async def test_rejected_token_gives_exactly_one_refresh(endpoint: TokenEndpoint) -> None:
    creds = credentials(endpoint)
    token = await creds.access_token()
    creds.invalidate(token)
    creds.invalidate(token)  # a second report of the same token changes nothing more
    fresh = await creds.access_token()
    assert fresh != token
    assert len(endpoint.requests) == 2
    creds.invalidate(token)  # an old token: the current one stays
    assert (await creds.access_token()) == fresh
    assert len(endpoint.requests) == 2


async def test_rotated_refresh_token_is_kept(endpoint: TokenEndpoint) -> None:
    endpoint.rotate_to = "1//rotated"
    seen: list[Secret] = []
    creds = credentials(endpoint, on_refresh_token=seen.append)
    await creds.access_token()
    assert creds.refresh_token.reveal() == "1//rotated"
    assert [s.reveal() for s in seen] == ["1//rotated"]
    creds.invalidate()
    await creds.access_token()
    assert endpoint.requests[1]["refresh_token"] == "1//rotated"


async def test_refused_refresh_is_a_clear_error_for_every_waiter(endpoint: TokenEndpoint) -> None:
    endpoint.refuse = True
    endpoint.delay = 0.1
    creds = credentials(endpoint)
    errors: list[BaseException] = []

    async def user() -> None:
        try:
            await creds.access_token()
        except CredentialsError as exc:
            errors.append(exc)

    async with trio.open_nursery() as nursery:
        for _ in range(5):
            nursery.start_soon(user)
    assert len(errors) == 5
    assert len(endpoint.requests) == 1
    assert "invalid_grant" in str(errors[0]) or "refresh failed" in str(errors[0])


async def test_unreachable_endpoint() -> None:
    auth = OAuth2Auth(token_url="http://127.0.0.1:9/token", client_id="c", refresh_token="r")
    creds = OAuth2Credentials("alice", auth, account_id="gmail")
    with pytest.raises(CredentialsError, match="unreachable"):
        await creds.access_token()


async def test_no_secret_in_logs_or_reprs(
    endpoint: TokenEndpoint, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    creds = credentials(endpoint)
    token = await creds.access_token()
    creds.invalidate(token)
    await creds.access_token()
    texts = [caplog.text, repr(creds), str(creds), repr(creds.statistics()), repr(token)]
    for secret in (REFRESH_TOKEN, "client-secret-do-not-log", "access-1", "access-2"):
        for text in texts:
            assert secret not in text


@pytest.mark.parametrize("lifetime", [300, 200, 1])
async def test_a_token_that_lives_no_longer_than_the_margin_is_still_used(
    autojump_clock: trio.testing.MockClock, lifetime: int
) -> None:
    # Issue 17, finding 7: with expires_in <= refresh_margin (Keycloak gives 300 s, the
    # margin's default), every fresh token was "not fresh": refresh again, at once, for ever.
    issued: list[float] = []

    def endpoint(request: httpx.Request) -> httpx.Response:
        issued.append(trio.current_time())
        # A refresh loop never lets the MockClock move: fail it here rather than hang.
        assert len(issued) < 1000, "refreshed in a loop"
        token = f"token-{len(issued)}"
        return httpx.Response(200, json={"access_token": token, "expires_in": lifetime})

    auth = OAuth2Auth(token_url="https://auth.test/t", client_id="c", refresh_token="r")
    async with httpx.AsyncClient(transport=httpx.MockTransport(endpoint)) as http:
        creds = OAuth2Credentials("alice", auth, account_id="alice", http=http)
        expiry: dict[str, float] = {}
        for _ in range(120):  # an hour, a login every 30 s
            token = (await creds.access_token()).reveal()
            now = trio.current_time()
            expiry.setdefault(token, now + lifetime)
            assert now < expiry[token], "a token was used after it expired"
            await trio.sleep(30)
    # Refreshed when half its life is gone: about every lifetime / 2 (or every login).
    assert len(issued) <= 3600 / min(lifetime / 2, 30) + 1, len(issued)


@pytest.mark.parametrize("expires_in", [0, -5, "NaN"])
async def test_a_token_that_is_born_expired_is_an_error_not_a_loop(
    autojump_clock: trio.testing.MockClock, expires_in: object
) -> None:
    calls: list[float] = []

    def endpoint(request: httpx.Request) -> httpx.Response:
        calls.append(trio.current_time())
        return httpx.Response(200, json={"access_token": "t", "expires_in": expires_in})

    auth = OAuth2Auth(token_url="https://auth.test/t", client_id="c", refresh_token="r")
    async with httpx.AsyncClient(transport=httpx.MockTransport(endpoint)) as http:
        creds = OAuth2Credentials("alice", auth, account_id="alice", http=http)
        with pytest.raises(CredentialsError, match="already expired"):
            await creds.access_token()
    assert len(calls) == 1


def _running(pid: int) -> bool:
    """Is ``pid`` alive (a zombie waiting for its reaper counts as gone)?"""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


async def test_a_password_command_that_prints_without_end_is_cut_off() -> None:
    # Issue 17, finding 11: the output was read whole (1 GB took `check` to ~6 GB).
    creds = PasswordCredentials("alice", PasswordAuth(command=("yes", "s3cret")), account_id="a")
    tracemalloc.start()
    try:
        with trio.fail_after(30), pytest.raises(CredentialsError, match="printed more than"):
            await creds.password()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * MAX_PASSWORD_OUTPUT


async def test_a_password_command_that_hangs_leaves_no_child_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Issue 17, finding 11: at the timeout the command was killed, its children were not.
    monkeypatch.setattr(auth_module, "PASSWORD_COMMAND_TIMEOUT", 0.5)
    pidfile = tmp_path / "child.pid"
    script = f"sleep 300 & echo $! > {pidfile}; sleep 300"
    creds = PasswordCredentials("alice", PasswordAuth(command=("sh", "-c", script)), account_id="a")
    with trio.fail_after(30), pytest.raises(CredentialsError, match=r"took longer than 0\.5 s"):
        await creds.password()
    child = int(pidfile.read_text())
    with trio.fail_after(10):
        while _running(child):
            await trio.sleep(0.05)
