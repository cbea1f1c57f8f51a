"""The IMAP sync planner: the commands that bring one folder from its stored state to the server's.

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

A folder's first sync (or a reset) of more than ``BACKFILL_BATCH`` messages is
windowed, newest first: ``UID SEARCH`` lists its UIDs, and they are fetched
``BACKFILL_BATCH`` at a time from the top, each batch stored (committed) before
the next, so memory holds one batch. A sync fetches at most
``BACKFILL_BATCHES_PER_SYNC`` batches, then tells its target the folder has
more (``SyncTarget.more``) and ends, so new mail is never stuck behind a
100,000-message backfill: the service asks for another sync at once, and new
mail (above the stored UIDNEXT) is fetched first in each. Where the backfill is
is the cursor's ``backfill``: the UID below which nothing was fetched yet.

The store keeps, per folder, UIDVALIDITY as the generation and
:class:`ImapCursor` (UIDNEXT, HIGHESTMODSEQ) as the cursor.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import attrs

from trio_mailsync.core.errors import ProviderError
from trio_mailsync.core.model import Cursor, FolderState, FolderUpdate, MessageRecord
from trio_mailsync.core.ports import SyncTarget
from trio_mailsync.protocol import (
    Close,
    Command,
    CommandCompleted,
    Examine,
    FetchData,
    RemoteProtocolError,
    SequenceSet,
    Status,
    StatusData,
    UidFetch,
    UidSearch,
    Unselect,
)
from trio_mailsync.providers.imap.connection import (
    IMAPConnection,
    decode_fetch,
    decode_search,
    decode_select,
    decode_status,
)
from trio_mailsync.providers.imap.folders import FolderInfo
from trio_mailsync.providers.imap.records import (
    FALLBACK_HEADERS,
    lasting_flags,
    record_from_fetch,
    record_from_headers,
)

__all__ = ["STATUS_ITEMS", "Capabilities", "FolderJob", "ImapCursor"]

logger = logging.getLogger(__name__)

#: What STATUS is asked for every folder (plus HIGHESTMODSEQ with CONDSTORE).
STATUS_ITEMS = ("MESSAGES", "UIDNEXT", "UIDVALIDITY")
#: A folder recreated under us is planned again from what EXAMINE said, at most this often.
MAX_REPLANS = 3
#: Messages fetched per round trip of a windowed first sync (newest first).
BACKFILL_BATCH = 500
#: Batches of a windowed first sync per sync; then the sync ends and asks for another.
BACKFILL_BATCHES_PER_SYNC = 4


class _Recreated(Exception):
    """EXAMINE found another UIDVALIDITY than STATUS: the folder was recreated meanwhile."""

    def __init__(self, status: StatusData) -> None:
        super().__init__(status)
        self.status = status


@attrs.frozen
class ImapCursor:
    """What IMAP keeps per folder beside UIDVALIDITY (the generation)."""

    uidnext: int
    highestmodseq: int | None
    #: A windowed first sync not yet done: the messages below this UID are not fetched yet.
    backfill: int | None = None

    @classmethod
    def of(cls, state: FolderState) -> ImapCursor:
        """The cursor stored with ``state``."""
        return cls(
            int(state.cursor["uidnext"]),
            state.cursor.get("highestmodseq"),
            state.cursor.get("backfill"),
        )

    def to_json(self) -> Cursor:
        """As the store keeps it."""
        cursor: dict[str, int | None] = {
            "uidnext": self.uidnext,
            "highestmodseq": self.highestmodseq,
        }
        if self.backfill is not None:
            cursor["backfill"] = self.backfill
        return cursor


@attrs.frozen
class Capabilities:
    """What of the server's extensions a sync uses, decided once per connection."""

    condstore: bool
    qresync: bool
    esearch: bool
    gmail: bool
    unselect: bool

    @classmethod
    def of(cls, conn: IMAPConnection) -> Capabilities:
        """The capabilities of ``conn`` (QRESYNC counts once ENABLEd)."""
        return cls(
            condstore=conn.has("CONDSTORE") or conn.has("QRESYNC"),
            qresync="QRESYNC" in conn.client.enabled,
            esearch=conn.has("ESEARCH"),
            gmail=conn.has("X-GM-EXT-1"),
            unselect=conn.has("UNSELECT"),
        )

    def status_items(self) -> tuple[str, ...]:
        """STATUS items for every folder."""
        return STATUS_ITEMS + (("HIGHESTMODSEQ",) if self.condstore else ())

    def new_message_items(self, condstore: bool) -> tuple[str, ...]:
        """FETCH items for a new message: what its record needs."""
        items = ["UID", "FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"]
        if condstore:
            items.append("MODSEQ")
        if self.gmail:
            items += ["X-GM-MSGID", "X-GM-THRID", "X-GM-LABELS"]
        return tuple(items)


