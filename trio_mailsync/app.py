"""The composition root: a config becomes providers, a store, the service and its sinks.

::

    async with open_sync_service(config) as service:   # embed it in a Trio program
        with service.subscribe() as events:
            async for event in events:
                ...

    await serve(config, task_status=...)               # the service with its broadcaster

The only module that knows every layer: providers come from
``providers.registry`` (or are given, already open, by the caller: tests give
an IMAP provider on memory streams, or an in-memory provider), the store is
SQLite at ``[store] path`` unless one is given, the sinks are the WebSocket
broadcaster and the ``[[webhooks]]``.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, NoReturn

import attrs
import trio

from trio_mailsync.config import parse_account
from trio_mailsync.core.config import Account, ClusterSettings, Config
from trio_mailsync.core.errors import AccountConflict, ConfigError, MailSyncError, StoreError
from trio_mailsync.core.ports import Provider, StateStore
from trio_mailsync.providers.gmail.provider import HTTP_CONNECTIONS
from trio_mailsync.providers.registry import PROVIDERS, ProviderKind
from trio_mailsync.secret import Secret
from trio_mailsync.service import SyncService
from trio_mailsync.sinks.webhooks import WebhookSink
from trio_mailsync.sinks.websocket import Broadcaster, WebSocketSink, open_listeners
from trio_mailsync.stores._sql import RowsOf
from trio_mailsync.stores.sqlite import SQLiteStore, default_store_path, read_only

if TYPE_CHECKING:
    import coredis

    from trio_mailsync.cluster.worker import Worker
    from trio_mailsync.stores.postgres import PostgresStore

logger = logging.getLogger(__name__)

__all__ = ["Running", "open_providers", "open_store", "open_sync_service", "serve"]


@asynccontextmanager
async def open_providers(
    config: Config, *, providers: Mapping[str, Provider] | None = None
) -> AsyncIterator[dict[str, Provider]]:
    """Every provider the config's accounts need, open for the block.

    ``providers`` already open (by name) are used as they are; the others are
    opened from the registry and closed at the end of the block.
    """
    opened = dict(providers or {})
    async with AsyncExitStack() as stack:
        for account in config.accounts:
            name = account.provider
            if name in opened:
                continue
            kind = PROVIDERS.get(name)
            if kind is None:
                raise ValueError(f"{account.id}: unknown provider {name!r}")
            chosen = [a for a in config.accounts if a.provider == name]
            opened[name] = await stack.enter_async_context(kind.open(chosen, config.service))
        yield opened


def _postgres() -> ModuleType:
    """``stores.postgres``, or a clear error when psycopg (an optional dependency) is missing."""
    try:
        from trio_mailsync.stores import postgres
    except ImportError as exc:
        if exc.name not in ("psycopg", "psycopg_pool"):
            raise
        raise StoreError(
            'backend = "postgres" needs psycopg: pip install "trio-mailsync[postgres]"'
        ) from None
    return postgres


def _sqlite_path(config: Config, path: Path | None) -> Path:
    return path or config.store_path or default_store_path()


def store_name(config: Config, path: Path | None = None) -> str:
    """The config's store for messages: its SQLite file, or its database (no password)."""
    if config.store.backend == "postgres":
        assert config.store.dsn is not None  # the config parser requires it
        return str(_postgres().describe(config.store.dsn))
    return str(_sqlite_path(config, path))


def store_reader(config: Config, path: Path | None = None) -> RowsOf:
    """Reads the config's store without taking it (``stores.listings``): ``serve`` may run."""
    if config.store.backend == "postgres":
        dsn, password = config.store.dsn, config.store.password
        assert dsn is not None

        def rows_of(query: str) -> list[tuple[Any, ...]]:
            # psycopg is imported when a query runs: its absence is the query's StoreError.
            read: RowsOf = _postgres().read_only(dsn, password)
            return read(query)

        return rows_of
    return read_only(_sqlite_path(config, path))


