"""The state store in SQLite: each folder's generation and cursor, and every message.

:class:`SQLiteStore` implements the core's ``StateStore`` port. Its calls run
in one worker thread at a time, so database work never blocks the Trio loop;
each folder's update is one transaction, so a crash loses nothing and repeats
nothing. The same transaction appends what the update changed (new messages,
flag changes, deletions, a reset) to the event log, whose ids are the
consumers' positions: a message is announced when, and only when, its event
is in the log.

The schema is versioned with ``PRAGMA user_version``; :data:`MIGRATIONS` holds
one migration per version, applied in a transaction when the store is opened. A
database newer than the program is refused.

One process at a time: opening a store takes an advisory lock on ``<path>.lock``
(which names its holder), dropped by the kernel when the process ends however it
ends. Every reason a store cannot be opened is a ``StoreError`` with one line to show.
"""

from __future__ import annotations

import contextlib
import email.utils
import fcntl
import json
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any, Self

import trio

from trio_mailsync.core.errors import StoreError, StoreInUse
from trio_mailsync.core.events import NewMessages
from trio_mailsync.core.model import FolderState, MessageRecord
from trio_mailsync.stores._sql import (
    MAX_MESSAGES_PER_EVENT,
    MAX_UIDS_PER_EVENT,
    V3_COLUMNS,
    Dialect,
    RowsOf,
    SqlDatabase,
    ThreadedStore,
    append_events,
    chunks,
    message_record,
)

__all__ = [
    "MAX_MESSAGES_PER_EVENT",
    "MAX_UIDS_PER_EVENT",
    "MIGRATIONS",
    "SQLiteStore",
    "default_store_path",
    "read_only",
]

# 1: the first schema, IMAP's words.
_V1 = """
    CREATE TABLE folders (
        account       TEXT NOT NULL,
        name          TEXT NOT NULL,
        uidvalidity   INTEGER NOT NULL,
        uidnext       INTEGER NOT NULL,
        highestmodseq INTEGER,
        messages      INTEGER NOT NULL,
        last_sync     REAL NOT NULL,
        last_flag_sync REAL NOT NULL,
        PRIMARY KEY (account, name)
    );
    CREATE TABLE messages (
        account     TEXT NOT NULL,
        folder      TEXT NOT NULL,
        uidvalidity INTEGER NOT NULL,
        uid         INTEGER NOT NULL,
        message_id  TEXT,
        date        TEXT,
        internaldate TEXT,
        sender      TEXT,
        recipients  TEXT,
        subject     TEXT,
        flags       TEXT NOT NULL,
        size        INTEGER,
        modseq      INTEGER,
        gm_msgid    INTEGER,
        gm_thrid    INTEGER,
        gm_labels   TEXT,
        announced   INTEGER NOT NULL DEFAULT 0,
        first_seen  REAL NOT NULL,
        PRIMARY KEY (account, folder, uidvalidity, uid)
    );
    CREATE INDEX messages_unannounced ON messages (account, announced) WHERE announced = 0;
    """

