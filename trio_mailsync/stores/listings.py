"""What the CLI lists from a store while the service holds it, the same for every store.

Each function takes the store's ``read_only`` (``stores.sqlite.read_only(path)``,
``stores.postgres.read_only(dsn, password)``): a query's rows, read without taking
the store from the process that runs the accounts.
"""

from __future__ import annotations

from trio_mailsync.stores._sql import RowsOf

__all__ = ["account_overview", "degraded", "failures"]


def failures(rows_of: RowsOf) -> list[tuple[str, int, float, str]]:
    """The events consumers gave up on: (consumer, event id, time, error), oldest first."""
    rows = rows_of("SELECT consumer, event_id, time, error FROM failures ORDER BY time, event_id")
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def degraded(rows_of: RowsOf) -> list[tuple[str, str, int, str | None, str]]:
    """Messages that could not be read whole: (account, folder, uid, subject, why)."""
    rows = rows_of(
        "SELECT account, folder, uid, subject, degraded FROM messages "
        "WHERE degraded IS NOT NULL ORDER BY account, folder, uid"
    )
    return [(r[0], r[1], r[2], r[3], r[4]) for r in rows]


def account_overview(rows_of: RowsOf) -> dict[str, tuple[int, int, float]]:
    """Per account: (folders, messages, when its last sync ended) (``trio-mailsync status``
    when the service does not answer)."""
    rows = rows_of(
        "SELECT account, COUNT(*), SUM(messages), MAX(last_sync) FROM folders GROUP BY account"
    )
    return {r[0]: (int(r[1]), int(r[2] or 0), float(r[3] or 0)) for r in rows}
