"""The service layer: IDLE watchers, the sync service and the WebSocket broadcaster.

It sits on top of :mod:`trio_mailsync.sync` and :mod:`trio_mailsync.imap`;
nothing below imports it.
"""

from trio_mailsync.service.broadcast import (
    Broadcaster,
    BroadcasterStatistics,
    Running,
    serve,
    serve_broadcaster,
)
from trio_mailsync.service.client import (
    EventStream,
    EventStreamClosed,
    EventStreamRejected,
    connect_events,
)
from trio_mailsync.service.events import (
    SCHEMA_VERSION,
    AccountState,
    AccountStateChanged,
    Hello,
    NewMessages,
    ServiceEvent,
    SyncCompleted,
    describe,
    to_dict,
    to_json,
)
from trio_mailsync.service.service import (
    ServiceStatistics,
    Subscription,
    SyncService,
    open_sync_service,
)
from trio_mailsync.service.watcher import IdleWatcher, Trigger, WatcherStatistics

__all__ = [
    "SCHEMA_VERSION",
    "AccountState",
    "AccountStateChanged",
    "Broadcaster",
    "BroadcasterStatistics",
    "EventStream",
    "EventStreamClosed",
    "EventStreamRejected",
    "Hello",
    "IdleWatcher",
    "NewMessages",
    "Running",
    "ServiceEvent",
    "ServiceStatistics",
    "Subscription",
    "SyncCompleted",
    "SyncService",
    "Trigger",
    "WatcherStatistics",
    "connect_events",
    "describe",
    "open_sync_service",
    "serve",
    "serve_broadcaster",
    "to_dict",
    "to_json",
]
