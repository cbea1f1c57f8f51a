"""Folder discovery: LIST once, find each folder's role, serve from memory after.

Roles (inbox, sent, drafts, trash, junk, archive, all, flagged) come from
RFC 6154 SPECIAL-USE attributes first, then from providers' well-known names
(Gmail's ``[Gmail]/Sent Mail``...), then from common names in several
languages. The list is kept until the account's connection broke and was
replaced (the pool's generation changed) or a refresh is asked for.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence

import attrs

from trio_mailsync.core.config import ROLES
from trio_mailsync.protocol import ListData, encode_mutf7
from trio_mailsync.providers.imap.connection import IMAPConnection
from trio_mailsync.providers.imap.pool import ConnectionPool

__all__ = ["FolderCache", "FolderCacheStatistics", "FolderInfo", "FolderList", "folder_list"]

# RFC 6154's attributes are the roles' names: \Sent, \Drafts, \Trash, \Junk, \Archive...
_SPECIAL_USE_ROLES = {f"\\{role}": role for role in ROLES if role != "inbox"}

# Provider names, matched whole and case-insensitively.
_PROVIDER_NAMES = {
    "sent": ["[Gmail]/Sent Mail", "[Google Mail]/Sent Mail", "[Gmail]/Gesendet"],
    "drafts": ["[Gmail]/Drafts", "[Google Mail]/Drafts", "[Gmail]/Entwürfe"],
    "trash": [
        "[Gmail]/Trash",
        "[Gmail]/Bin",
        "[Google Mail]/Trash",
        "[Google Mail]/Bin",
        "[Gmail]/Papierkorb",
    ],
    "junk": ["[Gmail]/Spam", "[Google Mail]/Spam"],
    "all": ["[Gmail]/All Mail", "[Google Mail]/All Mail", "[Gmail]/Alle Nachrichten"],
    "flagged": ["[Gmail]/Starred", "[Google Mail]/Starred", "[Gmail]/Markiert"],
}

# Common names of the last path segment, in several languages (and Exchange's).
_COMMON_NAMES = {
    "sent": [
        "Sent",
        "Sent Items",
        "Sent Messages",
        "Sent Mail",
        "Gesendet",
        "Gesendete Objekte",
        "Gesendete Elemente",
        "Envoyés",
        "Éléments envoyés",
        "Enviados",
        "Elementos enviados",
        "Inviati",
        "Posta inviata",
        "Verzonden",
        "Verzonden items",
        "Skickat",
        "Wysłane",
        "Отправленные",
    ],
    "drafts": [
        "Drafts",
        "Draft",
        "Entwürfe",
        "Brouillons",
        "Borradores",
        "Bozze",
        "Concepten",
        "Utkast",
        "Kopie robocze",
        "Черновики",
    ],
    "trash": [
        "Trash",
        "Deleted",
        "Deleted Items",
        "Deleted Messages",
        "Bin",
        "Papierkorb",
        "Gelöschte Objekte",
        "Gelöschte Elemente",
        "Corbeille",
        "Éléments supprimés",
        "Papelera",
        "Elementos eliminados",
        "Cestino",
        "Posta eliminata",
        "Prullenbak",
        "Verwijderde items",
        "Papperskorgen",
        "Kosz",
        "Удаленные",
        "Корзина",
    ],
    "junk": [
        "Junk",
        "Spam",
        "Junk E-mail",
        "Junk Email",
        "Junk Mail",
        "Bulk Mail",
        "Junk-E-Mail",
        "Spamverdacht",
        "Courrier indésirable",
        "Correo no deseado",
        "Posta indesiderata",
        "Ongewenste e-mail",
        "Skräppost",
        "Спам",
    ],
    "archive": [
        "Archive",
        "Archives",
        "Archiv",
        "Archivo",
        "Archivio",
        "Archief",
        "Arkiv",
        "Archiwum",
        "Архив",
    ],
}


@attrs.frozen(kw_only=True)
class FolderInfo:
    """A folder and what it is for."""

    name: str
    raw_name: bytes
    delimiter: str | None
    attributes: tuple[str, ...]
    role: str | None
    selectable: bool

    @functools.cached_property
    def wire_name(self) -> str | bytes:
        """What to pass to SELECT/STATUS: the decoded name when it encodes back exactly.

        Computed once per folder: every sync asks for it several times per folder.
        """
        if self.name == "INBOX" or encode_mutf7(self.name) == self.raw_name:
            return self.name
        return self.raw_name


@attrs.frozen
class FolderList:
    """An account's folders, each with its role, as LIST gave them."""

    folders: tuple[FolderInfo, ...]
    # select()'s answers: the same selectors are asked every cycle, the list never changes.
    _chosen: dict[tuple[str, ...], tuple[FolderInfo, ...]] = attrs.field(
        factory=dict, init=False, eq=False, repr=False
    )

    def by_name(self, name: str) -> FolderInfo | None:
        """The folder called ``name`` (INBOX in any case)."""
        for folder in self.folders:
            if folder.name == name or (name.upper() == "INBOX" and folder.name == "INBOX"):
                return folder
        return None

    def by_role(self, role: str) -> FolderInfo | None:
        """The folder with ``role`` (one of ``core.config.ROLES``), if any."""
        for folder in self.folders:
            if folder.role == role:
                return folder
        return None

    def select(self, selectors: Sequence[str]) -> list[FolderInfo]:
        """Folders chosen by names, ``role:x`` and patterns (``*`` any, ``%`` one level).

        Order follows the selectors; each folder appears once; a selector that
        matches nothing chooses nothing (a role the account lacks, say).
        """
        key = tuple(selectors)
        cached = self._chosen.get(key)
        if cached is not None:
            return list(cached)
        chosen: list[FolderInfo] = []
        seen: set[str] = set()
        for selector in selectors:
            for folder in self._matching(selector):
                if folder.selectable and folder.name not in seen:
                    seen.add(folder.name)
                    chosen.append(folder)
        if len(self._chosen) < 64:
            self._chosen[key] = tuple(chosen)
        return chosen

    def _matching(self, selector: str) -> list[FolderInfo]:
        if selector.startswith("role:"):
            found = self.by_role(selector[5:])
            return [found] if found is not None else []
        if "*" in selector or "%" in selector:
            return [f for f in self.folders if _pattern(selector, f.delimiter).match(f.name)]
        found = self.by_name(selector)
        return [found] if found is not None else []


