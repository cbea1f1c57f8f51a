"""A webhook receiver on loopback that verifies signatures and misbehaves on cue.

::

    receiver = WebhookReceiver("the-secret")
    port = await nursery.start(receiver.serve)
    receiver.script(Answer(status=503), Answer(status=429, retry_after="2"), Answer(drop=True))
    ...
    await receiver.wait_for_events(10, within=60)
    assert receiver.event_ids() == sorted(set(receiver.event_ids()))

Each request takes the next scripted :class:`Answer` (a 200 once the script is
empty): a status with its headers, a stall before answering, or a dropped
connection. Every request is kept as a :class:`Delivery`, with whether its
signature verified; the events of deliveries answered 2xx are what the receiver
"has". HTTP/1.1 with keep-alive, parsed by h11.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections import deque
from typing import Any

import attrs
import h11
import trio

__all__ = ["Answer", "Delivery", "WebhookReceiver"]

MAX_BODY = 16 * 1024 * 1024


@attrs.frozen(kw_only=True)
class Answer:
    """What the receiver does with one request."""

    status: int = 200
    #: ``Retry-After``'s value, if any.
    retry_after: str | None = None
    #: Seconds to wait before answering (a stalled receiver).
    delay: float = 0.0
    #: Close the connection instead of answering (a crash mid-request).
    drop: bool = False


@attrs.frozen(kw_only=True)
class Delivery:
    """One request as received."""

    headers: dict[str, str]
    body: bytes
    #: Whether ``X-Mailsync-Signature`` matched the body and timestamp.
    verified: bool
    answer: Answer
    #: ``trio.current_time()`` when it was read.
    time: float

    @property
    def accepted(self) -> bool:
        """Answered with a 2xx: the sender moves on."""
        return not self.answer.drop and 200 <= self.answer.status < 300

    @property
    def events(self) -> list[dict[str, Any]]:
        """The events of the POST's body."""
        events: list[dict[str, Any]] = json.loads(self.body)["events"]
        return events


class WebhookReceiver:
    """Receives webhook POSTs on 127.0.0.1 (see the module's docs)."""

    def __init__(self, secret: str, *, tolerance: float = 300.0) -> None:
        self.secret = secret
        #: Seconds a timestamp may be off for its signature to count.
        self.tolerance = tolerance
        self.deliveries: list[Delivery] = []
        self._script: deque[Answer] = deque()
        self._arrived = trio.Event()

    def script(self, *answers: Answer) -> None:
        """Answers for the next requests, in order (then 200s)."""
        self._script.extend(answers)

    def verify(self, headers: dict[str, str], body: bytes) -> bool:
        """The receiver's side of the signature: what a real receiver should check."""
        timestamp = headers.get("x-mailsync-timestamp", "")
        signature = headers.get("x-mailsync-signature", "")
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > self.tolerance:
            return False
        key = self.secret.encode()
        expected = hmac.new(key, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(signature, f"sha256={expected}")

    def accepted_events(self) -> list[dict[str, Any]]:
        """The events of every accepted delivery, in the order received (duplicates kept)."""
        return [e for d in self.deliveries if d.accepted for e in d.events]

    def event_ids(self) -> list[int]:
        """The ids of :meth:`accepted_events` (a ``reset`` has none and is left out)."""
        return [e["id"] for e in self.accepted_events() if "id" in e]

    async def wait_for_events(self, count: int, *, within: float) -> None:
        """Until accepted deliveries hold ``count`` distinct event ids; ``TooSlowError`` after."""
        with trio.fail_after(within):
            while len(set(self.event_ids())) < count:
                await self._arrived.wait()

    async def serve(
        self, port: int = 0, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Listen on 127.0.0.1:``port`` until cancelled; ``task_status.started(port)``."""
        (listener,) = await trio.open_tcp_listeners(port, host="127.0.0.1")
        async with listener, trio.open_nursery() as nursery:
            task_status.started(listener.socket.getsockname()[1])
            while True:
                stream = await listener.accept()
                nursery.start_soon(self._connection, stream)

    async def _connection(self, stream: trio.SocketStream) -> None:
        connection = h11.Connection(h11.SERVER, max_incomplete_event_size=64 * 1024)
        async with stream:
            try:
                while True:
                    request = await self._request(stream, connection)
                    if request is None:
                        return
                    headers, body = request
                    answer = self._script.popleft() if self._script else Answer()
                    self.deliveries.append(
                        Delivery(
                            headers=headers,
                            body=body,
                            verified=self.verify(headers, body),
                            answer=answer,
                            time=trio.current_time(),
                        )
                    )
                    await trio.sleep(answer.delay)
                    if answer.drop:
                        return
                    self._arrived.set()
                    self._arrived = trio.Event()
                    out = [(b"Content-Length", b"2"), (b"Content-Type", b"text/plain")]
                    if answer.retry_after is not None:
                        out.append((b"Retry-After", answer.retry_after.encode()))
                    response = h11.Response(status_code=answer.status, headers=out)
                    await stream.send_all(
                        connection.send(response)
                        + connection.send(h11.Data(data=b"ok"))
                        + connection.send(h11.EndOfMessage())
                    )
                    if connection.our_state is not h11.DONE:
                        return
                    connection.start_next_cycle()
            except (trio.BrokenResourceError, trio.ClosedResourceError, h11.ProtocolError):
                return

    async def _request(
        self, stream: trio.SocketStream, connection: h11.Connection
    ) -> tuple[dict[str, str], bytes] | None:
        """The next request's headers and body; ``None`` when the client closed."""
        headers: dict[str, str] = {}
        body = bytearray()
        while True:
            event = connection.next_event()
            if event is h11.NEED_DATA:
                data = await stream.receive_some(65536)
                connection.receive_data(data)
                continue
            if isinstance(event, h11.Request):
                headers = {k.decode().lower(): v.decode() for k, v in event.headers}
            elif isinstance(event, h11.Data):
                body += event.data
                if len(body) > MAX_BODY:
                    return None
            elif isinstance(event, h11.EndOfMessage):
                return headers, bytes(body)
            elif isinstance(event, h11.ConnectionClosed):
                return None
