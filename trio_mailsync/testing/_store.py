"""The in-memory mail store behind the testing server."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import UTC, datetime

import attrs
import trio

__all__ = ["Folder", "MailStore", "StoredMessage", "User"]

DEFAULT_FOLDERS: dict[str, str | None] = {
    "INBOX": None,
    "Sent": "\\Sent",
    "Drafts": "\\Drafts",
    "Trash": "\\Trash",
    "Junk": "\\Junk",
    "Archive": "\\Archive",
}
_uidvalidity = itertools.count(1000)


@attrs.define
class StoredMessage:
    """One message of a folder: its UID, bytes, flags, INTERNALDATE and MODSEQ."""

    uid: int
    body: bytes
    flags: set[str]
    internaldate: datetime
    modseq: int


@attrs.define
class Folder:
    """A mailbox: its messages in UID order, UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ."""

    name: str
    special_use: str | None = None
    uidvalidity: int = attrs.field(factory=lambda: next(_uidvalidity))
    uidnext: int = 1
    highestmodseq: int = 1
    messages: list[StoredMessage] = attrs.field(factory=list)
    #: uid -> modseq at which it was expunged (for VANISHED)
    expunged: dict[int, int] = attrs.field(factory=dict)

    def by_uid(self, uid: int) -> StoredMessage | None:
        """The message with ``uid``, if it is here."""
        for message in self.messages:
            if message.uid == uid:
                return message
        return None

    def bump(self) -> int:
        """Raise the folder's HIGHESTMODSEQ; the new value (for the change being made)."""
        self.highestmodseq += 1
        return self.highestmodseq


@attrs.define
class User:
    """A login: password, OAuth tokens accepted, folders by name."""

    name: str
    password: str
    folders: dict[str, Folder] = attrs.field(factory=dict)
    #: OAuth access tokens the server accepts for XOAUTH2.
    tokens: set[str] = attrs.field(factory=set)

    def folder(self, name: str) -> Folder:
        """The folder called ``name`` (INBOX in any case); KeyError if none."""
        if name.upper() == "INBOX":
            name = "INBOX"
        try:
            return self.folders[name]
        except KeyError:
            raise KeyError(f"{self.name} has no folder {name!r}") from None


class MailStore:
    """Users, folders and messages, shared by every session of a testing server.

    Changes made here (by tests, or by sessions) wake sessions in IDLE. Methods
    are synchronous and must be called from the Trio thread.
    """

    def __init__(self) -> None:
        self.users: dict[str, User] = {}
        self._changed: dict[str, trio.Event] = {}

    def add_user(
        self,
        name: str,
        password: str,
        folders: dict[str, str | None] | Iterable[str] | None = None,
    ) -> User:
        """Add a user with folders (name -> special-use attribute); INBOX is always there."""
        if folders is None:
            folders = DEFAULT_FOLDERS
        elif not isinstance(folders, dict):
            folders = {name: None for name in folders}
        user = User(name=name, password=password)
        user.folders["INBOX"] = Folder(name="INBOX")
        for folder_name, special_use in folders.items():
            if folder_name.upper() != "INBOX":
                user.folders[folder_name] = Folder(name=folder_name, special_use=special_use)
        self.users[name] = user
        return user

    def user(self, name: str) -> User:
        """The user called ``name``."""
        return self.users[name]

    # ------------------------------------------------------------ changes

    def deliver(
        self,
        user: str,
        body: bytes,
        *,
        folder: str = "INBOX",
        flags: Iterable[str] = (),
        when: datetime | None = None,
    ) -> int:
        """Add a message; returns its UID."""
        f = self.user(user).folder(folder)
        uid = f.uidnext
        f.uidnext += 1
        message = StoredMessage(
            uid=uid,
            body=body,
            flags=set(flags),
            internaldate=(when or datetime.now(UTC)).replace(microsecond=0),
            modseq=f.bump(),
        )
        f.messages.append(message)
        self.notify(user)
        return uid

    def create(self, user: str, folder: str) -> Folder:
        """A new, empty folder (what CREATE does)."""
        created = self.user(user).folders[folder] = Folder(name=folder)
        self.notify(user)
        return created

    def expunge(self, user: str, uids: Iterable[int], *, folder: str = "INBOX") -> None:
        """Remove these messages (what EXPUNGE does), and tell the sessions."""
        f = self.user(user).folder(folder)
        gone = set(uids)
        modseq = f.bump()
        for uid in gone:
            if f.by_uid(uid) is not None:
                f.expunged[uid] = modseq
        f.messages = [m for m in f.messages if m.uid not in gone]
        self.notify(user)

    def set_flags(
        self, user: str, uid: int, flags: Iterable[str], *, folder: str = "INBOX"
    ) -> None:
        """Replace a message's flags (another client's STORE), and tell the sessions."""
        f = self.user(user).folder(folder)
        message = f.by_uid(uid)
        if message is None:
            raise KeyError(uid)
        message.flags = set(flags)
        message.modseq = f.bump()
        self.notify(user)

    def recreate(self, user: str, folder: str) -> Folder:
        """Delete and recreate a folder: a new UIDVALIDITY, no messages."""
        u = self.user(user)
        old = u.folder(folder)
        new = Folder(name=old.name, special_use=old.special_use)
        u.folders[old.name] = new
        self.notify(user)
        return new

    def notify(self, user: str | None = None) -> None:
        """Wake the sessions IDLE-ing for ``user`` (``None``: everyone's)."""
        for name in [user] if user is not None else list(self._changed):
            event = self._changed.pop(name, None)
            if event is not None:
                event.set()

    def changed(self, user: str) -> trio.Event:
        """An event set at ``user``'s next change. Take it *before* looking at the
        store, so that a change made in between is not missed."""
        event = self._changed.get(user)
        if event is None:
            event = self._changed[user] = trio.Event()
        return event