@attrs.define
class _Plan:
    """The commands that sync one folder, and which of them answer what."""

    commands: list[Command]
    fetch_new: UidFetch | None
    fetch_flags: UidFetch | None
    search: UidSearch | None
    reset: bool
    #: The stored UIDNEXT (1 after a reset): UIDs from here on are new.
    last_uidnext: int
    condstore: bool
    #: Lists the UIDs still to backfill (below ``backfill_below``), newest fetched first.
    backfill_search: UidSearch | None = None
    backfill_below: int | None = None
    #: New messages whose FETCH answer could not be read: uid -> why (set by ``_finish``).
    unreadable: dict[int, str] = attrs.field(factory=dict)

    def signature(self) -> list[str]:
        """What the plan asks of the server: two plans with one signature get the same
        answers."""
        return [repr(c) for c in self.commands]


@attrs.define(kw_only=True)
class FolderJob:
    """One folder's sync over one connection: what the plans of this folder depend on."""

    account_id: str
    conn: IMAPConnection
    folder: FolderInfo
    #: As stored after the last sync; ``None`` for a folder never synced.
    state: FolderState | None
    caps: Capabilities
    #: Wall-clock time of this sync.
    now: float
    flag_resync_interval: float
    #: The folder's STATUS the synced state reflects, once the sync has read one.
    seen: StatusData | None = attrs.field(default=None, init=False)

    async def sync(self, status: StatusData, target: SyncTarget) -> None:
        """Sync the folder whose STATUS is ``status``: one round trip, or none if unchanged.

        Its update goes to ``target``; then, for a windowed first sync, up to
        ``BACKFILL_BATCHES_PER_SYNC`` batches of older messages, one round trip each.
        """
        for _ in range(MAX_REPLANS + 1):
            self.seen = status
            plan = self._plan(status, backfill=True)
            emptied = plan is not None and status.messages == 0 and status.uidnext is not None
            if logger.isEnabledFor(logging.DEBUG):
                told = "empty, as STATUS says; nothing to fetch" if emptied else self._told(plan)
                logger.debug("%s: %s: %s", self.account_id, self.folder.name, told)
            if plan is None:
                return
            if emptied:
                # STATUS says, in one atomic answer, that the folder is empty: nothing to
                # fetch or list. Most folders of a new account are (Drafts, Junk...).
                await target.apply(self.folder.name, self._emptied(plan, status))
                return
            completions = await self.conn.run_many(plan.commands)
            try:
                update, backfill = self._finish(plan, status, completions)
            except _Recreated as recreated:
                status = recreated.status  # plan again from the folder EXAMINE saw
                continue
            if plan.unreadable:
                update = await self._recover(update, plan.unreadable)
            await target.apply(self.folder.name, update)
            if plan.backfill_below is not None:
                await self._backfill(update, plan.backfill_below, backfill, target)
            return
        raise ProviderError(
            f"{self.account_id}: {self.folder.name}: recreated again and again during the sync"
        )

    def _told(self, plan: _Plan | None) -> str:
        """What the planner decided, for a DEBUG line: why the folder is synced, and how."""
        if plan is None:
            return "unchanged since the last sync; nothing to fetch"
        if self.state is None:
            why = "first sync"
        elif plan.reset:
            why = "UIDVALIDITY changed; synced anew"
        else:
            why = "changed"
        what = [type(c).__name__ for c in plan.commands]
        if plan.fetch_flags is not None and plan.fetch_flags.changedsince is not None:
            what.append(f"flags changed since MODSEQ {plan.fetch_flags.changedsince}")
        if plan.backfill_below is not None:
            what.append(f"older mail below UID {plan.backfill_below} in batches")
        return f"{why}: {', '.join(what)}"

    def _emptied(self, plan: _Plan, status: StatusData) -> FolderUpdate:
        """The update of a folder that ``status`` shows empty: whatever was stored is gone."""
        assert status.uidvalidity is not None
        assert status.uidnext is not None
        return FolderUpdate(
            generation=status.uidvalidity,
            cursor=ImapCursor(
                uidnext=max(plan.last_uidnext, status.uidnext),
                highestmodseq=status.highestmodseq if plan.condstore else None,
                backfill=None,
            ).to_json(),
            reset=plan.reset,
            present=frozenset(),
            full_sync=True,
            now=self.now,
        )

    def _records(
        self, items: list[FetchData], uidvalidity: int
    ) -> tuple[list[MessageRecord], dict[int, str]]:
        """Records of the fetched ``items``, and the uids of those that could not be read.

        The parser reads an ENVELOPE when it is first looked at: one that cannot be read
        raises here, and its message takes the same way as a response the parser could
        not read at all (a simpler fetch, see ``_recover``).
        """
        records: list[MessageRecord] = []
        unreadable: dict[int, str] = {}
        for item in items:
            assert item.uid is not None
            try:
                record = record_from_fetch(self.account_id, self.folder.name, uidvalidity, item)
            except RemoteProtocolError as exc:
                unreadable[item.uid] = str(exc)
            else:
                records.append(record)
        return records, unreadable

    def _unreadable(self, done: CommandCompleted, above: int) -> dict[int, str]:
        """The new messages (uid >= ``above``) whose FETCH answers could not be read."""
        found: dict[int, str] = {}
        for unparsed in done.unparsed:
            if unparsed.kind != "FETCH":
                continue
            if unparsed.uid is None:
                # Not even a UID to tie it to a message: it cannot be stored.
                logger.warning(
                    "%s: %s: an unreadable FETCH answer without a UID (message %s): %s",
                    self.account_id,
                    self.folder.name,
                    unparsed.number,
                    unparsed.reason,
                )
            elif unparsed.uid >= above:
                found[unparsed.uid] = unparsed.reason
        return found

    async def _recover(self, update: FolderUpdate, unreadable: dict[int, str]) -> FolderUpdate:
        """``update`` with the unreadable new messages added, from a simpler fetch.

        UID, FLAGS, INTERNALDATE, RFC822.SIZE and the headers the record needs as text,
        read with the ``email`` parser; a message whose second answer cannot be read
        either is stored with its uid alone. Each is marked ``degraded`` with the reason.
        """
        uids = sorted(unreadable)
        headers = " ".join(FALLBACK_HEADERS)
        fetch = UidFetch(
            SequenceSet.from_ids(uids),
            (
                "UID",
                "FLAGS",
                "INTERNALDATE",
                "RFC822.SIZE",
                f"BODY.PEEK[HEADER.FIELDS ({headers})]",
            ),
        )
        leave = Unselect() if self.caps.unselect else Close()
        done = await self.conn.run_many([Examine(self.folder.wire_name), fetch, leave])
        self.conn.selected = None
        by_uid = {}
        if done[0].ok and done[1].ok:
            by_uid = {item.uid: item for item in decode_fetch(done[1])[0] if item.uid in unreadable}
        records = []
        for uid in uids:
            reason = f"the server's answer could not be read ({unreadable[uid]})"
            item = by_uid.get(uid)
            if item is not None:
                records.append(
                    record_from_headers(
                        self.account_id,
                        self.folder.name,
                        update.generation,
                        item,
                        f"{reason}; headers from a simpler fetch",
                    )
                )
            else:
                records.append(
                    MessageRecord(
                        account=self.account_id,
                        folder=self.folder.name,
                        generation=update.generation,
                        uid=uid,
                        degraded=f"{reason}; nothing more could be read",
                    )
                )
            logger.warning(
                "%s: %s: UID %d stored degraded: %s",
                self.account_id,
                self.folder.name,
                uid,
                records[-1].degraded,
            )
        new = sorted([*update.new, *records], key=lambda r: r.uid)
        return attrs.evolve(update, new=tuple(new))

    async def _backfill(
        self, update: FolderUpdate, below: int, uids: list[int], target: SyncTarget
    ) -> None:
        """Fetch the newest of ``uids`` (all below ``below``) in batches; each one stored."""
        uids = sorted((u for u in uids if u < below), reverse=True)
        cursor = ImapCursor(
            int(update.cursor["uidnext"]), update.cursor.get("highestmodseq"), below
        )
        for _ in range(BACKFILL_BATCHES_PER_SYNC):
            if not uids:
                break
            batch, uids = uids[:BACKFILL_BATCH], uids[BACKFILL_BATCH:]
            examine = Examine(self.folder.wire_name)
            fetch = UidFetch(
                SequenceSet.from_ids(batch),
                self.caps.new_message_items(cursor.highestmodseq is not None),
            )
            leave = Unselect() if self.caps.unselect else Close()
            done = await self.conn.run_many([examine, fetch, leave])
            self.conn.selected = None
            self._raise_if_failed(done)
            examined = decode_select(self.folder.wire_name, done[0], True)
            if examined.uidvalidity not in (None, update.generation):
                return  # recreated meanwhile: the next sync resets it
            fetched, _ = decode_fetch(done[1])
            wanted = set(batch)
            records, odd = self._records(
                [item for item in fetched if item.uid in wanted], update.generation
            )
            # Below the batch's lowest UID nothing is fetched yet; none left: done.
            cursor = attrs.evolve(cursor, backfill=min(batch) if uids else None)
            batch_update = FolderUpdate(
                generation=update.generation,
                cursor=cursor.to_json(),
                baseline=True,
                new=tuple(sorted(records, key=lambda r: r.uid)),
                now=self.now,
            )
            unreadable = {u: r for u, r in self._unreadable(done[1], 1).items() if u in wanted}
            unreadable |= odd
            if unreadable:
                batch_update = await self._recover(batch_update, unreadable)
            await target.apply(self.folder.name, batch_update)
        if uids:
            target.more(self.folder.name)

    async def sync_changed(self, target: SyncTarget) -> None:
        """Sync a folder known to have changed (an IDLE notification) in one round trip.

        STATUS goes in the same write as the commands planned for the likeliest
        change (new mail: UIDNEXT and HIGHESTMODSEQ moved, nothing deleted). When
        the real STATUS plans the same commands, their answers are used; when it
        does not (a deletion, a new UIDVALIDITY), the real plan runs after them.
        """
        state = self.state
        assert state is not None  # a folder never synced has nothing to guess from
        cursor = ImapCursor.of(state)
        guess = StatusData(
            mailbox=self.folder.name,
            raw_mailbox=b"",
            uidvalidity=state.generation,
            uidnext=cursor.uidnext + 1,
            messages=state.messages + 1,
            highestmodseq=None if cursor.highestmodseq is None else cursor.highestmodseq + 1,
        )
        # New mail first, in one round trip: a backfill goes on in the next sync.
        plan = self._plan(guess, backfill=False)
        assert plan is not None  # the guess always differs from the state
        leave = self.conn.unselect_command()
        first = [leave] if leave is not None else []
        sent = [*first, Status(self.folder.wire_name, self.caps.status_items()), *plan.commands]
        completions = await self.conn.run_many(sent)
        if leave is not None:
            completions = completions[1:]
        status = decode_status(completions[0])
        if status is None:
            done = completions[0]
            raise ProviderError(
                f"{self.account_id}: {self.folder.name}: STATUS failed: "
                f"{done.status.value} {done.text or 'no data'}"
            )
        examined = (
            decode_select(self.folder.wire_name, completions[1], True)
            if completions[1].ok
            else None
        )
        if (
            examined is not None
            and examined.uidvalidity == status.uidvalidity
            and (
                (examined.uidnext or 0) > (status.uidnext or 0)
                or examined.exists != status.messages
            )
        ):
            # STATUS can lag behind the mailbox (Dovecot, right after an IDLE notification,
            # now and then); the EXAMINE sent after it cannot: plan from what EXAMINE saw.
            status = attrs.evolve(
                status,
                uidnext=max(examined.uidnext or 0, status.uidnext or 0) or None,
                messages=examined.exists,
                highestmodseq=max(examined.highestmodseq or 0, status.highestmodseq or 0) or None,
            )
        self.seen = status
        if cursor.backfill is not None:
            target.more(self.folder.name)
        real = self._plan(status, backfill=False)
        if real is None:
            return
        try:
            if real.signature() == plan.signature():
                update, _ = self._finish(plan, status, completions[1:])
            else:
                completions = await self.conn.run_many(real.commands)
                update, _ = self._finish(real, status, completions)
        except _Recreated as recreated:
            await self.sync(recreated.status, target)
            return
        used = plan if real.signature() == plan.signature() else real
        if used.unreadable:
            update = await self._recover(update, used.unreadable)
        await target.apply(self.folder.name, update)

    def _plan(self, status: StatusData, *, backfill: bool) -> _Plan | None:
        """The commands that bring the folder from its state to ``status``; ``None``: none.

        ``backfill``: also list the UIDs a windowed first sync has still to fetch.
        """
        state, caps, folder = self.state, self.caps, self.folder
        if status.uidvalidity is None:
            raise ProviderError(f"{self.account_id}: {folder.name}: the server gave no UIDVALIDITY")
        cursor = None if state is None else ImapCursor.of(state)
        reset = state is None or state.generation != status.uidvalidity
        condstore = caps.condstore and status.highestmodseq is not None
        # Without CONDSTORE nothing says flags changed: they are all fetched now and then.
        flag_due = (
            state is not None
            and state.messages > 0
            and not condstore
            and self.now - state.last_full_sync >= self.flag_resync_interval
        )
        if (
            state is not None
            and cursor is not None
            and not reset
            and status.uidnext == cursor.uidnext
            and status.messages == state.messages
            and (not condstore or status.highestmodseq == cursor.highestmodseq)
            and not flag_due
        ):
            return None
        last_uidnext = 1 if reset or cursor is None else cursor.uidnext
        stored = 0 if reset or state is None else state.messages
        upper = max(last_uidnext, status.uidnext or last_uidnext)
        known_range = f"1:{last_uidnext - 1}" if last_uidnext > 1 else None
        # With QRESYNC enabled, EXAMINE needs no CONDSTORE parameter (RFC 7162 3.2.3).
        commands: list[Command] = [
            Examine(folder.wire_name, condstore=condstore and not caps.qresync)
        ]
        fetch_new = fetch_flags = search = backfill_search = None
        backfill_below = None
        esearch_all = ("ALL",) if caps.esearch else None
        if reset and (status.messages or 0) > BACKFILL_BATCH:
            # A large folder's first sync: list it, then fetch it newest first in batches.
            backfill_search = UidSearch("ALL", return_=esearch_all)
            commands.append(backfill_search)
            backfill_below = upper
        else:
            # UIDNEXT moved (or is unknown): new mail. UIDs are never reused, so the
            # stored UIDNEXT is where the new ones start.
            if reset or status.uidnext is None or status.uidnext > last_uidnext:
                fetch_new = UidFetch(f"{last_uidnext}:*", caps.new_message_items(condstore))
                commands.append(fetch_new)
            if not reset and cursor is not None and cursor.backfill is not None:
                # Kept as it is unless listed now (a sync that fetches new mail only).
                backfill_below = cursor.backfill
                if backfill and backfill_below > 1:
                    backfill_search = UidSearch(
                        "UID", f"1:{backfill_below - 1}", return_=esearch_all
                    )
                    commands.append(backfill_search)
        if not reset and stored and known_range is not None and cursor is not None:
            if (
                condstore
                and cursor.highestmodseq is not None
                and status.highestmodseq != cursor.highestmodseq
            ):
                # Only what changed since the stored HIGHESTMODSEQ (and, with QRESYNC,
                # what vanished: deletions come with it).
                fetch_flags = UidFetch(
                    known_range,
                    ("UID", "FLAGS"),
                    changedsince=cursor.highestmodseq,
                    vanished=caps.qresync,
                )
            elif flag_due:
                fetch_flags = UidFetch(known_range, ("UID", "FLAGS"))
            if fetch_flags is not None:
                commands.append(fetch_flags)
            # Fewer messages than stored plus the most that can be new: some were deleted.
            # A full flag listing or VANISHED tells which already; else a UID SEARCH.
            lists_present = fetch_flags is not None and fetch_flags.changedsince is None
            sees_vanished = fetch_flags is not None and caps.qresync
            maybe_deleted = (status.messages or 0) < stored + (upper - last_uidnext)
            if maybe_deleted and not lists_present and not sees_vanished:
                search = UidSearch("UID", known_range, return_=("ALL",) if caps.esearch else None)
                commands.append(search)
        # Leave the folder in the same write: a later STATUS of a selected folder
        # may show the session's old view of it (Dovecot does). EXAMINE is
        # read-only, so CLOSE expunges nothing.
        commands.append(Unselect() if caps.unselect else Close())
        return _Plan(
            commands=commands,
            fetch_new=fetch_new,
            fetch_flags=fetch_flags,
            search=search,
            reset=reset,
            last_uidnext=last_uidnext,
            condstore=condstore,
            backfill_search=backfill_search,
            backfill_below=backfill_below,
        )

    def _raise_if_failed(self, completions: Sequence[CommandCompleted]) -> None:
        """Raise ProviderError for the first command the server refused (NO or BAD)."""
        for done in completions:
            if not done.ok:
                raise ProviderError(
                    f"{self.account_id}: {self.folder.name}: {done.command.name} failed: "
                    f"{done.status.value} {done.text}"
                )

    def _finish(
        self, plan: _Plan, status: StatusData, completions: Sequence[CommandCompleted]
    ) -> tuple[FolderUpdate, list[int]]:
        """The folder's update from the answers to ``plan``'s commands, and UIDs to backfill."""
        folder = self.folder
        uidvalidity = status.uidvalidity
        assert uidvalidity is not None
        self._raise_if_failed(completions)
        self.conn.selected = None
        by_command = {id(done.command): done for done in completions}
        # What the selected mailbox says about itself wins over STATUS: a folder deleted
        # and recreated between the two has another UIDVALIDITY, and the answers to the
        # fetches describe that other folder (issue 17, finding 3).
        examined = decode_select(folder.wire_name, by_command[id(plan.commands[0])], True)
        if examined.uidvalidity is not None and examined.uidvalidity != uidvalidity:
            raise _Recreated(
                StatusData(
                    mailbox=folder.name,
                    raw_mailbox=b"",
                    uidvalidity=examined.uidvalidity,
                    uidnext=examined.uidnext,
                    messages=examined.exists,
                    highestmodseq=examined.highestmodseq,
                )
            )
        last_uidnext = plan.last_uidnext

        new: list[MessageRecord] = []
        top = last_uidnext - 1
        if plan.fetch_new is not None:
            done_new = by_command[id(plan.fetch_new)]
            fetched, _ = decode_fetch(done_new)
            # n:* returns the last message even when nothing is new: below n is old.
            records, odd = self._records(
                [item for item in fetched if item.uid is not None and item.uid >= last_uidnext],
                uidvalidity,
            )
            new.extend(records)
            top = max([top, *(r.uid for r in records)])
            plan.unreadable = self._unreadable(done_new, last_uidnext) | odd
            top = max([top, *plan.unreadable])
        flags: dict[int, tuple[tuple[str, ...], int | None]] = {}
        deleted: set[int] = set()
        present: frozenset[int] | None = None
        if plan.fetch_flags is not None:
            fetched, gone = decode_fetch(by_command[id(plan.fetch_flags)])
            for item in fetched:
                if item.uid is not None and item.flags is not None and item.uid < last_uidnext:
                    flags[item.uid] = (lasting_flags(item.flags), item.modseq)
            deleted.update(uid for uid in gone if uid < last_uidnext)
            if plan.fetch_flags.changedsince is None:  # a full listing: what is missing is gone
                present = frozenset(flags)
        if plan.search is not None:
            present = frozenset(decode_search(by_command[id(plan.search)]))
        backfill: list[int] = []
        backfill_below = plan.backfill_below
        if plan.backfill_search is not None:
            backfill = decode_search(by_command[id(plan.backfill_search)])
            if plan.reset:
                # The listing is the folder: all of it is below its highest UID + 1.
                top = max([top, *backfill])
                backfill_below = top + 1
            if not any(u < (backfill_below or 0) for u in backfill):
                backfill_below = None  # nothing (left) below: the backfill is done
        uidnext = max(last_uidnext, status.uidnext or 0, top + 1)
        update = FolderUpdate(
            generation=uidvalidity,
            cursor=ImapCursor(
                uidnext=uidnext,
                # STATUS's HIGHESTMODSEQ is a lower bound of what was fetched: a change
                # made meanwhile is seen next time.
                highestmodseq=status.highestmodseq if plan.condstore else None,
                backfill=backfill_below,
            ).to_json(),
            reset=plan.reset,
            new=tuple(new),
            flags=flags,
            deleted=tuple(sorted(deleted)),
            present=present,
            full_sync=plan.fetch_flags is not None or plan.reset,
            now=self.now,
        )
        plan.backfill_below = backfill_below
        return update, backfill
