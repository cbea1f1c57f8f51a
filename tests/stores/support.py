"""What the store tests share: a message, an update, applying it to alice's INBOX."""

from __future__ import annotations

import math
from datetime import datetime

from trio_mailsync.core.events import LoggedEvent
from trio_mailsync.core.model import FolderUpdate, MessageRecord
from trio_mailsync.core.ports import StateStore


def record(
    uid: int, *, generation: int = 7, folder: str = "INBOX", **fields: object
) -> MessageRecord:
    return MessageRecord(
        account="alice",
        folder=folder,
        generation=generation,
        uid=uid,
        **fields,  # type: ignore[arg-type]
    )


def update(**fields: object) -> FolderUpdate:
    base: dict[str, object] = {"generation": 7, "cursor": {"uidnext": 10}, "now": 1000.0}
    return FolderUpdate(**{**base, **fields})  # type: ignore[arg-type]


async def apply(
    store: StateStore, u: FolderUpdate, *, notify_from: float = -math.inf
) -> list[LoggedEvent]:
    return await store.apply("alice", "INBOX", u, notify_from=notify_from)


def at(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()
