"""Folder roles and the folder cache."""

from __future__ import annotations

import contextlib

import trio
import trio.testing

from tests.support import Connect, drop_on_noop, make_account
from trio_mailsync.protocol import ListData, encode_mutf7
from trio_mailsync.providers.imap import FolderCache, Security, folder_list, open_pool
from trio_mailsync.testing import IMAPTestServer, MailStore


def listing(*entries: tuple[str, tuple[str, ...]]) -> list[ListData]:
    return [
        ListData(
            kind="LIST",
            attributes=attributes,
            delimiter="/",
            mailbox=name,
            raw_mailbox=b"INBOX" if name == "INBOX" else encode_mutf7(name),
        )
        for name, attributes in entries
    ]


def roles(entries: list[ListData]) -> dict[str, str | None]:
    return {f.name: f.role for f in folder_list(entries).folders}


def test_special_use_comes_first() -> None:
    assert roles(
        listing(
            ("INBOX", ()),
            ("Sent", ()),
            ("Gesendet", ("\\Sent",)),
            ("Papierkorb", ("\\Trash",)),
            ("Archive", ("\\Archive",)),
        )
    ) == {
        "INBOX": "inbox",
        "Sent": None,
        "Gesendet": "sent",
        "Papierkorb": "trash",
        "Archive": "archive",
    }


def test_gmail_names_without_special_use() -> None:
    assert roles(
        listing(
            ("INBOX", ()),
            ("[Gmail]", ("\\Noselect",)),
            ("[Gmail]/All Mail", ()),
            ("[Gmail]/Sent Mail", ()),
            ("[Gmail]/Spam", ()),
            ("[Gmail]/Bin", ()),
            ("[Gmail]/Starred", ()),
            ("[Gmail]/Drafts", ()),
        )
    ) == {
        "INBOX": "inbox",
        "[Gmail]": None,
        "[Gmail]/All Mail": "all",
        "[Gmail]/Sent Mail": "sent",
        "[Gmail]/Spam": "junk",
        "[Gmail]/Bin": "trash",
        "[Gmail]/Starred": "flagged",
        "[Gmail]/Drafts": "drafts",
    }


def test_localized_names() -> None:
    assert roles(
        listing(
            ("INBOX", ()),
            ("INBOX/Gesendete Objekte", ()),
            ("Éléments supprimés", ()),
            ("Черновики", ()),
            ("Junk E-mail", ()),
            ("Archiv", ()),
            ("Projects", ()),
        )
    ) == {
        "INBOX": "inbox",
        "INBOX/Gesendete Objekte": "sent",
        "Éléments supprimés": "trash",
        "Черновики": "drafts",
        "Junk E-mail": "junk",
        "Archiv": "archive",
        "Projects": None,
    }


def test_selectors() -> None:
    folders = folder_list(
        listing(
            ("INBOX", ()),
            ("Sent", ("\\Sent",)),
            ("Projects", ("\\Noselect",)),
            ("Projects/a", ()),
            ("Projects/a/deep", ()),
            ("Projects/b", ()),
        )
    )
    chosen = folders.select(
        ["INBOX", "role:sent", "role:archive", "Projects/%", "Projects/*", "inbox"]
    )
    assert [f.name for f in chosen] == [
        "INBOX",
        "Sent",
        "Projects/a",
        "Projects/b",
        "Projects/a/deep",
    ]


def test_wire_name_keeps_what_does_not_round_trip() -> None:
    (entry,) = listing(("x", ()))
    odd = ListData(
        kind="LIST",
        attributes=(),
        delimiter="/",
        mailbox="Абв&где",
        raw_mailbox=b"&BBAEMQQyACYEMwQ0BDU-",
    )
    (info,) = folder_list([odd]).folders
    assert info.wire_name == b"&BBAEMQQyACYEMwQ0BDU-"  # Yandex's form, sent back as is
    (plain,) = folder_list([entry]).folders
    assert plain.wire_name == "x"


async def test_cache_serves_from_memory_until_reconnect(
    autojump_clock: trio.testing.MockClock,
    plain_connector: Connect,
    server: IMAPTestServer,
    mail: MailStore,
) -> None:
    account = make_account(security=Security.NONE, allow_insecure=True)
    async with open_pool([account], connector=plain_connector) as pool:
        cache = FolderCache(pool)
        for _ in range(5):
            async with pool.connection("alice") as conn:
                folders = await cache.folders("alice", conn)
        found = folders.by_role("sent")
        assert found is not None
        assert found.name == "Sent"
        assert server.statistics().commands["LIST"] == 1
        assert (cache.statistics().hits, cache.statistics().misses) == (4, 1)

        server.behavior.on_command = drop_on_noop
        async with pool.connection("alice") as conn:
            with contextlib.suppress(Exception):
                await conn.noop()
        server.behavior.on_command = None
        async with pool.connection("alice") as conn:
            await cache.folders("alice", conn)  # the account reconnected: listed again
            await cache.folders("alice", conn, refresh=True)
        assert server.statistics().commands["LIST"] == 3
