"""IMAPConnection against the testing server: TLS, login, commands, IDLE, faults."""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx
import pytest
import trio
import trio.testing

from tests.support import Connect, make_account
from trio_mailsync.core.errors import (
    AuthenticationFailed,
    ConnectionLost,
    InsecureConnection,
    ProviderError,
    ServerBusy,
)
from trio_mailsync.protocol import ConnectionState, ExistsData, ExpungeData, SequenceSet
from trio_mailsync.providers.auth import (
    OAuth2Auth,
    OAuth2Credentials,
    PasswordAuth,
    PasswordCredentials,
)
from trio_mailsync.providers.imap import (
    CommandFailed,
    IdleEnded,
    IMAPConnection,
    Security,
    connect_account,
    open_connection,
)
from trio_mailsync.testing import CommandInfo, IMAPTestServer, MailStore, Session

MESSAGE = b"From: Bob <bob@example.com>\r\nTo: alice@example.com\r\nSubject: hello\r\n\r\nhi\r\n"


async def test_implicit_tls_login_and_commands(
    tls_connector: Connect, ca_file: Path, mail: MailStore, server: IMAPTestServer
) -> None:
    account = make_account(ca_file=ca_file)
    mail.deliver("alice", MESSAGE, flags=["\\Seen"])
    async with open_connection(account, connector=tls_connector) as conn:
        assert conn.encrypted
        assert conn.has("CONDSTORE")  # reported after login
        folders, _ = await conn.list_folders()
        assert {f.mailbox for f in folders} >= {"INBOX", "Sent", "Trash"}
        box = await conn.select("INBOX")
        assert (box.exists, box.uidnext) == (1, 2)
        assert box.uidvalidity == mail.user("alice").folder("INBOX").uidvalidity
        fetched, _ = await conn.uid_fetch("1:*", ["UID", "FLAGS", "ENVELOPE"])
        (item,) = fetched
        assert item.uid == 1
        assert item.flags == ("\\Seen",)
        assert item.envelope is not None
        assert item.envelope.subject == b"hello"
        assert await conn.uid_search("ALL") == [1]
    assert server.statistics().commands["LOGOUT"] == 1


async def test_status_many_goes_in_one_write(plain_connector: Connect, mail: MailStore) -> None:
    writes = 0

    async def counting(account: object) -> trio.abc.Stream:
        stream = await plain_connector(account)  # type: ignore[arg-type]
        original = stream.send_all

        async def send_all(data: bytes | bytearray | memoryview) -> None:
            nonlocal writes
            writes += 1
            await original(data)

        stream.send_all = send_all  # type: ignore[method-assign]
        return stream

    account = make_account(security=Security.NONE, allow_insecure=True)
    mail.deliver("alice", MESSAGE, folder="Sent")
    conn = await connect_account(account, connector=counting)
    before = writes
    result = await conn.status_many(["INBOX", "Sent", "Drafts", "Nope"], ["MESSAGES", "UIDNEXT"])
    assert writes == before + 1
    assert result["Sent"].messages == 1  # type: ignore[union-attr]
    assert result["INBOX"].messages == 0  # type: ignore[union-attr]
    assert isinstance(result["Nope"], CommandFailed)
    await conn.logout()


@pytest.mark.parametrize("unselect", [True, False])
async def test_status_of_the_selected_mailbox_is_current(
    plain_connector: Connect, server: IMAPTestServer, mail: MailStore, unselect: bool
) -> None:
    # Like Dovecot, the testing server answers STATUS of the selected mailbox from the
    # session's old view; status_many leaves the mailbox first (UNSELECT, or CLOSE when
    # it is read-only), in the same write.
    if not unselect:
        server.behavior.capabilities = tuple(
            c for c in server.behavior.capabilities if c != "UNSELECT"
        )
    account = make_account(security=Security.NONE, allow_insecure=True)
    conn = await connect_account(account, connector=plain_connector)
    await conn.select("INBOX", readonly=True)
    mail.deliver("alice", MESSAGE)
    result = await conn.status_many(["INBOX"], ["MESSAGES", "UIDNEXT"])
    assert result["INBOX"].messages == 1  # type: ignore[union-attr]
    assert conn.client.state is ConnectionState.AUTHENTICATED
    assert server.statistics().commands.get("UNSELECT" if unselect else "CLOSE") == 1
    await conn.logout()


