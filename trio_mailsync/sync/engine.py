"""Incremental sync of many accounts at once.

One account's sync costs, when nothing changed, one round trip: STATUS for
all its folders in one write, compared with the stored UIDVALIDITY, UIDNEXT,
MESSAGES and HIGHESTMODSEQ. A changed folder costs one more: EXAMINE and the
UID FETCH / UID SEARCH it needs, decided beforehand from STATUS and sent in
one write:

- new mail: ``UID FETCH <stored UIDNEXT>:*`` (``n:*`` returns the last message
  when nothing is new, so UIDs below n are dropped);
- flag changes: ``CHANGEDSINCE <stored HIGHESTMODSEQ>`` with CONDSTORE (and
  ``VANISHED`` with QRESYNC); without CONDSTORE, all flags every
  ``flag_resync_interval``;
- deletions: VANISHED with QRESYNC; else a ``UID SEARCH`` of the stored range,
  only when the server's message count says some are gone;
- a new UIDVALIDITY: the folder's stored messages are dropped and it is
  fetched anew.

Accounts run in one nursery under a concurrency limit; an account's failure
becomes its result's error and never disturbs the others; one sync per
account at a time.
"""

from __future__ import annotations

import base64
import binascii
import email.quoprimime
import logging
import math
import re
import time
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from typing import Any

import attrs
import trio

from trio_mailsync.config import Account
from trio_mailsync.errors import IMAPError, MailSyncError
from trio_mailsync.imap import ConnectionPool, FolderCache, FolderInfo, IMAPConnection
from trio_mailsync.protocol import (
    Address,
    Close,
    CommandCompleted,
    ConnectionState,
    Envelope,
    ESearchData,
    Examine,
    FetchData,
    SearchData,
    Status,
    StatusData,
    UidFetch,
    UidSearch,
    Unselect,
    VanishedData,
)
from trio_mailsync.sync.store import AsyncStore, FolderState, FolderUpdate, MessageRecord

__all__ = ["Deletion", "FlagChange", "SyncEngine", "SyncResult", "record_from_fetch"]

logger = logging.getLogger(__name__)

#: Without CONDSTORE, flags of unchanged folders are fetched this often (seconds).
FLAG_RESYNC_INTERVAL = 900.0
_STATUS_ITEMS = ("MESSAGES", "UIDNEXT", "UIDVALIDITY")


@attrs.frozen
class FlagChange:
    folder: str
    uid: int
    old: tuple[str, ...]
    new: tuple[str, ...]


@attrs.frozen
class Deletion:
    folder: str
    uid: int


@attrs.frozen(kw_only=True)
class SyncResult:
    """One account's sync: what it found and what it cost."""

    account: str
    new_messages: tuple[MessageRecord, ...] = ()
    flag_changes: tuple[FlagChange, ...] = ()
    deletions: tuple[Deletion, ...] = ()
    folders_checked: int = 0
    folders_synced: int = 0
    #: Folders whose UIDVALIDITY changed and were fetched anew.
    folders_reset: int = 0
    round_trips: int = 0
    #: Commands sent during the sync, by name.
    commands: Mapping[str, int] = attrs.field(factory=dict)
    duration: float = 0.0
    error: str | None = None
    #: Folders that could not be synced (the others were): (folder, error).
    folder_errors: tuple[tuple[str, str], ...] = ()

    @property
    def ok(self) -> bool:
        return self.error is None


@attrs.define
class _Caps:
    condstore: bool
    qresync: bool
    esearch: bool
    gmail: bool


@attrs.define
class _Plan:
    """The commands that sync one folder, and which of them answer what."""

    commands: list[Any]
    fetch_new: UidFetch | None
    fetch_flags: UidFetch | None
    search: UidSearch | None
    reset: bool
    last_uidnext: int
    condstore: bool

    def signature(self) -> list[str]:
        return [repr(c) for c in self.commands]


def _status_of(account: str, folder: FolderInfo, done: CommandCompleted) -> StatusData:
    if done.ok:
        for item in done.data:
            if isinstance(item, StatusData):
                return item
    raise IMAPError(
        f"{account}: {folder.name}: STATUS failed: {done.status.value} {done.text or 'no data'}"
    )


