"""The state store in SQLite: each folder's generation and cursor, and every message.

:class:`SQLiteStore` implements the core's ``StateStore`` port. Its calls run
in one worker thread at a time, so database work never blocks the Trio loop;
each folder's update is one transaction, so a crash loses nothing and repeats
nothing. New messages are stored unannounced; ``unannounced`` lists them and
``mark_announced`` records that they were reported, which gives exactly-once
reporting across restarts.

The schema is versioned with ``PRAGMA user_version``; :data:`MIGRATIONS` holds
one script per version, applied in a transaction when the store is opened. A
database newer than the program is refused.

One process at a time: opening a store takes an advisory lock on ``<path>.lock``
(which names its holder), dropped by the kernel when the process ends however it
ends. Every reason a store cannot be opened is a ``StoreError`` with one line to show.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import ParamSpec, Self, TypeVar

import trio

from trio_mailsync.core.errors import StoreError, StoreInUse
from trio_mailsync.core.model import AppliedUpdate, FolderState, FolderUpdate, MessageRecord

__all__ = ["MIGRATIONS", "SQLiteStore", "default_store_path"]

P = ParamSpec("P")
T = TypeVar("T")

# Each entry moves the schema one version up; never edit a released one.
MIGRATIONS: list[str] = [
    # 1: the first schema, IMAP's words.
    """
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
    """,
    # 2: provider-neutral words. A folder has a generation (IMAP's UIDVALIDITY) and an
    # opaque cursor (JSON; version 1 was IMAP only, so its UIDNEXT and HIGHESTMODSEQ
    # become the IMAP provider's cursor); messages have a version (MODSEQ) and the
    # provider's ids as text (Gmail's are hexadecimal).
    """
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
    """,
]


def default_store_path() -> Path:
    """``$XDG_STATE_HOME/trio-mailsync/mailsync.sqlite3`` (``~/.local/state/...`` by default)."""
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "trio-mailsync" / "mailsync.sqlite3"


_COLUMNS = (
    "account, folder, generation, uid, message_id, date, internaldate, sender, recipients, "
    "subject, flags, size, version, email_id, thread_id, labels"
)
# Queries built from the constant column list above, never from data.
_SELECT = f"SELECT {_COLUMNS} FROM messages WHERE account = ?"  # noqa: S608
_INSERT = (
    f"INSERT OR IGNORE INTO messages ({_COLUMNS}, announced, first_seen) "  # noqa: S608
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)"
)
_IN_FOLDER = "account = ? AND folder = ? AND generation = ?"


def _row(record: MessageRecord) -> tuple[object, ...]:
    return (
        record.account,
        record.folder,
        record.generation,
        record.uid,
        record.message_id,
        record.date,
        record.internaldate,
        record.sender,
        json.dumps(list(record.recipients)),
        record.subject,
        json.dumps(sorted(record.flags)),
        record.size,
        record.version,
        record.email_id,
        record.thread_id,
        None if record.labels is None else json.dumps(list(record.labels)),
    )


def _record(row: sqlite3.Row) -> MessageRecord:
    labels = row["labels"]
    return MessageRecord(
        account=row["account"],
        folder=row["folder"],
        generation=row["generation"],
        uid=row["uid"],
        message_id=row["message_id"],
        date=row["date"],
        internaldate=row["internaldate"],
        sender=row["sender"],
        recipients=tuple(json.loads(row["recipients"] or "[]")),
        subject=row["subject"],
        flags=tuple(json.loads(row["flags"])),
        size=row["size"],
        version=row["version"],
        email_id=row["email_id"],
        thread_id=row["thread_id"],
        labels=None if labels is None else tuple(json.loads(labels)),
    )


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


class _Database:
    """Synchronous access, for the worker thread. One call at a time (a lock)."""

    def __init__(self, path: str) -> None:
        self.path = path
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
            self._db.row_factory = sqlite3.Row
            self._lock = threading.Lock()
            with self._lock:
                self._db.execute("PRAGMA journal_mode = WAL")
                self._db.execute("PRAGMA synchronous = NORMAL")
                self._db.execute("PRAGMA foreign_keys = ON")
                self._migrate()
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
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            self._db.execute("BEGIN")
            try:
                for statement in script.split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version = {number}")
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    # ------------------------------------------------------------ reading

    def folder_states(self, account: str) -> dict[str, FolderState]:
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM folders WHERE account = ?", (account,)
            ).fetchall()
        return {
            r["name"]: FolderState(
                name=r["name"],
                generation=r["generation"],
                cursor=json.loads(r["cursor"]),
                messages=r["messages"],
                last_sync=r["last_sync"],
                last_full_sync=r["last_full_sync"],
            )
            for r in rows
        }

    def messages(self, account: str, folder: str | None) -> list[MessageRecord]:
        query = _SELECT
        params: tuple[object, ...] = (account,)
        if folder is not None:
            query += " AND folder = ?"
            params += (folder,)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY folder, generation, uid", params).fetchall()
        return [_record(r) for r in rows]

    def unannounced(self, account: str) -> list[MessageRecord]:
        with self._lock:
            rows = self._db.execute(
                _SELECT + " AND announced = 0 ORDER BY first_seen, folder, uid",
                (account,),
            ).fetchall()
        return [_record(r) for r in rows]

    # ------------------------------------------------------------ writing

    def mark_announced(self, keys: list[tuple[str, str, int, int]]) -> None:
        if not keys:
            return
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany(
                    "UPDATE messages SET announced = 1 WHERE account = ? AND folder = ? "
                    "AND generation = ? AND uid = ?",
                    keys,
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def apply(self, account: str, folder: str, update: FolderUpdate) -> AppliedUpdate:
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                result = self._apply(db, account, folder, update)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return result

    def _apply(
        self, db: sqlite3.Connection, account: str, folder: str, update: FolderUpdate
    ) -> AppliedUpdate:
        where = (account, folder, update.generation)
        if update.reset:
            # Announced or not, messages of another generation are gone for good.
            db.execute(
                "DELETE FROM messages WHERE account = ? AND folder = ? AND generation != ?", where
            )
        gone = set(update.deleted)
        if update.present is not None:
            # Before the new rows go in: "present" speaks of what was stored until now.
            stored = db.execute(f"SELECT uid FROM messages WHERE {_IN_FOLDER}", where)  # noqa: S608
            gone.update(uid for (uid,) in stored if uid not in update.present)
        for record in update.new:
            db.execute(_INSERT, (*_row(record), update.now))
        changes = []
        for uid, (flags, version) in update.flags.items():
            row = db.execute(
                f"SELECT flags FROM messages WHERE {_IN_FOLDER} AND uid = ?",  # noqa: S608
                (*where, uid),
            ).fetchone()
            if row is None:
                continue
            old = tuple(json.loads(row["flags"]))
            new = tuple(sorted(flags))
            if old != new:
                changes.append((uid, old, new))
            db.execute(
                "UPDATE messages SET flags = ?, version = COALESCE(?, version) "  # noqa: S608
                f"WHERE {_IN_FOLDER} AND uid = ?",
                (json.dumps(list(new)), version, *where, uid),
            )
        deleted = []
        for uid in sorted(gone):
            cursor = db.execute(
                f"DELETE FROM messages WHERE {_IN_FOLDER} AND uid = ?",  # noqa: S608
                (*where, uid),
            )
            if cursor.rowcount:
                deleted.append(uid)
        count = db.execute(
            f"SELECT COUNT(*) FROM messages WHERE {_IN_FOLDER}",  # noqa: S608
            where,
        ).fetchone()[0]
        previous = db.execute(
            "SELECT last_full_sync FROM folders WHERE account = ? AND name = ?", (account, folder)
        ).fetchone()
        last_full_sync = (
            update.now if update.full_sync or previous is None else previous["last_full_sync"]
        )
        db.execute(
            "INSERT INTO folders (account, name, generation, cursor, messages, last_sync, "
            "last_full_sync) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (account, name) DO UPDATE SET generation = excluded.generation, "
            "cursor = excluded.cursor, messages = excluded.messages, "
            "last_sync = excluded.last_sync, last_full_sync = excluded.last_full_sync",
            (
                account,
                folder,
                update.generation,
                json.dumps(dict(update.cursor), sort_keys=True),
                count,
                update.now,
                last_full_sync,
            ),
        )
        return AppliedUpdate(flag_changes=tuple(changes), deleted=tuple(deleted))


class SQLiteStore:
    """The state store in one SQLite file (WAL mode). Open it with :meth:`open`.

    Every call runs in a worker thread, one at a time, so the Trio loop never
    waits on the disk. ``inline=True`` runs calls in the Trio thread instead: for
    tests under ``MockClock(autojump_threshold=0)``, which would otherwise jump
    the clock while a worker thread works (every task looks blocked).
    """

    def __init__(self, database: _Database, *, inline: bool = False) -> None:
        self._database = database
        self.inline = inline
        self._limiter = trio.CapacityLimiter(1)

    @classmethod
    async def open(cls, path: str | os.PathLike[str], *, inline: bool = False) -> Self:
        """Open (creating or migrating) the store at ``path``; ``":memory:"`` for a private one."""
        if inline:
            return cls(_Database(str(path)), inline=True)
        return cls(await trio.to_thread.run_sync(_Database, str(path)))

    @property
    def path(self) -> str:
        """The database file."""
        return self._database.path

    async def _call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        if self.inline:
            await trio.lowlevel.checkpoint()
            return fn(*args, **kwargs)
        return await trio.to_thread.run_sync(lambda: fn(*args, **kwargs), limiter=self._limiter)

    async def schema_version(self) -> int:
        """The schema version of the database (``len(MIGRATIONS)`` once opened)."""
        return await self._call(self._database.schema_version)

    async def folder_states(self, account: str) -> dict[str, FolderState]:
        """The account's folders as stored, by name."""
        return await self._call(self._database.folder_states, account)

    async def apply(self, account: str, folder: str, update: FolderUpdate) -> AppliedUpdate:
        """Apply one folder's update in one transaction; new messages are stored unannounced."""
        return await self._call(self._database.apply, account, folder, update)

    async def unannounced(self, account: str) -> list[MessageRecord]:
        """The account's messages not yet marked announced, in the order they were stored."""
        return await self._call(self._database.unannounced, account)

    async def mark_announced(self, records: Iterable[MessageRecord]) -> None:
        """Record that these messages were reported, in one transaction."""
        await self._call(self._database.mark_announced, [r.key for r in records])

    async def messages(self, account: str, folder: str | None = None) -> list[MessageRecord]:
        """The account's stored messages (of one folder), by folder, generation and uid."""
        return await self._call(self._database.messages, account, folder)

    async def aclose(self) -> None:
        """Close the database."""
        await self._call(self._database.close)