async def test_starttls_upgrades_before_credentials(
    server: IMAPTestServer, nursery: trio.Nursery, server_ssl_context: ssl.SSLContext, ca_file: Path
) -> None:
    server.behavior.capabilities = (*server.behavior.capabilities, "STARTTLS")
    server.behavior.starttls_context = server_ssl_context
    connect = server.connector(nursery)
    account = make_account(ca_file=ca_file, security=Security.STARTTLS)

    async def connector(_: object) -> trio.abc.Stream:
        return await connect()

    conn = await connect_account(account, connector=connector)
    assert conn.encrypted
    assert isinstance(conn.stream, trio.SSLStream)
    assert server.statistics().logins == 1
    await conn.logout()


async def test_no_starttls_means_no_credentials_sent(
    plain_connector: Connect, server: IMAPTestServer
) -> None:
    account = make_account(security=Security.STARTTLS)
    with pytest.raises(InsecureConnection, match="does not offer STARTTLS"):
        await connect_account(account, connector=plain_connector)
    stats = server.statistics()
    assert "LOGIN" not in stats.commands
    assert "AUTHENTICATE" not in stats.commands


@pytest.mark.client_sends_garbage  # the TLS handshake, to a server that did not start TLS
@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (b"NO STARTTLS is broken today", "alice: STARTTLS refused: NO"),
        (b"BAD Unknown command", "alice: STARTTLS refused: BAD"),
        # ... and then it does not: plain text follows.
        (b"OK Begin TLS negotiation now", "alice: TLS handshake failed: [SSL: WRONG_VERSION"),
    ],
)
async def test_a_starttls_server_that_does_not_upgrade_gets_no_credentials(
    plain_connector: Connect, server: IMAPTestServer, answer: bytes, error: str
) -> None:
    server.behavior.capabilities = (*server.behavior.capabilities, "STARTTLS")

    async def no_upgrade(session: Session, command: CommandInfo) -> bool:
        if command.name == "STARTTLS":
            await session.send(command.tag.encode() + b" " + answer)
            await session.flush()  # the answer alone first, as a server would send it
            if answer.startswith(b"OK"):
                await session.send(b"* OK still plain text")
            return True
        return False

    server.behavior.on_command = no_upgrade
    account = make_account(security=Security.STARTTLS)
    with trio.fail_after(10), pytest.raises(InsecureConnection) as info:
        await connect_account(account, connector=plain_connector)
    assert str(info.value).startswith(error)
    stats = server.statistics()
    assert "LOGIN" not in stats.commands
    assert "AUTHENTICATE" not in stats.commands


async def test_certificate_for_another_name_is_refused(tls_connector: Connect) -> None:
    # The account trusts the system CAs, not the test CA: verification fails.
    account = make_account()
    with pytest.raises(InsecureConnection, match="certificate not trusted"):
        await connect_account(account, connector=tls_connector)


async def test_cancelled_tls_handshake_closes_the_socket() -> None:
    # A server that accepts and says nothing: the caller's timeout must not leak the socket.
    client, _server = trio.testing.memory_stream_pair()

    async def connector(account: object) -> trio.abc.Stream:
        return client

    account = make_account()
    with trio.move_on_after(0.05) as scope:
        await connect_account(account, connector=connector)
    assert scope.cancelled_caught
    with pytest.raises(trio.ClosedResourceError):
        await client.send_all(b"x")


async def test_login_without_auth_plain(plain_connector: Connect, server: IMAPTestServer) -> None:
    server.behavior.capabilities = tuple(
        c for c in server.behavior.capabilities if not c.startswith("AUTH=")
    )
    account = make_account(security=Security.NONE, allow_insecure=True)
    async with open_connection(account, connector=plain_connector):
        pass
    assert server.statistics().commands.get("LOGIN") == 1


async def test_wrong_password_is_a_clear_error(tls_connector: Connect, ca_file: Path) -> None:
    account = make_account(ca_file=ca_file, password="wrong")
    with pytest.raises(AuthenticationFailed) as info:
        await connect_account(account, connector=tls_connector)
    assert str(info.value) == (
        "alice: AUTHENTICATE failed: NO [AUTHENTICATIONFAILED] Authentication failed."
    )
    assert "wrong" not in repr(info.value)


async def test_bye_greeting_is_back_pressure(
    plain_connector: Connect, server: IMAPTestServer
) -> None:
    server.behavior.greeting = b"* BYE Too many connections, try again later"
    account = make_account(security=Security.NONE, allow_insecure=True)
    with pytest.raises(ServerBusy, match="Too many connections"):
        await connect_account(account, connector=plain_connector)


