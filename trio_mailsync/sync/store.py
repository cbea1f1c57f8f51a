"""The sync state in SQLite: folders' UIDVALIDITY/UIDNEXT/HIGHESTMODSEQ and every message.

:class:`Store` is synchronous; :class:`AsyncStore` runs it in one worker
thread at a time, so database work never blocks the Trio loop. Each folder's
changes are applied in one transaction: a crash loses nothing and repeats
nothing. New messages are stored unannounced; :meth:`Store.unannounced` lists
them and :meth:`Store.mark_announced` records that they were reported, which
gives exactly-once reporting across restarts.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import ParamSpec, TypeVar

import attrs
import trio

__all__ = [
    "AsyncStore",
    "FolderState",
    "FolderUpdate",
    "MessageRecord",
    "Store",
    "default_store_path",
]

P = ParamSpec("P")
T = TypeVar("T")

# Each entry moves the schema one version up; never edit a released one.
MIGRATIONS: list[str] = [
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
]


def default_store_path() -> Path:
    """``$XDG_STATE_HOME/trio-mailsync/mailsync.sqlite3`` (``~/.local/state/...`` by default)."""
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "trio-mailsync" / "mailsync.sqlite3"


@attrs.frozen(kw_only=True)
class FolderState:
    name: str
    uidvalidity: int
    uidnext: int
    highestmodseq: int | None
    #: Messages stored for the folder (not the server's count).
    messages: int
    last_sync: float
    last_flag_sync: float


@attrs.frozen(kw_only=True)
class MessageRecord:
    account: str
    folder: str
    uidvalidity: int
    uid: int
    flags: tuple[str, ...] = ()
    message_id: str | None = None
    date: str | None = None
    internaldate: str | None = None
    sender: str | None = None
    recipients: tuple[str, ...] = ()
    subject: str | None = None
    size: int | None = None
    modseq: int | None = None
    gm_msgid: int | None = None
    gm_thrid: int | None = None
    gm_labels: tuple[str, ...] | None = None

    @property
    def key(self) -> tuple[str, str, int, int]:
        return (self.account, self.folder, self.uidvalidity, self.uid)


@attrs.frozen(kw_only=True)
class FolderUpdate:
    """Everything one folder sync learned, applied in one transaction."""

    uidvalidity: int
    uidnext: int
    highestmodseq: int | None
    #: True when UIDVALIDITY changed (or the folder is new): drop what was stored.
    reset: bool = False
    new: tuple[MessageRecord, ...] = ()
    #: uid -> (flags, modseq)
    flags: dict[int, tuple[tuple[str, ...], int | None]] = attrs.field(factory=dict)
    deleted: tuple[int, ...] = ()
    flag_sync: bool = False
    now: float = 0.0


@attrs.frozen(kw_only=True)
class AppliedUpdate:
    """What an update changed: the new rows, and flags that really changed."""

    inserted: tuple[MessageRecord, ...]
    flag_changes: tuple[tuple[int, tuple[str, ...], tuple[str, ...]], ...]  # uid, old, new
    deleted: tuple[int, ...]
    discarded: int


_COLUMNS = (
    "account, folder, uidvalidity, uid, message_id, date, internaldate, sender, recipients, "
    "subject, flags, size, modseq, gm_msgid, gm_thrid, gm_labels"
)
# Queries built from the constant column list above, never from data.
_SELECT = f"SELECT {_COLUMNS} FROM messages WHERE account = ?"  # noqa: S608
_INSERT = (
    f"INSERT OR IGNORE INTO messages ({_COLUMNS}, announced, first_seen) "  # noqa: S608
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)"
)


def _row(record: MessageRecord) -> tuple[object, ...]:
    return (
        record.account,
        record.folder,
        record.uidvalidity,
        record.uid,
        record.message_id,
        record.date,
        record.internaldate,
        record.sender,
        json.dumps(list(record.recipients)),
        record.subject,
        json.dumps(sorted(record.flags)),
        record.size,
        record.modseq,
        record.gm_msgid,
        record.gm_thrid,
        None if record.gm_labels is None else json.dumps(list(record.gm_labels)),
    )


def _record(row: sqlite3.Row) -> MessageRecord:
    labels = row["gm_labels"]
    return MessageRecord(
        account=row["account"],
        folder=row["folder"],
        uidvalidity=row["uidvalidity"],
        uid=row["uid"],
        message_id=row["message_id"],
        date=row["date"],
        internaldate=row["internaldate"],
        sender=row["sender"],
        recipients=tuple(json.loads(row["recipients"] or "[]")),
        subject=row["subject"],
        flags=tuple(json.loads(row["flags"])),
        size=row["size"],
        modseq=row["modseq"],
        gm_msgid=row["gm_msgid"],
        gm_thrid=row["gm_thrid"],
        gm_labels=None if labels is None else tuple(json.loads(labels)),
    )


class Store:
    """Synchronous access to the database. Not for the Trio thread: use :class:`AsyncStore`."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.execute("PRAGMA foreign_keys = ON")
            self._migrate()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @property
    def schema_version(self) -> int:
        version: int = self._db.execute("PRAGMA user_version").fetchone()[0]
        return version

    def _migrate(self) -> None:
        version = self.schema_version
        if version > len(MIGRATIONS):
            raise RuntimeError(
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
                uidvalidity=r["uidvalidity"],
                uidnext=r["uidnext"],
                highestmodseq=r["highestmodseq"],
                messages=r["messages"],
                last_sync=r["last_sync"],
                last_flag_sync=r["last_flag_sync"],
            )
            for r in rows
        }

    def flags(self, account: str, folder: str, uidvalidity: int) -> dict[int, tuple[str, ...]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT uid, flags FROM messages "
                "WHERE account = ? AND folder = ? AND uidvalidity = ?",
                (account, folder, uidvalidity),
            ).fetchall()
        return {r["uid"]: tuple(json.loads(r["flags"])) for r in rows}

    def messages(self, account: str, folder: str | None = None) -> list[MessageRecord]:
        query = _SELECT
        params: tuple[object, ...] = (account,)
        if folder is not None:
            query += " AND folder = ?"
            params += (folder,)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY folder, uidvalidity, uid", params).fetchall()
        return [_record(r) for r in rows]

    def unannounced(self, account: str) -> list[MessageRecord]:
        with self._lock:
            rows = self._db.execute(
                _SELECT + " AND announced = 0 ORDER BY first_seen, folder, uid",
                (account,),
            ).fetchall()
        return [_record(r) for r in rows]

    # ------------------------------------------------------------ writing

    def mark_announced(self, records: Iterable[MessageRecord]) -> None:
        keys = [r.key for r in records]
        if not keys:
            return
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany(
                    "UPDATE messages SET announced = 1 WHERE account = ? AND folder = ? "
                    "AND uidvalidity = ? AND uid = ?",
                    keys,
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def apply(self, account: str, folder: str, update: FolderUpdate) -> AppliedUpdate:
        """Apply one folder's sync in one transaction."""
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
        discarded = 0
        if update.reset:
            # Announced or not, messages of an older UIDVALIDITY are gone for good.
            discarded = db.execute(
                "DELETE FROM messages WHERE account = ? AND folder = ? AND uidvalidity != ?",
                (account, folder, update.uidvalidity),
            ).rowcount
        inserted = []
        for record in update.new:
            cursor = db.execute(
                _INSERT,
                (*_row(record), update.now),
            )
            if cursor.rowcount:
                inserted.append(record)
        changes = []
        for uid, (flags, modseq) in update.flags.items():
            row = db.execute(
                "SELECT flags FROM messages WHERE account = ? AND folder = ? AND uidvalidity = ? "
                "AND uid = ?",
                (account, folder, update.uidvalidity, uid),
            ).fetchone()
            if row is None:
                continue
            old = tuple(json.loads(row["flags"]))
            new = tuple(sorted(flags))
            if old != new:
                changes.append((uid, old, new))
            db.execute(
                "UPDATE messages SET flags = ?, modseq = COALESCE(?, modseq) WHERE account = ? "
                "AND folder = ? AND uidvalidity = ? AND uid = ?",
                (json.dumps(list(new)), modseq, account, folder, update.uidvalidity, uid),
            )
        deleted = []
        for uid in update.deleted:
            cursor = db.execute(
                "DELETE FROM messages "
                "WHERE account = ? AND folder = ? AND uidvalidity = ? AND uid = ?",
                (account, folder, update.uidvalidity, uid),
            )
            if cursor.rowcount:
                deleted.append(uid)
        count = db.execute(
            "SELECT COUNT(*) FROM messages WHERE account = ? AND folder = ? AND uidvalidity = ?",
            (account, folder, update.uidvalidity),
        ).fetchone()[0]
        previous = db.execute(
            "SELECT last_flag_sync FROM folders WHERE account = ? AND name = ?", (account, folder)
        ).fetchone()
        last_flag_sync = (
            update.now if update.flag_sync or previous is None else previous["last_flag_sync"]
        )
        db.execute(
            "INSERT INTO folders (account, name, uidvalidity, uidnext, highestmodseq, messages, "
            "last_sync, last_flag_sync) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (account, name) DO UPDATE SET uidvalidity = excluded.uidvalidity, "
            "uidnext = excluded.uidnext, highestmodseq = excluded.highestmodseq, "
            "messages = excluded.messages, last_sync = excluded.last_sync, "
            "last_flag_sync = excluded.last_flag_sync",
            (
                account,
                folder,
                update.uidvalidity,
                update.uidnext,
                update.highestmodseq,
                count,
                update.now,
                last_flag_sync,
            ),
        )
        return AppliedUpdate(
            inserted=tuple(inserted),
            flag_changes=tuple(changes),
            deleted=tuple(deleted),
            discarded=discarded,
        )

    def touch(self, account: str, folder: str, now: float) -> None:
        """Record that an unchanged folder was checked."""
        with self._lock:
            self._db.execute(
                "UPDATE folders SET last_sync = ? WHERE account = ? AND name = ?",
                (now, account, folder),
            )


class AsyncStore:
    """The :class:`Store`, used from Trio: every call runs in a worker thread, one at a time.

    ``inline=True`` runs calls in the Trio thread instead. That is for tests
    under ``MockClock(autojump_threshold=0)``, which would otherwise jump the
    clock while a worker thread works (every task looks blocked).
    """

    def __init__(self, store: Store, *, inline: bool = False) -> None:
        self.store = store
        self.inline = inline
        self._limiter = trio.CapacityLimiter(1)

    @classmethod
    async def open(cls, path: str | os.PathLike[str], *, inline: bool = False) -> AsyncStore:
        if inline:
            return cls(Store(path), inline=True)
        return cls(await trio.to_thread.run_sync(Store, path))

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        if self.inline:
            await trio.lowlevel.checkpoint()
            return fn(*args, **kwargs)
        return await trio.to_thread.run_sync(lambda: fn(*args, **kwargs), limiter=self._limiter)

    async def aclose(self) -> None:
        await self.run(self.store.close)
