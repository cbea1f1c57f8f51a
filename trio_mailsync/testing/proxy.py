"""A fault-injecting TCP proxy on loopback, controlled while traffic flows.

::

    proxy = FaultProxy("127.0.0.1", 993)
    port = await nursery.start(proxy.serve)
    ...                      # point the client at port
    proxy.rtt = 0.050        # from now on, 25 ms each way
    proxy.connections[0].reset_after(100)   # cut it 100 bytes later, e.g. inside a literal
    proxy.stall()            # a NAT box dropping everything, sockets left open
    proxy.refusing = True    # new connections are reset at once

Settings (``rtt``, ``bandwidth``, ``sliced``, ``refusing``) apply to all
connections from the next chunk on; actions apply to one connection
(:class:`ProxiedConnection`) or to all. Order and content are kept unless a
fault says otherwise. TLS passes through untouched, so certificates still
verify; ``inject`` then breaks the TLS stream, as an attacker would.
"""

from __future__ import annotations

import contextlib
import fcntl
import socket
import struct
from typing import Literal

import attrs
import trio

__all__ = ["Direction", "FaultProxy", "LatencyProxy", "ProxiedConnection", "ProxyStatistics"]

#: "up": client to server; "down": server to client.
Direction = Literal["up", "down"]

#: Linux's SIOCOUTQ (= TIOCOUTQ): bytes sent on a TCP socket and not yet acknowledged.
_OUTQ = 0x5411
#: Chunks in flight per direction before the reading side waits.
_QUEUE = 256


@attrs.define
class ProxyStatistics:
    """What a :class:`FaultProxy` did: connections taken, refused and reset, bytes each way."""

    connections: int = 0
    refused: int = 0
    resets: int = 0
    bytes_up: int = 0
    bytes_down: int = 0


def _reset(stream: trio.SocketStream) -> None:
    """Close with RST instead of FIN, as a crashed peer or a middlebox would."""
    with contextlib.suppress(OSError):
        stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    stream.socket.close()


async def _sent(stream: trio.SocketStream, *, within: float = 1.0) -> None:
    """Wait (bounded) until the peer has acknowledged everything sent on ``stream``."""
    with trio.move_on_after(within):
        while True:
            try:
                unacked = struct.unpack("i", fcntl.ioctl(stream.socket.fileno(), _OUTQ, b"\0" * 4))
            except OSError:
                return  # not Linux, or closed: nothing to wait for
            if unacked[0] == 0:
                return
            await trio.sleep(0.001)


