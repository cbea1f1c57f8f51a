"""State stores: implementations of the core's ``StateStore`` port.

``sqlite`` keeps everything in one SQLite file, for one process; ``postgres`` in a
PostgreSQL database that one ``serve``, or a cluster's workers, share (it needs
psycopg, the ``postgres`` extra, and is imported only when asked for). Both run the
statements of ``_sql``, on the same schema.
"""

from trio_mailsync.stores.sqlite import SQLiteStore, default_store_path

__all__ = ["SQLiteStore", "default_store_path"]
