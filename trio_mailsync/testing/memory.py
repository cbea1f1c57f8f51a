"""An in-memory provider: the core's ports without any network, for tests of the core.

::

    mail = MemoryMail()
    account = memory_account("alice")
    mail.add_account("alice")
    provider = MemoryProvider(mail)
    async with open_sync_service(config, providers={"memory": provider}, store=store) as service:
        uid = mail.deliver("alice", subject="hello")     # the watcher hears of it at once

:class:`MemoryMail` plays the server: folders with a generation, UIDs and
flags; every change wakes the account's watcher, which reports it (push for
every folder). Faults are scripted per account: a sync that raises, a sync
that hangs, a watcher that raises. :class:`MemoryProvider` counts syncs, and
how many ran at once.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import parseaddr
from typing import ClassVar, Literal, NoReturn

import attrs
import trio

from trio_mailsync.core.config import Account
from trio_mailsync.core.events import AccountState
from trio_mailsync.core.model import Address, Change, FolderUpdate, MessageRecord, SyncRequest
from trio_mailsync.core.ports import SyncTarget, WatchTarget
from trio_mailsync.core.status import SessionStatus

__all__ = [
    "MemoryMail",
    "MemoryProvider",
    "MemorySession",
    "MemorySettings",
    "MemoryStatistics",
    "memory_account",
]

#: The folders every account has, and the roles they play.
FOLDER_ROLES = {"INBOX": "inbox", "Sent": "sent", "Drafts": "drafts", "Archive": "archive"}


@attrs.frozen
class MemorySettings:
    """An in-memory account has nothing to configure."""

    provider: ClassVar[str] = "memory"


def memory_account(
    account_id: str,
    *,
    folders: Sequence[str] = ("INBOX",),
    notify_from: datetime | Literal["all"] | None = None,
) -> Account:
    """An account of the in-memory provider (INBOX only, unless ``folders`` says)."""
    return Account(
        id=account_id, folders=tuple(folders), settings=MemorySettings(), notify_from=notify_from
    )


def _address(text: str) -> Address | None:
    name, address = parseaddr(text)
    return Address(name or None, address) if address else None


@attrs.define
class _Message:
    uid: int
    subject: str
    sender: str
    flags: tuple[str, ...]
    #: When it was delivered (ISO 8601), like IMAP's INTERNALDATE.
    internaldate: str = attrs.field(factory=lambda: datetime.now(UTC).isoformat())


@attrs.define
class _Folder:
    generation: int
    uidnext: int = 1
    #: Goes up with every change, like IMAP's HIGHESTMODSEQ.
    version: int = 0
    messages: dict[int, _Message] = attrs.field(factory=dict)


@attrs.define
class _Mailbox:
    folders: dict[str, _Folder]
    #: Folders changed since the watcher last looked.
    changed: list[str] = attrs.field(factory=list)
    wake: trio.Event = attrs.field(factory=trio.Event)
    #: Scripted faults: the next syncs raise this, or hang; the watcher raises this.
    sync_error: BaseException | None = None
    sync_hangs: bool = False
    watch_error: BaseException | None = None


class MemoryMail:
    """The in-memory provider's "server": accounts, folders, messages, and faults."""

    def __init__(self) -> None:
        self._boxes: dict[str, _Mailbox] = {}
        self._generations = itertools.count(1000)

    def add_account(self, account_id: str) -> None:
        """An account with the folders of :data:`FOLDER_ROLES`, empty."""
        folders = {name: _Folder(next(self._generations)) for name in FOLDER_ROLES}
        self._boxes[account_id] = _Mailbox(folders)

    def box(self, account_id: str) -> _Mailbox:
        """The account's mailbox (``KeyError`` for an unknown account)."""
        return self._boxes[account_id]

    def _changed(self, account_id: str, folder: str) -> None:
        box = self._boxes[account_id]
        box.folders[folder].version += 1
        if folder not in box.changed:
            box.changed.append(folder)
        box.wake.set()

    def deliver(
        self,
        account_id: str,
        *,
        folder: str = "INBOX",
        subject: str = "hello",
        sender: str = "sender@example.com",
        flags: Sequence[str] = (),
    ) -> int:
        """A new message; returns its uid."""
        target = self._boxes[account_id].folders[folder]
        uid = target.uidnext
        target.uidnext += 1
        target.messages[uid] = _Message(uid, subject, sender, tuple(sorted(flags)))
        self._changed(account_id, folder)
        return uid

    def expunge(self, account_id: str, uid: int, *, folder: str = "INBOX") -> None:
        """Remove a message."""
        del self._boxes[account_id].folders[folder].messages[uid]
        self._changed(account_id, folder)

    def set_flags(
        self, account_id: str, uid: int, flags: Sequence[str], *, folder: str = "INBOX"
    ) -> None:
        """Replace a message's flags."""
        self._boxes[account_id].folders[folder].messages[uid].flags = tuple(sorted(flags))
        self._changed(account_id, folder)

    def recreate(self, account_id: str, folder: str) -> None:
        """Delete and recreate a folder: a new generation, empty."""
        self._boxes[account_id].folders[folder] = _Folder(next(self._generations))
        self._changed(account_id, folder)

    def uids(self, account_id: str, folder: str = "INBOX") -> list[int]:
        """The uids in a folder now."""
        return sorted(self._boxes[account_id].folders[folder].messages)

    def fail_syncs(self, account_id: str, error: BaseException | None) -> None:
        """Make the account's syncs raise ``error`` (``None``: behave again)."""
        self._boxes[account_id].sync_error = error

    def hang_syncs(self, account_id: str, hang: bool = True) -> None:
        """Make the account's syncs hang until cancelled (or stop)."""
        self._boxes[account_id].sync_hangs = hang

    def fail_watch(self, account_id: str, error: BaseException | None) -> None:
        """Make the account's watcher raise ``error`` now and whenever it restarts."""
        box = self._boxes[account_id]
        box.watch_error = error
        box.wake.set()


