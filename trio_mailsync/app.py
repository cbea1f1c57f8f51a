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

import secrets
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, NoReturn

import attrs
import trio

from trio_mailsync.config import parse_account
from trio_mailsync.core.config import Config
from trio_mailsync.core.errors import AccountConflict, StoreError
from trio_mailsync.core.ports import Provider, StateStore
from trio_mailsync.providers.gmail.provider import HTTP_CONNECTIONS
from trio_mailsync.providers.registry import PROVIDERS
from trio_mailsync.secret import Secret
from trio_mailsync.service import SyncService
from trio_mailsync.sinks.webhooks import WebhookSink
from trio_mailsync.sinks.websocket import Broadcaster, WebSocketSink, open_listeners
from trio_mailsync.stores._sql import RowsOf
from trio_mailsync.stores.sqlite import SQLiteStore, default_store_path, read_only

if TYPE_CHECKING:
    from trio_mailsync.stores.postgres import PostgresStore

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
    config: Config, *, path: Path | None = None, shared: bool = False, dry_run: bool = False
) -> SQLiteStore | PostgresStore:
    """Open the config's store: its SQLite file (``path``, else ``[store] path``, else the
    default path), or its PostgreSQL database (``[store] backend = "postgres"``; ``shared``
    for a cluster's workers). The caller closes it."""
    settings = config.store
    if settings.backend == "postgres":
        assert settings.dsn is not None  # the config parser requires it
        store: PostgresStore = await _postgres().PostgresStore.open(
            settings.dsn,
            password=settings.password,
            connections=settings.connections,
            shared=shared,
            dry_run=dry_run,
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
) -> AsyncIterator[SyncService]:
    """The service for the block: every account watched and synced.

    On exit the watchers send DONE, the connections LOGOUT, subscribers' streams
    end, and the store (if opened here) is closed.
    """
    async with AsyncExitStack() as stack:
        if store is None:
            store = await stack.enter_async_context(open_store(config))
        ready = await stack.enter_async_context(open_providers(config, providers=providers))

        async def open_provider(name: str) -> Provider:
            # The first account of a kind added at runtime: the provider opens now, for
            # as long as the service runs.
            kind = PROVIDERS.get(name)
            if kind is None:
                raise AccountConflict(f"unknown provider {name!r}")
            return await stack.enter_async_context(kind.open([], config.service))

        service = SyncService(
            config,
            ready,
            store,
            parse_account=partial(parse_account, defaults=config.account_defaults),
            open_provider=open_provider,
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
