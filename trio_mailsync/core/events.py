"""Service events, for in-process subscribers and (as JSON) for WebSocket clients and webhooks.

Two kinds, one base:

- *Logged* events (:class:`LoggedEvent`) report mail: new messages, flag changes,
  deletions, folder resets, processors' results. The store appends each to its
  durable event log in the same transaction as the rows it reports, which gives
  it its ``id``: strictly increasing, never reused, the position a consumer
  resumes from (``since``).
- *Ephemeral* events report how the service is doing (the accounts' states, sync
  results, a :class:`Reset` for a consumer that asked for what was pruned); they
  have no id and are not replayed.

The JSON schema is documented in ``docs/events.md``; its version is
:data:`SCHEMA_VERSION`. :func:`to_dict` and :func:`from_dict` convert both ways
(the log stores each event's JSON).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import attrs

from trio_mailsync.core.model import Address, MessageRecord, SyncResult

__all__ = [
    "LOGGED_TYPES",
    "SCHEMA_VERSION",
    "AccountState",
    "AccountStateChanged",
    "DeliveryFailed",
    "FlagUpdate",
    "FlagsChanged",
    "FolderReset",
    "Hello",
    "LoggedEvent",
    "MessageProcessed",
    "MessagesDeleted",
    "NewMessages",
    "Reset",
    "ServiceEvent",
    "SyncCompleted",
    "describe",
    "event_type",
    "from_dict",
    "from_json",
    "now_iso",
    "to_dict",
    "to_json",
]

SCHEMA_VERSION = 2


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
    #: Paused by the operator (``POST /api/accounts/<id>/pause``): nothing runs, no
    #: connection is held, until it is resumed.
    PAUSED = "paused"
    #: Removed at runtime (API, a reloaded config): its last event; it is gone after it.
    REMOVED = "removed"


def now_iso() -> str:
    """The time now as events carry it: ISO 8601, UTC, milliseconds."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@attrs.frozen(kw_only=True)
class ServiceEvent:
    """Base of the events: when the event was made."""

    time: str = attrs.field(factory=now_iso)


# ---------------------------------------------------------------- ephemeral


@attrs.frozen(kw_only=True)
class Hello(ServiceEvent):
    """The first event a consumer gets: the accounts and their states, and where the log is.

    ``last_id`` is the id of the last logged event before the consumer's live
    events: resuming from it later misses nothing that came after this hello.
    """

    accounts: Mapping[str, AccountState]
    last_id: int = 0


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
class Reset(ServiceEvent):
    """The consumer asked to resume from an id the log no longer holds (retention).

    What happened between is lost to it: it must reload its view. The events that
    follow come after ``last_id``.
    """

    since: int
    last_id: int


@attrs.frozen(kw_only=True)
class DeliveryFailed(ServiceEvent):
    """A consumer (a webhook) gave up on logged events after its attempts; recorded in the store.

    ``event_ids`` are the ids it gave up on; ``trio-mailsync failures`` lists them.
    """

    consumer: str
    event_ids: Sequence[int]
    error: str


# ---------------------------------------------------------------- logged


@attrs.frozen(kw_only=True)
class LoggedEvent(ServiceEvent):
    """An event of the durable log; ``id`` is set when the store appends it (0 before)."""

    id: int = 0
    account: str


@attrs.frozen(kw_only=True)
class NewMessages(LoggedEvent):
    """Messages that arrived in one folder, each reported once (``docs/reliability.md``)."""

    folder: str
    messages: Sequence[MessageRecord]


@attrs.frozen
class FlagUpdate:
    """One message's flags after a change, and before it."""

    uid: int
    flags: tuple[str, ...]
    old: tuple[str, ...]


@attrs.frozen(kw_only=True)
class FlagsChanged(LoggedEvent):
    """Stored messages of one folder whose flags changed on the server."""

    folder: str
    generation: int
    messages: Sequence[FlagUpdate]


@attrs.frozen(kw_only=True)
class MessagesDeleted(LoggedEvent):
    """Stored messages of one folder that are gone from the server."""

    folder: str
    generation: int
    uids: Sequence[int]


@attrs.frozen(kw_only=True)
class FolderReset(LoggedEvent):
    """A folder's generation changed (IMAP: UIDVALIDITY): every uid of ``previous`` is void.

    Its messages are stored anew under ``generation``; those that were already
    known (by Message-ID) are not reported again as new.
    """

    folder: str
    generation: int
    previous: int


@attrs.frozen(kw_only=True)
class MessageProcessed(LoggedEvent):
    """A processor's result for one new message (``SyncService.add_processor``)."""

    processor: str
    folder: str
    generation: int
    uid: int
    #: What the processor returned (JSON data); ``None`` when it failed.
    result: Any = None
    #: Why it failed (an exception, a timeout); ``None`` when it worked.
    error: str | None = None


# ---------------------------------------------------------------- JSON


def _address(a: Address | None) -> dict[str, Any] | None:
    return None if a is None else {"name": a.name, "address": a.address}


