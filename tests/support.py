"""Helpers shared by the tests (fixtures live in conftest.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import trio

from trio_mailsync.core.config import Account
from trio_mailsync.providers.auth import PasswordAuth
from trio_mailsync.providers.imap import AccountLimits, Security, imap_account
from trio_mailsync.testing import CommandInfo, Session

ALICE_PASSWORD = "alice-correct-horse"

Connect = Callable[[Account], Awaitable[trio.abc.Stream]]


def make_account(
    account_id: str = "alice",
    *,
    ca_file: Path | None = None,
    security: Security = Security.TLS,
    password: str = ALICE_PASSWORD,
    allow_insecure: bool = False,
    notify_from: datetime | Literal["all"] | None = "all",
    **limits: Any,
) -> Account:
    """An IMAP account of the testing server (host ``imap.test``), user = account id.

    ``notify_from`` is ``"all"``: tests deliver mail and then start the service.
    """
    return imap_account(
        account_id,
        notify_from=notify_from,
        host="imap.test",
        username=account_id,
        auth=PasswordAuth(password=password),
        security=security,
        allow_insecure=allow_insecure,
        ca_file=ca_file,
        limits=AccountLimits(**limits),
    )


async def drop_on_noop(session: Session, command: CommandInfo) -> bool:
    """A server hook: a NOOP (a health check) finds the connection gone."""
    if command.name == "NOOP":
        await session.drop()
    return False
