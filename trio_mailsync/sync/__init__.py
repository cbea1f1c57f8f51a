"""The provider-neutral sync engine: limit, lock and timeout on every sync; exactly-once."""

from trio_mailsync.sync.engine import SyncEngine

__all__ = ["SyncEngine"]
