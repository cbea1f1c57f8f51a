"""State stores: implementations of the core's ``StateStore`` port.

``sqlite`` keeps everything in one SQLite file, for one process. A store for
workers on several hosts (PostgreSQL) goes beside it, implementing the same
port with the same schema and migrations.
"""

from trio_mailsync.stores.sqlite import SQLiteStore, default_store_path

__all__ = ["SQLiteStore", "default_store_path"]