async def test_unavailable_at_login_is_back_pressure(
    plain_connector: Connect, server: IMAPTestServer
) -> None:
    server.behavior.max_connections_per_user = 1
    account = make_account(security=Security.NONE, allow_insecure=True)
    first = await connect_account(account, connector=plain_connector)
    with pytest.raises(ServerBusy, match="UNAVAILABLE"):
        await connect_account(account, connector=plain_connector)
    await first.logout()


async def bye_on_noop(session: Session, command: CommandInfo) -> bool:
    if command.name == "NOOP":
        await session.bye("Autologout; idle for too long")
    return False


async def test_bye_during_a_command(plain_connector: Connect, server: IMAPTestServer) -> None:
    server.behavior.on_command = bye_on_noop
    account = make_account(security=Security.NONE, allow_insecure=True)
    conn = await connect_account(account, connector=plain_connector)
    with pytest.raises(ConnectionLost, match="BYE Autologout"):
        await conn.noop()
    assert conn.broken
    with pytest.raises(ConnectionLost):
        await conn.noop()


async def test_cancelled_command_breaks_and_closes_the_connection(
    plain_connector: Connect, server: IMAPTestServer
) -> None:
    server.behavior.delays["UID SEARCH"] = 10
    account = make_account(security=Security.NONE, allow_insecure=True)
    conn = await connect_account(account, connector=plain_connector)
    await conn.select("INBOX")
    with trio.move_on_after(0.1):
        await conn.uid_search("ALL")
    assert conn.broken
    with pytest.raises(ConnectionLost, match="cancelled in flight"):
        await conn.noop()
    with pytest.raises(trio.ClosedResourceError):
        await conn.stream.send_all(b"x")  # closed on our side, not left half-read


async def test_idle_reports_new_mail_and_ends_with_done(
    plain_connector: Connect, mail: MailStore, server: IMAPTestServer
) -> None:
    account = make_account(security=Security.NONE, allow_insecure=True)
    conn = await connect_account(account, connector=plain_connector)
    mail.deliver("alice", MESSAGE)
    await conn.select("INBOX")
    async with conn.idle():
        mail.deliver("alice", MESSAGE)
        assert await conn.next_update() == ExistsData(count=2)
        mail.expunge("alice", [1])
        assert await conn.next_update() == ExpungeData(seq=1)
    assert not conn.broken
    assert await conn.uid_search("ALL") == [2]  # in step after DONE
    await conn.logout()


async def test_idle_left_by_cancellation_sends_done(
    plain_connector: Connect, server: IMAPTestServer
) -> None:
    account = make_account(security=Security.NONE, allow_insecure=True)
    conn = await connect_account(account, connector=plain_connector)
    await conn.select("INBOX")
    with trio.move_on_after(0.05):
        async with conn.idle():
            await conn.next_update()
    assert not conn.broken
    await conn.noop()
    await conn.logout()


@pytest.mark.parametrize("together", [False, True], ids=["apart", "in one write"])
async def test_server_ending_idle_raises_idle_ended(
    plain_connector: Connect, server: IMAPTestServer, together: bool
) -> None:
    async def ends_idle(session: Session, command: CommandInfo) -> bool:
        if command.name == "IDLE":
            await session.send(b"+ idling")
            if not together:
                await session.flush()
            await session.send(f"{command.tag} OK IDLE ended by the server".encode())
            return True
        return False

    server.behavior.on_command = ends_idle
    account = make_account(security=Security.NONE, allow_insecure=True)
    conn = await connect_account(account, connector=plain_connector)
    await conn.select("INBOX")
    with pytest.raises(IdleEnded):
        async with conn.idle():
            await conn.next_update()
    assert not conn.broken


async def test_idle_refused(plain_connector: Connect, server: IMAPTestServer) -> None:
    server.behavior.capabilities = tuple(c for c in server.behavior.capabilities if c != "IDLE")
    account = make_account(security=Security.NONE, allow_insecure=True)
    conn = await connect_account(account, connector=plain_connector)
    await conn.select("INBOX")
    with pytest.raises(ProviderError, match="refused IDLE"):
        async with conn.idle():
            pass
    await conn.noop()


async def test_streaming_fetch(plain_connector: Connect, mail: MailStore) -> None:
    for _ in range(5):
        mail.deliver("alice", MESSAGE)
    account = make_account(security=Security.NONE, allow_insecure=True)
    conn = await connect_account(account, connector=plain_connector)
    await conn.select("INBOX")
    uids = [item.uid async for item in conn.uid_fetch_stream("1:*", ["UID", "BODY.PEEK[]"])]
    assert uids == [1, 2, 3, 4, 5]
    assert await conn.uid_search("ALL") == [1, 2, 3, 4, 5]


