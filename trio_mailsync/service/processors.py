"""Processors: an application's work on new mail (a classifier, say), run after the fact.

::

    async def classify(message: MessageRecord) -> dict[str, str]:
        return {"label": await model.label(message.subject)}

    service.add_processor(classify, concurrency=4, timeout=30)

A processor reads the event log like any other consumer, after the
``new_messages`` event was logged and published: however slow it is, it never
delays that event. Each message's outcome (what the function returned, or why
it failed or timed out) is logged as a ``message_processed`` event, once.

Its position is a cursor in the store (``processor:<name>``): the id below
which every message is done. A message whose call was cut short (the service
stopped, the process was killed) has no result in the log, so it is processed
again after a restart; one that has a result is skipped. A processor added for
the first time starts at the log's end (mail that already arrived is not
processed).

Calls run in a nursery of the processor's own, ``concurrency`` at a time, each
bounded by ``timeout``; a processor that falls behind reads the log (its queue
does not grow). Anything that goes wrong outside the function (the store) stops
the processor's tasks; the service restarts them after a backoff, from the cursor.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn

import attrs
import trio

from trio_mailsync.core.events import LoggedEvent, MessageProcessed, NewMessages, Reset
from trio_mailsync.core.model import MessageRecord
from trio_mailsync.core.ports import StateStore
from trio_mailsync.service.hub import EventHub

__all__ = ["Processor", "ProcessorRunner", "ProcessorStatistics"]

logger = logging.getLogger(__name__)

#: An application's processor: takes a new message, returns JSON data (or ``None``).
Processor = Callable[[MessageRecord], Awaitable[Any]]

#: The live events a processor's subscription queues before it reads the log instead.
QUEUE_SIZE = 64


@attrs.define
class ProcessorStatistics:
    """What a processor did since the service started."""

    #: Messages with a result logged.
    processed: int = 0
    #: Of those, the calls that raised or timed out (their error is the result).
    failed: int = 0
    #: Calls running now.
    running: int = 0
    #: Messages skipped because their result was already in the log (a restart).
    skipped: int = 0
    #: Where the processor's cursor is: every message of an event up to it is done.
    position: int = 0


class _Progress:
    """Which events are done: the cursor is the highest id with nothing unfinished up to it."""

    def __init__(self, start: int) -> None:
        self.position = start
        self._seen = start
        #: Unfinished calls per event id.
        self._open: dict[int, int] = {}
        self.moved = trio.Event()

    def seen(self, event_id: int, calls: int) -> None:
        """An event was read, with ``calls`` messages to process."""
        if calls:
            self._open[event_id] = calls
        self._seen = event_id
        self._advance()

    def done(self, event_id: int) -> None:
        self._open[event_id] -= 1
        if not self._open[event_id]:
            del self._open[event_id]
        self._advance()

    def _advance(self) -> None:
        position = min(self._open) - 1 if self._open else self._seen
        if position > self.position:
            self.position = position
            self.moved.set()


class ProcessorRunner:
    """Runs one processor over the log's new messages (see the module's docs)."""

    def __init__(
        self,
        function: Processor,
        *,
        name: str,
        hub: EventHub,
        store: StateStore,
        concurrency: int,
        timeout: float,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, not {concurrency}")
        if not timeout > 0:
            raise ValueError(f"timeout must be positive, not {timeout}")
        self.function = function
        self.name = name
        self.hub = hub
        self.store = store
        self.concurrency = concurrency
        self.timeout = timeout
        self.stats = ProcessorStatistics()

    @property
    def cursor_name(self) -> str:
        """The processor's cursor in the store."""
        return f"processor:{self.name}"

    def statistics(self) -> ProcessorStatistics:
        """A copy of the counters."""
        return attrs.evolve(self.stats)

    async def run(self) -> NoReturn:
        """Process new messages from the cursor on, until cancelled."""
        start = await self.store.cursor(self.cursor_name)
        if start is None:
            start = self.hub.last_id
            await self.store.set_cursor(self.cursor_name, start)
        progress = _Progress(start)
        self.stats.position = start
        limiter = trio.CapacityLimiter(self.concurrency)
        with self.hub.subscribe(QUEUE_SIZE, since=start) as events:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._keep_cursor, progress)
                async for event in events:
                    if isinstance(event, Reset):
                        # The log no longer holds what this processor had not read: those
                        # messages are not processed. Said once, loudly.
                        logger.error(
                            "processor %s: events %d to %d were pruned before it read them",
                            self.name,
                            event.since + 1,
                            event.last_id,
                        )
                        progress.seen(event.last_id, 0)
                    elif isinstance(event, NewMessages):
                        await self._start(event, progress, limiter, nursery)
                    elif isinstance(event, LoggedEvent):
                        progress.seen(event.id, 0)
        raise AssertionError("unreachable")  # pragma: no cover  (the hub closes at exit only)

    async def _start(
        self,
        event: NewMessages,
        progress: _Progress,
        limiter: trio.CapacityLimiter,
        nursery: trio.Nursery,
    ) -> None:
        done = await self.store.processed(self.name, (m.key for m in event.messages))
        todo = [m for m in event.messages if m.key not in done]
        self.stats.skipped += len(event.messages) - len(todo)
        progress.seen(event.id, len(todo))
        for message in todo:
            # Taken here, so that reading waits while every slot is busy: the
            # subscription then falls back to the log instead of queueing without end.
            await limiter.acquire_on_behalf_of(message)
            nursery.start_soon(self._call, event.id, message, progress, limiter)

    async def _call(
        self,
        event_id: int,
        message: MessageRecord,
        progress: _Progress,
        limiter: trio.CapacityLimiter,
    ) -> None:
        self.stats.running += 1
        try:
            result, error = await self._outcome(message)
            logged = await self.store.append(
                [
                    MessageProcessed(
                        account=message.account,
                        processor=self.name,
                        folder=message.folder,
                        generation=message.generation,
                        uid=message.uid,
                        result=result,
                        error=error,
                    )
                ]
            )
        finally:
            self.stats.running -= 1
            limiter.release_on_behalf_of(message)
        self.hub.logged(logged)
        self.stats.processed += 1
        self.stats.failed += error is not None
        progress.done(event_id)

    async def _outcome(self, message: MessageRecord) -> tuple[Any, str | None]:
        """(result, None), or (None, why it failed). Cancellation from outside goes through."""
        with trio.move_on_after(self.timeout) as scope:
            try:
                result = await self.function(message)
            except Exception as exc:  # the application's code: any failure is its result
                logger.warning(
                    "processor %s failed on %s %s UID %d: %r",
                    self.name,
                    message.account,
                    message.folder,
                    message.uid,
                    exc,
                )
                return None, f"{type(exc).__name__}: {exc}"
            try:
                json.dumps(result)
            except (TypeError, ValueError) as exc:
                return None, f"the result is not JSON data: {exc}"
            return result, None
        assert scope.cancelled_caught
        return None, f"timed out after {self.timeout:g} s"

    async def _keep_cursor(self, progress: _Progress) -> NoReturn:
        """Write the cursor whenever it moved; writes coalesce while one is running."""
        while True:
            await progress.moved.wait()
            progress.moved = trio.Event()
            position = progress.position
            await self.store.set_cursor(self.cursor_name, position)
            self.stats.position = position
