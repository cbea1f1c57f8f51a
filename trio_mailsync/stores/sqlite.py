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
import math
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, ParamSpec, Self, TypeVar

import attrs
import trio

from trio_mailsync.core.errors import StoreError, StoreInUse
from trio_mailsync.core.events import (
    FlagsChanged,
    FlagUpdate,
    FolderReset,
    LoggedEvent,
    MessageProcessed,
    MessagesDeleted,
    NewMessages,
    from_dict,
    to_dict,
)
from trio_mailsync.core.model import Address, FolderState, FolderUpdate, MessageRecord

__all__ = ["MIGRATIONS", "SQLiteStore", "default_store_path"]

P = ParamSpec("P")
T = TypeVar("T")

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


# The messages' columns as version 3 had them (its migration reads them), and now.
_V3_COLUMNS = (
    "account, folder, generation, uid, message_id, date, internaldate, sender, recipients, "
    "subject, flags, size, version, email_id, thread_id, labels"
)
_COLUMNS = _V3_COLUMNS + ", degraded"
# Queries built from the constant column list above, never from data.
_SELECT = f"SELECT {_COLUMNS} FROM messages WHERE account = ?"  # noqa: S608
_INSERT = (
    f"INSERT OR IGNORE INTO messages ({_COLUMNS}, announced, first_seen) "  # noqa: S608
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_IN_FOLDER = "account = ? AND folder = ? AND generation = ?"


def _address_json(a: Address) -> dict[str, str | None]:
    return {"name": a.name, "address": a.address}


def _row(record: MessageRecord) -> tuple[object, ...]:
    return (
        record.account,
        record.folder,
        record.generation,
        record.uid,
        record.message_id,
        record.date,
        record.internaldate,
        None if record.sender is None else json.dumps(_address_json(record.sender)),
        json.dumps([_address_json(a) for a in record.recipients]),
        record.subject,
        json.dumps(sorted(record.flags)),
        record.size,
        record.version,
        record.email_id,
        record.thread_id,
        None if record.labels is None else json.dumps(list(record.labels)),
        record.degraded,
    )


def _address(data: dict[str, str | None]) -> Address:
    return Address(data.get("name"), data.get("address") or "")


def _record(row: sqlite3.Row) -> MessageRecord:
    labels = row["labels"]
    sender = row["sender"]
    return MessageRecord(
        account=row["account"],
        folder=row["folder"],
        generation=row["generation"],
        uid=row["uid"],
        message_id=row["message_id"],
        date=row["date"],
        internaldate=row["internaldate"],
        sender=None if sender is None else _address(json.loads(sender)),
        recipients=tuple(_address(a) for a in json.loads(row["recipients"] or "[]")),
        subject=row["subject"],
        flags=tuple(json.loads(row["flags"])),
        size=row["size"],
        version=row["version"],
        email_id=row["email_id"],
        thread_id=row["thread_id"],
        labels=None if labels is None else tuple(json.loads(labels)),
        degraded=row["degraded"] if "degraded" in row.keys() else None,  # noqa: SIM118
    )


def _arrived_since(record: MessageRecord, notify_from: float) -> bool:
    """Whether the server received the message at or after ``notify_from`` (epoch seconds)."""
    if notify_from == -math.inf:
        return True
    if record.internaldate is None:
        return False  # no arrival time: taken for old, as most of a folder is
    try:
        arrived = datetime.fromisoformat(record.internaldate)
    except ValueError:
        return False
    if arrived.tzinfo is None:
        arrived = arrived.replace(tzinfo=UTC)
    return arrived.timestamp() >= notify_from


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
    db.row_factory = sqlite3.Row
    pending = db.execute(
        f"SELECT {_V3_COLUMNS} FROM messages WHERE announced = 0 "  # noqa: S608
        "ORDER BY account, folder, first_seen, uid"
    ).fetchall()
    by_folder: dict[tuple[str, str], list[MessageRecord]] = {}
    for row in pending:
        by_folder.setdefault((row["account"], row["folder"]), []).append(_record(row))
    events = [
        NewMessages(account=account, folder=folder, messages=tuple(chunk))
        for (account, folder), records in by_folder.items()
        for chunk in _chunks(records)
    ]
    _append(db, events, time.time())
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


# Each entry moves the schema one version up; never edit a released one. A string is
# run statement by statement; a function gets the connection. Both run in one transaction.
MIGRATIONS: list[str | Callable[[sqlite3.Connection], None]] = [
    _V1,
    _V2,
    _to_v3,
    _V4,
    _V5,
    _V6,
]


#: Messages per logged event at most: a 60,000-message first sync becomes many events of
#: a bounded size (a few hundred KiB of JSON), never one that a client's frame limit refuses.
MAX_MESSAGES_PER_EVENT = 200
#: Uids per ``messages_deleted`` event at most (a uid is a few bytes).
MAX_UIDS_PER_EVENT = 5000


def _chunks(items: Sequence[T], size: int = MAX_MESSAGES_PER_EVENT) -> list[Sequence[T]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _append(db: sqlite3.Connection, events: Iterable[LoggedEvent], now: float) -> list[LoggedEvent]:
    """Append events to the log; the events with their ids."""
    logged = []
    for event in events:
        data = to_dict(event)
        del data["id"]  # the row's id is the event's
        cursor = db.execute(
            "INSERT INTO events (time, account, type, body) VALUES (?, ?, ?, ?)",
            (now, event.account, data["type"], json.dumps(data, ensure_ascii=False)),
        )
        assert cursor.lastrowid is not None
        logged.append(attrs.evolve(event, id=cursor.lastrowid))
        if isinstance(event, MessageProcessed):
            db.execute(
                "INSERT OR IGNORE INTO processed VALUES (?, ?, ?, ?, ?, ?)",
                (event.processor, event.account, event.folder, event.generation, event.uid, now),
            )
    return logged


def _logged(row: sqlite3.Row | tuple[int, str]) -> LoggedEvent:
    data = json.loads(row[1])
    data["id"] = row[0]
    event = from_dict(data)
    assert isinstance(event, LoggedEvent)
    return event


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
    """Synchronous access, for the worker thread. One call at a time (a lock).

    ``dry_run``: updates are applied and then rolled back, so that what they
    would log can be shown; nothing is ever written.
    """

    def __init__(self, path: str, *, dry_run: bool = False) -> None:
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
            self._db.row_factory = sqlite3.Row
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
                self.reader.row_factory = sqlite3.Row
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
                    self._db.row_factory = None
                self._db.execute(f"PRAGMA user_version = {number}")
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    @contextlib.contextmanager
    def _transaction(self, *, write: bool = True) -> Iterator[sqlite3.Connection]:
        """One transaction under the lock; rolled back on error, or always in a dry run."""
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield db
                db.execute("ROLLBACK" if self.dry_run else "COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    # ------------------------------------------------------------ reading

    def folder_states(self, account: str) -> dict[str, FolderState]:
        with self._lock:
            return self._folder_states(self._db, account)

    def folder_states_from_reader(self, account: str) -> dict[str, FolderState]:
        """``folder_states`` over the read-only connection (the event loop's thread only)."""
        assert self.reader is not None
        return self._folder_states(self.reader, account)

    @staticmethod
    def _folder_states(db: sqlite3.Connection, account: str) -> dict[str, FolderState]:
        rows = db.execute("SELECT * FROM folders WHERE account = ?", (account,)).fetchall()
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

    def events_after(self, after: int, limit: int) -> list[LoggedEvent]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, body FROM events WHERE id > ? ORDER BY id LIMIT ?", (after, limit)
            ).fetchall()
        return [_logged(r) for r in rows]

    def log_bounds(self) -> tuple[int, int]:
        with self._lock:
            return self._bounds(self._db)

    def _bounds(self, db: sqlite3.Connection) -> tuple[int, int]:
        pruned = db.execute("SELECT value FROM log_state WHERE key = 'pruned_through'").fetchone()
        last = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
        return (0 if pruned is None else pruned[0], 0 if last is None else last[0])

    def cursor(self, name: str) -> int | None:
        with self._lock:
            row = self._db.execute(
                "SELECT position FROM cursors WHERE name = ?", (name,)
            ).fetchone()
        return None if row is None else int(row[0])

    def processed(
        self, processor: str, keys: list[tuple[str, str, int, int]]
    ) -> set[tuple[str, str, int, int]]:
        found = set()
        with self._lock:
            for key in keys:
                row = self._db.execute(
                    "SELECT 1 FROM processed WHERE processor = ? AND account = ? AND folder = ? "
                    "AND generation = ? AND uid = ?",
                    (processor, *key),
                ).fetchone()
                if row is not None:
                    found.add(key)
        return found

    def failures(self, consumer: str | None) -> list[tuple[str, int, float, str]]:
        query = "SELECT consumer, event_id, time, error FROM failures"
        params: tuple[object, ...] = ()
        if consumer is not None:
            query += " WHERE consumer = ?"
            params = (consumer,)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY time, event_id", params).fetchall()
        return [(r[0], r[1], r[2], r[3]) for r in rows]

    def account_summary(
        self, since: float, account: str | None = None
    ) -> dict[str, tuple[int, int]]:
        # Today's events are found by events_time, the degraded messages by their
        # partial index; for one account the JSON is read of its own events only.
        with self._lock:
            announced = self._db.execute(
                "SELECT account, SUM(json_array_length(body, '$.messages')) FROM events "
                "WHERE type = 'new_messages' AND time >= :since "
                "AND (:account IS NULL OR account = :account) GROUP BY account",
                {"since": since, "account": account},
            ).fetchall()
            degraded = self._db.execute(
                "SELECT account, COUNT(*) FROM messages "
                "WHERE degraded IS NOT NULL AND (:account IS NULL OR account = :account) "
                "GROUP BY account",
                {"account": account},
            ).fetchall()
        summary: dict[str, tuple[int, int]] = {}
        for account, count in announced:
            summary[account] = (int(count or 0), 0)
        for account, count in degraded:
            summary[account] = (summary.get(account, (0, 0))[0], int(count))
        return summary

    def saved_accounts(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT account, spec FROM runtime_accounts ORDER BY updated, account"
            ).fetchall()
        return {r[0]: json.loads(r[1]) for r in rows}

    # ------------------------------------------------------------ writing

    def save_account(self, account: str, spec: Mapping[str, Any] | None) -> None:
        with self._transaction() as db:
            if spec is None:
                db.execute("DELETE FROM runtime_accounts WHERE account = ?", (account,))
            else:
                db.execute(
                    "INSERT OR REPLACE INTO runtime_accounts VALUES (?, ?, ?)",
                    (account, json.dumps(spec), time.time()),
                )

    def first_synced(self, account: str, now: float) -> float:
        with self._transaction() as db:
            db.execute("INSERT OR IGNORE INTO accounts VALUES (?, ?)", (account, now))
            row = db.execute(
                "SELECT first_synced FROM accounts WHERE account = ?", (account,)
            ).fetchone()
        return float(row[0]) if not self.dry_run else now

    def append(self, events: list[LoggedEvent]) -> list[LoggedEvent]:
        with self._transaction() as db:
            return _append(db, events, time.time())

    def set_cursor(self, name: str, position: int) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO cursors VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
                "position = excluded.position, updated = excluded.updated",
                (name, position, time.time()),
            )

    def record_failure(self, consumer: str, event_ids: list[int], error: str) -> None:
        now = time.time()
        with self._transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO failures VALUES (?, ?, ?, ?)",
                [(consumer, event_id, now, error) for event_id in event_ids],
            )

    def prune(self, before: float, keep: int) -> int:
        with self._transaction() as db:
            pruned, _ = self._bounds(db)
            (by_age,) = db.execute(
                "SELECT MAX(id) FROM events WHERE time < ?", (before,)
            ).fetchone()
            by_count = db.execute(
                "SELECT id FROM events ORDER BY id DESC LIMIT 1 OFFSET ?", (keep,)
            ).fetchone()
            through = max(pruned, by_age or 0, 0 if by_count is None else by_count[0])
            if through == pruned:
                return 0
            deleted = db.execute("DELETE FROM events WHERE id <= ?", (through,)).rowcount
            db.execute("DELETE FROM processed WHERE time < ?", (before,))
            db.execute("DELETE FROM failures WHERE event_id <= ?", (through,))
            db.execute(
                "INSERT INTO log_state VALUES ('pruned_through', ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (through,),
            )
        return deleted

    def apply(
        self, account: str, folder: str, update: FolderUpdate, notify_from: float
    ) -> list[LoggedEvent]:
        with self._transaction() as db:
            events = self._apply(db, account, folder, update, notify_from)
            return _append(db, events, time.time())

    def _apply(
        self,
        db: sqlite3.Connection,
        account: str,
        folder: str,
        update: FolderUpdate,
        notify_from: float,
    ) -> list[LoggedEvent]:
        where = (account, folder, update.generation)
        previous = db.execute(
            "SELECT generation, last_full_sync FROM folders WHERE account = ? AND name = ?",
            (account, folder),
        ).fetchone()
        events: list[LoggedEvent] = []
        known_ids: set[str] = set()
        if update.reset:
            if previous is not None and previous["generation"] != update.generation:
                # Renumbered, not new: a message known before by its Message-ID is not
                # announced again (the folder_reset event tells consumers to re-read).
                known_ids = {
                    mid
                    for (mid,) in db.execute(
                        "SELECT message_id FROM messages WHERE account = ? AND folder = ? "
                        "AND generation != ? AND message_id IS NOT NULL",
                        where,
                    )
                }
                events.append(
                    FolderReset(
                        account=account,
                        folder=folder,
                        generation=update.generation,
                        previous=previous["generation"],
                    )
                )
            # Announced or not, messages of another generation are gone for good.
            db.execute(
                "DELETE FROM messages WHERE account = ? AND folder = ? AND generation != ?", where
            )
        gone = set(update.deleted)
        if update.present is not None:
            # Before the new rows go in: "present" speaks of what was stored until now.
            stored = db.execute(f"SELECT uid FROM messages WHERE {_IN_FOLDER}", where)  # noqa: S608
            gone.update(uid for (uid,) in stored if uid not in update.present)
        # What was there before the folder was first seen (or before a reset) is announced
        # only if it arrived after notify_from: a new user is not shown the whole mailbox.
        baseline = update.reset or update.baseline
        new = []
        for record in update.new:
            announce = not baseline or (
                _arrived_since(record, notify_from) and record.message_id not in known_ids
            )
            if announce and update.shared_messages and record.email_id is not None:
                # The same message under another label: listed here, announced once.
                announce = (
                    db.execute(
                        "SELECT 1 FROM messages WHERE account = ? AND email_id = ? "
                        "AND folder != ? LIMIT 1",
                        (account, record.email_id, folder),
                    ).fetchone()
                    is None
                )
            inserted = db.execute(_INSERT, (*_row(record), int(announce), update.now)).rowcount
            # Already stored (fetched again): it was announced, or not, the first time.
            if inserted and announce:
                new.append(record)
        events += [
            NewMessages(account=account, folder=folder, messages=tuple(chunk))
            for chunk in _chunks(new)
        ]
        changes = []
        for uid, (flags, version) in update.flags.items():
            row = db.execute(
                f"SELECT flags FROM messages WHERE {_IN_FOLDER} AND uid = ?",  # noqa: S608
                (*where, uid),
            ).fetchone()
            if row is None:
                continue
            old = tuple(json.loads(row["flags"]))
            flags_now = tuple(sorted(flags))
            if old != flags_now:
                changes.append(FlagUpdate(uid, flags_now, old))
            db.execute(
                "UPDATE messages SET flags = ?, version = COALESCE(?, version) "  # noqa: S608
                f"WHERE {_IN_FOLDER} AND uid = ?",
                (json.dumps(list(flags_now)), version, *where, uid),
            )
        events += [
            FlagsChanged(
                account=account,
                folder=folder,
                generation=update.generation,
                messages=tuple(chunk),
            )
            for chunk in _chunks(changes)
        ]
        deleted = []
        for uid in sorted(gone):
            cursor = db.execute(
                f"DELETE FROM messages WHERE {_IN_FOLDER} AND uid = ?",  # noqa: S608
                (*where, uid),
            )
            if cursor.rowcount:
                deleted.append(uid)
        events += [
            MessagesDeleted(
                account=account,
                folder=folder,
                generation=update.generation,
                uids=tuple(chunk),
            )
            for chunk in _chunks(deleted, MAX_UIDS_PER_EVENT)
        ]
        count = db.execute(
            f"SELECT COUNT(*) FROM messages WHERE {_IN_FOLDER}",  # noqa: S608
            where,
        ).fetchone()[0]
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
        return events


