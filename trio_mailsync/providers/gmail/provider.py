"""The Gmail API provider: labels are folders, the history is the cursor, polling is the watch.

How a sync goes (``GmailSession.sync``):

- **No change**: one ``history.list`` from the stored history id; no history records
  means nothing changed (one request, on a kept-alive connection).
- **Changes**: ``history.list`` (paged) names the messages added, deleted and
  relabelled; the ones that concern a watched label are fetched again with
  ``messages.get?format=metadata`` (bounded concurrency), and each watched label's
  folder gets what it now holds: the message where it carries the label, a deletion
  where it does not, its flags (``\\Seen`` unless ``UNREAD``, ``\\Flagged`` for
  ``STARRED``, ``\\Draft`` for ``DRAFT``).
- **First sync of a label**: ``getProfile`` for the history id to start from (taken
  first, so that nothing between it and the listing is missed), ``messages.list``
  (paged), ``messages.get`` for each.
- **History expired** (``history.list`` answers 404, Google keeps about a week): the
  watched labels are listed again in full; what is stored is not announced again,
  what arrived in the gap is, what is gone is deleted.

The store model: a label is a folder (system labels by their id, ``INBOX``, ``SENT``;
user labels by name); a message is a row in each watched label it carries, with the
same uid (its id, 16 hex digits, as an integer) and ``email_id`` (the id) in each;
generation 0 (Gmail ids never change meaning). A message is announced once, in the
first watched label it is seen in (``FolderUpdate.shared_messages``).

No push: Gmail's push needs a Cloud Pub/Sub topic and a webhook reachable from Google.
The watcher polls every ``poll_interval`` (``state: polling``); the service coalesces
the polls with manual requests, as it does IMAP's notifications.
"""

from __future__ import annotations

import importlib.util
import logging
import re
import ssl
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime
from email.utils import getaddresses, parseaddr
from typing import Any, NoReturn

import attrs
import httpx
import trio

from trio_mailsync.core.config import Account, ServiceSettings
from trio_mailsync.core.errors import ProviderError
from trio_mailsync.core.events import AccountState
from trio_mailsync.core.model import (
    Address,
    Change,
    FolderState,
    FolderUpdate,
    MessageRecord,
    SyncRequest,
)
from trio_mailsync.core.ports import SyncTarget, WatchTarget
from trio_mailsync.core.status import SessionStatus
from trio_mailsync.providers.auth import OAuth2Credentials
from trio_mailsync.providers.gmail.api import (
    GmailApi,
    HistoryExpired,
    MessageGone,
    RequestRefused,
)
from trio_mailsync.providers.gmail.settings import gmail_settings

__all__ = ["HTTP_CONNECTIONS", "GmailProvider", "GmailSession", "open_gmail_provider"]

logger = logging.getLogger(__name__)

#: System labels and the folder roles they play (``role:sent`` finds ``SENT``).
LABEL_ROLES = {
    "INBOX": "inbox",
    "SENT": "sent",
    "DRAFT": "drafts",
    "SPAM": "junk",
    "TRASH": "trash",
    "STARRED": "flagged",
}
#: Headers a record is made of (``metadataHeaders``).
METADATA_HEADERS = ("From", "To", "Cc", "Subject", "Date", "Message-ID")
#: Ids per ``messages.list`` page (the API's most): also the messages a label's first
#: sync fetches, and each backfill sync after it (newest first), as IMAP's windows.
LIST_PAGE = 500
#: The label list is asked again after this long (a label renamed is seen then).
LABELS_MAX_AGE = 3600.0
#: History record types a sync reads.
HISTORY_TYPES = ("messageAdded", "messageDeleted", "labelAdded", "labelRemoved")
#: A message id must fit a store uid (SQLite's signed 64-bit integer).
MAX_UID = 2**63 - 1
#: Connections the provider's one HTTP client keeps at most, for all its accounts (and
#: requests in flight at once). Few on purpose: httpcore's pool looks at every
#: connection (a poll() of its socket) to place each request, so 100 connections cost
#: more CPU than the requests (docs/performance.md); 20 at a 50 ms round trip carry
#: 400 requests a second, 10,000 accounts polled every minute need 167. With HTTP/2
#: (the ``h2`` package) they share one connection anyway.
HTTP_CONNECTIONS = 20
#: Seconds an idle connection is kept for the next poll (a server closing it sooner is
#: seen, and a new one opened).
KEEPALIVE = 300.0