class ProxiedConnection:
    """One client connection and its upstream; faults for it alone."""

    def __init__(
        self, proxy: FaultProxy, client: trio.SocketStream, upstream: trio.SocketStream
    ) -> None:
        self.proxy = proxy
        self.client = client
        self.upstream = upstream
        self.forwarded: dict[Direction, int] = {"up": 0, "down": 0}
        self._limits: dict[Direction, int | None] = {"up": None, "down": None}
        self._resumed = trio.Event()
        self._resumed.set()
        self._scope = trio.CancelScope()
        self._locks: dict[Direction, trio.Lock] = {"up": trio.Lock(), "down": trio.Lock()}
        self.closed = False

    def reset(self) -> None:
        """Reset both sides now."""
        if not self.closed:
            self.closed = True
            self.proxy.stats.resets += 1
            _reset(self.client)
            _reset(self.upstream)
            self._scope.cancel()

    def reset_after(self, count: int, direction: Direction = "down") -> None:
        """Forward ``count`` more bytes in ``direction``, then reset."""
        self._limits[direction] = self.forwarded[direction] + count

    def stall(self) -> None:
        """Forward nothing either way (held, not lost) until :meth:`resume`."""
        self._resumed = trio.Event()

    def resume(self) -> None:
        """Forward again what :meth:`stall` held, in order."""
        self._resumed.set()

    async def inject(self, data: bytes, direction: Direction = "down") -> None:
        """Send ``data`` as if it came from the server ("down") or the client ("up")."""
        sink = self.client if direction == "down" else self.upstream
        async with self._locks[direction]:
            await sink.send_all(data)

    async def _pump(self, direction: Direction) -> None:
        source, sink = (
            (self.client, self.upstream) if direction == "up" else (self.upstream, self.client)
        )
        send, receive = trio.open_memory_channel[tuple[float, bytes]](_QUEUE)

        broken = (trio.BrokenResourceError, trio.ClosedResourceError, OSError)

        async def read() -> None:
            async with send:
                with contextlib.suppress(*broken):
                    while data := await source.receive_some(65536):
                        if direction == "up":
                            self.proxy.stats.bytes_up += len(data)
                        else:
                            self.proxy.stats.bytes_down += len(data)
                        await send.send((trio.current_time() + self.proxy.rtt / 2, data))

        async def write() -> None:
            async with receive:
                with contextlib.suppress(*broken):
                    async for due, data in receive:
                        await trio.sleep_until(due)
                        await self._resumed.wait()
                        await self._forward(sink, data, direction)
                    await sink.send_eof()

        # Each task ends quietly on a broken stream: a group never escapes.
        async with trio.open_nursery() as nursery:
            nursery.start_soon(read)
            nursery.start_soon(write)

    async def _forward(self, sink: trio.SocketStream, data: bytes, direction: Direction) -> None:
        limit = self._limits[direction]
        cut = limit is not None and self.forwarded[direction] + len(data) >= limit
        if cut:
            assert limit is not None
            data = data[: max(0, limit - self.forwarded[direction])]
        step = 1 if self.proxy.sliced else len(data) or 1
        async with self._locks[direction]:
            for start in range(0, len(data), step):
                piece = data[start : start + step]
                self.forwarded[direction] += len(piece)  # first: the peer may see it at once
                await sink.send_all(piece)
                if self.proxy.bandwidth:
                    await trio.sleep(len(piece) / self.proxy.bandwidth)
        if cut:
            await _sent(sink)  # a RST overtaking them would discard them
            self.reset()

    async def run(self) -> None:
        """Pump both directions until either side closes or the connection is reset."""
        with self._scope:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._pump, "up")
                nursery.start_soon(self._pump, "down")


class FaultProxy:
    """A TCP proxy to ``target_host:target_port`` with faults; see the module's doc."""

    def __init__(self, target_host: str, target_port: int, *, rtt: float = 0.0) -> None:
        self.target_host = target_host
        self.target_port = target_port
        #: Round-trip time added: each direction is delayed by half of it.
        self.rtt = rtt
        #: Bytes per second per direction and connection; ``None``: no cap.
        self.bandwidth: float | None = None
        #: Forward one byte per write.
        self.sliced = False
        #: Reset new connections at once.
        self.refusing = False
        self.connections: list[ProxiedConnection] = []
        self.stats = ProxyStatistics()
        self._stalled = False

    def statistics(self) -> ProxyStatistics:
        """A snapshot of the counters (trio's ``statistics()`` convention)."""
        return attrs.evolve(self.stats)

    def reset_all(self) -> None:
        """Reset every open connection now."""
        for conn in list(self.connections):
            conn.reset()

    def stall(self) -> None:
        """Blackhole: open connections and new ones forward nothing until :meth:`resume`."""
        self._stalled = True
        for conn in self.connections:
            conn.stall()

    def resume(self) -> None:
        """End the blackhole: every connection forwards what it held, then goes on."""
        self._stalled = False
        for conn in self.connections:
            conn.resume()

    async def inject(self, data: bytes, direction: Direction = "down") -> None:
        """Inject ``data`` into every open connection."""
        for conn in list(self.connections):
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                await conn.inject(data, direction)

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
        if self.refusing:
            self.stats.refused += 1
            _reset(client)
            return
        self.stats.connections += 1
        try:
            upstream = await trio.open_tcp_stream(self.target_host, self.target_port)
        except OSError:
            _reset(client)
            return
        conn = ProxiedConnection(self, client, upstream)
        if self._stalled:
            conn.stall()
        self.connections.append(conn)
        try:
            async with client, upstream:
                await conn.run()
        finally:
            conn.closed = True
            self.connections.remove(conn)


class LatencyProxy(FaultProxy):
    """A :class:`FaultProxy` used for its latency alone (the benchmarks' name for it)."""