async def test_append_store_expunge(plain_connector: Connect, mail: MailStore) -> None:
    account = make_account(security=Security.NONE, allow_insecure=True)
    conn = await connect_account(account, connector=plain_connector)
    uid = await conn.append("INBOX", MESSAGE, flags=["\\Flagged"])
    assert uid == 1
    await conn.select("INBOX")
    await conn.uid_store(SequenceSet.parse("1"), "+FLAGS", ["\\Deleted"])
    await conn.uid_expunge("1")
    assert mail.user("alice").folder("INBOX").messages == []


# ---------------------------------------------------------------- XOAUTH2


def token_endpoint(tokens: list[str], calls: list[str]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(request.content.decode())
        return httpx.Response(200, json={"access_token": tokens.pop(0), "expires_in": 3600})

    return httpx.MockTransport(handle)


async def test_xoauth2_rejected_token_is_refreshed_once(
    tls_connector: Connect, ca_file: Path, mail: MailStore
) -> None:
    mail.user("alice").tokens.add("good-token")
    calls: list[str] = []
    http = httpx.AsyncClient(transport=token_endpoint(["stale-token", "good-token"], calls))
    account = make_account(ca_file=ca_file)
    auth = OAuth2Auth(token_url="https://auth.test/token", client_id="cid", refresh_token="r1")
    creds = OAuth2Credentials("alice", auth, account_id="alice", http=http)
    conn = await connect_account(account, creds, connector=tls_connector)
    assert len(calls) == 2
    assert creds.statistics().invalidations == 1
    await conn.logout()


async def test_xoauth2_second_rejection_surfaces(tls_connector: Connect, ca_file: Path) -> None:
    calls: list[str] = []
    http = httpx.AsyncClient(transport=token_endpoint(["bad-1", "bad-2", "bad-3"], calls))
    account = make_account(ca_file=ca_file)
    auth = OAuth2Auth(token_url="https://auth.test/token", client_id="cid", refresh_token="r1")
    creds = OAuth2Credentials("alice", auth, account_id="alice", http=http)
    with pytest.raises(AuthenticationFailed):
        await connect_account(account, creds, connector=tls_connector)
    assert len(calls) == 2  # one refresh after the rejection, no storm


async def test_password_command_is_run_once(plain_connector: Connect, tmp_path: Path) -> None:

    counter = tmp_path / "count"
    script = tmp_path / "pw.sh"
    script.write_text(f'#!/bin/sh\necho x >> "{counter}"\necho alice-correct-horse\n')
    script.chmod(0o755)
    creds = PasswordCredentials("alice", PasswordAuth(command=(str(script),)), account_id="alice")
    account = make_account(security=Security.NONE, allow_insecure=True)
    for _ in range(3):
        conn = await connect_account(account, creds, connector=plain_connector)
        await conn.logout()
    assert counter.read_text().count("x") == 1


async def test_connection_repr_is_short_and_safe(plain_connector: Connect) -> None:
    account = make_account(security=Security.NONE, allow_insecure=True)
    conn = await connect_account(account, connector=plain_connector)
    assert repr(conn) == "<IMAPConnection alice authenticated>"
    assert isinstance(conn, IMAPConnection)
    await conn.logout()
    assert "broken" in repr(conn)


async def test_connections_have_tcp_keepalive() -> None:
    """A vanished peer is found by the kernel's probes, not by a timer per account."""
    import socket

    import attrs

    from trio_mailsync.providers.imap import Security, imap_settings
    from trio_mailsync.providers.imap.connect import (
        KEEPALIVE_COUNT,
        KEEPALIVE_IDLE,
        KEEPALIVE_INTERVAL,
        tcp_connector,
    )

    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    account = make_account(security=Security.NONE, allow_insecure=True)
    account = attrs.evolve(
        account, settings=attrs.evolve(imap_settings(account), host="127.0.0.1", port=port)
    )
    stream = await tcp_connector(account)
    try:
        assert isinstance(stream, trio.SocketStream)
        sock = stream.socket
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        if hasattr(socket, "TCP_KEEPIDLE"):
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == KEEPALIVE_IDLE
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL) == KEEPALIVE_INTERVAL
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT) == KEEPALIVE_COUNT
    finally:
        await stream.aclose()
        for listener in listeners:
            await listener.aclose()
