"""What an operator sees of a running service: each account's status, counters, histograms.

The service builds a :class:`ServiceOverview` on demand (``SyncService.overview()``);
the HTTP endpoints render it as JSON (``/api/accounts``), as Prometheus text
(``/metrics``) and as the health answer (``/healthz``). Nothing here does I/O.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence

import attrs

from trio_mailsync.core.events import AccountState

__all__ = [
    "LATENCY_BUCKETS",
    "SYNC_BUCKETS",
    "AccountStatus",
    "Histogram",
    "ServiceOverview",
    "SessionStatus",
]

#: Seconds: a sync's duration (the ``le`` bounds of its histogram).
SYNC_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
#: Seconds from the server's notification to the new-mail event.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Histogram:
    """Observations counted in fixed buckets, as Prometheus histograms are."""

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        #: Observations per bucket (not cumulative); the last one is ``+Inf``.
        self.counts = [0] * (len(self.bounds) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        """Count one observation."""
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.sum += value

    @property
    def count(self) -> int:
        """Observations so far."""
        return sum(self.counts)

    def cumulative(self) -> list[tuple[float, int]]:
        """``(le, observations <= le)`` for each bound and ``+Inf``, as Prometheus wants them."""
        total, out = 0, []
        for bound, count in zip((*self.bounds, float("inf")), self.counts, strict=True):
            total += count
            out.append((bound, total))
        return out


@attrs.frozen(kw_only=True)
class SessionStatus:
    """What a provider says of one account's session (``AccountSession.status()``)."""

    #: Connections (or HTTP clients' connections) the account holds open now.
    connections: int = 0
    #: When the provider will try to connect again (wall-clock seconds), if it is backing off.
    next_retry: float | None = None
    #: Folders (or labels) the account syncs, once known.
    folders: int | None = None
    #: Counters: ``connections_opened``, ``connections_reused``, ``authentications``,
    #: ``token_refreshes``; others a provider has.
    counters: Mapping[str, int] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class AccountStatus:
    """One account as the operator sees it (a row of the dashboard, ``GET /api/accounts``)."""

    id: str
    provider: str
    state: AccountState
    #: Why the account is in that state (an error's message), when there is a reason.
    detail: str | None = None
    #: Paused by the operator: nothing runs until it is resumed.
    paused: bool = False
    #: ``"config"`` (the config file) or ``"api"`` (added at runtime, kept in the store).
    source: str = "config"
    #: Whether a sync has been tried since the account started (``/healthz``).
    attempted: bool = False
    #: When the last sync ended (wall-clock seconds), how long it took, its error.
    last_sync: float | None = None
    last_sync_duration: float | None = None
    last_sync_error: str | None = None
    #: When the account will be tried again after a failure (wall-clock seconds).
    next_retry: float | None = None
    connections: int = 0
    folders: int | None = None
    #: New messages announced since local midnight.
    messages_today: int = 0
    #: Messages stored degraded: the server's answer for them could not be read.
    quarantined: int = 0
    syncs: int = 0
    sync_errors: int = 0
    #: The provider's counters (connections opened and reused, logins, token refreshes).
    counters: Mapping[str, int] = attrs.field(factory=dict)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready: the state as its string, the counters as a plain dict."""
        data = attrs.asdict(self, recurse=False)
        data["state"] = str(self.state)
        data["counters"] = dict(self.counters)
        return data


@attrs.frozen(kw_only=True)
class ServiceOverview:
    """Every account's status and the service's counters and histograms, at one moment."""

    accounts: Sequence[AccountStatus]
    #: Service counters: ``syncs``, ``sync_errors``, ``round_trips``, ``events_logged``,
    #: ``events_ephemeral``, ``subscribers``, ``subscribers_lagged``, ``restarts``...
    counters: Mapping[str, int]
    sync_duration: Histogram
    new_mail_latency: Histogram
    #: The last hour's new-mail latencies: (wall-clock seconds, latency in seconds).
    recent_latency: Sequence[tuple[float, float]] = ()

    @property
    def ready(self) -> bool:
        """Every account (but paused ones) has had a sync attempt."""
        return all(a.attempted or a.paused for a in self.accounts)

    def by_state(self) -> dict[AccountState, int]:
        """How many accounts are in each state (every state, zero included)."""
        counts = dict.fromkeys(AccountState, 0)
        for account in self.accounts:
            counts[account.state] += 1
        return counts