# 2: provider-neutral words. A folder has a generation (IMAP's UIDVALIDITY) and an
# opaque cursor (JSON; version 1 was IMAP only, so its UIDNEXT and HIGHESTMODSEQ
# become the IMAP provider's cursor); messages have a version (MODSEQ) and the
# provider's ids as text (Gmail's are hexadecimal).
_V2 = """
    CREATE TABLE folders_v2 (
        account        TEXT NOT NULL,
        name           TEXT NOT NULL,
        generation     INTEGER NOT NULL,
        cursor         TEXT NOT NULL,
        messages       INTEGER NOT NULL,
        last_sync      REAL NOT NULL,
        last_full_sync REAL NOT NULL,
        PRIMARY KEY (account, name)
    );
    INSERT INTO folders_v2
        SELECT account, name, uidvalidity,
               json_object('uidnext', uidnext, 'highestmodseq', highestmodseq),
               messages, last_sync, last_flag_sync
        FROM folders;
    DROP TABLE folders;
    ALTER TABLE folders_v2 RENAME TO folders;
    CREATE TABLE messages_v2 (
        account      TEXT NOT NULL,
        folder       TEXT NOT NULL,
        generation   INTEGER NOT NULL,
        uid          INTEGER NOT NULL,
        message_id   TEXT,
        date         TEXT,
        internaldate TEXT,
        sender       TEXT,
        recipients   TEXT,
        subject      TEXT,
        flags        TEXT NOT NULL,
        size         INTEGER,
        version      INTEGER,
        email_id     TEXT,
        thread_id    TEXT,
        labels       TEXT,
        announced    INTEGER NOT NULL DEFAULT 0,
        first_seen   REAL NOT NULL,
        PRIMARY KEY (account, folder, generation, uid)
    );
    INSERT INTO messages_v2
        SELECT account, folder, uidvalidity, uid, message_id, date, internaldate, sender,
               recipients, subject, flags, size, modseq, CAST(gm_msgid AS TEXT),
               CAST(gm_thrid AS TEXT), gm_labels, announced, first_seen
        FROM messages;
    DROP TABLE messages;
    ALTER TABLE messages_v2 RENAME TO messages;
    CREATE INDEX messages_unannounced ON messages (account, announced) WHERE announced = 0;
    """


def default_store_path() -> Path:
    """``$XDG_STATE_HOME/trio-mailsync/mailsync.sqlite3`` (``~/.local/state/...`` by default)."""
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "trio-mailsync" / "mailsync.sqlite3"


_V3_TABLES = """
    CREATE TABLE events (
        id      INTEGER PRIMARY KEY AUTOINCREMENT,
        time    REAL NOT NULL,
        account TEXT NOT NULL,
        type    TEXT NOT NULL,
        body    TEXT NOT NULL
    );
    CREATE INDEX events_time ON events (time);
    CREATE TABLE log_state (
        key   TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    );
    CREATE TABLE accounts (
        account      TEXT PRIMARY KEY,
        first_synced REAL NOT NULL
    );
    CREATE TABLE cursors (
        name     TEXT PRIMARY KEY,
        position INTEGER NOT NULL,
        updated  REAL NOT NULL
    );
    CREATE TABLE processed (
        processor  TEXT NOT NULL,
        account    TEXT NOT NULL,
        folder     TEXT NOT NULL,
        generation INTEGER NOT NULL,
        uid        INTEGER NOT NULL,
        time       REAL NOT NULL,
        PRIMARY KEY (processor, account, folder, generation, uid)
    );
    CREATE TABLE failures (
        consumer TEXT NOT NULL,
        event_id INTEGER NOT NULL,
        time     REAL NOT NULL,
        error    TEXT NOT NULL,
        PRIMARY KEY (consumer, event_id)
    );
    DROP INDEX messages_unannounced;
    INSERT INTO accounts
        SELECT account, MIN(t) FROM (
            SELECT account, first_seen AS t FROM messages
            UNION ALL SELECT account, last_sync FROM folders
        ) GROUP BY account
"""


def _legacy_address(text: str) -> dict[str, str | None]:
    name, address = email.utils.parseaddr(text)
    if not address:
        return {"name": None, "address": text}
    return {"name": name or None, "address": address}


def _to_v3(db: sqlite3.Connection) -> None:
    """3: the event log. Addresses become ``{name, address}``; messages stored but never
    announced (a sync interrupted before it reported them) are logged as new, so the
    first consumer of the log reports them; the ``announced`` column is no longer read."""
    for statement in _V3_TABLES.split(";"):
        db.execute(statement)
    rows = db.execute("SELECT rowid, sender, recipients FROM messages").fetchall()
    for rowid, sender, recipients in rows:
        db.execute(
            "UPDATE messages SET sender = ?, recipients = ? WHERE rowid = ?",
            (
                None if sender is None else json.dumps(_legacy_address(sender)),
                json.dumps([_legacy_address(r) for r in json.loads(recipients or "[]")]),
                rowid,
            ),
        )
    pending = db.execute(
        f"SELECT {V3_COLUMNS} FROM messages WHERE announced = 0 "  # noqa: S608
        "ORDER BY account, folder, first_seen, uid"
    ).fetchall()
    by_folder: dict[tuple[str, str], list[MessageRecord]] = {}
    for row in pending:
        by_folder.setdefault((row[0], row[1]), []).append(message_record(row))
    events = [
        NewMessages(account=account, folder=folder, messages=tuple(chunk))
        for (account, folder), records in by_folder.items()
        for chunk in chunks(records)
    ]
    append_events(db, events, time.time(), SQLITE)
    db.execute("UPDATE messages SET announced = 1 WHERE announced = 0")


