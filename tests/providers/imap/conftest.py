"""Fixtures for the IMAP provider's tests: a store, capability variants, views to compare."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from trio_mailsync.core.config import Account
from trio_mailsync.stores.sqlite import SQLiteStore
from trio_mailsync.testing import IMAPTestServer, MailStore
from trio_mailsync.testing._server import DEFAULT_CAPABILITIES

# What each variant advertises beyond the basics.
VARIANTS = {
    "qresync": (*DEFAULT_CAPABILITIES, "QRESYNC"),
    "condstore": DEFAULT_CAPABILITIES,
    "plain": tuple(c for c in DEFAULT_CAPABILITIES if c not in ("CONDSTORE", "ESEARCH")),
}


@pytest.fixture(params=list(VARIANTS))
def variant(request: pytest.FixtureRequest, server: IMAPTestServer) -> str:
    """The testing server with each capability variant in turn (its name)."""
    server.behavior.capabilities = VARIANTS[request.param]
    return str(request.param)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    s = await SQLiteStore.open(tmp_path / "sync.sqlite3")
    yield s
    await s.aclose()


def server_view(
    mail: MailStore, user: str, folders: list[str]
) -> dict[tuple[str, int], tuple[str, ...]]:
    """(folder, uid) -> sorted flags, as the server has it."""
    view = {}
    for name in folders:
        for m in mail.user(user).folder(name).messages:
            view[(name, m.uid)] = tuple(sorted(m.flags))
    return view


async def store_view(
    store: SQLiteStore, account: Account
) -> dict[tuple[str, int], tuple[str, ...]]:
    """(folder, uid) -> sorted flags, as the store has it."""
    return {(r.folder, r.uid): tuple(sorted(r.flags)) for r in await store.messages(account.id)}