def _to_address(d: Mapping[str, Any] | None) -> Address | None:
    return None if d is None else Address(d.get("name"), d["address"])


def _message(m: MessageRecord) -> dict[str, Any]:
    return {
        "folder": m.folder,
        # The schema names the generation after IMAP's UIDVALIDITY.
        "uidvalidity": m.generation,
        "uid": m.uid,
        "from": _address(m.sender),
        "to": [_address(a) for a in m.recipients],
        "subject": m.subject,
        "date": m.date,
        "internaldate": m.internaldate,
        "message_id": m.message_id,
        "flags": list(m.flags),
        "size": m.size,
        "email_id": m.email_id,
        "thread_id": m.thread_id,
        "labels": None if m.labels is None else list(m.labels),
        "degraded": m.degraded,
    }


def _record(account: str, d: Mapping[str, Any]) -> MessageRecord:
    labels = d.get("labels")
    return MessageRecord(
        account=account,
        folder=d["folder"],
        generation=d["uidvalidity"],
        uid=d["uid"],
        flags=tuple(d.get("flags") or ()),
        message_id=d.get("message_id"),
        date=d.get("date"),
        internaldate=d.get("internaldate"),
        sender=_to_address(d.get("from")),
        recipients=tuple(a for a in map(_to_address, d.get("to") or ()) if a is not None),
        subject=d.get("subject"),
        size=d.get("size"),
        email_id=d.get("email_id"),
        thread_id=d.get("thread_id"),
        labels=None if labels is None else tuple(labels),
        degraded=d.get("degraded"),
    )


def _result(r: SyncResult) -> dict[str, Any]:
    return {
        "account": r.account,
        "new": len(r.new_messages),
        "degraded": r.degraded,
        "changed": len(r.flag_changes),
        "deleted": len(r.deletions),
        "folders_checked": r.folders_checked,
        "folders_synced": r.folders_synced,
        "round_trips": r.round_trips,
        "duration_ms": round(r.duration * 1000, 3),
        "error": r.error,
        "folder_errors": [{"folder": f, "error": e} for f, e in r.folder_errors],
    }


#: The ``type`` of each logged event class, as in the JSON.
LOGGED_TYPES: dict[type[LoggedEvent], str] = {
    NewMessages: "new_messages",
    FlagsChanged: "flags_changed",
    MessagesDeleted: "messages_deleted",
    FolderReset: "folder_reset",
    MessageProcessed: "message_processed",
}


def _body(event: ServiceEvent) -> dict[str, Any]:
    """The fields particular to the event's type."""
    if isinstance(event, NewMessages):
        return {"folder": event.folder, "messages": [_message(m) for m in event.messages]}
    if isinstance(event, FlagsChanged):
        return {
            "folder": event.folder,
            "uidvalidity": event.generation,
            "messages": [
                {"uid": m.uid, "flags": list(m.flags), "old_flags": list(m.old)}
                for m in event.messages
            ],
        }
    if isinstance(event, MessagesDeleted):
        return {"folder": event.folder, "uidvalidity": event.generation, "uids": list(event.uids)}
    if isinstance(event, FolderReset):
        return {
            "folder": event.folder,
            "uidvalidity": event.generation,
            "previous_uidvalidity": event.previous,
        }
    if isinstance(event, MessageProcessed):
        return {
            "processor": event.processor,
            "folder": event.folder,
            "uidvalidity": event.generation,
            "uid": event.uid,
            "result": event.result,
            "error": event.error,
        }
    if isinstance(event, Hello):
        return {
            "last_id": event.last_id,
            "accounts": [{"id": a, "state": s.value} for a, s in event.accounts.items()],
        }
    if isinstance(event, AccountStateChanged):
        return {"account": event.account, "state": event.state.value, "detail": event.detail}
    if isinstance(event, SyncCompleted):
        return {"trigger": event.trigger, "results": [_result(r) for r in event.results]}
    if isinstance(event, Reset):
        return {"since": event.since, "last_id": event.last_id}
    if isinstance(event, DeliveryFailed):
        return {
            "consumer": event.consumer,
            "event_ids": list(event.event_ids),
            "error": event.error,
        }
    raise TypeError(f"not a service event: {event!r}")


def event_type(event: ServiceEvent) -> str:
    """The event's ``type`` in the JSON."""
    if isinstance(event, LoggedEvent):
        return LOGGED_TYPES[type(event)]
    return _EPHEMERAL_TYPES[type(event)]


_EPHEMERAL_TYPES: dict[type[ServiceEvent], str] = {
    Hello: "hello",
    AccountStateChanged: "account_state",
    SyncCompleted: "sync_result",
    Reset: "reset",
    DeliveryFailed: "delivery_failed",
}


def to_dict(event: ServiceEvent) -> dict[str, Any]:
    """The event as JSON data, schema version :data:`SCHEMA_VERSION` (``docs/events.md``)."""
    data: dict[str, Any] = {"type": event_type(event), "version": SCHEMA_VERSION}
    if isinstance(event, LoggedEvent):
        data["id"] = event.id
        data["account"] = event.account
    data["time"] = event.time
    data.update(_body(event))
    return data


