"""The event hub: the log's live tail, fanned out to subscribers that can resume.

::

    hub = EventHub(store, states)
    await hub.open()                      # where the log is
    engine = SyncEngine(store, on_logged=hub.logged)
    with hub.subscribe(since=41) as events:
        async for event in events:        # hello, the log after 41, then live
            ...

The log is the truth; the hub only saves subscribers a read of it. Logged events
reach :meth:`EventHub.logged` as the store returns them. Tasks may hand them on
out of order (two syncs' store calls finish together, and Trio runs woken tasks
in any order), so they are held until every lower id has been published: every
subscriber sees ids in increasing order. A gap that does not close (a task that
logged events and died before handing them on) is filled from the store after
``GAP_TIMEOUT``.

A :class:`Subscription` starts with a :class:`Hello`, then replays the log from
its ``since`` up to where the live tail was when it subscribed, then takes live
events: no gap and no duplicate at the seam. Its live queue is bounded; a
subscriber that lets it fill is not dropped but moved back to the log: its queue
is no longer fed, and once it has read what was queued it replays the log up to
the live tail again, then gets a fresh hello (ephemeral events meanwhile were
skipped). It can fall behind for as long as the log keeps events; after that it
gets a :class:`Reset`.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import NoReturn

import attrs
import trio

from trio_mailsync.core.events import (
    AccountState,
    Hello,
    LoggedEvent,
    Reset,
    ServiceEvent,
)
from trio_mailsync.core.ports import StateStore

__all__ = ["GAP_TIMEOUT", "EventHub", "HubStatistics", "Subscription"]

logger = logging.getLogger(__name__)

#: Seconds a gap in the ids handed to the hub may last before it is read from the store.
GAP_TIMEOUT = 1.0
#: Logged events read from the store at a time when a subscriber replays.
REPLAY_PAGE = 256


@attrs.define
class HubStatistics:
    """Events published, subscribers now, and how often one had to catch up from the log."""

    logged: int = 0
    ephemeral: int = 0
    subscribers: int = 0
    #: Times a subscriber's queue was full and it was moved back to the log.
    lagged: int = 0
    #: Events read back from the store because a gap in the ids did not close.
    gap_filled: int = 0
    #: Events read from the store for subscribers (resumes and catch-ups).
    replayed: int = 0


class Subscription:
    """One consumer's events: a hello, the log after ``since``, then live events.

    Iterate it. ``position`` is the id of the last logged event it returned: a
    consumer that keeps it can resume from it later (``subscribe(since=...)``).
    """

    def __init__(self, hub: EventHub, size: int, since: int | None) -> None:
        self._hub = hub
        self._send, self._receive = trio.open_memory_channel[ServiceEvent](size)
        live = hub.last_id
        #: The id of the last logged event returned (or skipped by a reset).
        self.position = live if since is None else since
        self._replay_until = live
        self._ready = deque[ServiceEvent]([Hello(accounts=hub.states(), last_id=live)])
        if since is not None and not hub.holds_after(since):
            self._ready.append(Reset(since=since, last_id=live))
            self.position = live
        #: Set by the hub when the queue was full: the queue is no longer fed.
        self.lagging = False

    def offer(self, event: ServiceEvent) -> None:
        """Queue a live event (the hub's side); never waits."""
        if self.lagging:
            return
        try:
            self._send.send_nowait(event)
        except trio.WouldBlock:
            self.lagging = True
            self._hub.stats.lagged += 1

    def close(self) -> None:
        """End the stream: iteration stops once what is queued has been read."""
        self._send.close()

    def take_queued(self) -> list[ServiceEvent]:
        """Every event that can be had without waiting (what a replay still has to read aside)."""
        taken = [self._took(e) for e in self._ready]
        self._ready.clear()
        while True:
            try:
                taken.append(self._took(self._receive.receive_nowait()))
            except (trio.WouldBlock, trio.EndOfChannel):
                return taken

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> ServiceEvent:
        while True:
            if self._ready:
                return self._took(self._ready.popleft())
            if self.position < self._replay_until:
                await self._replay_page()
                continue
            try:
                return self._took(self._receive.receive_nowait())
            except trio.WouldBlock:
                pass
            except trio.EndOfChannel:
                raise StopAsyncIteration from None
            if self.lagging:
                # Everything queued is read: fed again from now, and the log until now
                # fills what was not queued. No checkpoint between the two.
                self.lagging = False
                self._replay_until = self._hub.last_id
                self._ready.append(Hello(accounts=self._hub.states(), last_id=self._replay_until))
                continue
            try:
                return self._took(await self._receive.receive())
            except trio.EndOfChannel:
                raise StopAsyncIteration from None

    def _took(self, event: ServiceEvent) -> ServiceEvent:
        if isinstance(event, LoggedEvent):
            self.position = event.id
        return event

    async def _replay_page(self) -> None:
        if not self._hub.holds_after(self.position):
            self._ready.append(Reset(since=self.position, last_id=self._replay_until))
            self.position = self._replay_until
            return
        limit = min(REPLAY_PAGE, self._replay_until - self.position)
        page = await self._hub.store.events_after(self.position, limit)
        page = [e for e in page if e.id <= self._replay_until]
        self._hub.stats.replayed += len(page)
        if not page:
            # Nothing there (pruned meanwhile): what the log held is gone.
            self._ready.append(Reset(since=self.position, last_id=self._replay_until))
            self.position = self._replay_until
            return
        self._ready.extend(page)


class EventHub:
    """Publishes logged events in id order and ephemeral ones at once, to every subscriber.

    ``states`` gives the accounts' states for hellos. ``sole_writer=False``: this process
    is one of many writing the log (a cluster's worker), so the ids it sees have gaps
    that are other writers' events, not delays: its events are published as they come,
    and no gap is waited for or read from the store.
    """

    def __init__(
        self,
        store: StateStore,
        states: Callable[[], Mapping[str, AccountState]],
        *,
        sole_writer: bool = True,
    ) -> None:
        self.store = store
        self.states = states
        self.sole_writer = sole_writer
        #: The highest id published (every lower one was published before it).
        self.last_id = 0
        #: The highest id the store has pruned: a resume from before it gets a reset.
        self.pruned_through = 0
        self.stats = HubStatistics()
        self._held: dict[int, LoggedEvent] = {}
        self._gap = trio.Event()
        self._subscribers: set[Subscription] = set()

    async def open(self) -> None:
        """Learn where the log is (its last id, what was pruned) before anything is published."""
        self.pruned_through, self.last_id = await self.store.log_bounds()

    def holds_after(self, since: int) -> bool:
        """Whether the log still holds every event after ``since``."""
        return self.pruned_through <= since <= self.last_id

    def statistics(self) -> HubStatistics:
        """A copy of the counters."""
        return attrs.evolve(self.stats, subscribers=len(self._subscribers))

    def logged(self, events: Sequence[LoggedEvent]) -> None:
        """Events the store has just logged: published once every lower id has been."""
        if not self.sole_writer:
            for event in events:
                self.last_id = max(self.last_id, event.id)
                self.stats.logged += 1
                self._deliver(event)
            return
        for event in events:
            if event.id > self.last_id:
                self._held[event.id] = event
        self._flush()
        if self._held:
            self._gap.set()

    def _flush(self) -> None:
        while (event := self._held.pop(self.last_id + 1, None)) is not None:
            self.last_id = event.id
            self.stats.logged += 1
            self._deliver(event)

    def publish(self, event: ServiceEvent) -> None:
        """An ephemeral event (a state, a sync result), to every subscriber now."""
        self.stats.ephemeral += 1
        self._deliver(event)

    def _deliver(self, event: ServiceEvent) -> None:
        for subscription in self._subscribers:
            subscription.offer(event)

    @contextmanager
    def subscribe(self, size: int = 256, *, since: int | None = None) -> Iterator[Subscription]:
        """A subscription for the block: a hello, the log after ``since``, then live events."""
        if since is not None and since < 0:
            raise ValueError(f"since must be an event id (0 or more), not {since}")
        subscription = Subscription(self, size, since)
        self._subscribers.add(subscription)
        try:
            yield subscription
        finally:
            self._subscribers.discard(subscription)
            subscription.close()

    def close(self) -> None:
        """End every subscriber's stream (the service is stopping)."""
        for subscription in self._subscribers:
            subscription.close()
        self._subscribers.clear()

    async def prune(self, before: float, keep: int) -> int:
        """Prune the log (``StateStore.prune``); resumes from before it get a reset."""
        deleted = await self.store.prune(before, keep)
        self.pruned_through, _ = await self.store.log_bounds()
        return deleted

    async def run(self) -> NoReturn:
        """Fill gaps that do not close by themselves; runs until cancelled."""
        while True:
            await self._gap.wait()
            self._gap = trio.Event()
            waiting_for = self.last_id + 1
            await trio.sleep(GAP_TIMEOUT)
            if not self._held or self.last_id >= waiting_for:
                continue
            await self._fill(min(self._held))

    async def _fill(self, upto: int) -> None:
        """Read ids from ``last_id + 1`` to ``upto - 1`` from the store, and publish on."""
        logger.warning(
            "event ids %d to %d were not handed on; read from the log", self.last_id + 1, upto - 1
        )
        while self.last_id + 1 < upto:
            page = await self.store.events_after(
                self.last_id, min(REPLAY_PAGE, upto - 1 - self.last_id)
            )
            page = [e for e in page if e.id < upto]
            if not page:
                self.last_id = upto - 1  # never committed: nothing to publish
                break
            for event in page:
                self._held.setdefault(event.id, event)
            self.stats.gap_filled += len(page)
            self._flush()
        self._flush()
        if self._held:
            self._gap.set()
