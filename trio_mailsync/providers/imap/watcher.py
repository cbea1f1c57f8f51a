"""One IDLE watcher per account: hear about new mail in INBOX the moment it arrives.

The watcher takes its own connection from the pool (it counts against the
account's budget), EXAMINEs INBOX and IDLEs. Any EXISTS, EXPUNGE, FETCH or
VANISHED becomes a :class:`~trio_mailsync.core.model.Change` for the service.
IDLE is ended and re-issued at least every ``idle_reissue`` seconds, and
earlier when the server has said
nothing for ``silence_timeout``: the DONE must be answered within a few
seconds, so a half-open TCP connection or a NAT that dropped it is found
out, and the watcher reconnects. Every (re)connection sends a "connected"
change, so mail that arrived while the watcher was away is still synced.

Without IDLE (not offered, refused, or failing again and again) the watcher
polls: a change every ``poll_interval``, for ``idle_retry_interval``, after
which it tries IDLE again. Credentials the server refused put the account in
``auth_failed`` until the pool allows the next login.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import nullcontext
from typing import NoReturn

import attrs
import trio

from trio_mailsync.core.config import Account, ServiceSettings
from trio_mailsync.core.errors import (
    AuthenticationFailed,
    ConnectionLost,
    CredentialsError,
    ProviderError,
)
from trio_mailsync.core.events import AccountState
from trio_mailsync.core.model import Change
from trio_mailsync.core.ports import WatchTarget
from trio_mailsync.protocol import (
    Event,
    ExistsData,
    ExpungeData,
    FetchData,
    ListData,
    Notify,
    NotifyGroup,
    RecentData,
    StatusData,
    VanishedData,
)
from trio_mailsync.providers.imap.connection import CLEANUP_TIMEOUT, IMAPConnection
from trio_mailsync.providers.imap.errors import IdleEnded, IdleRefused
from trio_mailsync.providers.imap.pool import ConnectionPool
from trio_mailsync.providers.imap.share import ConnectionShare, MailboxLook, look_of

__all__ = ["IdleWatcher", "WatcherStatistics"]

logger = logging.getLogger(__name__)

#: Consecutive IDLE failures after which the watcher polls for a while.
MAX_IDLE_FAILURES = 3
#: A server answers IDLE at once (and the DONE sent just before it): no answer in this
#: long means the connection is dead.
IDLE_ANSWER_TIMEOUT = 10.0

#: Change reasons for an IDLE notification, by what the server sent.
_REASONS: dict[type, str] = {
    ExistsData: "exists",
    RecentData: "exists",
    ExpungeData: "expunge",
    FetchData: "flags",
    VanishedData: "vanished",
}


@attrs.define
class WatcherStatistics:
    """What the watcher did: connections, IDLEs, re-issues, probes, notifications, polls,
    loans of its connection to syncs."""

    connections: int = 0
    idles: int = 0
    reissues: int = 0
    probes: int = 0
    notifications: int = 0
    polls: int = 0
    failures: int = 0
    #: Times the connection was lent to syncs between IDLEs.
    loans: int = 0
    #: Times INBOX was found changed when the connection came back from a loan.
    changed_while_lent: int = 0
    #: Connections replaced because their OAuth token was about to expire.
    reauthentications: int = 0
    #: Whether the server accepted NOTIFY on the latest connection (every folder watched).
    notify: bool = False


class IdleWatcher:
    """Watches one account's INBOX with IDLE (or by polling) and reports to a WatchTarget."""

    def __init__(
        self,
        pool: ConnectionPool,
        account: Account,
        settings: ServiceSettings,
        *,
        share: ConnectionShare | None = None,
        watched: Callable[[str], bool] = lambda name: True,
        folders_changed: Callable[[], None] = lambda: None,
    ) -> None:
        self.pool = pool
        self.account = account
        self.settings = settings
        #: Where syncs borrow this watcher's connection between IDLEs; ``None``: they don't.
        self.share = share
        #: Whether a folder NOTIFY reports on is one the account syncs.
        self._watched = watched
        #: Called when NOTIFY says folders were created, renamed or deleted.
        self._folders_changed = folders_changed
        self.stats = WatcherStatistics()
        self._failures = 0

    def statistics(self) -> WatcherStatistics:
        """A copy of the counters."""
        return attrs.evolve(self.stats)

    async def run(self, target: WatchTarget) -> NoReturn:
        """Watch until cancelled, reporting changes and states to ``target``."""
        self._target = target
        while True:
            try:
                supported = await self._watch()
            except AuthenticationFailed as exc:
                self.stats.failures += 1
                target.state(AccountState.AUTH_FAILED, str(exc))
                # The pool refuses logins until retry_at; wait for it rather than spin.
                retry_at = exc.retry_at
                if retry_at is None or retry_at <= trio.current_time():
                    retry_at = trio.current_time() + 1.0
                await trio.sleep_until(retry_at)
                continue
            except (ProviderError, CredentialsError, OSError, trio.TooSlowError) as exc:
                if isinstance(exc, trio.TooSlowError):
                    exc = ConnectionLost(f"{self.account.id}: the server stopped answering")
                self.stats.failures += 1
                self._failures += 1
                logger.info("%s: watcher: %s", self.account.id, exc)
                if self._failures < MAX_IDLE_FAILURES:
                    target.state(AccountState.CONNECTING, str(exc))
                    continue  # the pool waits out its backoff before reconnecting
                target.state(AccountState.ERROR, str(exc))
            else:
                if supported:
                    continue
            self._failures = 0
            await self._poll(self.settings.idle_retry_interval)

    async def _watch(self) -> bool:
        """IDLE on INBOX until something breaks; False when the server has no IDLE to offer."""
        target = self._target
        target.state(AccountState.CONNECTING, None)
        share = self.share
        # Nested blocks, not an AsyncExitStack: it would hold a deque (760 bytes) for as
        # long as the account is watched.
        with share.connecting() if share is not None else nullcontext():
            async with self.pool.connection(self.account) as conn:
                return await self._watch_on(conn)

    async def _watch_on(self, conn: IMAPConnection) -> bool:
        """IDLE on ``conn``, lending it to syncs between IDLEs, until something breaks."""
        target = self._target
        share = self.share
        self.stats.connections += 1
        if not conn.has("IDLE"):
            return False
        look = await self._examine_inbox(conn)
        await self._notify(conn)
        target.state(AccountState.IDLE, None)
        try:
            with share.offering(conn) if share is not None else nullcontext():
                # Catch up with what happened while nothing watched: INBOX, or with
                # NOTIFY every folder. (At start-up the service merges this into
                # its start-up sync.)
                catch_up = None if self.stats.notify else ("INBOX",)
                await target.changed(
                    Change(account=self.account.id, reason="connected", folders=catch_up)
                )
                while True:
                    # A sync already waiting (the start-up sync, the catch-up) is
                    # served first: no IDLE to end for it.
                    if share is None or not share.wanted:
                        await self._idle_once(conn)
                        if conn.broken:
                            raise ConnectionLost(f"{self.account.id}: no answer to DONE")
                    if share is not None and share.wanted:
                        look = await self._lend(conn, share, look)
                    if trio.current_time() >= conn.renew_at:
                        # Replaced before its token expires and the server drops it;
                        # the new connection's catch-up sync covers the gap.
                        self.stats.reauthentications += 1
                        await conn.logout()
                        return True
                    # A round worked (IDLE ran its course, or a loan came back
                    # whole): failures no longer count as "again and again". A
                    # connection that syncs break each time is not reset here, so
                    # its reconnects end in polling, not in a loop.
                    self._failures = 0
        except IdleRefused:
            return False

    async def _notify(self, conn: IMAPConnection) -> None:
        """Ask for news of every folder (RFC 5465 NOTIFY), where offered and wanted.

        INBOX is selected: its news come as EXISTS, EXPUNGE and FETCH, as with IDLE
        alone; the other personal folders' as STATUS, and folders created, renamed or
        deleted as LIST. A refusal leaves IDLE on INBOX and the sweeps, as without it.
        """
        self.stats.notify = False  # of this connection
        if not (self.settings.notify and conn.has("NOTIFY")):
            return
        command = Notify(
            (
                NotifyGroup(
                    mailboxes="selected", events=("MessageNew", "MessageExpunge", "FlagChange")
                ),
                NotifyGroup(
                    mailboxes="personal",
                    events=("MessageNew", "MessageExpunge", "MailboxName", "SubscriptionChange"),
                ),
            )
        )
        with trio.fail_after(self.settings.silence_timeout):
            done = await conn.run(command, check=False)
        if done.ok:
            self.stats.notify = True
        else:
            logger.info(
                "%s: NOTIFY refused (%s %s): INBOX alone is watched",
                self.account.id,
                done.status.value,
                done.text,
            )

    async def _report(self, update: Event) -> None:
        """Turn a notification into a Change (or nothing, for one that says nothing)."""
        account = self.account.id
        if isinstance(update, StatusData):
            # NOTIFY: another folder changed (its STATUS says how). INBOX is selected and
            # reported by EXISTS and friends; a STATUS of it says the same again.
            if update.mailbox == "INBOX" or not self._watched(update.mailbox):
                return
            self.stats.notifications += 1
            await self._target.changed(
                Change(account=account, reason="notify", folders=(update.mailbox,), certain=True)
            )
            return
        if isinstance(update, ListData):
            # NOTIFY MailboxName: a folder was created, renamed or deleted.
            self.stats.notifications += 1
            self._folders_changed()
            await self._target.changed(Change(account=account, reason="folders", folders=None))
            return
        reason = _REASONS.get(type(update))
        if reason is not None:
            self.stats.notifications += 1
            await self._target.changed(Change(account=account, reason=reason, certain=True))

    async def _examine_inbox(self, conn: IMAPConnection) -> MailboxLook:
        """EXAMINE INBOX (QRESYNC enabled first, where offered, for the syncs that borrow)."""
        with trio.fail_after(self.settings.silence_timeout):
            await conn.enable_qresync()
            condstore = conn.has("CONDSTORE") and "QRESYNC" not in conn.client.enabled
            return look_of(await conn.select("INBOX", readonly=True, condstore=condstore))

    async def _lend(
        self, conn: IMAPConnection, share: ConnectionShare, look: MailboxLook
    ) -> MailboxLook:
        """Lend the connection to the syncs that wait, then come back to INBOX.

        INBOX went unwatched meanwhile: compared with what the syncs saw of it (or
        with the look before, if none looked), a change found on return is reported.
        """
        self.stats.loans += 1
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._expect_idle_end, conn)
            await share.lend(conn)
            nursery.cancel_scope.cancel()
        if conn.broken:
            raise ConnectionLost(f"{self.account.id}: the connection broke during a sync")
        # Updates that came meanwhile: EXISTS and the like concern whatever the sync had
        # selected, not INBOX (an INBOX notification just before DONE shows in the
        # comparison below); NOTIFY's STATUS and LIST name their folder and still count.
        for update in conn.pending_updates():
            if isinstance(update, StatusData | ListData):
                await self._report(update)
        seen = share.take_inbox_look() or look
        now = await self._examine_inbox(conn)
        if seen.differs(now):
            logger.debug("%s: INBOX changed while lent: %s, now %s", self.account.id, seen, now)
            self.stats.changed_while_lent += 1
            await self._target.changed(
                Change(account=self.account.id, reason="changed", certain=True)
            )
        return now

    async def _expect_idle_end(self, conn: IMAPConnection) -> None:
        """The server must answer DONE at once: no answer while the connection is lent
        means it is dead, and it is closed under the borrower (who gets ConnectionLost)
        rather than left to wait for its sync's timeout."""
        with trio.move_on_after(CLEANUP_TIMEOUT) as scope:
            await conn.idle_ended()
        if scope.cancelled_caught:
            logger.info("%s: watcher: no answer to DONE while lent", self.account.id)
            await conn.aclose()

    async def _idle_once(self, conn: IMAPConnection) -> None:
        settings = self.settings
        share = self.share
        reissue_at = min(trio.current_time() + settings.idle_reissue, conn.renew_at)
        self.stats.idles += 1
        try:
            accept = min(settings.silence_timeout, IDLE_ANSWER_TIMEOUT)
            async with conn.idle(accept_timeout=accept):
                while True:
                    silent_until = conn.last_activity + settings.silence_timeout
                    update: Event | None = None
                    with trio.move_on_at(min(reissue_at, silent_until)):
                        if share is None:
                            update = await conn.next_update()
                        else:
                            # A sync that wants the connection ends the wait, and IDLE.
                            with share.interruptible():
                                update = await conn.next_update()
                    if update is None:
                        # What follows DONE (a sync's commands, or the next IDLE: a
                        # re-issue, a probe of a silent connection) goes in the same
                        # write, without a wait: the answers come together, one wake-up
                        # instead of two. A dead connection does not answer the IDLE
                        # (IDLE_ANSWER_TIMEOUT), or a sync's commands (the loan's
                        # watchdog).
                        conn.pipeline_done()
                        break
                    await self._report(update)
        except IdleEnded:
            pass  # re-issued at once by the caller's loop
        if trio.current_time() >= reissue_at:
            self.stats.reissues += 1
        elif share is None or not share.wanted:
            self.stats.probes += 1

    async def _poll(self, duration: float) -> None:
        self._target.state(AccountState.POLLING, None)
        until = trio.current_time() + duration
        while trio.current_time() < until:
            self.stats.polls += 1
            await self._target.changed(Change(account=self.account.id, reason="poll"))
            await trio.sleep(self.settings.poll_interval)
