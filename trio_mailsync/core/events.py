"""Service events, for in-process subscribers and (as JSON) for WebSocket clients.

The JSON schema is documented in ``docs/events.md``; its version is
:data:`SCHEMA_VERSION`. Every event carries a sequence number, increasing
by one per event of a service, so a client can tell if it missed some.
A :class:`Subscription` is one consumer's bounded queue of them.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import attrs
import trio

from trio_mailsync.core.model import MessageRecord, SyncResult

__all__ = [
    "SCHEMA_VERSION",
    "AccountState",
    "AccountStateChanged",
    "Hello",
    "NewMessages",
    "ServiceEvent",
    "Subscription",
    "SyncCompleted",
    "describe",
    "to_dict",
    "to_json",
]

SCHEMA_VERSION = 1


class AccountState(enum.StrEnum):
    """What an account is doing, as events and the dashboard show it."""

    #: Connecting or reconnecting (a previous failure may be in the detail).
    CONNECTING = "connecting"
    #: Listening for changes (IMAP IDLE): new mail is heard of at once.
    IDLE = "idle"
    #: Looking for changes every ``poll_interval`` (no push available).
    POLLING = "polling"
    SYNCING = "syncing"
    #: The last sync failed, or the account's tasks failed and are restarting.
    ERROR = "error"
    #: The server refused the credentials; retried after ``auth_retry_after``.
    AUTH_FAILED = "auth_failed"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@attrs.frozen(kw_only=True)
class ServiceEvent:
    """Base of the events: a sequence number (set when published) and the time."""

    seq: int = 0
    time: str = attrs.field(factory=_now)


@attrs.frozen(kw_only=True)
class Hello(ServiceEvent):
    """The first event a WebSocket client gets: the accounts and their states."""

    accounts: Mapping[str, AccountState]


@attrs.frozen(kw_only=True)
class AccountStateChanged(ServiceEvent):
    """An account's state changed; ``detail`` says why (an error's text)."""

    account: str
    state: AccountState
    detail: str | None = None


@attrs.frozen(kw_only=True)
class SyncCompleted(ServiceEvent):
    """One sync round: one account after a trigger, or all of them in a sweep."""

    trigger: str
    results: Sequence[SyncResult]


@attrs.frozen(kw_only=True)
class NewMessages(ServiceEvent):
    """Messages that arrived, each reported once (see ``docs/reliability.md``)."""

    account: str
    messages: Sequence[MessageRecord]


def _message(m: MessageRecord) -> dict[str, Any]:
    return {
        "folder": m.folder,
        # Schema 1 names the generation after IMAP's UIDVALIDITY.
        "uidvalidity": m.generation,
        "uid": m.uid,
        "from": m.sender,
        "to": list(m.recipients),
        "subject": m.subject,
        "date": m.date,
        "internaldate": m.internaldate,
        "message_id": m.message_id,
        "flags": list(m.flags),
        "size": m.size,
    }


def _result(r: SyncResult) -> dict[str, Any]:
    return {
        "account": r.account,
        "new": len(r.new_messages),
        "changed": len(r.flag_changes),
        "deleted": len(r.deletions),
        "folders_checked": r.folders_checked,
        "folders_synced": r.folders_synced,
        "round_trips": r.round_trips,
        "duration_ms": round(r.duration * 1000, 3),
        "error": r.error,
        "folder_errors": [{"folder": f, "error": e} for f, e in r.folder_errors],
    }


def to_dict(event: ServiceEvent) -> dict[str, Any]:
    """The event as JSON data, schema version :data:`SCHEMA_VERSION` (``docs/events.md``)."""
    base: dict[str, Any] = {"version": SCHEMA_VERSION, "seq": event.seq, "time": event.time}
    if isinstance(event, Hello):
        return {
            "type": "hello",
            **base,
            "accounts": [{"id": a, "state": s.value} for a, s in event.accounts.items()],
        }
    if isinstance(event, AccountStateChanged):
        return {
            "type": "account_state",
            **base,
            "account": event.account,
            "state": event.state.value,
            "detail": event.detail,
        }
    if isinstance(event, SyncCompleted):
        return {
            "type": "sync_result",
            **base,
            "trigger": event.trigger,
            "results": [_result(r) for r in event.results],
        }
    if isinstance(event, NewMessages):
        return {
            "type": "new_messages",
            **base,
            "account": event.account,
            "messages": [_message(m) for m in event.messages],
        }
    raise TypeError(f"not a service event: {event!r}")


def to_json(event: ServiceEvent) -> str:
    """The event as one line of JSON."""
    return json.dumps(to_dict(event), ensure_ascii=False, separators=(",", ":"))


def describe(event: Mapping[str, Any]) -> list[str]:
    """An event (as JSON data) in lines for people: the CLI's ``serve``, ``demo`` and ``watch``."""
    kind = event.get("type")
    if kind == "hello":
        states = ", ".join(f"{a['id']} ({a['state']})" for a in event["accounts"])
        return [f"{len(event['accounts'])} account(s): {states}"]
    if kind == "account_state":
        detail = f": {event['detail']}" if event.get("detail") else ""
        return [f"{event['account']}: {event['state']}{detail}"]
    if kind == "new_messages":
        return [
            f"{event['account']}: new in {m['folder']} (UID {m['uid']}) "
            f"from {m['from'] or '?'}: {m['subject'] or '(no subject)'}"
            for m in event["messages"]
        ]
    if kind == "sync_result":
        results = event["results"]
        errors = [r for r in results if r["error"]]
        new = sum(r["new"] for r in results)
        if event["trigger"] in ("startup", "sweep", "manual"):
            line = (
                f"{event['trigger']} sync of {len(results)} account(s): {new} new, "
                f"{sum(r['changed'] for r in results)} changed, "
                f"{sum(r['deleted'] for r in results)} deleted, {len(errors)} failed"
            )
            return [line, *(f"{r['account']}: sync failed: {r['error']}" for r in errors)]
        return [
            f"{r['account']}: synced ({event['trigger']}): "
            + (
                f"failed: {r['error']}"
                if r["error"]
                else f"{r['new']} new, {r['round_trips']} round trip(s), {r['duration_ms']:.1f} ms"
            )
            for r in results
        ]
    return [f"{kind}: {json.dumps(event, ensure_ascii=False)}"]


class Subscription:
    """A subscriber's bounded queue of events; on overflow the subscriber is dropped.

    Iterate it for events. When the publisher finds the queue full it closes it
    (the iteration ends), sets :attr:`overflowed`, and cancels :attr:`cancel_scope`
    if the subscriber set one (a subscriber blocked elsewhere, in a network write
    say, is stopped too).
    """

    def __init__(self, size: int) -> None:
        self.send, self.receive = trio.open_memory_channel[ServiceEvent](size)
        #: Set when the subscriber fell too far behind and was dropped.
        self.overflowed = False
        #: Cancelled when the subscriber is dropped, if the subscriber sets it.
        self.cancel_scope: trio.CancelScope | None = None

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> ServiceEvent:
        try:
            return await self.receive.receive()
        except trio.EndOfChannel:
            raise StopAsyncIteration from None
