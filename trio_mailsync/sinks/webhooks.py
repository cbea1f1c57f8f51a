"""Webhooks: logged events POSTed to an HTTP endpoint, in order, signed, retried.

Each webhook (``[[webhooks]]`` in the config, :class:`WebhookSettings`) reads the
event log from its own cursor in the store (``webhook:<name>``), so it resumes
where it was after a restart, a receiver outage or a slow spell: at least once,
in id order. A batch is the events waiting, up to ``batch_size``; one POST::

    POST <url>
    Content-Type: application/json
    X-Mailsync-Timestamp: 1796200000
    X-Mailsync-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>

    {"webhook": "crm", "events": [{"type": "new_messages", "id": 42, ...}, ...]}

Any 2xx is success: the cursor moves past the batch. A connection error, a
timeout, 408, 429 and 5xx are retried after a backoff with jitter (or the
response's ``Retry-After``), up to ``max_attempts`` POSTs; other answers (a 4xx:
the receiver refuses this batch) and the last failed attempt give the batch up:
its ids are recorded in the store (``trio-mailsync failures``), a
``delivery_failed`` event says so, and the webhook moves on. Receivers
de-duplicate by event ``id`` (a POST whose answer was lost is sent again).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import ssl
import time
from collections.abc import AsyncIterator, Sequence
from email.utils import parsedate_to_datetime
from importlib.metadata import PackageNotFoundError, version
from typing import NoReturn

import attrs
import httpx
import trio

from trio_mailsync.core.backoff import exponential_backoff
from trio_mailsync.core.config import WebhookSettings
from trio_mailsync.core.events import (
    Hello,
    LoggedEvent,
    Reset,
    ServiceEvent,
    event_type,
    to_dict,
)
from trio_mailsync.core.ports import EventSource
from trio_mailsync.secret import Secret

__all__ = ["WebhookSink", "WebhookStatistics", "sign"]

logger = logging.getLogger(__name__)

#: Bytes of a response body read at most (the status is what counts).
MAX_RESPONSE_BODY = 64 * 1024
#: Statuses worth another attempt: the receiver is overloaded, down or slow.
RETRYABLE = frozenset({408, 425, 429, 500, 502, 503, 504})


def sign(secret: Secret | str, timestamp: int, body: bytes) -> str:
    """The ``X-Mailsync-Signature`` value: ``sha256=`` and HMAC-SHA256 over ``"<ts>." + body``."""
    key = (secret.reveal() if isinstance(secret, Secret) else secret).encode()
    digest = hmac.new(key, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def _user_agent() -> str:
    try:
        return f"trio-mailsync/{version('trio-mailsync')}"
    except PackageNotFoundError:  # pragma: no cover  (run from a source tree)
        return "trio-mailsync"


@attrs.define
class WebhookStatistics:
    """What a webhook did since it started."""

    #: Events the receiver accepted (in 2xx answers).
    delivered: int = 0
    #: POSTs sent, retries included.
    requests: int = 0
    #: POSTs that failed and were tried again.
    retries: int = 0
    #: Events given up on after ``max_attempts`` or a refusal.
    failed: int = 0
    #: The last failure's text, until a POST works again.
    last_error: str | None = None
    #: The webhook's cursor: every event up to it was delivered or given up on.
    position: int = 0


class _Failure(Exception):
    """One POST that did not work; ``retry`` says whether another may, ``delay`` when."""

    def __init__(self, message: str, *, retry: bool, delay: float | None = None) -> None:
        super().__init__(message)
        self.retry = retry
        self.delay = delay


def _retry_after(value: str | None) -> float | None:
    """A ``Retry-After`` header's seconds (a number or an HTTP date); ``None`` if unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


