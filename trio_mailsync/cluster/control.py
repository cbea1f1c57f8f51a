"""The operator's endpoints in a cluster: a broadcaster asks the workers, over Redis.

In one process, the dashboard, ``/metrics`` and the JSON API ask the ``SyncService``
that runs every account. In a cluster the accounts run in the workers and the
endpoints are served by the broadcasters, so :class:`ClusterControl` (the broadcaster's
``ServiceControl``) asks the workers through Redis, request and reply, and
:class:`ControlServer` answers in each worker:

- a request is a JSON object pushed on the worker's list ``<prefix>:control:<worker>``
  (``RPUSH``; the list expires if nobody reads it, as a dead worker's would); it names a
  reply key, which the worker pushes its answer on (and which expires too), and the time
  after which nobody waits for it any more (a worker paused past it does not act on it:
  a pause asked a minute ago is not what the operator wants now);
- the broadcaster waits for the reply with ``BLPOP``, at most ``timeout`` seconds.

What each endpoint does:

- the overview asks every live worker at once and puts their accounts together; an
  account that no worker runs (waiting for a lease, or its worker did not answer) is
  shown ``connecting`` with the reason; counters and histograms are summed;
- ``sync``, ``retry``, ``pause``, ``resume`` go to the worker holding the account's
  lease. A pause lasts while that worker runs the account: one that moves to another
  worker (a failover, a rebalance) runs again there, as in ``serve`` after a restart;
- adding, changing and removing accounts write the store's runtime accounts, which the
  workers read at every step: the account starts, restarts or stops within a step.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NoReturn

import attrs
import coredis
import trio
from coredis.exceptions import RedisError

from trio_mailsync.cluster.leases import Leases
from trio_mailsync.core.config import Account
from trio_mailsync.core.errors import AccountConflict, MailSyncError
from trio_mailsync.core.events import AccountState
from trio_mailsync.core.ports import StateStore
from trio_mailsync.core.status import (
    LATENCY_BUCKETS,
    SYNC_BUCKETS,
    AccountStatus,
    Histogram,
    ServiceOverview,
)
from trio_mailsync.service import SyncService

__all__ = ["ClusterControl", "ControlServer", "ControlStatistics"]

logger = logging.getLogger(__name__)

#: Seconds a worker blocks on its request list per call (then it calls again).
READ_BLOCK = 1.0
#: Requests a worker answers at once.
CONCURRENT_REQUESTS = 8
#: Milliseconds a request list, or a reply, is kept unread.
UNREAD_TTL_MS = 60_000
#: The operations a worker answers.
OPERATIONS = ("overview", "status", "sync", "retry", "pause", "resume")


def _requests_key(prefix: str, worker: str) -> str:
    return f"{prefix}:control:{worker}"


def _histogram_to_dict(histogram: Histogram) -> dict[str, Any]:
    return {"counts": list(histogram.counts), "sum": histogram.sum}


def _status_from_dict(data: Mapping[str, Any]) -> AccountStatus:
    fields = {f.name for f in attrs.fields(AccountStatus)}
    values = {k: v for k, v in data.items() if k in fields}
    values["state"] = AccountState(values["state"])
    return AccountStatus(**values)


@attrs.frozen
class _Entry:
    """An account of the cluster as a broadcaster knows it (not whether it runs)."""

    #: ``"config"`` (the file) or ``"api"`` (the store's runtime accounts).
    source: str
    provider: str
    #: The table it was added with (``"api"`` only).
    table: Mapping[str, Any] | None = None


@attrs.define
class ControlStatistics:
    """What a worker's :class:`ControlServer` answered."""

    answered: int = 0
    #: Requests found after their asker stopped waiting (skipped).
    expired: int = 0
    #: Requests that could not be read (not JSON, an unknown operation).
    malformed: int = 0


