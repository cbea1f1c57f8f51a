"""A TCP proxy on loopback that adds latency, for benchmarks and tests.

::

    proxy = LatencyProxy("127.0.0.1", 993, rtt=0.050)
    port = await nursery.start(proxy.serve)

Each direction is delayed by half the round-trip time; order and content
are kept. TLS passes through untouched, so certificates still verify.
"""

from __future__ import annotations

import contextlib
from functools import partial

import attrs
import trio

__all__ = ["LatencyProxy", "ProxyStatistics"]

#: Chunks in flight per direction before the reading side waits.
_QUEUE = 256


@attrs.define
class ProxyStatistics:
    connections: int = 0
    bytes_up: int = 0
    bytes_down: int = 0


class LatencyProxy:
    def __init__(self, target_host: str, target_port: int, *, rtt: float = 0.0) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.rtt = rtt
        self.stats = ProxyStatistics()

    def statistics(self) -> ProxyStatistics:
        return attrs.evolve(self.stats)

    async def serve(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Listen on ``host:port`` (0: a free port, reported by ``task_status``)."""
        listeners = await trio.open_tcp_listeners(port, host=host)
        task_status.started(listeners[0].socket.getsockname()[1])
        await trio.serve_listeners(self._handle, listeners)

    async def _handle(self, client: trio.SocketStream) -> None:
        self.stats.connections += 1
        try:
            upstream = await trio.open_tcp_stream(self.target_host, self.target_port)
        except OSError:
            await trio.aclose_forcefully(client)
            return
        async with client, upstream, trio.open_nursery() as nursery:
            nursery.start_soon(partial(self._pump, client, upstream, up=True))
            nursery.start_soon(partial(self._pump, upstream, client, up=False))

    async def _pump(self, source: trio.SocketStream, sink: trio.SocketStream, *, up: bool) -> None:
        delay = self.rtt / 2
        send, receive = trio.open_memory_channel[tuple[float, bytes]](_QUEUE)

        async def read() -> None:
            async with send:
                with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                    while data := await source.receive_some(65536):
                        if up:
                            self.stats.bytes_up += len(data)
                        else:
                            self.stats.bytes_down += len(data)
                        await send.send((trio.current_time() + delay, data))

        async def write() -> None:
            async with receive:
                with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                    async for due, data in receive:
                        await trio.sleep_until(due)
                        await sink.send_all(data)
                    with contextlib.suppress(AttributeError):
                        await sink.send_eof()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(read)
            nursery.start_soon(write)