def _read_only(path: str | os.PathLike[str], query: str) -> list[tuple[Any, ...]]:
    """Rows of ``query`` from the store at ``path``, read without taking it.

    For the CLI's listings while ``serve`` holds the store (WAL lets a reader in).
    """
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


def read_failures(path: str | os.PathLike[str]) -> list[tuple[str, int, float, str]]:
    """The events consumers gave up on: (consumer, event id, time, error), oldest first."""
    rows = _read_only(
        path, "SELECT consumer, event_id, time, error FROM failures ORDER BY time, event_id"
    )
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def read_degraded(path: str | os.PathLike[str]) -> list[tuple[str, str, int, str | None, str]]:
    """Messages that could not be read whole: (account, folder, uid, subject, why)."""
    rows = _read_only(
        path,
        "SELECT account, folder, uid, subject, degraded FROM messages "
        "WHERE degraded IS NOT NULL ORDER BY account, folder, uid",
    )
    return [(r[0], r[1], r[2], r[3], r[4]) for r in rows]


def read_account_overview(path: str | os.PathLike[str]) -> dict[str, tuple[int, int, float]]:
    """Per account: (folders, messages, when its last sync ended), read without taking the
    store (``trio-mailsync status`` when the service does not answer)."""
    rows = _read_only(
        path,
        "SELECT f.account, COUNT(*), SUM(f.messages), MAX(f.last_sync) FROM folders f "
        "GROUP BY f.account",
    )
    return {r[0]: (int(r[1]), int(r[2] or 0), float(r[3] or 0)) for r in rows}