async def connect_store(
    config: Config,
    *,
    path: Path | None = None,
    shared: bool = False,
    dry_run: bool = False,
    lock_timeout: float | None = None,
) -> SQLiteStore | PostgresStore:
    """Open the config's store: its SQLite file (``path``, else ``[store] path``, else the
    default path), or its PostgreSQL database (``[store] backend = "postgres"``; ``shared``
    for a cluster's workers; ``lock_timeout`` instead of ``[store] lock_timeout``). The
    caller closes it."""
    settings = config.store
    if settings.backend == "postgres":
        assert settings.dsn is not None  # the config parser requires it
        store: PostgresStore = await _postgres().PostgresStore.open(
            settings.dsn,
            password=settings.password,
            connections=settings.connections,
            shared=shared,
            dry_run=dry_run,
            lock_timeout=settings.lock_timeout if lock_timeout is None else lock_timeout,
        )
        return store
    return await SQLiteStore.open(_sqlite_path(config, path), dry_run=dry_run)


@asynccontextmanager
async def open_store(config: Config) -> AsyncIterator[StateStore]:
    """The config's store (see :func:`connect_store`), closed at the end."""
    store = await connect_store(config)
    try:
        yield store
    finally:
        with trio.CancelScope(shield=True):
            await store.aclose()


@asynccontextmanager
async def open_sync_service(
    config: Config,
    *,
    providers: Mapping[str, Provider] | None = None,
    store: StateStore | None = None,
    runtime_accounts: bool = True,
    sole_writer: bool = True,
) -> AsyncIterator[SyncService]:
    """The service for the block: every account watched and synced.

    ``runtime_accounts=False``: the accounts added at runtime (kept in the store) are
    not run (a cluster's worker runs the accounts whose leases it holds, no others);
    ``sole_writer=False``: other processes write the event log too (``EventHub``).
    On exit the watchers send DONE, the connections LOGOUT, subscribers' streams
    end, and the store (if opened here) is closed.
    """
    async with AsyncExitStack() as stack:
        if store is None:
            store = await stack.enter_async_context(open_store(config))
        ready = await stack.enter_async_context(open_providers(config, providers=providers))
        # Providers first needed at runtime live here, for as long as the service runs.
        holders = await stack.enter_async_context(trio.open_nursery())
        stack.callback(holders.cancel_scope.cancel)

        async def hold(kind: ProviderKind, task_status: trio.TaskStatus[Provider]) -> None:
            async with kind.open([], config.service) as provider:
                task_status.started(provider)
                await trio.sleep_forever()

        async def open_provider(name: str) -> Provider:
            # The first account of a kind added at runtime (by the API, or a cluster's
            # lease): its provider opens now, in a task of its own. Not in the caller's
            # task: a provider holds a nursery, which must be entered and exited by one
            # task, and the caller (an HTTP handler, a worker's step) ends before it.
            kind = PROVIDERS.get(name)
            if kind is None:
                raise AccountConflict(f"unknown provider {name!r}")
            provider: Provider = await holders.start(hold, kind)
            return provider

        service = SyncService(
            config,
            ready,
            store,
            parse_account=(
                partial(parse_account, defaults=config.account_defaults)
                if runtime_accounts
                else None
            ),
            open_provider=open_provider,
            sole_writer=sole_writer,
        )
        async with trio.open_nursery() as nursery:
            await nursery.start(service.run)
            try:
                yield service
            finally:
                nursery.cancel_scope.cancel()
                service.close_subscriptions()


def _descriptors_needed(config: Config) -> int:
    """What the accounts hold open at once, plus the store and spare.

    An IMAP account holds its watcher's connection, and a pooled one besides when syncs
    do not share it; syncs that take a pooled connection (the watcher is reconnecting)
    run at most ``concurrency`` at once. Not every account's whole budget
    (``max_connections``, 3 by default): at 10,000 accounts that is more than the
    process may open, and the broadcaster would be left one client.
    """
    service = config.service
    imap = sum(1 for a in config.accounts if a.provider == "imap")
    gmail = sum(1 for a in config.accounts if a.provider == "gmail_api")
    held = imap * (1 if service.share_connection else 2) + service.concurrency
    # Gmail API accounts share the provider's one HTTP client.
    held += HTTP_CONNECTIONS if gmail else 0
    return held + (len(config.accounts) - imap - gmail) * 4 + 64


def _redis_client(cluster: ClusterSettings) -> coredis.Redis[str]:
    """A client of the cluster's Redis (opened with ``async with``)."""
    import coredis

    return coredis.Redis.from_url(
        cluster.redis_url,
        password=None if cluster.password is None else cluster.password.reveal(),
        decode_responses=True,
        connect_timeout=10,
        # Longer than a blocking stream read (cluster.stream.READ_BLOCK_MS).
        stream_timeout=30,
    )


