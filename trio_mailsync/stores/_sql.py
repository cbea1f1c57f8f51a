"""What the SQL stores share: the queries, what applying an update means, the async front.

Both stores (:mod:`.sqlite`, :mod:`.postgres`) hold the same tables (their schemas are
checked equal by the tests) and run the same statements, written in the SQL both
speak: ``?`` placeholders (the PostgreSQL store turns them into psycopg's ``%s``),
``INSERT ... ON CONFLICT``, ``RETURNING``. Where they differ, a :class:`Dialect`
says how. A store subclasses :class:`SqlDatabase` (synchronous, for a worker thread)
for how it connects and migrates, and :class:`ThreadedStore` (the ``StateStore`` port
on Trio) for how its calls reach that thread.

Fencing: a worker of a cluster :meth:`~SqlDatabase.claim`\\ s each account it runs
with its lease's fencing token; every later write for that account first raises the
account's fence to that token, and is refused (:class:`LeaseLost`) when the fence is
already higher, so a worker whose lease moved on can never commit over the new owner.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ParamSpec, Protocol, TypeVar

import attrs
import trio

from trio_mailsync.core.errors import LeaseLost
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

P = ParamSpec("P")
T = TypeVar("T")

#: Messages per logged event at most: a 60,000-message first sync becomes many events of
#: a bounded size (a few hundred KiB of JSON), never one that a client's frame limit refuses.
MAX_MESSAGES_PER_EVENT = 200
#: Uids per ``messages_deleted`` event at most (a uid is a few bytes).
MAX_UIDS_PER_EVENT = 5000

# The messages' columns as version 3 had them (its migration reads them), and now.
V3_COLUMNS = (
    "account, folder, generation, uid, message_id, date, internaldate, sender, recipients, "
    "subject, flags, size, version, email_id, thread_id, labels"
)
COLUMNS = V3_COLUMNS + ", degraded"
# Queries built from the constant column list above, never from data.
_SELECT = f"SELECT {COLUMNS} FROM messages WHERE account = ?"  # noqa: S608
_INSERT = (
    f"INSERT INTO messages ({COLUMNS}, announced, first_seen) "  # noqa: S608
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
)
_IN_FOLDER = "account = ? AND folder = ? AND generation = ?"
_FOLDER_COLUMNS = "name, generation, cursor, messages, last_sync, last_full_sync"


#: Runs one read-only query on a store, outside the process that holds it (the CLI's
#: listings): its rows. Raises ``StoreError`` when the store cannot be read.
RowsOf = Callable[[str], list[tuple[Any, ...]]]


class Rows(Protocol):
    """What a statement gives back (a DB-API cursor)."""

    @property
    def rowcount(self) -> int:
        """Rows the statement changed."""
        ...

    def fetchone(self) -> Any:
        """The next row, or ``None``."""
        ...

    def fetchall(self) -> list[Any]:
        """The rows left."""
        ...

    def __iter__(self) -> Iterator[Any]: ...


class Executor(Protocol):
    """A connection in a transaction: runs one statement with ``?`` placeholders."""

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Rows:
        """Run one statement, its ``?`` placeholders bound to ``parameters``."""
        ...


@attrs.frozen(kw_only=True)
class Dialect:
    """Where the stores' SQL differs."""

    #: The number of messages in a ``new_messages`` event's ``body`` (JSON text).
    announced_count: str
    #: A statement run before a transaction appends to the log, or ``None``. With
    #: concurrent writers (PostgreSQL), ids from a sequence are taken in one order and
    #: committed in another: a reader that has seen id 11 could miss 10, committed
    #: later. A lock held until commit makes the log's ids visible in order.
    order_log: str | None = None


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