@attrs.define
class MemoryStatistics:
    """Syncs started, and the most that ran at once."""

    syncs: int = 0
    running: int = 0
    max_running: int = 0


class MemorySession:
    """One in-memory account: syncs compare versions, the watcher hears every change."""

    def __init__(self, provider: MemoryProvider, account: Account) -> None:
        self._provider = provider
        self._account = account
        self._mail = provider.mail

    @property
    def account(self) -> Account:
        """The account this session serves."""
        return self._account

    def _chosen(self, request: SyncRequest) -> list[str]:
        selectors = request.folders if request.folders is not None else self._account.folders
        chosen: list[str] = []
        for selector in selectors:
            if selector == "*":
                names = list(FOLDER_ROLES)
            elif selector.startswith("role:"):
                names = [n for n, r in FOLDER_ROLES.items() if r == selector[5:]]
            else:
                names = [selector] if selector in FOLDER_ROLES else []
            chosen += [n for n in names if n not in chosen]
        return chosen

    async def sync(self, request: SyncRequest, target: SyncTarget) -> None:
        """Bring the chosen folders up to date (a full listing whenever one changed)."""
        stats = self._provider.stats
        stats.syncs += 1
        stats.running += 1
        stats.max_running = max(stats.max_running, stats.running)
        try:
            box = self._mail.box(self._account.id)
            if box.sync_hangs:
                await trio.sleep_forever()
            if box.sync_error is not None:
                raise box.sync_error
            await trio.sleep(self._provider.sync_duration)
            states = await target.folder_states()
            for name in self._chosen(request):
                target.folder_checked(name)
                folder = box.folders[name]
                state = states.get(name)
                reset = state is None or state.generation != folder.generation
                if not reset and state is not None and state.cursor["version"] == folder.version:
                    continue
                first_new = 1 if reset or state is None else int(state.cursor["uidnext"])
                new = tuple(
                    MessageRecord(
                        account=self._account.id,
                        folder=name,
                        generation=folder.generation,
                        uid=m.uid,
                        flags=m.flags,
                        subject=m.subject,
                        sender=_address(m.sender),
                        internaldate=m.internaldate,
                    )
                    for uid, m in sorted(folder.messages.items())
                    if uid >= first_new
                )
                old = {uid: m for uid, m in folder.messages.items() if uid < first_new}
                await target.apply(
                    name,
                    FolderUpdate(
                        generation=folder.generation,
                        cursor={"uidnext": folder.uidnext, "version": folder.version},
                        reset=reset,
                        new=new,
                        flags={uid: (m.flags, None) for uid, m in old.items()},
                        present=frozenset(old),
                        full_sync=True,
                        now=time.time(),
                    ),
                )
            target.add_cost(1, {"SYNC": 1})
        finally:
            stats.running -= 1

    async def watch(self, target: WatchTarget) -> NoReturn:
        """Report every change at once (every folder is pushed) until cancelled."""
        account = self._account.id
        box = self._mail.box(account)
        if box.watch_error is not None:
            raise box.watch_error
        target.state(AccountState.IDLE, None)
        await target.changed(Change(account=account, reason="connected", folders=None))
        while True:
            await box.wake.wait()
            box.wake = trio.Event()
            if box.watch_error is not None:
                raise box.watch_error
            changed, box.changed = box.changed, []
            for folder in changed:
                change = Change(account=account, reason="exists", folders=(folder,), certain=True)
                await target.changed(change)

    def status(self) -> SessionStatus:
        """No connection is held (there is none); every folder is synced."""
        return SessionStatus(folders=len(FOLDER_ROLES))


class MemoryProvider:
    """The in-memory provider (``name = "memory"``) over a :class:`MemoryMail`."""

    name = "memory"

    def __init__(self, mail: MemoryMail, *, sync_duration: float = 0.0) -> None:
        self.mail = mail
        #: How long each sync takes (on Trio's clock: MockClock makes it free).
        self.sync_duration = sync_duration
        self.stats = MemoryStatistics()
        self._sessions: dict[str, MemorySession] = {}

    def session(self, account: Account) -> MemorySession:
        """The account's session (the same object each time)."""
        session = self._sessions.get(account.id)
        if session is None:
            self.mail.box(account.id)  # KeyError for an account the mail does not have
            session = self._sessions[account.id] = MemorySession(self, account)
        return session

    async def release(self, account_id: str) -> None:
        """Forget the account's session (its mailbox stays, as a server's would)."""
        self._sessions.pop(account_id, None)
        await trio.lowlevel.checkpoint()