class WebhookSink:
    """One webhook: an :class:`~trio_mailsync.core.ports.EventSink` that POSTs logged events.

    ``transport`` replaces httpx's network transport (tests); ``rng`` draws the jitter.
    """

    def __init__(
        self,
        settings: WebhookSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.stats = WebhookStatistics()
        self._transport = transport
        self._rng = rng or random.Random()

    @property
    def consumer(self) -> str:
        """The webhook's name in the store (its cursor, its failures)."""
        return f"webhook:{self.settings.name}"

    def statistics(self) -> WebhookStatistics:
        """A copy of the counters."""
        return attrs.evolve(self.stats)

    def wanted(self, event: ServiceEvent) -> bool:
        """Whether the event goes to this webhook (its types and accounts)."""
        if isinstance(event, Reset):
            return True
        if not isinstance(event, LoggedEvent):
            return False
        s = self.settings
        return (s.events is None or event_type(event) in s.events) and (
            s.accounts is None or event.account in s.accounts
        )

    async def run(
        self,
        source: EventSource,
        *,
        task_status: trio.TaskStatus[object] = trio.TASK_STATUS_IGNORED,
    ) -> NoReturn:
        """Deliver the log from the webhook's cursor on, until cancelled."""
        since = await source.cursor(self.consumer)
        size = self.settings.batch_size
        # Reader to sender: bounded, so that a webhook that is behind (a receiver
        # down for an hour) reads the log instead of holding its events in memory.
        send, receive = trio.open_memory_channel[LoggedEvent | Reset](size)
        async with self._client() as client, trio.open_nursery() as nursery:
            with source.subscribe(size, since=since) as events:
                nursery.start_soon(self._read, source, events, since, send)
                task_status.started(self)
                async with receive:
                    while True:
                        batch = [await receive.receive()]
                        while len(batch) < size:
                            try:
                                batch.append(receive.receive_nowait())
                            except trio.WouldBlock:
                                break
                        await self._deliver(client, source, batch)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _read(
        self,
        source: EventSource,
        events: AsyncIterator[ServiceEvent],
        since: int | None,
        send: trio.MemorySendChannel[LoggedEvent | Reset],
    ) -> None:
        async with send:
            async for event in events:
                if isinstance(event, Hello):
                    if since is None:
                        # First run: from the log's end on, and remembered as such.
                        since = event.last_id
                        await source.set_cursor(self.consumer, since)
                        self.stats.position = since
                elif isinstance(event, LoggedEvent | Reset):
                    await send.send(event)

    def _client(self) -> httpx.AsyncClient:
        s = self.settings
        verify: ssl.SSLContext | bool = True
        if s.ca_file is not None:
            verify = ssl.create_default_context(cafile=str(s.ca_file))
        return httpx.AsyncClient(
            transport=self._transport,
            verify=verify,
            timeout=httpx.Timeout(s.timeout),
            follow_redirects=False,
            # Proxies from the environment would see the events; the URL says where.
            trust_env=False,
            headers={"User-Agent": _user_agent()},
        )

    async def _deliver(
        self,
        client: httpx.AsyncClient,
        source: EventSource,
        batch: Sequence[LoggedEvent | Reset],
    ) -> None:
        """POST the batch's wanted events until it works or is given up; then move the cursor."""
        chosen = [e for e in batch if self.wanted(e)]
        if chosen:
            body = json.dumps(
                {"webhook": self.settings.name, "events": [to_dict(e) for e in chosen]},
                ensure_ascii=False,
                separators=(",", ":"),
            ).encode()
            ids = [e.id for e in chosen if isinstance(e, LoggedEvent)]
            error = await self._post_until_done(client, body)
            if error is None:
                self.stats.delivered += len(chosen)
                self.stats.last_error = None
            elif ids:
                self.stats.failed += len(ids)
                await source.give_up(self.consumer, ids, error)
        last = batch[-1]
        position = last.last_id if isinstance(last, Reset) else last.id
        await source.set_cursor(self.consumer, position)
        self.stats.position = position

    async def _post_until_done(self, client: httpx.AsyncClient, body: bytes) -> str | None:
        """POST with retries; ``None`` once it worked, else the last failure's text."""
        s = self.settings
        attempt = 0
        while True:
            attempt += 1
            try:
                await self._post(client, body, attempt)
            except _Failure as failure:
                error = f"attempt {attempt}: {failure}"
                self.stats.last_error = error
                if not failure.retry or attempt >= s.max_attempts:
                    logger.warning("webhook %s: %s; giving up on the batch", s.name, error)
                    return error
                delay = failure.delay
                if delay is None:
                    backoff = exponential_backoff(
                        attempt, initial=s.retry_initial, maximum=s.retry_max
                    )
                    delay = backoff * self._rng.uniform(0.5, 1.0)
                logger.info("webhook %s: %s; again in %.1f s", s.name, error, delay)
                self.stats.retries += 1
                await trio.sleep(min(delay, s.retry_max))
            else:
                return None

    async def _post(self, client: httpx.AsyncClient, body: bytes, attempt: int) -> None:
        s = self.settings
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "X-Mailsync-Timestamp": str(timestamp),
            "X-Mailsync-Signature": sign(s.secret, timestamp, body),
            "X-Mailsync-Attempt": str(attempt),
        }
        self.stats.requests += 1
        # httpx's timeout bounds each step; this bounds the whole request (a
        # receiver that trickles its answer byte by byte).
        with trio.move_on_after(s.timeout) as scope:
            try:
                async with client.stream("POST", s.url, content=body, headers=headers) as response:
                    read = 0
                    async for chunk in response.aiter_raw():
                        read += len(chunk)
                        if read > MAX_RESPONSE_BODY:
                            break
            except httpx.TransportError as exc:
                raise _Failure(f"{type(exc).__name__}: {exc or 'no detail'}", retry=True) from None
        if scope.cancelled_caught:
            raise _Failure(f"no answer within {s.timeout:g} s", retry=True)
        status = response.status_code
        if 200 <= status < 300:
            return
        retry = status in RETRYABLE or status >= 500
        delay = _retry_after(response.headers.get("Retry-After")) if retry else None
        raise _Failure(f"HTTP {status} {response.reason_phrase}".rstrip(), retry=retry, delay=delay)