@attrs.frozen
class _Label:
    """A label as a folder: its name (the folder's) and its id (the API's)."""

    name: str
    id: str


class _Labels:
    """The account's labels, by name and by role; ``select`` takes folder selectors."""

    def __init__(self, answer: Mapping[str, Any]) -> None:
        self.labels: list[_Label] = []
        for item in answer.get("labels", []):
            if not isinstance(item, dict) or "id" not in item:
                continue
            label_id = str(item["id"])
            # System labels are named by their id (INBOX, SENT); user labels by name.
            name = label_id if item.get("type") == "system" else str(item.get("name", label_id))
            self.labels.append(_Label(name, label_id))
        self.ids = {label.id for label in self.labels}

    def select(self, selectors: Sequence[str]) -> list[_Label]:
        chosen: list[_Label] = []
        for selector in selectors:
            for label in self._matching(selector):
                if label not in chosen:
                    chosen.append(label)
        return chosen

    def _matching(self, selector: str) -> list[_Label]:
        if selector.startswith("role:"):
            role = selector[5:]
            return [label for label in self.labels if LABEL_ROLES.get(label.id) == role]
        if "*" in selector or "%" in selector:
            pattern = re.compile(
                "".join(
                    ".*" if c == "*" else "[^/]*" if c == "%" else re.escape(c) for c in selector
                )
                + r"\Z"
            )
            return [label for label in self.labels if pattern.match(label.name)]
        if selector.upper() == "INBOX":
            selector = "INBOX"
        return [label for label in self.labels if label.name == selector]


def _uid(message_id: str) -> int:
    try:
        uid = int(message_id, 16)
    except ValueError:
        raise ProviderError(f"a message id that is not hexadecimal: {message_id!r}") from None
    if not 0 < uid <= MAX_UID:
        raise ProviderError(f"a message id out of range: {message_id!r}")
    return uid


def _flags(labels: Iterable[str]) -> tuple[str, ...]:
    held = set(labels)
    flags = [] if "UNREAD" in held else ["\\Seen"]
    if "STARRED" in held:
        flags.append("\\Flagged")
    if "DRAFT" in held:
        flags.append("\\Draft")
    return tuple(sorted(flags))


def _address(value: str | None) -> Address | None:
    if not value:
        return None
    name, address = parseaddr(value)
    return Address(name or None, address) if address else None


def record_from_metadata(account: str, folder: str, message: Mapping[str, Any]) -> MessageRecord:
    """A record of ``messages.get?format=metadata``'s answer, as stored in ``folder``."""
    headers: dict[str, str] = {}
    payload = message.get("payload")
    if isinstance(payload, dict):
        for header in payload.get("headers", []):
            if isinstance(header, dict):
                # The first of each: what a mail reader shows.
                headers.setdefault(str(header.get("name", "")).lower(), str(header.get("value")))
    labels = tuple(sorted(str(label) for label in message.get("labelIds", [])))
    internal = message.get("internalDate")
    internaldate = None
    if internal is not None:
        try:
            internaldate = datetime.fromtimestamp(int(internal) / 1000, UTC).isoformat()
        except (TypeError, ValueError, OverflowError):
            internaldate = None
    recipients = tuple(
        Address(name or None, address)
        for name, address in getaddresses([v for v in (headers.get("to"), headers.get("cc")) if v])
        if address
    )
    size = message.get("sizeEstimate")
    return MessageRecord(
        account=account,
        folder=folder,
        generation=0,
        uid=_uid(str(message["id"])),
        flags=_flags(labels),
        message_id=headers.get("message-id"),
        date=headers.get("date"),
        internaldate=internaldate,
        sender=_address(headers.get("from")),
        recipients=recipients,
        subject=headers.get("subject"),
        size=size if isinstance(size, int) else None,
        email_id=str(message["id"]),
        thread_id=str(message.get("threadId")) if message.get("threadId") else None,
        labels=labels,
    )


