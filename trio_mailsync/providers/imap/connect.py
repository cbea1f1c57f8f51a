"""Opening an IMAP connection: TCP, TLS (implicit or STARTTLS), greeting, login.

Credentials never go over an unencrypted stream unless the account says
``allow_insecure``; there is never a fallback from TLS to clear text. A login
the server refuses invalidates the credentials it used (a password command runs
again next time, an OAuth token is refreshed), here and nowhere else; how long
to wait before the next login is the pool's business.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import trio

from trio_mailsync.core.config import Account
from trio_mailsync.core.errors import AuthenticationFailed, ConnectionLost, InsecureConnection
from trio_mailsync.protocol import ConnectionState, Limits, Plain, XOAuth2
from trio_mailsync.providers.auth import Credentials, OAuth2Credentials, credentials_for
from trio_mailsync.providers.imap.connection import IMAPConnection, renew_time, tls_reason
from trio_mailsync.providers.imap.settings import ImapSettings, Security, imap_settings
from trio_mailsync.providers.imap.tls import client_ssl_context
from trio_mailsync.providers.imap.trace import WireTrace

__all__ = ["Connector", "connect_account", "log_in", "open_connection", "tcp_connector"]

#: Opens the byte stream to an account's server (TCP by default; tests give memory streams).
Connector = Callable[[Account], Awaitable[trio.abc.Stream]]


#: TCP keepalive on every connection: probes after this many idle seconds, then every
#: KEEPALIVE_INTERVAL, and the connection is dead after KEEPALIVE_COUNT unanswered ones
#: (90 s). The kernel sends them without waking the process: a peer that vanished (a
#: NAT that forgot the connection, a host that went away) is found without a per-account
#: timer, and a read on the connection fails.
KEEPALIVE_IDLE = 60
KEEPALIVE_INTERVAL = 10
KEEPALIVE_COUNT = 3


def enable_keepalive(stream: trio.SocketStream) -> None:
    """Turn on TCP keepalive with the timings above (those the platform has)."""
    stream.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name, value in (
        ("TCP_KEEPIDLE", KEEPALIVE_IDLE),
        ("TCP_KEEPINTVL", KEEPALIVE_INTERVAL),
        ("TCP_KEEPCNT", KEEPALIVE_COUNT),
    ):
        option = getattr(socket, name, None)
        if option is not None:
            stream.setsockopt(socket.IPPROTO_TCP, option, value)


async def tcp_connector(account: Account) -> trio.abc.Stream:
    """The default connector: a TCP connection to the account's host and port, with
    keepalive on."""
    settings = imap_settings(account)
    stream = await trio.open_tcp_stream(settings.host, settings.port)
    enable_keepalive(stream)
    return stream


def _refused(exc: BaseException | None, depth: int = 0) -> bool:
    """Whether a connection failure was a refusal (trio wraps each address's attempt)."""
    if exc is None or depth > 5:
        return False
    if isinstance(exc, ConnectionRefusedError):
        return True
    inner = list(exc.exceptions) if isinstance(exc, BaseExceptionGroup) else []
    return any(_refused(e, depth + 1) for e in [exc.__cause__, exc.__context__, *inner])


async def connect_account(
    account: Account,
    credentials: Credentials | None = None,
    *,
    connector: Connector = tcp_connector,
    ssl_context: ssl.SSLContext | None = None,
    limits: Limits | None = None,
    trace: WireTrace | None = None,
    on_stage: Callable[[str], object] | None = None,
) -> IMAPConnection:
    """Open, secure and authenticate one connection. The caller closes it.

    ``on_stage`` hears each stage as it begins (``connect``, ``TLS``, ``greeting``,
    ``STARTTLS``, ``login``): a caller whose timeout fires can say where it stuck.

    Raises ``ServerBusy`` for "come back later", ``AuthenticationFailed`` when the
    server refuses the credentials (a rejected OAuth token is refreshed and tried
    once more first), ``InsecureConnection`` when TLS cannot be set up,
    ``ConnectionLost`` when the server cannot be reached. Without ``credentials``
    they are made from the account's settings (a pool keeps them across
    connections instead, with what it learned: a cached password, a token).
    """
    settings = imap_settings(account)
    if credentials is None:
        credentials = credentials_for(account.id, settings.username, settings.auth)
    stage = on_stage or (lambda name: None)
    context = ssl_context if ssl_context is not None else client_ssl_context(settings.ca_file)
    stage("connect")
    try:
        stream = await connector(account)
    except OSError as exc:
        hint = ""
        if _refused(exc):
            hint = (
                "; hint: nothing listens there: check host and port (993 for TLS, 143 for STARTTLS)"
            )
        raise ConnectionLost(
            f"{account.id}: cannot connect to {settings.host}:{settings.port}: {exc}{hint}"
        ) from exc
    if settings.security is Security.TLS:
        stage("TLS")
        tls = trio.SSLStream(stream, context, server_hostname=settings.host)
        try:
            await tls.do_handshake()
        except (trio.BrokenResourceError, ssl.SSLError) as exc:
            await trio.aclose_forcefully(stream)
            raise InsecureConnection(
                f"{account.id}: TLS handshake with {settings.host} failed: {tls_reason(exc)}"
            ) from exc
        except BaseException:  # cancelled mid-handshake: the socket is ours to close
            await trio.aclose_forcefully(stream)
            raise
        stream = tls
    conn = IMAPConnection(stream, name=account.id, limits=limits, trace=trace)
    try:
        stage("greeting")
        await conn.wait_greeting()
        if conn.client.capabilities is None:
            await conn.capability()
        if settings.security is Security.STARTTLS:
            stage("STARTTLS")
            await conn.starttls(context, settings.host)
        if conn.client.state is ConnectionState.NOT_AUTHENTICATED:
            stage("login")
            await log_in(conn, settings, credentials)
    except BaseException:
        await conn.aclose()
        raise
    return conn


async def log_in(conn: IMAPConnection, settings: ImapSettings, credentials: Credentials) -> None:
    """Authenticate ``conn``: XOAUTH2 for OAuth, else AUTHENTICATE PLAIN or LOGIN.

    A refusal invalidates what was refused; an OAuth token is refreshed and tried
    once more before the refusal is final (the token may have been revoked early).
    """
    insecure = settings.allow_insecure
    if isinstance(credentials, OAuth2Credentials):
        if not conn.has("AUTH=XOAUTH2"):
            raise AuthenticationFailed(f"{conn.name}: the server does not offer XOAUTH2")
        for attempt in range(2):
            token = await credentials.access_token()
            try:
                mechanism = XOAuth2(settings.username, token)
                await conn.authenticate(mechanism, allow_insecure=insecure)
                # The server may drop the session when the token expires (Outlook does,
                # with BYE ... AccessTokenExpired): the pool and the watcher replace the
                # connection before then.
                conn.renew_at = renew_time(credentials.expires_at(token))
                return
            except AuthenticationFailed:
                credentials.invalidate(token)
                if attempt:
                    raise
        return
    password = await credentials.password()
    try:
        if conn.has("AUTH=PLAIN"):
            await conn.authenticate(Plain(settings.username, password), allow_insecure=insecure)
        else:
            await conn.login(settings.username, password, allow_insecure=insecure)
    except AuthenticationFailed:
        credentials.invalidate()
        raise


@asynccontextmanager
async def open_connection(
    account: Account,
    credentials: Credentials | None = None,
    *,
    connector: Connector = tcp_connector,
    ssl_context: ssl.SSLContext | None = None,
) -> AsyncIterator[IMAPConnection]:
    """An authenticated connection for the block; logged out at its end."""
    conn = await connect_account(account, credentials, connector=connector, ssl_context=ssl_context)
    try:
        yield conn
    finally:
        await conn.logout()