# Version 4: why a message could not be read whole (issue 11), NULL when it was.
_V4 = """
    ALTER TABLE messages ADD COLUMN degraded TEXT;
    CREATE INDEX messages_degraded ON messages (account) WHERE degraded IS NOT NULL;
"""


# Version 5: accounts added at runtime (the HTTP API), as their config tables in JSON.
_V5 = """
    CREATE TABLE runtime_accounts (
        account TEXT PRIMARY KEY,
        spec    TEXT NOT NULL,
        updated REAL NOT NULL
    );
"""


# Version 6: a message found by its provider id (Gmail's labels are folders of one
# message: a message labelled again is listed in the new folder, not announced again).
_V6 = """
    CREATE INDEX messages_email ON messages (account, email_id) WHERE email_id IS NOT NULL;
"""


# Version 7: fencing (issue 15). The newest fencing token that wrote for each account: a
# write with an older one is refused (a cluster's worker whose lease moved on).
_V7 = """
    CREATE TABLE account_fences (
        account TEXT PRIMARY KEY,
        fence   INTEGER NOT NULL
    );
"""

# Version 8: an operator's pause outlives the process (and, in a cluster, follows the
# account to its next worker).
_V8 = """
    CREATE TABLE paused_accounts (
        account TEXT PRIMARY KEY,
        since   REAL NOT NULL
    );
"""

#: The SQL where SQLite differs (see ``_sql.Dialect``). One writer: the log needs no lock.
SQLITE = Dialect(announced_count="json_array_length(body, '$.messages')")


# Each entry moves the schema one version up; never edit a released one. A string is
# run statement by statement; a function gets the connection. Both run in one transaction.
MIGRATIONS: list[str | Callable[[sqlite3.Connection], None]] = [
    _V1,
    _V2,
    _to_v3,
    _V4,
    _V5,
    _V6,
    _V7,
    _V8,
]


def _hold(path: str) -> int:
    """Take the store's lock file (``<path>.lock``) for this process; its descriptor.

    An advisory lock (``flock``), which the kernel drops when the process dies, however it
    dies: two processes syncing one store would both announce the same mail.
    """
    lock_path = f"{path}.lock"
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise StoreError(f"{lock_path}: cannot be created: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 1024, 0).decode("utf-8", "replace").strip() or "another process"
        os.close(fd)
        raise StoreInUse(f"{path} is in use by {holder}; one process at a time") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"process {os.getpid()} ({' '.join(sys.argv)[:200]})\n".encode(), 0)
    return fd


