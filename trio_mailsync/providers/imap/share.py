"""One connection per account: the watcher's connection, lent to syncs between IDLEs.

An account used to hold two connections: the watcher's, IDLE-ing on INBOX, and a pooled
one for syncs. The pooled one goes stale when the account is quiet (a NOOP before use
after a minute, a new login after five), so a quiet account's next mail waited for TCP,
TLS and LOGIN. Now the watcher offers its connection while it IDLEs, and a sync borrows
it::

    # the watcher, between IDLEs           # a sync
    with share.offering(conn):             async with share.borrow() as conn:
        ...IDLE until share.wanted...          if conn is None: conn = <pooled>
        await share.lend(conn)                 ...sync...

``borrow`` interrupts the watcher's wait inside IDLE; the watcher ends IDLE (DONE), hands
the connection over and waits for it, then goes back to INBOX and IDLE. Borrowers are
served one at a time, in order. Without an offer (the watcher is connecting or polling,
the server has no IDLE, or no watcher runs: ``trio-mailsync sync``) ``borrow`` yields
``None`` and the sync takes a pooled connection as before.

While the connection is lent, INBOX is not watched. What the sync saw of INBOX is
recorded here (:meth:`ConnectionShare.saw`); the watcher compares it, or its own last
look, with INBOX as it finds it on return, and reports a change when they differ, so that
mail arriving in the gap is synced at once, not at the next sweep.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager, nullcontext

import attrs
import trio

from trio_mailsync.protocol import StatusData
from trio_mailsync.providers.imap.connection import (
    CLEANUP_TIMEOUT,
    IMAPConnection,
    SelectedMailbox,
)

__all__ = ["ConnectionShare", "MailboxLook", "look_of"]


@attrs.frozen(kw_only=True)
class MailboxLook:
    """What one look at a mailbox showed: enough to tell whether it changed since."""

    uidvalidity: int | None
    uidnext: int | None
    messages: int | None
    highestmodseq: int | None

    def differs(self, other: MailboxLook) -> bool:
        """Whether ``other`` shows a change: a field that both looks have, unequal.

        STATUS and EXAMINE do not always report the same items (HIGHESTMODSEQ only
        with CONDSTORE): a field one of them lacks tells nothing.
        """
        return any(
            a is not None and b is not None and a != b
            for a, b in (
                (self.uidvalidity, other.uidvalidity),
                (self.uidnext, other.uidnext),
                (self.messages, other.messages),
                (self.highestmodseq, other.highestmodseq),
            )
        )


def look_of(seen: StatusData | SelectedMailbox) -> MailboxLook:
    """The look that a STATUS answer or a SELECT/EXAMINE gave."""
    if isinstance(seen, SelectedMailbox):
        return MailboxLook(
            uidvalidity=seen.uidvalidity,
            uidnext=seen.uidnext,
            messages=seen.exists,
            highestmodseq=seen.highestmodseq,
        )
    return MailboxLook(
        uidvalidity=seen.uidvalidity,
        uidnext=seen.uidnext,
        messages=seen.messages,
        highestmodseq=seen.highestmodseq,
    )


@attrs.define(eq=False)
class _Loan:
    ready: trio.Event = attrs.field(factory=trio.Event)
    returned: trio.Event = attrs.field(factory=trio.Event)
    #: The connection lent; ``None`` once ready means: none to lend, take a pooled one.
    conn: IMAPConnection | None = None


class ConnectionShare:
    """The rendezvous of one account's watcher and its syncs. See the module docstring."""

    def __init__(self) -> None:
        self._offered: IMAPConnection | None = None
        #: Set while the watcher connects: borrowers wait for its offer rather than open
        #: a second connection (the startup sync and a reconnection's catch-up do).
        self._connecting: trio.Event | None = None
        self._loans: list[_Loan] = []  # a list: a deque costs 760 bytes even empty
        #: The watcher's wait inside IDLE, cancelled by a borrower.
        self._interrupt: trio.CancelScope | None = None
        #: INBOX as the last sync saw it, until the watcher takes it.
        self._inbox: MailboxLook | None = None
        #: Connections lent so far.
        self.loans = 0

    @property
    def wanted(self) -> bool:
        """Whether a borrower waits for the connection."""
        return bool(self._loans)

    # ------------------------------------------------------------ the watcher's side

    @contextmanager
    def connecting(self) -> Iterator[None]:
        """The watcher is connecting for the block: borrowers wait for what comes of it,
        an offer (which ends the wait early) or none."""
        self._connecting = done = trio.Event()
        try:
            yield
        finally:
            self._stop_connecting()
            done.set()

    def _stop_connecting(self) -> None:
        if self._connecting is not None:
            self._connecting.set()
            self._connecting = None

    @contextmanager
    def offering(self, conn: IMAPConnection) -> Iterator[None]:
        """Offer ``conn`` for the block; borrowers still waiting at its end get ``None``."""
        self._offered = conn
        self._stop_connecting()
        try:
            yield
        finally:
            self._offered = None
            while self._loans:
                self._loans.pop(0).ready.set()

    @contextmanager
    def interruptible(self) -> Iterator[trio.CancelScope]:
        """A cancel scope for the watcher's wait that a borrower cancels.

        Already cancelled when a borrower waits: check and arm happen without a
        checkpoint between, so no request is missed.
        """
        with trio.CancelScope() as scope:
            if self._loans:
                scope.cancel()
            self._interrupt = scope
            try:
                yield scope
            finally:
                self._interrupt = None

    async def lend(self, conn: IMAPConnection) -> None:
        """Lend ``conn`` to each waiting borrower in turn, until none waits or it breaks.

        If the watcher is cancelled meanwhile (its account stops), the borrower gets
        ``CLEANUP_TIMEOUT`` to give the connection back; after that it is closed under
        the borrower, who gets ``ConnectionLost``, so that it is never used by two.
        """
        while self._loans and not conn.broken:
            loan = self._loans.pop(0)
            loan.conn = conn
            loan.ready.set()
            self.loans += 1
            try:
                await loan.returned.wait()
            except trio.Cancelled:
                with trio.move_on_after(CLEANUP_TIMEOUT) as scope:
                    scope.shield = True
                    await loan.returned.wait()
                if scope.cancelled_caught:
                    await conn.aclose()
                raise

    def take_inbox_look(self) -> MailboxLook | None:
        """INBOX as the syncs saw it last, once (``None`` if none looked since)."""
        look, self._inbox = self._inbox, None
        return look

    # ------------------------------------------------------------ the syncs' side

    def saw(self, folder: str, look: MailboxLook) -> None:
        """A sync looked at ``folder``: for INBOX, the watcher compares on its return."""
        if folder == "INBOX":
            self._inbox = look

    @asynccontextmanager
    async def borrow(
        self, *, aside: Callable[[], AbstractAsyncContextManager[None]] = nullcontext
    ) -> AsyncIterator[IMAPConnection | None]:
        """The watcher's connection for the block, or ``None`` when none is offered.

        While the watcher connects, waits for it (inside ``aside()``: the engine's
        ``target.waiting``, so the wait holds no sync slot): its connection, or
        ``None`` if it ended without one (no IDLE, a failure).
        """
        if self._offered is None and self._connecting is not None:
            async with aside():
                while self._offered is None and self._connecting is not None:
                    await self._connecting.wait()
        if self._offered is None:
            yield None
            return
        loan = _Loan()
        self._loans.append(loan)
        if self._interrupt is not None:
            self._interrupt.cancel()
        try:
            await loan.ready.wait()
        except BaseException:
            if loan in self._loans:
                self._loans.remove(loan)
            loan.returned.set()  # handed over meanwhile: given back unused
            raise
        try:
            yield loan.conn
        finally:
            loan.returned.set()