def message_record(row: Sequence[Any]) -> MessageRecord:
    """A message from a row of :data:`COLUMNS` (or of :data:`V3_COLUMNS`, before ``degraded``)."""
    (account, folder, generation, uid, message_id, date, internaldate, sender, recipients) = row[:9]
    (subject, flags, size, version, email_id, thread_id, labels) = row[9:16]
    return MessageRecord(
        account=account,
        folder=folder,
        generation=generation,
        uid=uid,
        message_id=message_id,
        date=date,
        internaldate=internaldate,
        sender=None if sender is None else _address(json.loads(sender)),
        recipients=tuple(_address(a) for a in json.loads(recipients or "[]")),
        subject=subject,
        flags=tuple(json.loads(flags)),
        size=size,
        version=version,
        email_id=email_id,
        thread_id=thread_id,
        labels=None if labels is None else tuple(json.loads(labels)),
        degraded=row[16] if len(row) > 16 else None,
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


def chunks(items: Sequence[T], size: int = MAX_MESSAGES_PER_EVENT) -> list[Sequence[T]]:
    """``items`` in slices of at most ``size``."""
    return [items[i : i + size] for i in range(0, len(items), size)]


def append_events(
    db: Executor, events: Iterable[LoggedEvent], now: float, dialect: Dialect
) -> list[LoggedEvent]:
    """Append events to the log; the events with their ids."""
    events = list(events)
    if events and dialect.order_log is not None:
        db.execute(dialect.order_log)
    logged = []
    for event in events:
        data = to_dict(event)
        del data["id"]  # the row's id is the event's
        (event_id,) = db.execute(
            "INSERT INTO events (time, account, type, body) VALUES (?, ?, ?, ?) RETURNING id",
            (now, event.account, data["type"], json.dumps(data, ensure_ascii=False)),
        ).fetchone()
        logged.append(attrs.evolve(event, id=event_id))
        if isinstance(event, MessageProcessed):
            db.execute(
                "INSERT INTO processed VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (event.processor, event.account, event.folder, event.generation, event.uid, now),
            )
    return logged


def _logged(row: Sequence[Any]) -> LoggedEvent:
    data = json.loads(row[1])
    data["id"] = row[0]
    event = from_dict(data)
    assert isinstance(event, LoggedEvent)
    return event


class SqlDatabase:
    """The store's work, synchronous, for a worker thread: the same for every SQL store.

    A subclass says how it reaches its database: :meth:`_reading` (a connection for a
    few reads) and :meth:`_transaction` (one transaction, committed at the end of the
    block, rolled back on error, or always in a dry run).
    """

    dialect: Dialect
    dry_run: bool = False

    def __init__(self) -> None:
        #: account -> the fencing token of this process's lease on it (see :meth:`claim`).
        self.fences: dict[str, int] = {}
        #: Writes (and claims) refused since opening: their token was older than the
        #: account's fence (a lease that moved on while this process still wrote).
        self.refused_writes = 0

    def _reading(self) -> contextlib.AbstractContextManager[Executor]:
        raise NotImplementedError

    def _transaction(self) -> contextlib.AbstractContextManager[Executor]:
        raise NotImplementedError

    # ------------------------------------------------------------ fencing

    def claim(self, account: str, token: int) -> None:
        """Write for ``account`` with fencing token ``token`` from now on.

        Raises the account's fence at once, so a writer with an older token is refused
        from this moment; raises :class:`LeaseLost` if a newer token holds it already.
        """
        before = self.fences.get(account)
        self.fences[account] = token
        try:
            with self._transaction() as db:
                self._fence(db, account)
        except BaseException:
            # Not claimed (refused, or the database did not answer): write as before.
            if before is None:
                self.fences.pop(account, None)
            else:
                self.fences[account] = before
            raise

    def disown(self, account: str) -> None:
        """Write for ``account`` without a token again (its lease was given up)."""
        self.fences.pop(account, None)

    def _fence(self, db: Executor, account: str) -> None:
        token = self.fences.get(account)
        if token is None:
            return
        raised = db.execute(
            "INSERT INTO account_fences (account, fence) VALUES (?, ?) "
            "ON CONFLICT (account) DO UPDATE SET fence = excluded.fence "
            "WHERE account_fences.fence <= excluded.fence RETURNING fence",
            (account, token),
        ).fetchone()
        if raised is None:
            (newest,) = db.execute(
                "SELECT fence FROM account_fences WHERE account = ?", (account,)
            ).fetchone()
            self.refused_writes += 1
            raise LeaseLost(account, token, newest)

    # ------------------------------------------------------------ reading

    def folder_states(self, account: str) -> dict[str, FolderState]:
        """The account's folders as stored, by name."""
        with self._reading() as db:
            return self._folder_states(db, account)

    @staticmethod
    def _folder_states(db: Executor, account: str) -> dict[str, FolderState]:
        rows = db.execute(
            f"SELECT {_FOLDER_COLUMNS} FROM folders WHERE account = ?",  # noqa: S608
            (account,),
        ).fetchall()
        return {
            name: FolderState(
                name=name,
                generation=generation,
                cursor=json.loads(cursor),
                messages=messages,
                last_sync=last_sync,
                last_full_sync=last_full_sync,
            )
            for (name, generation, cursor, messages, last_sync, last_full_sync) in rows
        }

    def messages(self, account: str, folder: str | None) -> list[MessageRecord]:
        """The account's stored messages (of one folder), by folder, generation and uid."""
        query = _SELECT
        params: tuple[object, ...] = (account,)
        if folder is not None:
            query += " AND folder = ?"
            params += (folder,)
        with self._reading() as db:
            rows = db.execute(query + " ORDER BY folder, generation, uid", params).fetchall()
        return [message_record(r) for r in rows]

    def events_after(self, after: int, limit: int) -> list[LoggedEvent]:
        """Up to ``limit`` logged events with ids greater than ``after``, in order."""
        with self._reading() as db:
            rows = db.execute(
                "SELECT id, body FROM events WHERE id > ? ORDER BY id LIMIT ?", (after, limit)
            ).fetchall()
        return [_logged(r) for r in rows]

    def log_bounds(self) -> tuple[int, int]:
        """(the highest id pruned, the highest id logged); 0 for none."""
        with self._reading() as db:
            return self._bounds(db)

    @staticmethod
    def _bounds(db: Executor) -> tuple[int, int]:
        row = db.execute("SELECT value FROM log_state WHERE key = 'pruned_through'").fetchone()
        pruned = 0 if row is None else int(row[0])
        # Ids are never taken again: when every event is pruned, the last is the pruned.
        (last,) = db.execute("SELECT MAX(id) FROM events").fetchone()
        return (pruned, max(pruned, last or 0))

    def cursor(self, name: str) -> int | None:
        """A consumer's position in the log; ``None`` if it has none."""
        with self._reading() as db:
            row = db.execute("SELECT position FROM cursors WHERE name = ?", (name,)).fetchone()
        return None if row is None else int(row[0])

    def processed(
        self, processor: str, keys: list[tuple[str, str, int, int]]
    ) -> set[tuple[str, str, int, int]]:
        """Those of the message keys that ``processor`` has a logged result for."""
        found = set()
        with self._reading() as db:
            for key in keys:
                row = db.execute(
                    "SELECT 1 FROM processed WHERE processor = ? AND account = ? AND folder = ? "
                    "AND generation = ? AND uid = ?",
                    (processor, *key),
                ).fetchone()
                if row is not None:
                    found.add(key)
        return found

    def failures(self, consumer: str | None) -> list[tuple[str, int, float, str]]:
        """Events consumers gave up on: (consumer, event id, time, error), oldest first."""
        query = "SELECT consumer, event_id, time, error FROM failures"
        params: tuple[object, ...] = ()
        if consumer is not None:
            query += " WHERE consumer = ?"
            params = (consumer,)
        with self._reading() as db:
            rows = db.execute(query + " ORDER BY time, event_id", params).fetchall()
        return [(r[0], r[1], r[2], r[3]) for r in rows]

    def account_summary(
        self, since: float, account: str | None = None
    ) -> dict[str, tuple[int, int]]:
        """Per account: (new messages announced since ``since``, messages stored degraded)."""
        # Today's events are found by events_time, the degraded messages by their
        # partial index; for one account the JSON is read of its own events only.
        with self._reading() as db:
            announced = db.execute(
                f"SELECT account, SUM({self.dialect.announced_count}) FROM events "  # noqa: S608
                "WHERE type = 'new_messages' AND time >= ? "
                "AND (CAST(? AS TEXT) IS NULL OR account = ?) GROUP BY account",
                (since, account, account),
            ).fetchall()
            degraded = db.execute(
                "SELECT account, COUNT(*) FROM messages WHERE degraded IS NOT NULL "
                "AND (CAST(? AS TEXT) IS NULL OR account = ?) GROUP BY account",
                (account, account),
            ).fetchall()
        summary: dict[str, tuple[int, int]] = {}
        for name, count in announced:
            summary[name] = (int(count or 0), 0)
        for name, count in degraded:
            summary[name] = (summary.get(name, (0, 0))[0], int(count))
        return summary

    def saved_accounts(self) -> dict[str, dict[str, Any]]:
        """Accounts added at runtime: their tables, by id, oldest first."""
        with self._reading() as db:
            rows = db.execute(
                "SELECT account, spec FROM runtime_accounts ORDER BY updated, account"
            ).fetchall()
        return {r[0]: json.loads(r[1]) for r in rows}

    def paused_accounts(self) -> set[str]:
        """The accounts an operator paused (and has not resumed)."""
        with self._reading() as db:
            return {r[0] for r in db.execute("SELECT account FROM paused_accounts").fetchall()}

    # ------------------------------------------------------------ writing

    def set_paused(self, account: str, paused: bool) -> None:
        """Record that an operator paused the account, or resumed (or removed) it."""
        with self._transaction() as db:
            if paused:
                db.execute(
                    "INSERT INTO paused_accounts VALUES (?, ?) ON CONFLICT (account) DO NOTHING",
                    (account, time.time()),
                )
            else:
                db.execute("DELETE FROM paused_accounts WHERE account = ?", (account,))

    def save_account(self, account: str, spec: Mapping[str, Any] | None) -> None:
        """Keep an account added at runtime (its table), or forget it (``None``)."""
        with self._transaction() as db:
            if spec is None:
                db.execute("DELETE FROM runtime_accounts WHERE account = ?", (account,))
            else:
                db.execute(
                    "INSERT INTO runtime_accounts VALUES (?, ?, ?) ON CONFLICT (account) "
                    "DO UPDATE SET spec = excluded.spec, updated = excluded.updated",
                    (account, json.dumps(spec), time.time()),
                )

    def first_synced(self, account: str, now: float) -> float:
        """When the account was first synced (``now``, recorded, if this is the first time)."""
        with self._transaction() as db:
            self._fence(db, account)
            db.execute("INSERT INTO accounts VALUES (?, ?) ON CONFLICT DO NOTHING", (account, now))
            row = db.execute(
                "SELECT first_synced FROM accounts WHERE account = ?", (account,)
            ).fetchone()
        return float(row[0]) if not self.dry_run else now

    def append(self, events: list[LoggedEvent]) -> list[LoggedEvent]:
        """Log events that report no stored change (a processor's results); with their ids."""
        with self._transaction() as db:
            # In one order, so two writers never wait on each other's fences.
            for account in sorted({event.account for event in events}):
                self._fence(db, account)
            return append_events(db, events, time.time(), self.dialect)

    def set_cursor(self, name: str, position: int) -> None:
        """Record a consumer's position in the log."""
        with self._transaction() as db:
            db.execute(
                "INSERT INTO cursors VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
                "position = excluded.position, updated = excluded.updated",
                (name, position, time.time()),
            )

    def record_failure(self, consumer: str, event_ids: list[int], error: str) -> None:
        """Record that a consumer gave up on these events."""
        now = time.time()
        with self._transaction() as db:
            for event_id in event_ids:
                db.execute(
                    "INSERT INTO failures VALUES (?, ?, ?, ?) ON CONFLICT (consumer, event_id) "
                    "DO UPDATE SET time = excluded.time, error = excluded.error",
                    (consumer, event_id, now, error),
                )

    def prune(self, before: float, keep: int) -> int:
        """Drop events logged before ``before`` (epoch) and all but the last ``keep``."""
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
        """Apply one folder's update and log what it changed, in one transaction."""
        with self._transaction() as db:
            self._fence(db, account)
            events = self._apply(db, account, folder, update, notify_from)
            return append_events(db, events, time.time(), self.dialect)

    def _apply(
        self,
        db: Executor,
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
            if previous is not None and previous[0] != update.generation:
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
                        previous=previous[0],
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
            for chunk in chunks(new)
        ]
        changes = []
        for uid, (flags, version) in update.flags.items():
            row = db.execute(
                f"SELECT flags FROM messages WHERE {_IN_FOLDER} AND uid = ?",  # noqa: S608
                (*where, uid),
            ).fetchone()
            if row is None:
                continue
            old = tuple(json.loads(row[0]))
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
            for chunk in chunks(changes)
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
            for chunk in chunks(deleted, MAX_UIDS_PER_EVENT)
        ]
        (count,) = db.execute(
            f"SELECT COUNT(*) FROM messages WHERE {_IN_FOLDER}",  # noqa: S608
            where,
        ).fetchone()
        last_full_sync = update.now if update.full_sync or previous is None else previous[1]
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

    def close(self) -> None:
        """Close the database; it cannot be used afterwards."""
        raise NotImplementedError