class _Database(SqlDatabase):
    """Synchronous access, for the worker thread. One call at a time (a lock).

    ``dry_run``: updates are applied and then rolled back, so that what they
    would log can be shown; nothing is ever written.
    """

    dialect = SQLITE

    def __init__(self, path: str, *, dry_run: bool = False) -> None:
        super().__init__()
        self.path = path
        self.dry_run = dry_run
        self._held: int | None = None
        if path != ":memory:":
            if Path(path).is_dir():
                raise StoreError(f"{path} is a directory, not a store")
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"{path}: cannot create its directory: {exc.strerror}") from None
            self._held = _hold(path)
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._lock = threading.Lock()
            with self._lock:
                self._db.execute("PRAGMA journal_mode = WAL")
                self._db.execute("PRAGMA synchronous = NORMAL")
                self._db.execute("PRAGMA foreign_keys = ON")
                self._migrate()
            #: A second, read-only connection for the event loop's own thread: every sync
            #: reads its account's folder states, a few rows by an index, and a hop to the
            #: worker thread and back cost more than the read (WAL: readers never wait
            #: for the writer). Not for a private in-memory database, which it cannot see.
            self.reader: sqlite3.Connection | None = None
            if path != ":memory:":
                uri = Path(path).resolve().as_uri() + "?mode=ro"
                self.reader = sqlite3.connect(
                    uri, uri=True, check_same_thread=False, isolation_level=None
                )
        except sqlite3.DatabaseError as exc:
            self._release()
            raise StoreError(f"{path} is not a trio-mailsync store ({exc})") from None
        except BaseException:
            self._release()
            raise

    def _release(self) -> None:
        if self._held is not None:
            with contextlib.suppress(OSError):
                os.close(self._held)  # closing the descriptor drops the lock
            self._held = None

    def close(self) -> None:
        with self._lock:
            if self.reader is not None:
                self.reader.close()
            self._db.close()
        self._release()

    def schema_version(self) -> int:
        version: int = self._db.execute("PRAGMA user_version").fetchone()[0]
        return version

    def _migrate(self) -> None:
        version = self.schema_version()
        if version > len(MIGRATIONS):
            raise StoreError(
                f"{self.path} has schema version {version}, newer than this program's "
                f"{len(MIGRATIONS)}"
            )
        for number, migration in enumerate(MIGRATIONS[version:], start=version + 1):
            self._db.execute("BEGIN")
            try:
                if isinstance(migration, str):
                    for statement in migration.split(";"):
                        if statement.strip():
                            self._db.execute(statement)
                else:
                    migration(self._db)
                self._db.execute(f"PRAGMA user_version = {number}")
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    @contextlib.contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._db

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One transaction under the lock; rolled back on error, or always in a dry run."""
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("ROLLBACK" if self.dry_run else "COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def folder_states_from_reader(self, account: str) -> dict[str, FolderState]:
        """``folder_states`` over the read-only connection (the event loop's thread only)."""
        assert self.reader is not None
        return self._folder_states(self.reader, account)


def read_only(path: str | os.PathLike[str]) -> RowsOf:
    """Runs a query on the store at ``path`` without taking it, for the CLI's listings
    while ``serve`` holds the store (WAL lets a reader in); see ``stores.listings``."""

    def rows_of(query: str) -> list[tuple[Any, ...]]:
        if not Path(path).is_file():
            raise StoreError(f"{path}: no such store")
        try:
            db = sqlite3.connect(f"{Path(path).absolute().as_uri()}?mode=ro", uri=True)
            try:
                return [tuple(row) for row in db.execute(query).fetchall()]
            finally:
                db.close()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{path}: cannot be read as a store of this version ({exc})") from None

    return rows_of


class SQLiteStore(ThreadedStore):
    """The state store in one SQLite file (WAL mode). Open it with :meth:`open`.

    Every call runs in a worker thread, one at a time, so the Trio loop never
    waits on the disk (``inline=True``: in the Trio thread, for tests under a
    ``MockClock``). ``dry_run=True`` applies nothing (``trio-mailsync sync
    --dry-run``): every update is rolled back once its events are known.
    """

    _database: _Database

    def __init__(self, database: _Database, *, inline: bool = False) -> None:
        super().__init__(database, inline=inline, threads=1)

    @classmethod
    async def open(
        cls, path: str | os.PathLike[str], *, inline: bool = False, dry_run: bool = False
    ) -> Self:
        """Open (creating or migrating) the store at ``path``; ``":memory:"`` for a private one."""
        opener = partial(_Database, str(path), dry_run=dry_run)
        if inline:
            return cls(opener(), inline=True)
        return cls(await trio.to_thread.run_sync(opener))

    @property
    def path(self) -> str:
        """The database file."""
        return self._database.path

    async def schema_version(self) -> int:
        """The schema version of the database (``len(MIGRATIONS)`` once opened)."""
        return await self._call(self._database.schema_version)

    async def folder_states(self, account: str) -> dict[str, FolderState]:
        """The account's folders as stored, by name."""
        if self._database.reader is not None and not self._database.dry_run:
            # Read here, not in the worker thread (see _Database.reader).
            await trio.lowlevel.checkpoint()
            return self._database.folder_states_from_reader(account)
        return await self._call(self._database.folder_states, account)