class ControlServer:
    """Answers the broadcasters' requests for one worker's ``service`` (see the module's doc)."""

    def __init__(
        self, client: coredis.Redis[str], service: SyncService, *, worker: str, prefix: str
    ) -> None:
        self.client = client
        self.service = service
        self.key = _requests_key(prefix, worker)
        self._limit = trio.Semaphore(CONCURRENT_REQUESTS)
        self.stats = ControlStatistics()

    def statistics(self) -> ControlStatistics:
        """What it answered so far (a copy)."""
        return attrs.evolve(self.stats)

    async def run(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> NoReturn:
        """Answer requests until cancelled; ``task_status.started()`` at once."""
        task_status.started()
        async with trio.open_nursery() as nursery:
            while True:
                try:
                    found: Any = await self.client.blpop([self.key], timeout=READ_BLOCK)
                except (OSError, RedisError) as exc:
                    logger.warning("control requests cannot be read: %s", exc)
                    await trio.sleep(READ_BLOCK)
                    continue
                if found:
                    await self._limit.acquire()
                    nursery.start_soon(self._answer, str(found[1]))

    async def _answer(self, raw: str) -> None:
        try:
            # Anything may be pushed on the list: what is not a request is counted and
            # logged, and the worker goes on (it must never fall over on it).
            try:
                request = json.loads(raw)
                reply_key, operation = str(request["reply"]), str(request["op"])
                until = float(request["until"])
                if operation not in OPERATIONS:
                    raise ValueError(operation)
            except (ValueError, KeyError, TypeError):
                self.stats.malformed += 1
                logger.warning("a control request that cannot be read: %.200r", raw)
                return
            if time.time() > until:
                self.stats.expired += 1
                return
            reply = await self._perform(operation, request)
            try:
                await self.client.rpush(reply_key, [json.dumps(reply)])
                await self.client.pexpire(reply_key, UNREAD_TTL_MS)
            except (OSError, RedisError) as exc:
                logger.warning("a control reply cannot be sent: %s", exc)
                return
            self.stats.answered += 1
        finally:
            self._limit.release()

    async def _perform(self, operation: str, request: Mapping[str, Any]) -> dict[str, Any]:
        service = self.service
        account = str(request.get("account", ""))
        try:
            if operation == "overview":
                overview = await service.overview(store_figures=bool(request.get("figures")))
                return {
                    "accounts": [a.to_dict() for a in overview.accounts],
                    "counters": dict(overview.counters),
                    "sync_duration": _histogram_to_dict(overview.sync_duration),
                    "new_mail_latency": _histogram_to_dict(overview.new_mail_latency),
                    "recent_latency": [list(p) for p in overview.recent_latency],
                }
            if operation == "status":
                return {"status": (await service.account_status(account)).to_dict()}
            if operation == "sync":
                await service.sync(account)
            else:
                await getattr(service, operation)(account)
            return {}
        except KeyError as exc:
            return {"error": "unknown", "message": str(exc.args[0]) if exc.args else account}
        except AccountConflict as exc:
            return {"error": "conflict", "message": str(exc)}
        except MailSyncError as exc:
            return {"error": "failed", "message": str(exc)}


class ClusterControl:
    """A broadcaster's ``ServiceControl``: the operator's endpoints for a whole cluster.

    ``accounts`` are the config file's; ``parse`` reads an account's table as the config
    parser does (a bad table is a ``ConfigError``, before anything is stored);
    ``leases`` say which worker holds which account and which workers live. A worker
    that does not answer within ``timeout`` seconds is shown as such, never waited on
    for longer.
    """

    def __init__(
        self,
        client: coredis.Redis[str],
        store: StateStore,
        *,
        prefix: str,
        accounts: Iterable[Account],
        parse: Callable[[str, Mapping[str, Any]], Account],
        leases: Leases,
        timeout: float = 5.0,
    ) -> None:
        self.client = client
        self.store = store
        self.prefix = prefix
        self.configured = {account.id: account for account in accounts}
        self._parse = parse
        self._holders = leases.holders
        self._live = leases.live
        self.timeout = timeout

    # ------------------------------------------------------------ asking a worker

    async def _ask(self, worker: str, operation: str, **arguments: Any) -> dict[str, Any]:
        """The worker's reply; ``TimeoutError`` if none within the timeout."""
        reply_key = f"{self.prefix}:reply:{secrets.token_hex(12)}"
        request = {
            "op": operation,
            "reply": reply_key,
            "until": time.time() + self.timeout,
            **arguments,
        }
        key = _requests_key(self.prefix, worker)
        await self.client.rpush(key, [json.dumps(request)])
        await self.client.pexpire(key, UNREAD_TTL_MS)
        # BLPOP's timeout is whole seconds on old servers: round up, and bound it here too.
        with trio.move_on_after(self.timeout + 1):
            found: Any = await self.client.blpop([reply_key], timeout=max(1, round(self.timeout)))
            if found:
                return dict(json.loads(found[1]))
        raise TimeoutError(f"worker {worker} did not answer in {self.timeout:g} s")

    async def _ask_holder(self, account_id: str, operation: str) -> dict[str, Any]:
        catalog = await self._catalog()
        if account_id not in catalog:
            raise KeyError(f"no account {account_id!r}")
        holder = (await self._holders([account_id])).get(account_id)
        if holder is None:
            raise AccountConflict(f"{account_id}: no worker runs it now; try again in a moment")
        try:
            reply = await self._ask(holder, operation, account=account_id)
        except (TimeoutError, OSError, RedisError) as exc:
            raise AccountConflict(f"{account_id}: {exc}") from None
        error = reply.get("error")
        if error == "unknown":
            # Its lease is held, but the worker let it go a moment ago (or has not started it).
            raise AccountConflict(f"{account_id}: its worker is handing it over; try again")
        if error is not None:
            raise AccountConflict(str(reply.get("message", error)))
        return reply

    # ------------------------------------------------------------ the accounts

    async def _catalog(self) -> dict[str, _Entry]:
        """Every account of the cluster by id (the file's first, as the workers see them)."""
        catalog = {a.id: _Entry("config", a.provider) for a in self.configured.values()}
        for account_id, table in (await self.store.saved_accounts()).items():
            if account_id not in catalog:
                catalog[account_id] = _Entry("api", str(table.get("provider", "imap")), table)
        return catalog

    async def overview(self, *, store_figures: bool = True) -> ServiceOverview:
        """Every account of the cluster, from the workers that run them (``ServiceControl``)."""
        catalog = await self._catalog()
        live = await self._live()
        replies: dict[str, dict[str, Any] | str] = {}

        async def ask(worker: str) -> None:
            try:
                replies[worker] = await self._ask(worker, "overview", figures=store_figures)
            except (TimeoutError, OSError, RedisError) as exc:
                replies[worker] = str(exc)

        async with trio.open_nursery() as nursery:
            for worker in live:
                nursery.start_soon(ask, worker)
        holders = await self._holders(list(catalog))
        rows: dict[str, AccountStatus] = {}
        counters: dict[str, int] = {}
        sync_duration, latency = Histogram(SYNC_BUCKETS), Histogram(LATENCY_BUCKETS)
        recent: list[tuple[float, float]] = []
        for reply in replies.values():
            if isinstance(reply, str):
                continue
            for data in reply.get("accounts", ()):
                status = _status_from_dict(data)
                if status.id in catalog:
                    rows[status.id] = attrs.evolve(status, source=catalog[status.id].source)
            for name, value in reply.get("counters", {}).items():
                counters[name] = counters.get(name, 0) + int(value)
            for histogram, name in (
                (sync_duration, "sync_duration"),
                (latency, "new_mail_latency"),
            ):
                part = reply.get(name, {})
                counts = part.get("counts", ())
                if len(counts) == len(histogram.counts):
                    histogram.counts = [
                        a + int(b) for a, b in zip(histogram.counts, counts, strict=True)
                    ]
                    histogram.sum += float(part.get("sum", 0.0))
            recent.extend((float(t), float(v)) for t, v in reply.get("recent_latency", ()))
        for account_id, entry in catalog.items():
            if account_id not in rows:
                rows[account_id] = self._waiting(
                    account_id, entry, holders.get(account_id), replies
                )
        counters["workers"] = len(live)
        counters["workers_unanswered"] = sum(isinstance(r, str) for r in replies.values())
        return ServiceOverview(
            accounts=[rows[a] for a in sorted(rows)],
            counters=counters,
            sync_duration=sync_duration,
            new_mail_latency=latency,
            recent_latency=sorted(recent),
        )

    def _waiting(
        self,
        account_id: str,
        entry: _Entry,
        holder: str | None,
        replies: Mapping[str, dict[str, Any] | str],
    ) -> AccountStatus:
        """The row of an account that no answering worker runs: why not."""
        state = AccountState.CONNECTING
        if holder is None:
            detail = "waiting for a worker (no lease held)"
            if entry.table is not None:
                # Saved before a change of the defaults, or of the environment: the
                # workers refuse it too (and log it); the operator should see why here.
                try:
                    self._parse(account_id, entry.table)
                except MailSyncError as exc:
                    state, detail = AccountState.ERROR, f"cannot run: {exc}"
        elif isinstance(replies.get(holder), str):
            detail = f"held by worker {holder}, which did not answer"
        else:
            detail = f"held by worker {holder}, starting"
        return AccountStatus(
            id=account_id, provider=entry.provider, state=state, detail=detail, source=entry.source
        )

    async def account_status(self, account_id: str) -> AccountStatus:
        """One account's status, from its worker (``ServiceControl``)."""
        catalog = await self._catalog()
        if account_id not in catalog:
            raise KeyError(f"no account {account_id!r}")
        entry = catalog[account_id]
        holder = (await self._holders([account_id])).get(account_id)
        replies: dict[str, dict[str, Any] | str] = {}
        if holder is not None:
            try:
                reply = await self._ask(holder, "status", account=account_id)
                if "status" in reply:
                    return attrs.evolve(_status_from_dict(reply["status"]), source=entry.source)
                replies[holder] = {}
            except (TimeoutError, OSError, RedisError) as exc:
                replies[holder] = str(exc)
        return self._waiting(account_id, entry, holder, replies)

    async def sync(self, account_id: str) -> None:
        """Sync the account now, in the worker that runs it."""
        await self._ask_holder(account_id, "sync")

    async def retry(self, account_id: str) -> None:
        """Forget the account's failures and reconnect, in the worker that runs it."""
        await self._ask_holder(account_id, "retry")

    async def pause(self, account_id: str) -> None:
        """Pause the account in the worker that runs it (see the module's doc)."""
        await self._ask_holder(account_id, "pause")

    async def resume(self, account_id: str) -> None:
        """Start a paused account again, in the worker that runs it."""
        await self._ask_holder(account_id, "resume")

    async def add_account(self, account_id: str, table: Mapping[str, object]) -> None:
        """Add an account to the cluster (the store's runtime accounts); a worker takes it
        on at its next step."""
        if account_id in await self._catalog():
            raise AccountConflict(f"{account_id} exists already")
        self._parse(account_id, table)
        await self.store.save_account(account_id, table)
        logger.info("%s: added", account_id)

    async def replace_account(self, account_id: str, table: Mapping[str, object]) -> None:
        """Change an account added at runtime; its worker restarts it at its next step."""
        await self._added_at_runtime(account_id, "change")
        self._parse(account_id, table)
        await self.store.save_account(account_id, table)
        logger.info("%s: changed", account_id)

    async def remove_account(self, account_id: str) -> None:
        """Remove an account added at runtime; its worker stops it at its next step."""
        await self._added_at_runtime(account_id, "remove")
        await self.store.save_account(account_id, None)
        logger.info("%s: removed", account_id)

    async def _added_at_runtime(self, account_id: str, verb: str) -> None:
        entry = (await self._catalog()).get(account_id)
        if entry is None:
            raise KeyError(f"no account {account_id!r}")
        if entry.source != "api":
            raise AccountConflict(
                f"{account_id} is defined in the config file: {verb} it there and restart"
            )
