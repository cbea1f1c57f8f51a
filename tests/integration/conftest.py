"""A real Dovecot for the session, on loopback, started and stopped by the tests."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

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
    try:
        ensure_installed()
    except DovecotUnavailable as exc:
        if os.geteuid() == 0:
            raise  # root can install it: not having it is a failure, not a skip
        pytest.skip(str(exc))
    with DovecotServer(USERS) as server:
        yield server
