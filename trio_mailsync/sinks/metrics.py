"""``/metrics``: a service overview in the Prometheus text format, via prometheus_client.

Nothing is instrumented in the hot paths: the service keeps its counters and
histograms (``ServiceOverview``) and each scrape turns them into metric families
with a collector of its own registry (not prometheus_client's global one: two
services in one process, as tests run them, must not share metrics).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from trio_mailsync.core.status import Histogram, ServiceOverview

__all__ = ["CONTENT_TYPE", "render_metrics"]

#: The text format's content type (version 0.0.4), as Prometheus asks for it.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PREFIX = "trio_mailsync"

#: Service counters exported as Prometheus counters: (counter, metric name, help).
COUNTERS = (
    ("connections_opened", "connections_opened", "Connections opened to mail servers."),
    ("connections_reused", "connections_reused", "Pooled connections reused instead of opened."),
    ("authentications", "authentications", "Logins (LOGIN, AUTHENTICATE) to mail servers."),
    ("token_refreshes", "token_refreshes", "OAuth access tokens refreshed."),
    ("syncs", "syncs", "Account syncs run."),
    ("sync_errors", "sync_errors", "Account syncs that ended with an error."),
    ("round_trips", "round_trips", "Waits for a server over every sync."),
    ("triggers", "triggers", "Changes heard from watchers (each asks for a sync)."),
    ("sweeps", "sweeps", "Sweeps of every account."),
    ("restarts", "restarts", "Accounts and consumers restarted after a failure."),
    ("events_logged", "events_logged", "Events appended to the durable log."),
    ("events_ephemeral", "events_ephemeral", "Ephemeral events published (states, results)."),
    (
        "subscribers_lagged",
        "subscribers_lagged",
        "Times a subscriber fell behind and was moved back to the log.",
    ),
    ("gave_up", "webhook_gave_up_events", "Logged events a webhook gave up on."),
    ("degraded", "degraded_messages", "New messages stored degraded (unreadable answer)."),
    ("api_calls", "api_calls", "HTTP API calls to mail providers (the Gmail API)."),
    ("api_retries", "api_retries", "HTTP API calls tried again (429, 5xx, broken connection)."),
    ("quota_units", "quota_units", "Provider quota units spent (the Gmail API's)."),
)
#: Broadcaster counters: (counter, metric name, help).
BROADCAST_COUNTERS = (
    ("accepted", "websocket_clients_accepted", "WebSocket clients accepted."),
    ("rejected", "websocket_clients_rejected", "WebSocket clients refused (token, origin)."),
    ("dropped_gone", "websocket_clients_dropped", "WebSocket clients dropped as gone."),
    ("refused", "websocket_connections_refused", "Connections refused on accept (limits)."),
    ("messages", "websocket_messages", "Messages sent to WebSocket clients."),
)


def _histogram(name: str, doc: str, histogram: Histogram) -> HistogramMetricFamily:
    buckets = [("+Inf" if le == float("inf") else repr(le), n) for le, n in histogram.cumulative()]
    return HistogramMetricFamily(name, doc, buckets=buckets, sum_value=histogram.sum)


class _OverviewCollector(Collector):
    def __init__(self, overview: ServiceOverview, broadcast: Mapping[str, int]) -> None:
        self._overview = overview
        self._broadcast = broadcast

    def collect(self) -> Iterator[Metric]:
        overview, counters = self._overview, self._overview.counters
        for key, name, doc in COUNTERS:
            yield CounterMetricFamily(f"{PREFIX}_{name}", doc, value=counters.get(key, 0))
        for key, name, doc in BROADCAST_COUNTERS:
            yield CounterMetricFamily(f"{PREFIX}_{name}", doc, value=self._broadcast.get(key, 0))
        yield GaugeMetricFamily(
            f"{PREFIX}_connections_open",
            "Connections to mail servers open now.",
            value=counters.get("connections_open", 0),
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_subscribers", "Event subscribers now.", value=counters.get("subscribers", 0)
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_websocket_clients",
            "WebSocket clients connected now.",
            value=self._broadcast.get("clients", 0),
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_quarantined_messages",
            "Messages stored degraded: the server's answer for them could not be read.",
            value=sum(a.quarantined for a in overview.accounts),
        )
        by_state = GaugeMetricFamily(
            f"{PREFIX}_accounts", "Accounts in each state.", labels=["state"]
        )
        for state_now, count in overview.by_state().items():
            by_state.add_metric([str(state_now)], count)
        yield by_state
        states = GaugeMetricFamily(
            f"{PREFIX}_account_state",
            "1 for each account's state now.",
            labels=["account", "state"],
        )
        for account in overview.accounts:
            states.add_metric([account.id, str(account.state)], 1)
        yield states
        yield _histogram(
            f"{PREFIX}_sync_duration_seconds",
            "How long account syncs took.",
            overview.sync_duration,
        )
        yield _histogram(
            f"{PREFIX}_new_mail_latency_seconds",
            "From a watcher hearing of new mail to its new_messages event.",
            overview.new_mail_latency,
        )


def render_metrics(overview: ServiceOverview, broadcast: Mapping[str, int]) -> bytes:
    """The overview (and the broadcaster's counters) as Prometheus text."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_OverviewCollector(overview, broadcast))
    return generate_latest(registry)
