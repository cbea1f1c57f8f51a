"""Events from the workers to the broadcasters: a capped Redis Stream, the store's log behind it.

A worker's :class:`StreamPublisher` appends each event its service logs to the stream
``<prefix>:events`` (``XADD ... MAXLEN ~ n``), right after the store committed it. A
broadcaster's :class:`ClusterEvents` is the ``EventSource`` its WebSocket sink serves: it
reads the stream from where it is (``XREAD BLOCK``) into an event hub
(``service.hub.EventHub``), which hands events on in id order, drops what it has
published already and reads any gap from the store. The store's log is the truth, the
stream only saves broadcasters a read of it: an event whose worker died between commit
and ``XADD``, or that Redis lost, is found by a poll of the log's tail
(:data:`LOG_POLL` seconds), and a client that resumes from an older id replays it from
the store as a ``serve`` client would.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, NoReturn

import attrs
import coredis
import trio
from coredis.exceptions import RedisError

from trio_mailsync.core.events import (
    AccountState,
    AccountStateChanged,
    DeliveryFailed,
    LoggedEvent,
    ServiceEvent,
    from_json,
    to_json,
)
from trio_mailsync.core.ports import EventSource, StateStore
from trio_mailsync.service.hub import EventHub

__all__ = ["LOG_POLL", "ClusterEvents", "StreamPublisher", "StreamStatistics"]

logger = logging.getLogger(__name__)

#: Seconds between a broadcaster's reads of the log's tail (for what the stream missed).
LOG_POLL = 1.0
#: Seconds to wait after Redis failed, before trying again.
RETRY = 1.0
#: Entries read from the stream at once, and how long one read blocks (ms).
READ_COUNT = 512
READ_BLOCK_MS = 5000


@attrs.define
class StreamStatistics:
    """What a publisher or a reader did."""

    #: Events appended to the stream (publisher) or read from it (reader).
    events: int = 0
    #: Redis calls that failed (each retried after :data:`RETRY`).
    failures: int = 0
    #: Events a broadcaster found in the log before the stream brought them.
    from_log: int = 0


class StreamPublisher:
    """Appends a worker's logged events to the cluster's stream (see the module's doc)."""

    def __init__(self, client: coredis.Redis[str], *, prefix: str, length: int) -> None:
        self.client = client
        self.key = f"{prefix}:events"
        self.length = length
        self.stats = StreamStatistics()

    async def run(
        self, source: EventSource, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> NoReturn:
        """Publish ``source``'s logged events until cancelled; started once subscribed."""
        with source.subscribe(4096) as events:
            task_status.started()
            async for event in events:
                if isinstance(event, LoggedEvent | AccountStateChanged):
                    await self._add(event)
        raise RuntimeError("the event source ended")

    async def _add(self, event: LoggedEvent | AccountStateChanged) -> None:
        # An account's state is not logged (no id): broadcasters pass it on and keep the
        # newest per account for their hellos.
        fields = {"event": to_json(event)}
        if isinstance(event, LoggedEvent):
            fields["id"] = str(event.id)
        try:
            await self.client.xadd(
                self.key,
                fields,
                trim_strategy=coredis.PureToken.MAXLEN,
                trim_operator=coredis.PureToken.APPROXIMATELY,
                threshold=self.length,
            )
            self.stats.events += 1
        except (OSError, RedisError) as exc:
            # Not retried: the broadcasters find a logged event in the log (LOG_POLL), in
            # order; a state is shown again at the account's next change.
            self.stats.failures += 1
            logger.warning("%s not added to the stream: %s", type(event).__name__, exc)


class ClusterEvents:
    """A broadcaster's ``EventSource``: the cluster's events, from the stream and the store.

    ``accounts`` is how many accounts the cluster runs (sinks size their queues by it).
    Hellos carry the accounts' states as the workers last reported them through the
    stream since this broadcaster started (an account quiet since then is not in them).
    """

    def __init__(
        self, store: StateStore, client: coredis.Redis[str], *, prefix: str, accounts: int
    ) -> None:
        self.store = store
        self.client = client
        self.key = f"{prefix}:events"
        #: account -> its newest state from the workers (for hellos).
        self.states: dict[str, AccountState] = {}
        self.hub = EventHub(store, lambda: dict(self.states))
        self._accounts = accounts
        self.stats = StreamStatistics()

    @property
    def account_count(self) -> int:
        """How many accounts the cluster runs."""
        return self._accounts

    def subscribe(
        self, size: int = 256, *, since: int | None = None
    ) -> AbstractContextManager[AsyncIterator[ServiceEvent]]:
        """A hello, every logged event after ``since`` (``None``: from now), then live ones."""
        return self.hub.subscribe(size, since=since)

    async def cursor(self, name: str) -> int | None:
        """A durable consumer's position in the log."""
        return await self.store.cursor(name)

    async def set_cursor(self, name: str, position: int) -> None:
        """Record a durable consumer's position in the log."""
        await self.store.set_cursor(name, position)

    async def give_up(self, consumer: str, event_ids: Sequence[int], error: str) -> None:
        """Record that ``consumer`` gave up on these events, and say so to subscribers."""
        await self.store.record_failure(consumer, event_ids, error)
        self.hub.publish(DeliveryFailed(consumer=consumer, event_ids=tuple(event_ids), error=error))

    def statistics(self) -> StreamStatistics:
        """What was read so far (a copy)."""
        return attrs.evolve(self.stats)

    async def run(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> NoReturn:
        """Read the stream and the log's tail into the hub until cancelled."""
        await self.hub.open()
        # Where the stream ends now: whatever is added once this has started is read.
        position = await self._stream_end()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self.hub.run)
            nursery.start_soon(self._read_stream, position)
            nursery.start_soon(self._poll_log)
            task_status.started()
        raise AssertionError("unreachable")  # pragma: no cover

    async def _stream_end(self) -> str:
        """The id of the stream's last entry ("0-0" if none): reads go on after it."""
        try:
            last: Any = await self.client.xrevrange(self.key, end="+", start="-", count=1)
        except (OSError, RedisError):
            return "$"  # from whenever it answers; the log has the rest
        return str(last[0].identifier) if last else "0-0"

    async def _read_stream(self, position: str) -> NoReturn:
        while True:
            try:
                found: Any = await self.client.xread(
                    {self.key: position}, count=READ_COUNT, block=READ_BLOCK_MS
                )
            except (OSError, RedisError) as exc:
                self.stats.failures += 1
                logger.warning("the event stream cannot be read: %s", exc)
                # Redis may come back empty, its ids starting again: from now on, again.
                position = "$"
                await trio.sleep(RETRY)
                continue
            entries: Sequence[Any] = next(iter((found or {}).values()), ())
            if entries:
                position = str(entries[-1].identifier)
                logged = []
                for entry in entries:
                    event = from_json(entry.field_values["event"])
                    if isinstance(event, LoggedEvent):
                        logged.append(event)
                    elif isinstance(event, AccountStateChanged):
                        self.hub.logged(logged)  # in the stream's order
                        logged = []
                        if event.state is AccountState.REMOVED:
                            # Removed, or moved to another worker (whose states follow).
                            self.states.pop(event.account, None)
                        else:
                            self.states[event.account] = event.state
                        self.hub.publish(event)
                self.hub.logged(logged)
                self.stats.events += len(entries)

    async def _poll_log(self) -> NoReturn:
        while True:
            await trio.sleep(LOG_POLL)
            while events := await self.store.events_after(self.hub.last_id, 256):
                self.stats.from_log += len(events)
                self.hub.logged(events)