class GmailSession:
    """One Gmail API account: syncs from the history, a watcher that polls."""

    def __init__(self, provider: GmailProvider, account: Account, api: GmailApi) -> None:
        self._provider = provider
        self._account = account
        self.api = api
        self._labels: _Labels | None = None
        self._labels_at = -float("inf")
        self._folders = 0

    def __repr__(self) -> str:
        return f"GmailSession(account={self._account.id!r})"

    @property
    def account(self) -> Account:
        """The account this session serves."""
        return self._account

    async def _label_list(self) -> _Labels:
        if self._labels is None or trio.current_time() - self._labels_at > LABELS_MAX_AGE:
            answer = await self.api.get(
                "labels.list", "/labels", cost=self.api.settings.quota.labels
            )
            self._labels = _Labels(answer)
            self._labels_at = trio.current_time()
        return self._labels

    async def sync(self, request: SyncRequest, target: SyncTarget) -> None:
        """Sync the watched labels: from the history when it has them, else listed."""
        api = self.api
        before = api.statistics().calls
        try:
            await self._sync(request, target)
        finally:
            after = api.statistics().calls
            spent = {
                name: after[name] - before.get(name, 0)
                for name in after
                if after[name] != before.get(name, 0)
            }
            target.add_cost(sum(spent.values()), spent)

    async def _sync(self, request: SyncRequest, target: SyncTarget) -> None:
        labels = await self._label_list()
        selectors = request.folders if request.folders is not None else self._account.folders
        folders = labels.select(selectors)
        self._folders = len(folders)
        states = await target.folder_states()
        known = [f for f in folders if f.name in states]
        listed = [f for f in folders if f.name not in states]
        reset = {f.name for f in listed}
        latest: int | None = None
        if known:
            start = min(_history_id(states[f.name].cursor) for f in known)
            try:
                history, latest = await self._history(start)
            except HistoryExpired as exc:
                logger.info("%s; listing the labels again", exc)
                listed += known
                known = []
            else:
                if history:
                    await self._apply_history(history, known, latest, target, labels, states)
                else:
                    for folder in known:
                        target.folder_checked(folder.name)
                    if any(_history_id(states[f.name].cursor) != latest for f in known):
                        # Changes elsewhere (unwatched labels): the cursors move on.
                        await self._apply_history([], known, latest, target, labels, states)
        if listed:
            if latest is None:
                profile = await self.api.get(
                    "users.getProfile", "/profile", cost=self.api.settings.quota.profile
                )
                latest = int(profile["historyId"])
            for folder in listed:
                target.folder_checked(folder.name)
                await self._list_anew(folder, latest, folder.name in reset, target)
        # A label's older mail, a page a sync, newest first (the service asks for the
        # next sync at once while ``more`` says so).
        for folder in known:
            token = states[folder.name].cursor.get("backfill")
            if token and latest is not None:
                await self._backfill(folder, str(token), latest, target)

    def _cursor(self, latest: int, backfill: str | None) -> dict[str, str]:
        cursor = {"history_id": str(latest)}
        if backfill:
            cursor["backfill"] = backfill
        return cursor

    async def _list_anew(
        self, folder: _Label, latest: int, first: bool, target: SyncTarget
    ) -> None:
        """A label listed from the start: its first sync (only the newest page fetched,
        the rest left to backfill), or after the history expired (every id listed, to
        know what is gone; the newest page fetched)."""
        page, token = await self._list_page(folder, None)
        present: set[str] | None = None
        if not first:
            present = set(page)
            next_token = token
            while next_token:
                more, next_token = await self._list_page(folder, next_token)
                present.update(more)
        await self._store_page(
            folder,
            page,
            self._cursor(latest, token),
            target,
            reset=first,
            present=None if present is None else frozenset(_uid(i) for i in present),
        )

    async def _backfill(self, folder: _Label, token: str, latest: int, target: SyncTarget) -> None:
        """The next page of a label's older mail, stored as existing mail (``baseline``)."""
        try:
            page, next_token = await self._list_page(folder, token)
        except RequestRefused as exc:
            if exc.status != 400:
                raise
            # A page token the API no longer takes: the older mail stays unfetched.
            logger.warning("%s: %s: backfill given up: %s", self._account.id, folder.name, exc)
            page, next_token = [], None
        await self._store_page(folder, page, self._cursor(latest, next_token), target)

    async def _store_page(
        self,
        folder: _Label,
        page: Sequence[str],
        cursor: Mapping[str, str],
        target: SyncTarget,
        *,
        reset: bool = False,
        present: frozenset[int] | None = None,
    ) -> None:
        """Fetch a page of the label's messages and store it; ``more`` while the cursor
        holds a next page. Mail not stored yet is announced if it arrived after
        ``notify_from`` (in an expired history's gap, say), not if it is older."""
        messages = await self._fetch(page)
        records = [
            record_from_metadata(self._account.id, folder.name, m)
            for m in messages.values()
            if folder.id in m.get("labelIds", [])
        ]
        await target.apply(
            folder.name,
            FolderUpdate(
                generation=0,
                cursor=cursor,
                reset=reset,
                baseline=True,
                new=tuple(records),
                flags={r.uid: (r.flags, None) for r in records},
                present=present,
                shared_messages=True,
                full_sync=present is not None,
                now=self._provider.wall_clock(),
            ),
        )
        if "backfill" in cursor:
            target.more(folder.name)

    async def _history(self, start: int) -> tuple[list[dict[str, Any]], int]:
        """Every history record after ``start`` (paged), and the history id now."""
        records: list[dict[str, Any]] = []
        params: dict[str, Any] = {
            "startHistoryId": str(start),
            "historyTypes": list(HISTORY_TYPES),
            "maxResults": 500,
        }
        while True:
            answer = await self.api.get(
                "history.list", "/history", params, cost=self.api.settings.quota.history
            )
            records += [r for r in answer.get("history", []) if isinstance(r, dict)]
            latest = int(answer.get("historyId", start))
            token = answer.get("nextPageToken")
            if not token:
                return records, latest
            params["pageToken"] = token

    async def _apply_history(
        self,
        records: list[dict[str, Any]],
        folders: list[_Label],
        latest: int,
        target: SyncTarget,
        labels: _Labels,
        states: Mapping[str, FolderState],
    ) -> None:
        watched = {f.id for f in folders}
        touched: set[str] = set()
        deleted: set[str] = set()
        for record in records:
            for entry in record.get("messagesDeleted", []):
                deleted.add(str(entry["message"]["id"]))
            for key in ("messagesAdded", "labelsAdded", "labelsRemoved"):
                for entry in record.get(key, []):
                    message = entry.get("message", {})
                    mentioned = set(message.get("labelIds", [])) | set(entry.get("labelIds", []))
                    if mentioned - labels.ids:
                        self._labels = None  # a label we do not know: list them again
                    if mentioned & watched:
                        touched.add(str(message["id"]))
        messages = await self._fetch(sorted(touched - deleted))
        deleted |= touched - deleted - set(messages)
        gone = tuple(sorted(_uid(i) for i in deleted))
        now = self._provider.wall_clock()
        for folder in folders:
            held = [m for m in messages.values() if folder.id in m.get("labelIds", [])]
            records_now = [record_from_metadata(self._account.id, folder.name, m) for m in held]
            unlabelled = tuple(
                _uid(i) for i, m in messages.items() if folder.id not in m.get("labelIds", [])
            )
            target.folder_checked(folder.name)
            await target.apply(
                folder.name,
                FolderUpdate(
                    generation=0,
                    cursor=self._cursor(latest, states[folder.name].cursor.get("backfill")),
                    new=tuple(records_now),
                    flags={r.uid: (r.flags, None) for r in records_now},
                    deleted=tuple(sorted(set(gone) | set(unlabelled))),
                    shared_messages=True,
                    now=now,
                ),
            )

    async def _list_page(self, folder: _Label, token: str | None) -> tuple[list[str], str | None]:
        """One page of the label's message ids, newest first, and the next page's token."""
        params: dict[str, Any] = {"labelIds": folder.id, "maxResults": LIST_PAGE}
        if token:
            params["pageToken"] = token
        answer = await self.api.get(
            "messages.list", "/messages", params, cost=self.api.settings.quota.messages_list
        )
        ids = [str(m["id"]) for m in answer.get("messages", []) if isinstance(m, dict)]
        next_token = answer.get("nextPageToken")
        return ids, str(next_token) if next_token else None

    async def _fetch(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Metadata of each message, ``max_concurrent`` at a time; a deleted one is left out."""
        found: dict[str, dict[str, Any]] = {}
        limit = trio.CapacityLimiter(self.api.settings.max_concurrent)
        cost = self.api.settings.quota.messages_get

        async def one(message_id: str) -> None:
            async with limit:
                with suppress(MessageGone):
                    found[message_id] = await self.api.get(
                        "messages.get",
                        f"/messages/{message_id}",
                        {"format": "metadata", "metadataHeaders": list(METADATA_HEADERS)},
                        cost=cost,
                    )

        async with trio.open_nursery() as nursery:
            for message_id in ids:
                nursery.start_soon(one, message_id)
        return {i: found[i] for i in ids if i in found}

    async def watch(self, target: WatchTarget) -> NoReturn:
        """Poll: a change every ``poll_interval``; the first at once (to catch up)."""
        settings = self.api.settings
        reason = "connected"
        while True:
            failed = self.api.auth_failed
            if failed is not None and failed.retry_at is not None:
                target.state(AccountState.AUTH_FAILED, str(failed))
                await trio.sleep_until(failed.retry_at)
                continue
            target.state(AccountState.POLLING, None)
            refused = self.api.refused
            await target.changed(Change(account=self._account.id, reason=reason, folders=None))
            reason = "poll"
            with trio.move_on_after(settings.poll_interval):
                await refused.wait()  # the API refused the account: shown at once

    def status(self) -> SessionStatus:
        """No connection of its own (the provider's HTTP client is shared); calls and
        token refreshes as counters."""
        stats = self.api.statistics()
        token = self.api.credentials.statistics()
        next_retry = None
        failed = self.api.auth_failed
        if failed is not None and failed.retry_at is not None:
            next_retry = self._provider.wall_clock() + max(
                0.0, failed.retry_at - trio.current_time()
            )
        return SessionStatus(
            folders=self._folders or None,
            next_retry=next_retry,
            counters={
                "token_refreshes": token.refreshes,
                "api_calls": sum(stats.calls.values()),
                "api_retries": stats.retries,
                "quota_units": stats.units,
            },
        )


def _history_id(cursor: Mapping[str, Any]) -> int:
    try:
        return int(cursor["history_id"])
    except (KeyError, TypeError, ValueError):
        raise ProviderError(
            f"a stored Gmail cursor without a history id: {dict(cursor)!r}"
        ) from None


class GmailProvider:
    """The Gmail API provider (``name = "gmail_api"``): one HTTP client for every account."""

    name = "gmail_api"

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        settings: ServiceSettings,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.http = http
        self.settings = settings
        self.wall_clock = wall_clock
        #: API requests in flight for all accounts, at most the client's connections.
        self.in_flight = trio.CapacityLimiter(HTTP_CONNECTIONS)
        self._sessions: dict[str, GmailSession] = {}

    def session(self, account: Account) -> GmailSession:
        """The account's session (the same object until it is released)."""
        session = self._sessions.get(account.id)
        if session is None:
            settings = gmail_settings(account)
            credentials = OAuth2Credentials(
                settings.username or account.id,
                settings.auth,
                account_id=account.id,
                http=self.http,
            )
            api = GmailApi(account.id, settings, self.http, credentials, in_flight=self.in_flight)
            session = self._sessions[account.id] = GmailSession(self, account, api)
        return session

    async def release(self, account_id: str) -> None:
        """Forget the account's session (its token with it); the HTTP client stays."""
        self._sessions.pop(account_id, None)
        await trio.lowlevel.checkpoint()


def _http2() -> bool:
    """HTTP/2 when the ``h2`` package is there (``pip install httpx[http2]``)."""
    return importlib.util.find_spec("h2") is not None


@asynccontextmanager
async def open_gmail_provider(
    accounts: Sequence[Account] = (),
    *,
    settings: ServiceSettings | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    wall_clock: Callable[[], float] = time.time,
) -> AsyncIterator[GmailProvider]:
    """The provider for the block, with its one HTTP client (keep-alive; HTTP/2 when the
    ``h2`` package is installed). ``transport`` replaces the network (tests)."""
    verify: ssl.SSLContext | bool = True
    ca_files = {gmail_settings(a).ca_file for a in accounts} - {None}
    if ca_files:
        # One client for the process: a local CA (a testing server over TLS) is trusted
        # beside the system's.
        verify = ssl.create_default_context()
        for ca_file in ca_files:
            verify.load_verify_locations(ca_file)
    async with httpx.AsyncClient(
        http2=_http2() and transport is None,
        verify=verify,
        transport=transport,
        timeout=httpx.Timeout(60.0, connect=30.0),
        limits=httpx.Limits(
            max_connections=HTTP_CONNECTIONS,
            max_keepalive_connections=HTTP_CONNECTIONS,
            # httpx closes a connection idle for 5 s by default: with polls a minute
            # apart, every poll would open a new connection (TCP and TLS to Google).
            keepalive_expiry=KEEPALIVE,
        ),
        follow_redirects=False,
    ) as http:
        yield GmailProvider(http, settings=settings or ServiceSettings(), wall_clock=wall_clock)
