"""The sync engine and its SQLite store."""

from trio_mailsync.sync.engine import (
    Deletion,
    FlagChange,
    SyncEngine,
    SyncResult,
    record_from_fetch,
)
from trio_mailsync.sync.store import (
    AsyncStore,
    FolderState,
    FolderUpdate,
    MessageRecord,
    Store,
    default_store_path,
)

__all__ = [
    "AsyncStore",
    "Deletion",
    "FlagChange",
    "FolderState",
    "FolderUpdate",
    "MessageRecord",
    "Store",
    "SyncEngine",
    "SyncResult",
    "default_store_path",
    "record_from_fetch",
]