def to_json(event: ServiceEvent) -> str:
    """The event as one line of JSON."""
    return json.dumps(to_dict(event), ensure_ascii=False, separators=(",", ":"))


def from_dict(data: Mapping[str, Any]) -> ServiceEvent:
    """The event that :func:`to_dict` made ``data`` of. Raises ``ValueError`` for anything else.

    ``sync_result`` events come back without their results (a JSON result holds
    counts, not the messages); every other type comes back whole.
    """
    try:
        return _from_dict(data)
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not a service event of schema {SCHEMA_VERSION}: {exc!r}") from None


def _from_dict(d: Mapping[str, Any]) -> ServiceEvent:
    kind = d["type"]
    time = d["time"]
    if kind in _LOGGED_BY_NAME:
        account = d["account"]
        common: dict[str, Any] = {"id": d["id"], "account": account, "time": time}
        if kind == "new_messages":
            messages = tuple(_record(account, m) for m in d["messages"])
            return NewMessages(folder=d["folder"], messages=messages, **common)
        if kind == "flags_changed":
            updates = tuple(
                FlagUpdate(m["uid"], tuple(m["flags"]), tuple(m["old_flags"]))
                for m in d["messages"]
            )
            return FlagsChanged(
                folder=d["folder"], generation=d["uidvalidity"], messages=updates, **common
            )
        if kind == "messages_deleted":
            return MessagesDeleted(
                folder=d["folder"], generation=d["uidvalidity"], uids=tuple(d["uids"]), **common
            )
        if kind == "folder_reset":
            return FolderReset(
                folder=d["folder"],
                generation=d["uidvalidity"],
                previous=d["previous_uidvalidity"],
                **common,
            )
        return MessageProcessed(
            processor=d["processor"],
            folder=d["folder"],
            generation=d["uidvalidity"],
            uid=d["uid"],
            result=d["result"],
            error=d["error"],
            **common,
        )
    if kind == "hello":
        states = {a["id"]: AccountState(a["state"]) for a in d["accounts"]}
        return Hello(accounts=states, last_id=d["last_id"], time=time)
    if kind == "account_state":
        return AccountStateChanged(
            account=d["account"], state=AccountState(d["state"]), detail=d["detail"], time=time
        )
    if kind == "sync_result":
        return SyncCompleted(trigger=d["trigger"], results=(), time=time)
    if kind == "reset":
        return Reset(since=d["since"], last_id=d["last_id"], time=time)
    if kind == "delivery_failed":
        return DeliveryFailed(
            consumer=d["consumer"], event_ids=tuple(d["event_ids"]), error=d["error"], time=time
        )
    raise KeyError(f"type {kind!r}")


_LOGGED_BY_NAME = frozenset(LOGGED_TYPES.values())


def from_json(text: str | bytes) -> ServiceEvent:
    """The event of one line of JSON (:func:`to_json`'s inverse)."""
    return from_dict(json.loads(text))


def _who(address: Mapping[str, Any] | None) -> str:
    if not address:
        return "?"
    return str(Address(address.get("name"), address.get("address") or ""))


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
            f"from {_who(m['from'])}: {m['subject'] or '(no subject)'}"
            for m in event["messages"]
        ]
    if kind == "flags_changed":
        return [
            f"{event['account']}: flags in {event['folder']} (UID {m['uid']}): "
            f"{' '.join(m['flags']) or '(none)'}"
            for m in event["messages"]
        ]
    if kind == "messages_deleted":
        uids = ", ".join(map(str, event["uids"]))
        return [f"{event['account']}: deleted in {event['folder']}: UID {uids}"]
    if kind == "folder_reset":
        return [
            f"{event['account']}: {event['folder']} was reset (UIDVALIDITY "
            f"{event['previous_uidvalidity']} -> {event['uidvalidity']}); re-read it"
        ]
    if kind == "message_processed":
        outcome = (
            f"failed: {event['error']}"
            if event.get("error")
            else json.dumps(event["result"], ensure_ascii=False)
        )
        return [
            f"{event['account']}: {event['processor']} on {event['folder']} "
            f"(UID {event['uid']}): {outcome}"
        ]
    if kind == "reset":
        return [
            f"the log no longer holds events after {event['since']}: reload; "
            f"continuing after {event['last_id']}"
        ]
    if kind == "delivery_failed":
        ids = event["event_ids"]
        span = f"{ids[0]}" if len(ids) == 1 else f"{ids[0]} to {ids[-1]}"
        return [f"{event['consumer']}: gave up on event(s) {span}: {event['error']}"]
    if kind == "sync_result":
        return _describe_sync(event)
    return [f"{kind}: {json.dumps(event, ensure_ascii=False)}"]


def _describe_sync(event: Mapping[str, Any]) -> list[str]:
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
