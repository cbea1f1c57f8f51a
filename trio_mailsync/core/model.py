"""The provider-neutral model: messages, folder state, what a sync found and asked for.

A folder's messages are numbered within a *generation* of the folder: IMAP's
UIDVALIDITY and UIDs, where a new UIDVALIDITY voids every UID; a provider
whose ids never change meaning (the Gmail API) keeps generation 0. Everything
else a provider needs to remember about a folder between syncs (IMAP's UIDNEXT
and HIGHESTMODSEQ, a history id) is its *cursor*: stored as it is given, read
back the same, never interpreted outside the provider.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

__all__ = [
    "Address",
    "Change",
    "Deletion",
    "FlagChange",
    "FolderState",
    "FolderUpdate",
    "MessageRecord",
    "SyncRequest",
    "SyncResult",
]

#: A provider's cursor: JSON-compatible values only (the store keeps it as JSON).
Cursor = Mapping[str, Any]

# RFC 5322 specials: a display name holding one must be quoted to be read back.
_SPECIALS = frozenset('()<>[]:;@\\,."')


@attrs.frozen
class Address:
    """A mailbox: a display name (decoded text) and the address (``local@domain``)."""

    name: str | None
    address: str

    def __str__(self) -> str:
        """``Name <address>`` (the name quoted when it holds a comma or other specials)."""
        if not self.name:
            return self.address
        name = self.name
        if any(c in _SPECIALS for c in name):
            name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return f"{name} <{self.address}>"


@attrs.frozen(kw_only=True)
class MessageRecord:
    """A message as the store keeps it and events report it (headers, not the body)."""

    account: str
    folder: str
    #: The folder's generation the uid belongs to: IMAP's UIDVALIDITY.
    generation: int
    #: The message's number in the folder: IMAP's UID.
    uid: int
    #: Flags as IMAP names them (``\\Seen``, ``\\Flagged``, keywords), sorted.
    flags: tuple[str, ...] = ()
    message_id: str | None = None
    #: The Date header, as written.
    date: str | None = None
    #: When the server received the message (ISO 8601).
    internaldate: str | None = None
    #: The first From address.
    sender: Address | None = None
    #: To and Cc addresses.
    recipients: tuple[Address, ...] = ()
    subject: str | None = None
    size: int | None = None
    #: The provider's change counter for the message: IMAP's MODSEQ.
    version: int | None = None
    #: The provider's id for the message whatever its folder, where it has one
    #: (Gmail's message id, IMAP's X-GM-MSGID or EMAILID).
    email_id: str | None = None
    #: The provider's conversation id, where it has one (Gmail's thread id).
    thread_id: str | None = None
    #: Labels, where the provider has them (Gmail).
    labels: tuple[str, ...] | None = None
    #: Why the message could not be read whole (the server's answer for it was
    #: unreadable): the fields are what a simpler fetch found, or only the uid.
    #: ``None``: read whole.
    degraded: str | None = None

    @property
    def key(self) -> tuple[str, str, int, int]:
        """What identifies the message: account, folder, generation, uid."""
        return (self.account, self.folder, self.generation, self.uid)


@attrs.frozen(kw_only=True)
class FolderState:
    """What the store remembers of a folder between syncs."""

    name: str
    generation: int
    #: The provider's own bookmark (IMAP: UIDNEXT, HIGHESTMODSEQ).
    cursor: Cursor
    #: Messages stored for the folder (not the server's count).
    messages: int
    #: Wall-clock time of the last sync that changed the folder's state.
    last_sync: float
    #: Wall-clock time of the last sync that listed every message (flags and presence).
    last_full_sync: float


@attrs.frozen(kw_only=True)
class FolderUpdate:
    """Everything one folder's sync learned; the store applies it in one transaction."""

    generation: int
    cursor: Cursor
    #: True for a folder seen for the first time or whose generation changed:
    #: messages of any other generation are dropped.
    reset: bool = False
    #: The new messages were in the folder before its first sync (a later batch of a
    #: windowed first sync): like a reset's, they are announced only if they arrived
    #: after the account's ``notify_from``.
    baseline: bool = False
    new: tuple[MessageRecord, ...] = ()
    #: uid -> (flags, version), for messages already stored.
    flags: Mapping[int, tuple[tuple[str, ...], int | None]] = attrs.field(factory=dict)
    #: Messages known to be gone.
    deleted: tuple[int, ...] = ()
    #: When set, every message still on the server among those stored before this
    #: update: the stored ones missing from it are gone.
    present: frozenset[int] | None = None
    #: The provider's folders are labels on one set of messages (Gmail): a new message
    #: whose ``email_id`` the account already has in another folder is stored here but
    #: not announced again (it was, when it first appeared).
    shared_messages: bool = False
    #: The sync listed every message (see ``FolderState.last_full_sync``).
    full_sync: bool = False
    #: Wall-clock time of the sync.
    now: float = 0.0


@attrs.frozen
class FlagChange:
    """A stored message whose flags changed on the server."""

    folder: str
    uid: int
    old: tuple[str, ...]
    new: tuple[str, ...]


@attrs.frozen
class Deletion:
    """A stored message that is gone from the server."""

    folder: str
    uid: int


@attrs.frozen(kw_only=True)
class SyncRequest:
    """What one sync of an account should look at."""

    #: Folder selectors for this sync; ``None``: the account's own.
    folders: tuple[str, ...] | None = None
    #: Folders known to have changed (a push notification said so): a provider may
    #: skip the check of whether they changed (IMAP sends STATUS with the fetches).
    changed: frozenset[str] = frozenset()


@attrs.frozen(kw_only=True)
class SyncResult:
    """One account's sync: what it found and what it cost."""

    account: str
    new_messages: tuple[MessageRecord, ...] = ()
    flag_changes: tuple[FlagChange, ...] = ()
    deletions: tuple[Deletion, ...] = ()
    folders_checked: int = 0
    folders_synced: int = 0
    #: Folders whose generation changed and were fetched anew.
    folders_reset: int = 0
    #: Waits for the server: pipelined commands (or requests sent together) count once.
    round_trips: int = 0
    #: Commands or requests sent during the sync, by name.
    commands: Mapping[str, int] = attrs.field(factory=dict)
    duration: float = 0.0
    error: str | None = None
    #: Folders that could not be synced (the others were): (folder, error).
    folder_errors: tuple[tuple[str, str], ...] = ()
    #: Folders with more to fetch (a large folder's first sync goes on in the next sync).
    more: tuple[str, ...] = ()

    @property
    def degraded(self) -> int:
        """New messages that could not be read whole (``MessageRecord.degraded``)."""
        return sum(1 for m in self.new_messages if m.degraded is not None)

    @property
    def ok(self) -> bool:
        """True when the account synced (some folders may still have failed)."""
        return self.error is None


@attrs.frozen(kw_only=True)
class Change:
    """A reason to sync an account, from its watcher: a notification, a reconnection, a poll."""

    account: str
    #: What happened: ``exists``, ``expunge``, ``flags``, ``vanished`` (the server
    #: said so), ``changed`` (found changed after the watcher's connection was lent to a
    #: sync), ``notify`` and ``folders`` (NOTIFY: another folder changed; folders were
    #: created, renamed or deleted), ``connected`` (catch up after a reconnection),
    #: ``poll``.
    reason: str
    #: The folders concerned; ``None``: every folder of the account.
    folders: tuple[str, ...] | None = ("INBOX",)
    #: The server said these folders changed (not merely that they might have).
    certain: bool = False
