"""Connections, the pool and the folder cache against a real Dovecot."""

from __future__ import annotations

import attrs
import pytest

from trio_mailsync.core.errors import AuthenticationFailed, InsecureConnection
from trio_mailsync.providers.imap import (
    FolderCache,
    Security,
    connect_account,
    imap_settings,
    open_pool,
)
from trio_mailsync.testing.dovecot import DovecotServer


async def test_implicit_tls_login(dovecot: DovecotServer) -> None:
    account = dovecot.account("user1")
    conn = await connect_account(account)
    assert conn.encrypted
    assert conn.has("CONDSTORE")  # Dovecot reports it only after login
    assert conn.has("SPECIAL-USE")
    box = await conn.select("INBOX")
    assert box.uidvalidity is not None
    await conn.logout()


async def test_starttls_login(dovecot: DovecotServer) -> None:
    account = dovecot.account("user2", security=Security.STARTTLS)
    conn = await connect_account(account)
    assert conn.encrypted
    assert conn.has("QRESYNC")
    await conn.logout()


async def test_wrong_password_is_a_clear_error(dovecot: DovecotServer) -> None:
    account = dovecot.account("user1", password="not-the-password")
    with pytest.raises(AuthenticationFailed) as info:
        await connect_account(account)
    message = str(info.value)
    assert message.startswith("user1: AUTHENTICATE failed: NO [AUTHENTICATIONFAILED]")
    assert "not-the-password" not in message


async def test_untrusted_certificate_is_refused(dovecot: DovecotServer) -> None:
    account = dovecot.account("user1")
    # The system CAs do not know Dovecot's CA.
    untrusting = attrs.evolve(account, settings=attrs.evolve(imap_settings(account), ca_file=None))
    with pytest.raises(InsecureConnection, match="certificate not trusted"):
        await connect_account(untrusting)


async def test_list_finds_special_use_roles(dovecot: DovecotServer) -> None:
    account = dovecot.account("user3")
    async with open_pool([account]) as pool:
        cache = FolderCache(pool)
        async with pool.connection(account) as conn:
            folders = await cache.folders(account.id, conn)
    assert {
        role: f.name
        for role in ("inbox", "sent", "drafts", "trash", "junk", "archive")
        if (f := folders.by_role(role)) is not None
    } == {
        "inbox": "INBOX",
        "sent": "Sent",
        "drafts": "Drafts",
        "trash": "Trash",
        "junk": "Junk",
        "archive": "Archive",
    }


async def test_ten_cycles_one_handshake_one_login(dovecot: DovecotServer) -> None:
    account = dovecot.account("user4")
    async with open_pool([account]) as pool:
        cache = FolderCache(pool)
        for _ in range(10):
            async with pool.connection(account) as conn:
                folders = await cache.folders(account.id, conn)
                names = [f.wire_name for f in folders.select(account.folders)]
                statuses = await conn.status_many(names, ["MESSAGES", "UIDNEXT", "UIDVALIDITY"])
                assert len(statuses) == 6
        stats = pool.statistics()
    assert (stats.tls_handshakes, stats.authentications, stats.connections_opened) == (1, 1, 1)
    assert stats.reused == 9
    assert cache.statistics().misses == 1
