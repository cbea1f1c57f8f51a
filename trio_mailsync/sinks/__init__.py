"""Event sinks: where the service's events go, through the core's ``EventSource`` port.

``websocket`` serves them as JSON to WebSocket clients holding the token
(``docs/events.md``); ``client`` is the matching client. Webhooks and streams
for other processes go beside them, consuming the same port.
"""

from trio_mailsync.sinks.client import (
    EventStream,
    EventStreamClosed,
    EventStreamRejected,
    connect_events,
    open_event_stream,
)
from trio_mailsync.sinks.websocket import (
    Broadcaster,
    BroadcasterStatistics,
    WebSocketSink,
    serve_broadcaster,
)

__all__ = [
    "Broadcaster",
    "BroadcasterStatistics",
    "EventStream",
    "EventStreamClosed",
    "EventStreamRejected",
    "WebSocketSink",
    "connect_events",
    "open_event_stream",
    "serve_broadcaster",
]