class ThreadedStore:
    """The ``StateStore`` port on Trio over a :class:`SqlDatabase`: each call in a worker
    thread, so the Trio loop never waits on the database.

    ``inline=True`` runs calls in the Trio thread instead: for tests under
    ``MockClock(autojump_threshold=0)``, which would otherwise jump the clock while a
    worker thread works (every task looks blocked).
    """

    def __init__(self, database: SqlDatabase, *, inline: bool, threads: int) -> None:
        self._database = database
        self.inline = inline
        self._limiter = trio.CapacityLimiter(threads)

    async def _call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        if self.inline:
            await trio.lowlevel.checkpoint()
            return fn(*args, **kwargs)
        return await trio.to_thread.run_sync(lambda: fn(*args, **kwargs), limiter=self._limiter)

    async def claim(self, account: str, token: int) -> None:
        """Write for ``account`` with fencing token ``token`` from now on (a lease taken).

        Refuses writers with older tokens at once; raises
        :class:`~trio_mailsync.core.errors.LeaseLost` if a newer token holds the account.
        """
        await self._call(self._database.claim, account, token)

    def disown(self, account: str) -> None:
        """Write for ``account`` without a fencing token again (its lease given up)."""
        self._database.disown(account)

    @property
    def refused_writes(self) -> int:
        """Writes and claims refused since opening, for a token older than the account's."""
        return self._database.refused_writes

    async def folder_states(self, account: str) -> dict[str, FolderState]:
        """The account's folders as stored, by name."""
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

    async def paused_accounts(self) -> set[str]:
        """The accounts an operator paused (and has not resumed)."""
        return await self._call(self._database.paused_accounts)

    async def set_paused(self, account: str, paused: bool) -> None:
        """Record that an operator paused the account, or resumed (or removed) it."""
        await self._call(self._database.set_paused, account, paused)

    async def save_account(self, account: str, spec: Mapping[str, Any] | None) -> None:
        """Keep an account added at runtime (its table), or forget it (``None``)."""
        await self._call(self._database.save_account, account, spec)

    async def aclose(self) -> None:
        """Close the database."""
        await self._call(self._database.close)