@functools.lru_cache(maxsize=1024)
def _pattern(selector: str, delimiter: str | None) -> re.Pattern[str]:
    one_level = f"[^{re.escape(delimiter)}]*" if delimiter else ".*"
    parts = (".*" if c == "*" else one_level if c == "%" else re.escape(c) for c in selector)
    return re.compile("".join(parts) + r"\Z")


def folder_list(listing: Iterable[ListData]) -> FolderList:
    """Give each LIST entry its role: special-use, then provider names, then common names."""
    entries = [entry for entry in listing if entry.kind == "LIST"]
    roles: dict[str, str] = {}  # folder name -> role
    taken: set[str] = set()
    for entry in entries:
        if entry.mailbox == "INBOX":
            roles[entry.mailbox] = "inbox"
            taken.add("inbox")
    for entry in entries:
        for attribute in entry.attributes:
            role = _SPECIAL_USE_ROLES.get(attribute.lower())
            if role is not None and role not in taken and entry.mailbox not in roles:
                roles[entry.mailbox] = role
                taken.add(role)
    for table, key in ((_PROVIDER_NAMES, _whole), (_COMMON_NAMES, _last_segment)):
        for role, names in table.items():
            if role in taken:
                continue
            wanted = {n.casefold() for n in names}
            for entry in entries:
                if entry.mailbox not in roles and entry.selectable and key(entry) in wanted:
                    roles[entry.mailbox] = role
                    taken.add(role)
                    break
    return FolderList(
        tuple(
            FolderInfo(
                name=entry.mailbox,
                raw_name=entry.raw_mailbox,
                delimiter=entry.delimiter,
                attributes=entry.attributes,
                role=roles.get(entry.mailbox),
                selectable=entry.selectable,
            )
            for entry in entries
        )
    )


def _whole(entry: ListData) -> str:
    return entry.mailbox.casefold()


def _last_segment(entry: ListData) -> str:
    name = entry.mailbox
    if entry.delimiter:
        name = name.rsplit(entry.delimiter, 1)[-1]
    return name.casefold()


@attrs.define
class FolderCacheStatistics:
    """Folder lists served from memory (hits) and asked of the server (misses)."""

    hits: int = 0
    misses: int = 0


class FolderCache:
    """Per-account folder lists, kept until the account reconnects or a refresh."""

    def __init__(self, pool: ConnectionPool | None = None) -> None:
        self._pool = pool
        self._entries: dict[str, tuple[int, FolderList]] = {}
        self.stats = FolderCacheStatistics()

    def statistics(self) -> FolderCacheStatistics:
        """A copy of the counters."""
        return attrs.evolve(self.stats)

    def _generation(self, account_id: str) -> int:
        return self._pool.generation(account_id) if self._pool is not None else 0

    async def folders(
        self, account_id: str, conn: IMAPConnection, *, refresh: bool = False
    ) -> FolderList:
        """The account's folders: from memory, or LIST over ``conn`` when stale or asked."""
        generation = self._generation(account_id)
        cached = self._entries.get(account_id)
        if cached is not None and cached[0] == generation and not refresh:
            self.stats.hits += 1
            return cached[1]
        self.stats.misses += 1
        listing, _ = await conn.list_folders()
        folders = folder_list(listing)
        self._entries[account_id] = (generation, folders)
        return folders

    def cached(self, account_id: str) -> FolderList | None:
        """The account's folders as last listed, if still current; no I/O."""
        cached = self._entries.get(account_id)
        if cached is None or cached[0] != self._generation(account_id):
            return None
        return cached[1]

    def invalidate(self, account_id: str | None = None) -> None:
        """Forget one account's list (or every list): the next call lists again."""
        if account_id is None:
            self._entries.clear()
        else:
            self._entries.pop(account_id, None)