class SQLiteStore:
    """The state store in one SQLite file (WAL mode). Open it with :meth:`open`.

    Every call runs in a worker thread, one at a time, so the Trio loop never
    waits on the disk. ``inline=True`` runs calls in the Trio thread instead: for
    tests under ``MockClock(autojump_threshold=0)``, which would otherwise jump
    the clock while a worker thread works (every task looks blocked).
    ``dry_run=True`` applies nothing (``trio-mailsync sync --dry-run``): every
    update is rolled back once its events are known.
    """

    def __init__(self, database: _Database, *, inline: bool = False) -> None:
        self._database = database
        self.inline = inline
        self._limiter = trio.CapacityLimiter(1)

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
        if self._database.reader is not None and not self._database.dry_run:
            # Read here, not in the worker thread (see _Database.reader).
            await trio.lowlevel.checkpoint()
            return self._database.folder_states_from_reader(account)
        return await self._call(self._database.folder_states, account)

    async def first_synced(self, account: str, now: float) -> float:
        """When the account was first synced (``now``, recorded, if this is the first time)."""
        return await self._call(self._database.first_synced, account, now)

    async def apply(
        self, account: str, folder: str, update: FolderUpdate, *, notify_from: float
    ) -> list[LoggedEvent]:
        """Apply one folder's update and log what it changed, in one transaction.

        New messages of a folder's first sync (or reset, or backfill) are announced
        only if they arrived at or after ``notify_from`` (epoch seconds; ``-inf``:
        all). Returns the logged events, with their ids.
        """
        return await self._call(self._database.apply, account, folder, update, notify_from)

    async def append(self, events: Sequence[LoggedEvent]) -> list[LoggedEvent]:
        """Log events (a processor's results) in one transaction; with their ids."""
        return await self._call(self._database.append, list(events))

    async def events_after(self, after: int, limit: int = 256) -> list[LoggedEvent]:
        """Up to ``limit`` logged events with ids greater than ``after``, in order."""
        return await self._call(self._database.events_after, after, limit)

    async def log_bounds(self) -> tuple[int, int]:
        """(the highest id pruned, the highest id logged); 0 for none."""
        return await self._call(self._database.log_bounds)

    async def prune(self, before: float, keep: int) -> int:
        """Drop events logged before ``before`` (epoch) and all but the last ``keep``."""
        return await self._call(self._database.prune, before, keep)

    async def cursor(self, name: str) -> int | None:
        """A consumer's position in the log (webhook, processor); ``None`` if it has none."""
        return await self._call(self._database.cursor, name)

    async def set_cursor(self, name: str, position: int) -> None:
        """Record a consumer's position in the log."""
        await self._call(self._database.set_cursor, name, position)

    async def processed(
        self, processor: str, keys: Iterable[tuple[str, str, int, int]]
    ) -> set[tuple[str, str, int, int]]:
        """Those of the message keys that ``processor`` has a logged result for."""
        return await self._call(self._database.processed, processor, list(keys))

    async def record_failure(self, consumer: str, event_ids: Sequence[int], error: str) -> None:
        """Record that a consumer (a webhook) gave up on these events, in one transaction."""
        await self._call(self._database.record_failure, consumer, list(event_ids), error)

    async def failures(self, consumer: str | None = None) -> list[tuple[str, int, float, str]]:
        """Events consumers gave up on: (consumer, event id, time, error), oldest first."""
        return await self._call(self._database.failures, consumer)

    async def messages(self, account: str, folder: str | None = None) -> list[MessageRecord]:
        """The account's stored messages (of one folder), by folder, generation and uid."""
        return await self._call(self._database.messages, account, folder)

    async def account_summary(
        self, since: float, account: str | None = None
    ) -> dict[str, tuple[int, int]]:
        """Per account (or of ``account`` alone): (new messages announced since ``since``,
        messages stored degraded)."""
        return await self._call(self._database.account_summary, since, account)

    async def saved_accounts(self) -> dict[str, dict[str, Any]]:
        """Accounts added at runtime: their tables, by id, oldest first."""
        return await self._call(self._database.saved_accounts)

    async def save_account(self, account: str, spec: Mapping[str, Any] | None) -> None:
        """Keep an account added at runtime (its table), or forget it (``None``)."""
        await self._call(self._database.save_account, account, spec)

    async def aclose(self) -> None:
        """Close the database."""
        await self._call(self._database.close)