class SyncEngine:
    """Syncs accounts into a store through a connection pool."""

    def __init__(
        self,
        pool: ConnectionPool,
        store: AsyncStore,
        *,
        folders: FolderCache | None = None,
        concurrency: int = 32,
        flag_resync_interval: float = FLAG_RESYNC_INTERVAL,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.pool = pool
        self.store = store
        self.folders = folders if folders is not None else FolderCache(pool)
        self.limiter = trio.CapacityLimiter(concurrency)
        self.flag_resync_interval = flag_resync_interval
        self._clock = wall_clock
        self._locks: dict[str, trio.Lock] = {}

    # ------------------------------------------------------------ many accounts

    async def sync_all_accounts(
        self,
        accounts: Iterable[Account] | None = None,
        *,
        on_result: Callable[[SyncResult], Awaitable[None] | None] | None = None,
        ack: bool = True,
    ) -> list[SyncResult]:
        """Sync every account at once (within the concurrency limit); results in input order."""
        chosen = list(self.pool.accounts if accounts is None else accounts)
        results: list[SyncResult | None] = [None] * len(chosen)

        async def one(index: int, account: Account) -> None:
            async with self.limiter:
                result = await self.sync_account(account, ack=ack)
            results[index] = result
            if on_result is not None:
                maybe = on_result(result)
                if maybe is not None:
                    await maybe

        async with trio.open_nursery() as nursery:
            for index, account in enumerate(chosen):
                nursery.start_soon(one, index, account)
        return [r for r in results if r is not None]

    # ------------------------------------------------------------ one account

    async def sync_account(
        self,
        account: Account,
        *,
        ack: bool = True,
        folders: Sequence[str] | None = None,
        changed: Collection[str] = (),
        timeout: float | None = None,
    ) -> SyncResult:
        """Sync one account. Errors end up in the result, never raised (cancellation aside).

        ``folders`` replaces the account's folder selectors for this sync (the
        service syncs INBOX alone after an IDLE notification). Folders named in
        ``changed`` are known to have changed: their STATUS goes in the same
        write as the fetches, saving a round trip (the result is the same). A sync still
        running after ``timeout`` seconds is abandoned with an error (its
        connection is closed); what it stored so far stays.

        New messages are reported in the result until acknowledged: with ``ack``
        (the default) they are marked announced just before returning; without
        it, the caller marks them after handing them on
        (``store.run(store.store.mark_announced, records)``).
        """
        lock = self._locks.setdefault(account.id, trio.Lock())
        async with lock:
            started = trio.current_time()
            work = _AccountSync(self, account, folders, changed)
            error: str | None = None
            try:
                with trio.move_on_after(math.inf if timeout is None else timeout) as scope:
                    await work.run()
                if scope.cancelled_caught:
                    error = f"{account.id}: the sync took longer than {timeout:g} s; abandoned"
                    logger.warning("%s", error)
            except (MailSyncError, OSError) as exc:
                error = str(exc) or type(exc).__name__
                if not error.startswith(account.id):
                    error = f"{account.id}: {error}"
                logger.warning("%s", error)
            new = tuple(await self.store.run(self.store.store.unannounced, account.id))
            result = SyncResult(
                account=account.id,
                new_messages=new,
                flag_changes=tuple(work.flag_changes),
                deletions=tuple(work.deletions),
                folders_checked=work.checked,
                folders_synced=work.synced,
                folders_reset=work.reset,
                round_trips=work.round_trips,
                commands=dict(work.commands),
                duration=trio.current_time() - started,
                error=error,
                folder_errors=tuple(work.folder_errors),
            )
            if ack and new:
                # Shielded: once marked, the result must reach the caller.
                with trio.CancelScope(shield=True):
                    await self.store.run(self.store.store.mark_announced, new)
            return result


class _AccountSync:
    def __init__(
        self,
        engine: SyncEngine,
        account: Account,
        folders: Sequence[str] | None,
        changed: Collection[str] = (),
    ) -> None:
        self.engine = engine
        self.account = account
        self.changed = frozenset(changed)
        self.selectors = tuple(folders) if folders is not None else account.folders
        self.flag_changes: list[FlagChange] = []
        self.deletions: list[Deletion] = []
        self.folder_errors: list[tuple[str, str]] = []
        self.checked = self.synced = self.reset = self.round_trips = 0
        self.commands: dict[str, int] = {}

    async def run(self) -> None:
        engine = self.engine
        async with engine.pool.connection(self.account) as conn:
            before_trips, before_commands = conn.round_trips, dict(conn.commands)
            try:
                await self._run(conn)
            finally:
                self.round_trips = conn.round_trips - before_trips
                self.commands = {
                    k: v - before_commands.get(k, 0)
                    for k, v in conn.commands.items()
                    if v != before_commands.get(k, 0)
                }

    async def _run(self, conn: IMAPConnection) -> None:
        engine, account = self.engine, self.account
        store = engine.store
        if (
            conn.has("QRESYNC")
            and "QRESYNC" not in conn.client.enabled
            and conn.client.state is ConnectionState.AUTHENTICATED
        ):
            await conn.enable("QRESYNC")
        caps = _Caps(
            condstore=conn.has("CONDSTORE") or conn.has("QRESYNC"),
            qresync="QRESYNC" in conn.client.enabled,
            esearch=conn.has("ESEARCH"),
            gmail=conn.has("X-GM-EXT-1"),
        )
        folder_list = await engine.folders.folders(account.id, conn)
        folders = folder_list.select(self.selectors)
        states = await store.run(store.store.folder_states, account.id)
        items = _STATUS_ITEMS + (("HIGHESTMODSEQ",) if caps.condstore else ())
        hinted = {f.name for f in folders if f.name in self.changed and f.name in states}
        asked = [f.wire_name for f in folders if f.name not in hinted]
        statuses = await conn.status_many(asked, items) if asked else {}
        now = engine._clock()
        for folder in folders:
            self.checked += 1
            try:
                if folder.name in hinted:
                    state = states[folder.name]
                    update = await self._speculate(conn, folder, state, items, caps, now)
                else:
                    status = statuses[folder.wire_name]
                    if isinstance(status, IMAPError):
                        self.folder_errors.append((folder.name, str(status)))
                        continue
                    update = await self._sync_folder(
                        conn, folder, states.get(folder.name), status, caps, now
                    )
            except IMAPError as exc:
                if conn.broken:
                    raise
                self.folder_errors.append((folder.name, str(exc)))
                continue
            if update is None:
                continue
            applied = await store.run(store.store.apply, account.id, folder.name, update)
            self.synced += 1
            self.reset += int(update.reset and folder.name in states)
            self.flag_changes += [
                FlagChange(folder.name, uid, old, new) for uid, old, new in applied.flag_changes
            ]
            self.deletions += [Deletion(folder.name, uid) for uid in applied.deleted]

    async def _sync_folder(
        self,
        conn: IMAPConnection,
        folder: FolderInfo,
        state: FolderState | None,
        status: StatusData,
        caps: _Caps,
        now: float,
    ) -> FolderUpdate | None:
        plan = self._plan(conn, folder, state, status, caps, now)
        if plan is None:
            return None
        completions = await conn.run_many(plan.commands)
        return await self._finish(conn, folder, plan, status, completions, now)

    async def _speculate(
        self,
        conn: IMAPConnection,
        folder: FolderInfo,
        state: FolderState,
        items: tuple[str, ...],
        caps: _Caps,
        now: float,
    ) -> FolderUpdate | None:
        """Sync a folder known to have changed (an IDLE notification) in one round trip.

        STATUS goes in the same write as the commands planned for the likeliest
        change (new mail: UIDNEXT and HIGHESTMODSEQ moved, nothing deleted). When
        the real STATUS plans the same commands, their answers are used; when it
        does not (a deletion, a new UIDVALIDITY), the real plan runs after them.
        """
        guess = StatusData(
            mailbox=folder.name,
            raw_mailbox=b"",
            uidvalidity=state.uidvalidity,
            uidnext=state.uidnext + 1,
            messages=state.messages + 1,
            highestmodseq=None if state.highestmodseq is None else state.highestmodseq + 1,
        )
        plan = self._plan(conn, folder, state, guess, caps, now)
        assert plan is not None  # the guess always differs from the state
        leave = conn.unselect_command()
        first = [leave] if leave is not None else []
        sent = [*first, Status(folder.wire_name, items), *plan.commands]
        completions = await conn.run_many(sent)
        if leave is not None:
            completions = completions[1:]
        status = _status_of(self.account.id, folder, completions[0])
        real = self._plan(conn, folder, state, status, caps, now)
        if real is None:
            return None
        if real.signature() == plan.signature():
            return await self._finish(conn, folder, plan, status, completions[1:], now)
        completions = await conn.run_many(real.commands)
        return await self._finish(conn, folder, real, status, completions, now)

    def _plan(
        self,
        conn: IMAPConnection,
        folder: FolderInfo,
        state: FolderState | None,
        status: StatusData,
        caps: _Caps,
        now: float,
    ) -> _Plan | None:
        """The commands that bring ``folder`` from ``state`` to ``status``; ``None``: none."""
        engine, account = self.engine, self.account
        if status.uidvalidity is None:
            raise IMAPError(f"{account.id}: {folder.name}: the server gave no UIDVALIDITY")
        uidvalidity = status.uidvalidity
        reset = state is None or state.uidvalidity != uidvalidity
        condstore = caps.condstore and status.highestmodseq is not None
        flag_due = (
            state is not None
            and state.messages > 0
            and not condstore
            and now - state.last_flag_sync >= engine.flag_resync_interval
        )
        if (
            state is not None
            and not reset
            and status.uidnext == state.uidnext
            and status.messages == state.messages
            and (not condstore or status.highestmodseq == state.highestmodseq)
            and not flag_due
        ):
            return None
        last_uidnext = 1 if reset or state is None else state.uidnext
        stored = 0 if reset or state is None else state.messages
        upper = max(last_uidnext, status.uidnext or last_uidnext)
        known_range = f"1:{last_uidnext - 1}" if last_uidnext > 1 else None
        commands: list[Any] = [Examine(folder.wire_name, condstore=condstore and not caps.qresync)]
        fetch_new = fetch_flags = search = None
        if reset or status.uidnext is None or status.uidnext > last_uidnext:
            fetch_new = UidFetch(f"{last_uidnext}:*", _new_items(caps, condstore))
            commands.append(fetch_new)
        if not reset and stored and known_range is not None and state is not None:
            if (
                condstore
                and state.highestmodseq is not None
                and status.highestmodseq != state.highestmodseq
            ):
                fetch_flags = UidFetch(
                    known_range,
                    ("UID", "FLAGS"),
                    changedsince=state.highestmodseq,
                    vanished=caps.qresync,
                )
            elif flag_due:
                fetch_flags = UidFetch(known_range, ("UID", "FLAGS"))
            if fetch_flags is not None:
                commands.append(fetch_flags)
            # Fewer messages than stored plus the most that can be new: some were deleted.
            lists_present = fetch_flags is not None and fetch_flags.changedsince is None
            sees_vanished = fetch_flags is not None and caps.qresync
            maybe_deleted = (status.messages or 0) < stored + (upper - last_uidnext)
            if maybe_deleted and not lists_present and not sees_vanished:
                search = UidSearch("UID", known_range, return_=("ALL",) if caps.esearch else None)
                commands.append(search)
        # Leave the folder in the same write: a later STATUS of a selected folder
        # may show the session's old view of it (Dovecot does). EXAMINE is
        # read-only, so CLOSE expunges nothing.
        commands.append(Unselect() if conn.has("UNSELECT") else Close())
        return _Plan(
            commands=commands,
            fetch_new=fetch_new,
            fetch_flags=fetch_flags,
            search=search,
            reset=reset,
            last_uidnext=last_uidnext,
            condstore=condstore,
        )

    async def _finish(
        self,
        conn: IMAPConnection,
        folder: FolderInfo,
        plan: _Plan,
        status: StatusData,
        completions: Sequence[CommandCompleted],
        now: float,
    ) -> FolderUpdate:
        """The folder's update from the answers to ``plan``'s commands."""
        account = self.account
        fetch_new, fetch_flags, search = plan.fetch_new, plan.fetch_flags, plan.search
        reset, last_uidnext, condstore = plan.reset, plan.last_uidnext, plan.condstore
        uidvalidity = status.uidvalidity
        assert uidvalidity is not None
        failed = [done for done in completions if not done.ok]
        if failed:
            done = failed[0]
            raise IMAPError(
                f"{account.id}: {folder.name}: {done.command.name} failed: "
                f"{done.status.value} {done.text}"
            )
        conn.selected = None
        by_command = {id(done.command): done for done in completions}

        new: list[MessageRecord] = []
        top = last_uidnext - 1
        if fetch_new is not None:
            for item in by_command[id(fetch_new)].data:
                if (
                    isinstance(item, FetchData)
                    and item.uid is not None
                    and item.uid >= last_uidnext
                ):
                    new.append(record_from_fetch(account.id, folder.name, uidvalidity, item))
                    top = max(top, item.uid)
        flags: dict[int, tuple[tuple[str, ...], int | None]] = {}
        deleted: set[int] = set()
        known: dict[int, tuple[str, ...]] | None = None
        if fetch_flags is not None:
            for item in by_command[id(fetch_flags)].data:
                if isinstance(item, FetchData) and item.uid is not None and item.flags is not None:
                    if item.uid < last_uidnext:
                        flags[item.uid] = (_lasting(item.flags), item.modseq)
                elif isinstance(item, VanishedData):
                    deleted.update(uid for uid in item.uids if uid < last_uidnext)
            if fetch_flags.changedsince is None:  # a full listing: what is missing is gone
                known = await self.engine.store.run(
                    self.engine.store.store.flags, account.id, folder.name, uidvalidity
                )
                deleted.update(set(known) - set(flags))
        if search is not None:
            present: set[int] = set()
            for item in by_command[id(search)].data:
                if isinstance(item, SearchData):
                    present.update(item.ids)
                elif isinstance(item, ESearchData) and item.all is not None:
                    present.update(item.all)
            if known is None:
                known = await self.engine.store.run(
                    self.engine.store.store.flags, account.id, folder.name, uidvalidity
                )
            deleted.update(set(known) - present)
        return FolderUpdate(
            uidvalidity=uidvalidity,
            uidnext=max(last_uidnext, status.uidnext or 0, top + 1),
            highestmodseq=status.highestmodseq if condstore else None,
            reset=reset,
            new=tuple(new),
            flags=flags,
            deleted=tuple(sorted(deleted)),
            flag_sync=fetch_flags is not None or reset,
            now=now,
        )


def _lasting(flags: tuple[str, ...]) -> tuple[str, ...]:
    """Flags as stored: sorted, without \\Recent, which belongs to one session only."""
    return tuple(sorted(f for f in flags if f.lower() != "\\recent"))


def _new_items(caps: _Caps, condstore: bool) -> tuple[str, ...]:
    items = ["UID", "FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"]
    if condstore:
        items.append("MODSEQ")
    if caps.gmail:
        items += ["X-GM-MSGID", "X-GM-THRID", "X-GM-LABELS"]
    return tuple(items)


# ---------------------------------------------------------------- records


_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([qQbB])\?([^?\s]*)\?=")


def _text(raw: bytes | None) -> str | None:
    """A header value as text: RFC 2047 encoded words decoded, 8-bit read as UTF-8."""
    if raw is None:
        return None
    value = raw.decode("utf-8", "replace")
    out: list[str] = []
    position = 0
    for match in _ENCODED_WORD.finditer(value):
        between = value[position : match.start()]
        # Whitespace between two encoded words is not part of the text (RFC 2047 6.2).
        if not (position and not between.strip()):
            out.append(between)
        out.append(_decode_word(*match.groups()) or match.group(0))
        position = match.end()
    out.append(value[position:])
    return "".join(out)


def _decode_word(charset: str, encoding: str, text: str) -> str | None:
    charset = charset.partition("*")[0]  # RFC 2231 language suffix
    try:
        if encoding in "qQ":
            data = email.quoprimime.header_decode(text).encode("latin-1")
        else:
            data = base64.b64decode(text + "=" * (-len(text) % 4))
        return data.decode(charset, "replace")
    except (ValueError, LookupError, binascii.Error):
        return None


def _address(a: Address) -> str:
    address = a.email or ""
    name = _text(a.name)
    return f"{name} <{address}>" if name else address


def _addresses(addresses: tuple[Address, ...]) -> tuple[str, ...]:
    # Group markers (no host) carry no address.
    return tuple(_address(a) for a in addresses if a.host is not None)


def record_from_fetch(
    account: str, folder: str, uidvalidity: int, item: FetchData
) -> MessageRecord:
    envelope = item.envelope or Envelope()
    assert item.uid is not None
    senders = _addresses(envelope.from_)
    return MessageRecord(
        account=account,
        folder=folder,
        uidvalidity=uidvalidity,
        uid=item.uid,
        flags=_lasting(item.flags or ()),
        message_id=_text(envelope.message_id),
        date=_text(envelope.date),
        internaldate=None if item.internaldate is None else item.internaldate.isoformat(),
        sender=senders[0] if senders else None,
        recipients=_addresses(envelope.to) + _addresses(envelope.cc),
        subject=_text(envelope.subject),
        size=item.rfc822_size,
        modseq=item.modseq,
        gm_msgid=item.gm_msgid,
        gm_thrid=item.gm_thrid,
        gm_labels=item.gm_labels,
    )
