"""Account leases and worker heartbeats in Redis, with fencing tokens.

A lease is a key ``<prefix>:lease:<account>`` whose value names its worker and token
(``"w1 17"``), set only if absent and with an expiry (``SET NX PX``); its worker renews
it by compare-and-extend (the expiry moves only if the value is still its own) and gives
it up by compare-and-delete. Each lease taken draws a fencing token from one counter
(``INCR <prefix>:fence``); the worker claims the account in the store with that token,
and the store refuses any write with an older one, so a worker that lost its lease
(paused, cut off) can never commit over the account's next owner.

Redis may lose everything (a restart without persistence, a failover to an empty
replica): the counter would start again below the tokens the store has seen. A taker
therefore passes a floor, the newest token the store reported for the account (from a
refused claim), and the counter jumps above it.

Live workers are a sorted set ``<prefix>:workers``: each heartbeat scores its worker with
its expiry, in Redis' own clock, so workers' clocks never need to agree.

Every operation is one round trip (a Lua script, atomic in Redis); renewing all of a
worker's leases is one call, whatever their number.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, NoReturn

import attrs
import coredis
import trio
from coredis.exceptions import RedisError

__all__ = ["Lease", "Leases", "run_while_held"]

logger = logging.getLogger(__name__)

# KEYS: lease, counter. ARGV: worker, ttl ms, floor. -> token, or false if held.
_TAKE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local token = redis.call('INCR', KEYS[2])
local floor = tonumber(ARGV[3])
if token <= floor then
    token = floor + 1
    redis.call('SET', KEYS[2], token)
end
redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. token, 'PX', ARGV[2])
return token
"""

# KEYS: leases. ARGV: ttl ms, then one "worker token" value per key. -> 1/0 per key.
_RENEW = """
local kept = {}
for i, key in ipairs(KEYS) do
    if redis.call('GET', key) == ARGV[i + 1] then
        redis.call('PEXPIRE', key, ARGV[1])
        kept[i] = 1
    else
        kept[i] = 0
    end
end
return kept
"""

# KEYS: lease. ARGV: "worker token". -> 1 if it was ours and is gone.
_GIVE_UP = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# KEYS: workers. ARGV: worker, ttl ms. -> the live workers (expired ones are dropped).
_HEARTBEAT = """
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ms)
redis.call('ZADD', KEYS[1], ms + tonumber(ARGV[2]), ARGV[1])
return redis.call('ZRANGE', KEYS[1], 0, -1)
"""

# KEYS: workers.
_LIVE = """
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ms, '+inf')
"""

# KEYS: workers. ARGV: worker.
_LEAVE = "return redis.call('ZREM', KEYS[1], ARGV[1])"


@attrs.frozen
class Lease:
    """A lease held: the account and the fencing token it was taken with."""

    account: str
    token: int


class Leases:
    """One worker's view of the leases: take, renew, give up; heartbeat the worker.

    ``client`` is an open coredis client (``decode_responses=True``); ``ttl`` is the
    lease's and the heartbeat's life in seconds.
    """

    def __init__(
        self, client: coredis.Redis[str], worker: str, *, ttl: float, prefix: str = "mailsync"
    ) -> None:
        if " " in worker:
            raise ValueError("a worker's name has no spaces")
        self.client = client
        self.worker = worker
        self.ttl = ttl
        self.prefix = prefix
        self._take = client.register_script(_TAKE)
        self._renew = client.register_script(_RENEW)
        self._give_up = client.register_script(_GIVE_UP)
        self._heartbeat = client.register_script(_HEARTBEAT)
        self._leave = client.register_script(_LEAVE)
        self._live = client.register_script(_LIVE)

    @property
    def _ms(self) -> int:
        return max(1, round(self.ttl * 1000))

    def _key(self, account: str) -> str:
        return f"{self.prefix}:lease:{account}"

    def _value(self, lease: Lease) -> str:
        return f"{self.worker} {lease.token}"

    async def take(self, account: str, *, floor: int = 0) -> Lease | None:
        """The account's lease with a new fencing token above ``floor``; ``None`` if held."""
        token: Any = await self._take(
            keys=[self._key(account), f"{self.prefix}:fence"],
            args=[self.worker, self._ms, floor],
        )
        return None if token is None else Lease(account, int(token))

    async def renew(self, leases: Sequence[Lease]) -> list[Lease]:
        """Extend these leases by the ttl; those no longer ours (expired, taken) are returned."""
        if not leases:
            return []
        kept: Any = await self._renew(
            keys=[self._key(lease.account) for lease in leases],
            args=[self._ms, *(self._value(lease) for lease in leases)],
        )
        return [lease for lease, ok in zip(leases, kept, strict=True) if not int(ok)]

    async def give_up(self, lease: Lease) -> bool:
        """Delete the lease if it is still ours (so the next owner need not wait for the ttl)."""
        gone: Any = await self._give_up(keys=[self._key(lease.account)], args=[self._value(lease)])
        return bool(int(gone))

    async def heartbeat(self) -> list[str]:
        """Say this worker lives for another ttl; the live workers, this one included."""
        live: Any = await self._heartbeat(
            keys=[f"{self.prefix}:workers"], args=[self.worker, self._ms]
        )
        return [str(name) for name in live]

    async def live(self) -> list[str]:
        """The live workers (those whose heartbeat has not expired), without heartbeating."""
        live: Any = await self._live(keys=[f"{self.prefix}:workers"])
        return [str(name) for name in live]

    async def leave(self) -> None:
        """Say this worker is gone (a clean shutdown): the others re-place at once."""
        await self._leave(keys=[f"{self.prefix}:workers"], args=[self.worker])

    async def holders(self, accounts: Iterable[str]) -> dict[str, str]:
        """account -> the worker holding its lease, for the accounts that are held."""
        names = list(accounts)
        if not names:
            return {}
        values = await self.client.mget([self._key(name) for name in names])
        return {
            name: str(value).split(" ")[0]
            for name, value in zip(names, values, strict=True)
            if value is not None
        }


async def run_while_held(
    leases: Leases, name: str, run: Callable[[], Awaitable[object]]
) -> NoReturn:
    """Run ``run`` in one process of the cluster at a time: while this one holds ``name``.

    For a job that must not run twice at once (a webhook's delivery, which reads the log
    in order from one position): every process that could run it calls this; the one
    that takes the lease runs the job and renews the lease every third of its life; the
    others try again as often. A holder that cannot renew (paused, cut off) cancels the
    job; another takes over after the lease's life, from where the job's own durable
    state says (a webhook's cursor). Runs until cancelled.
    """
    step = leases.ttl / 3
    while True:
        try:
            lease = await leases.take(name)
        except (OSError, RedisError) as exc:
            logger.warning("%s: the lease cannot be taken: %s", name, exc)
            lease = None
        if lease is None:
            await trio.sleep(step)
            continue
        logger.info("%s: runs here (lease taken, token %d)", name, lease.token)
        renewed = trio.current_time()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(run)
            while True:
                await trio.sleep(step)
                try:
                    lost = await leases.renew([lease])
                    renewed = trio.current_time()
                except (OSError, RedisError) as exc:
                    logger.warning("%s: the lease cannot be renewed: %s", name, exc)
                    # It may yet be renewed before it expires; past that, another may run.
                    lost = [lease] if trio.current_time() - renewed >= leases.ttl else []
                if lost:
                    logger.warning("%s: the lease was lost; stopped here", name)
                    nursery.cancel_scope.cancel()
                    break