def _member_name(cluster: ClusterSettings) -> str:
    """This process's name among the cluster's (``[cluster] name``, else host and pid)."""
    return cluster.name or f"{socket.gethostname()}-{os.getpid()}"


def _cluster() -> ModuleType:
    """``cluster.worker``, or a clear error when coredis (an optional dependency) is missing."""
    try:
        from trio_mailsync.cluster import worker
    except ImportError as exc:
        if exc.name != "coredis" and not (exc.name or "").startswith("coredis."):
            raise
        raise StoreError('[cluster] needs coredis: pip install "trio-mailsync[cluster]"') from None
    return worker


async def run_worker(
    config: Config,
    *,
    providers: Mapping[str, Provider] | None = None,
    task_status: trio.TaskStatus[Worker] = trio.TASK_STATUS_IGNORED,
) -> NoReturn:
    """Run a cluster's worker until cancelled (``trio-mailsync worker``): it runs the
    accounts whose leases it holds (``cluster.worker``), and gives them up at the end.

    ``task_status.started(worker)`` once its first step is done.
    """
    cluster = config.cluster
    if cluster is None or config.store.backend != "postgres":
        raise StoreError('a worker needs [cluster] and [store] backend = "postgres"')
    worker_module = _cluster()
    import coredis

    name = _member_name(cluster)
    # A claim waiting on a paused owner's lock must not outlast the leases this worker
    # renews between claims (a third of their life).
    lock_timeout = min(config.store.lock_timeout, cluster.lease_ttl / 3)
    store = await connect_store(config, shared=True, lock_timeout=lock_timeout)

    worker: Worker | None = None
    try:
        async with (
            _redis_client(cluster) as client,
            open_sync_service(
                attrs.evolve(config, accounts=()),
                providers=providers,
                store=store,
                runtime_accounts=False,
                sole_writer=False,
            ) as service,
        ):
            leases = worker_module.Leases(
                client, name, ttl=cluster.lease_ttl, prefix=cluster.prefix
            )
            refused: set[str] = set()
            # account id -> (its table, the account read from it): each step reads the
            # saved tables, and reads again only those that changed (10,000 accounts
            # added at runtime cost half a second of parsing, every step otherwise).
            parsed: dict[str, tuple[Mapping[str, Any], Account]] = {}

            async def accounts() -> dict[str, Account]:
                found = {account.id: account for account in config.accounts}
                saved = await store.saved_accounts()
                for account_id in parsed.keys() - saved.keys():
                    del parsed[account_id]
                for account_id, table in saved.items():
                    if account_id in found:
                        continue  # the file's definition wins, as in serve
                    known = parsed.get(account_id)
                    if known is not None and known[0] == table:
                        found[account_id] = known[1]
                        continue
                    try:
                        account = parse_account(account_id, table, defaults=config.account_defaults)
                    except MailSyncError as exc:
                        if account_id not in refused:  # said once, not every step
                            refused.add(account_id)
                            logger.error("%s: added at runtime, cannot run: %s", account_id, exc)
                        continue
                    refused.discard(account_id)
                    parsed[account_id] = (table, account)
                    found[account_id] = account
                return found

            worker = worker_module.Worker(
                service, store, leases, accounts, cap=cluster.max_accounts
            )
            publisher = worker_module.StreamPublisher(
                client, prefix=cluster.prefix, length=cluster.stream_length
            )
            control = worker_module.control.ControlServer(
                client, service, worker=name, prefix=cluster.prefix
            )
            async with trio.open_nursery() as nursery:
                await nursery.start(publisher.run, service)
                await nursery.start(control.run)
                await nursery.start(worker.run)
                task_status.started(worker)
                await trio.sleep_forever()
    finally:
        with trio.CancelScope(shield=True):
            if worker is not None:
                # The service has stopped the accounts: their leases go now, through a
                # client of their own (the worker's was cancelled with its tasks).
                with trio.move_on_after(10):
                    try:
                        async with _redis_client(cluster) as client:
                            await worker.leave(
                                worker_module.Leases(
                                    client, name, ttl=cluster.lease_ttl, prefix=cluster.prefix
                                )
                            )
                    except (OSError, coredis.exceptions.RedisError) as exc:
                        logger.warning("worker %s: leases left to expire: %s", name, exc)
            await store.aclose()
    raise AssertionError("unreachable")  # pragma: no cover


