"""Service events, for in-process subscribers and (as JSON) for WebSocket clients.

The JSON schema is documented in ``docs/events.md``; its version is
:data:`SCHEMA_VERSION`. Every event carries a sequence number, increasing
by one per event of a service, so a client can tell if it missed some.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import attrs

from trio_mailsync.sync import MessageRecord, SyncResult

__all__ = [
    "SCHEMA_VERSION",
    "AccountState",
    "AccountStateChanged",
    "Hello",
    "NewMessages",
    "ServiceEvent",
    "SyncCompleted",
    "describe",
    "to_dict",
    "to_json",
]

SCHEMA_VERSION = 1


class AccountState(enum.StrEnum):
    CONNECTING = "connecting"
    IDLE = "idle"
    POLLING = "polling"
    SYNCING = "syncing"
    ERROR = "error"
    AUTH_FAILED = "auth_failed"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@attrs.frozen(kw_only=True)
class ServiceEvent:
    seq: int = 0
    time: str = attrs.field(factory=_now)


@attrs.frozen(kw_only=True)
class Hello(ServiceEvent):
    """The first event a WebSocket client gets: the accounts and their states."""

    accounts: Mapping[str, AccountState]


@attrs.frozen(kw_only=True)
class AccountStateChanged(ServiceEvent):
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
    account: str
    messages: Sequence[MessageRecord]


def _message(m: MessageRecord) -> dict[str, Any]:
    return {
        "folder": m.folder,
        "uidvalidity": m.uidvalidity,
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
