"""A real Dovecot for the session, on loopback, started and stopped by the tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import installed_or_skip
from trio_mailsync.testing.dovecot import DovecotServer, DovecotUnavailable, ensure_installed

USERS = {f"user{i}": f"password-{i}-xyz" for i in range(1, 5)}
# Fresh mailboxes for the sync tests.
USERS |= {f"sync{i}": f"sync-password-{i}" for i in range(1, 5)}
USERS |= {f"cli{i}": f"cli-password-{i}" for i in range(1, 3)}
USERS |= {f"svc{i}": f"svc-password-{i}" for i in range(1, 5)}
USERS |= {f"crash{i}": f"crash-password-{i}" for i in range(1, 3)}
USERS |= {f"notify{i}": f"notify-password-{i}" for i in range(1, 4)}


@pytest.fixture(scope="session")
def dovecot() -> Iterator[DovecotServer]:
    installed_or_skip(ensure_installed, DovecotUnavailable)
    with DovecotServer(USERS) as server:
        yield server