async def run_broadcaster(
    config: Config, *, task_status: trio.TaskStatus[Broadcaster] = trio.TASK_STATUS_IGNORED
) -> NoReturn:
    """Run a cluster's WebSocket broadcaster until cancelled (``trio-mailsync broadcast``):
    the workers' events from the Redis stream, replays from the store (``cluster.stream``).

    As many as you like, each with its own ``[broadcast]`` port. Each serves the
    operator's endpoints too (dashboard, API, metrics), asking the workers through Redis
    (``cluster.control``).
    """
    cluster = config.cluster
    if cluster is None or config.store.backend != "postgres":
        raise StoreError('a broadcaster needs [cluster] and [store] backend = "postgres"')
    cluster_module = _cluster()
    stream, cluster_leases = cluster_module.stream, cluster_module.leases
    settings = config.broadcast
    if settings.token is None:
        # Several broadcasters serve the same clients: a token made up per run would not do.
        raise ConfigError(
            str(config.path or "<config>"),
            "broadcast.token",
            "a broadcaster needs one (or token_env)",
        )
    listeners = await open_listeners(settings)
    store = await connect_store(config, shared=True)
    try:
        saved = await store.saved_accounts()
        accounts = len({account.id for account in config.accounts} | set(saved))
        async with _redis_client(cluster) as client, trio.open_nursery() as nursery:
            events = stream.ClusterEvents(store, client, prefix=cluster.prefix, accounts=accounts)
            await nursery.start(events.run)
            member = _member_name(cluster)
            control = cluster_module.control.ClusterControl(
                client,
                store,
                prefix=cluster.prefix,
                accounts=config.accounts,
                parse=partial(parse_account, defaults=config.account_defaults),
                leases=cluster_leases.Leases(
                    client, member, ttl=cluster.lease_ttl, prefix=cluster.prefix
                ),
            )
            sink = WebSocketSink(settings, listeners, descriptor_reserve=64, control=control)
            broadcaster = await nursery.start(sink.run, events)
            # Each webhook is delivered by one broadcaster at a time (the lease's holder),
            # from its cursor in the store: in order, and not twice at once.
            jobs = cluster_leases.Leases(
                client, member, ttl=cluster.lease_ttl, prefix=f"{cluster.prefix}:job"
            )
            for hook in config.webhooks:
                run = partial(WebhookSink(hook).run, events)
                nursery.start_soon(cluster_leases.run_while_held, jobs, f"webhook:{hook.name}", run)
            task_status.started(broadcaster)
            await trio.sleep_forever()
    finally:
        with trio.CancelScope(shield=True):
            await store.aclose()
    raise AssertionError("unreachable")  # pragma: no cover


@attrs.frozen
class Running:
    """What :func:`serve` hands to ``task_status.started``."""

    service: SyncService
    broadcaster: Broadcaster
    #: True when no token was configured and one was made up for this run.
    token_generated: bool
    #: The config's webhooks (their ``statistics()`` say how delivery goes).
    webhooks: list[WebhookSink] = attrs.field(factory=list)


async def serve(
    config: Config,
    *,
    providers: Mapping[str, Provider] | None = None,
    store: StateStore | None = None,
    task_status: trio.TaskStatus[Running] = trio.TASK_STATUS_IGNORED,
) -> NoReturn:
    """Run the sync service, its WebSocket broadcaster and its webhooks until cancelled.

    Without a configured token a random one is made for this run; it is in
    ``Running.broadcaster`` for the caller to show to the operator.
    """
    settings = config.broadcast
    generated = settings.token is None
    if generated:
        # Hexadecimal: a token that starts with "-" would be read as an option by
        # ``trio-mailsync watch URL --token <token>`` (urlsafe base64 can).
        settings = attrs.evolve(settings, token=Secret(secrets.token_hex(24)))
    # Bound first: a port in use is one plain error, before any account logs in.
    listeners = await open_listeners(settings)
    async with (
        open_sync_service(config, providers=providers, store=store) as service,
        trio.open_nursery() as nursery,
    ):
        sink = WebSocketSink(
            settings,
            listeners,
            descriptor_reserve=_descriptors_needed(config),
            control=service,
        )
        broadcaster = await nursery.start(sink.run, service)
        webhooks = [WebhookSink(hook) for hook in config.webhooks]
        for webhook in webhooks:
            service.supervise(webhook.consumer, partial(webhook.run, service))
        task_status.started(Running(service, broadcaster, generated, webhooks))
        await trio.sleep_forever()
    raise AssertionError("unreachable")  # pragma: no cover
