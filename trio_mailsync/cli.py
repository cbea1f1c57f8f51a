"""``trio-mailsync`` subcommands: serve, demo, watch, status, sync, check, parse, failures,
degraded. Every error is one line (``error: ...``); exception groups never reach the user."""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import signal
import sys
import threading
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, TextIO, TypeVar

import attrs
import httpx
import trio

from trio_mailsync import __version__
from trio_mailsync.app import (
    connect_store,
    open_providers,
    run_broadcaster,
    run_worker,
    serve,
    store_name,
    store_reader,
)
from trio_mailsync.config import load_config
from trio_mailsync.core.config import ROLES, Config
from trio_mailsync.core.errors import ConfigError, MailSyncError, StoreError
from trio_mailsync.core.events import LoggedEvent, describe, to_dict
from trio_mailsync.core.model import SyncResult
from trio_mailsync.core.ports import EventSource
from trio_mailsync.demo import run_demo
from trio_mailsync.providers.imap import connect_account, folder_list, imap_settings
from trio_mailsync.providers.imap.trace import WireTrace
from trio_mailsync.providers.imap.transcript import print_transcript
from trio_mailsync.sinks.client import EventStreamClosed, EventStreamRejected, open_event_stream
from trio_mailsync.stores import listings
from trio_mailsync.stores._sql import RowsOf
from trio_mailsync.stores.sqlite import default_store_path
from trio_mailsync.sync import SyncEngine

TRACE_HELP = (
    "record every IMAP connection's bytes to this file, passwords and tokens redacted "
    "(for reporting an odd server; read it back with `trio-mailsync parse FILE`)"
)
TOKEN_ENV = "TRIO_MAILSYNC_TOKEN"  # noqa: S105 (the name of the variable)

T = TypeVar("T")
#: Signals that stop a command cleanly (Ctrl-C; systemd and ``docker stop``).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _Stopped(Exception):
    """A stop signal arrived; the command's tasks were cancelled and have ended."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _alone(exc: Exception) -> Exception:
    """The one error inside nested groups of one (nurseries group what they raise)."""
    while isinstance(exc, ExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def _run(async_fn: Callable[..., Awaitable[T]], *args: Any) -> T:
    """``trio.run(async_fn, *args)``, stopped cleanly by SIGINT or SIGTERM (:class:`_Stopped`).

    The signals are received by a task of our own and the command is cancelled,
    so it ends like any cancelled Trio code (DONE, LOGOUT, close frames), rather
    than by a KeyboardInterrupt raised in whichever task happened to be running.
    Signal handlers belong to the main thread: elsewhere (tests) it is plain trio.run.
    """
    if threading.current_thread() is not threading.main_thread():
        try:
            return trio.run(async_fn, *args)
        except ExceptionGroup as group:
            raise _alone(group) from None

    async def main() -> T:
        outcome: list[T] = []
        failure: list[Exception] = []
        stopped_by: list[int] = []
        with trio.open_signal_receiver(*STOP_SIGNALS) as signals:
            async with trio.open_nursery() as nursery:

                async def work() -> None:
                    try:
                        outcome.append(await async_fn(*args))
                    except Exception as exc:
                        failure.append(exc)  # raised below as itself, as trio.run would
                    nursery.cancel_scope.cancel()

                nursery.start_soon(work)
                async for signum in signals:
                    stopped_by.append(signum)
                    nursery.cancel_scope.cancel()
                    break
        if failure:
            raise _alone(failure[0])
        if stopped_by and not outcome:
            raise _Stopped(stopped_by[0])
        return outcome[0]

    return trio.run(main)


# ---------------------------------------------------------------- sync


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *rows, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)


#: ``sync`` goes on with large folders' first syncs at most this many times.
MAX_BACKFILL_ROUNDS = 10_000


def _combined(first: SyncResult, then: SyncResult) -> SyncResult:
    """Two syncs of one account as one (a first sync that went on)."""
    return attrs.evolve(
        then,
        new_messages=first.new_messages + then.new_messages,
        flag_changes=first.flag_changes + then.flag_changes,
        deletions=first.deletions + then.deletions,
        round_trips=first.round_trips + then.round_trips,
        duration=first.duration + then.duration,
        folders_checked=first.folders_checked,
        folders_synced=first.folders_synced,
        folder_errors=first.folder_errors + then.folder_errors,
    )


def _summary(result: SyncResult) -> str:
    if not result.ok:
        return f"error: {(result.error or '').removeprefix(f'{result.account}: ')}"
    if not (result.new_messages or result.flag_changes or result.deletions):
        text = (
            f"no changes ({result.folders_checked} folders checked, {result.round_trips} "
            f"round trips, {result.duration:.2f} s)"
        )
    else:
        text = (
            f"{len(result.new_messages)} new, {len(result.flag_changes)} changed, "
            f"{len(result.deletions)} deleted, {result.folders_synced}/{result.folders_checked} "
            f"folders synced, {result.round_trips} round trips, {result.duration:.2f} s"
        )
    if result.folder_errors:
        text += f" ({len(result.folder_errors)} folder errors)"
    if result.degraded:
        text += f"; {result.degraded} stored degraded (see `trio-mailsync degraded`)"
    if result.more:
        text += f"; more to fetch in {', '.join(result.more)}"
    return text


async def _sync(
    config: Config,
    store_path: Path | None,
    concurrency: int,
    list_new: bool,
    dry_run: bool,
    out: TextIO,
    err: TextIO,
) -> int:
    store = await connect_store(config, path=store_path, dry_run=dry_run)
    total = len(config.accounts)
    done = 0
    logged: list[LoggedEvent] = []

    async def report(result: SyncResult) -> None:
        nonlocal done
        done += 1
        print(f"[{done}/{total}] {result.account}: {_summary(result)}", file=err, flush=True)
        if list_new:
            for m in result.new_messages:
                print(
                    f"{m.account}  {m.folder}  {m.uid}  {m.sender or '-'}  {m.subject or ''}",
                    file=out,
                    flush=True,
                )

    def show(events: Sequence[LoggedEvent]) -> None:
        logged.extend(events)
        if dry_run:
            for event in events:
                for line in describe(to_dict(event)):
                    print(f"would log: {line}", file=out, flush=True)

    what = "dry run: nothing is stored; " if dry_run else ""
    print(
        f"{what}syncing {total} account(s) into {store_name(config, store_path)}",
        file=err,
        flush=True,
    )
    try:
        async with open_providers(config) as providers:
            engine = SyncEngine(store, concurrency=concurrency, on_logged=show)
            sessions = [providers[a.provider].session(a) for a in config.accounts]
            # The service's timeout: a server that stops answering cannot hang the command.
            results = await engine.sync_all_accounts(
                sessions, on_result=report, timeout=config.service.sync_timeout
            )
            # Large folders' first syncs go on batch by batch (each sync fetches a few
            # batches): again, for the accounts that have more, until none has.
            for _ in range(MAX_BACKFILL_ROUNDS):
                pending = [i for i, r in enumerate(results) if r.more and r.ok]
                if not pending:
                    break
                total += len(pending)
                again = await engine.sync_all_accounts(
                    [sessions[i] for i in pending],
                    on_result=report,
                    timeout=config.service.sync_timeout,
                )
                for i, result in zip(pending, again, strict=True):
                    results[i] = _combined(results[i], result)
    finally:
        with trio.CancelScope(shield=True):
            await store.aclose()
    if logged and not dry_run:
        ids = sorted(e.id for e in logged)
        print(
            f"logged {len(ids)} event(s), ids {ids[0]} to {ids[-1]}: `serve` clients "
            f"resuming from before {ids[0]} get them",
            file=err,
        )
    rows = [
        [
            r.account,
            str(len(r.new_messages)),
            str(len(r.flag_changes)),
            str(len(r.deletions)),
            f"{r.duration:.2f} s",
            "" if r.ok else (r.error or ""),
        ]
        for r in results
    ]
    print(_table(["account", "new", "changed", "deleted", "duration", "error"], rows), file=out)
    for r in results:
        for folder, error in r.folder_errors:
            print(f"{r.account}: {folder}: {error}", file=err)
    return 0 if all(r.ok for r in results) else 1


def _listing(
    read: Callable[[], Sequence[Sequence[object]]],
    headers: list[str],
    row: Callable[..., list[str]],
    empty: str,
    out: TextIO,
    err: TextIO,
    summary: str = "",
) -> int:
    """Print a table of what ``read`` finds in the store (``failures``, ``degraded``).

    ``summary`` (with ``{n}``, the number of rows) goes to ``err`` after the table.
    """
    try:
        rows = read()
    except StoreError as exc:
        print(f"error: {exc}", file=err)
        return 1
    if not rows:
        print(empty, file=out)
        return 0
    print(_table(headers, [row(*r) for r in rows]), file=out)
    if summary:
        print(summary.format(n=len(rows)), file=err)
    return 0


def _failures(store: RowsOf, out: TextIO, err: TextIO) -> int:
    return _listing(
        lambda: listings.failures(store),
        ["consumer", "event", "gave up at (UTC)", "error"],
        lambda consumer, event_id, at, error: [
            consumer,
            str(event_id),
            datetime.fromtimestamp(at, UTC).strftime("%F %T"),
            error,
        ],
        "no failed deliveries",
        out,
        err,
        summary="{n} event(s) given up; their ids are in the log until retention",
    )


def _degraded(store: RowsOf, out: TextIO, err: TextIO) -> int:
    return _listing(
        lambda: listings.degraded(store),
        ["account", "folder", "uid", "subject", "why"],
        lambda account, folder, uid, subject, why: [account, folder, str(uid), subject or "", why],
        "every stored message was read whole",
        out,
        err,
    )


# ---------------------------------------------------------------- check

#: ``check`` waits this long for the folder list (the connection: ``connect_timeout``).
LIST_TIMEOUT = 30.0


async def _check(config: Config, out: TextIO) -> int:
    trace = None if config.service.trace is None else WireTrace.open(config.service.trace)
    try:
        return await _check_accounts(config, out, trace)
    finally:
        if trace is not None:
            trace.close()


async def _check_accounts(config: Config, out: TextIO, trace: WireTrace | None) -> int:
    failures = 0

    async def one(index: int) -> None:
        nonlocal failures
        account = config.accounts[index]
        settings = imap_settings(account)
        where = f"{settings.host}:{settings.port} {settings.security.value}"
        stage = ["connect"]
        try:
            with trio.fail_after(settings.limits.connect_timeout):
                conn = await connect_account(account, trace=trace, on_stage=stage.append)
            try:
                stage.append("list folders")
                with trio.fail_after(LIST_TIMEOUT):
                    listing, _ = await conn.list_folders()
            finally:
                await conn.logout()
        except (MailSyncError, OSError, trio.TooSlowError) as exc:
            failures += 1
            if isinstance(exc, trio.TooSlowError):
                reason = "timed out: the server did not answer"
            else:
                reason = str(exc).removeprefix(f"{account.id}: ")
            print(f"{account.id}: error at {stage[-1]} ({where}): {reason}", file=out, flush=True)
            return
        folders = folder_list(listing)
        roles = [role for role in ROLES if folders.by_role(role) is not None]
        chosen = folders.select(account.folders)
        print(
            f"{account.id}: ok ({where}): {len(folders.folders)} folders, roles "
            f"{', '.join(roles) or 'none'}; {len(chosen)} to sync",
            file=out,
            flush=True,
        )

    async with trio.open_nursery() as nursery:
        for index in range(len(config.accounts)):
            nursery.start_soon(one, index)
    return 1 if failures else 0


# ---------------------------------------------------------------- serve, demo, watch


def _stamp(event: dict[str, object]) -> str:
    time = str(event.get("time", ""))
    return time[11:23] if len(time) >= 23 else time


def _worth_printing(data: dict[str, Any], shown: dict[str, str]) -> bool:
    """Whether ``serve`` prints an event: not a sync's routine syncing and back, not a
    sync result that found nothing (a sweep of N accounts is then silent, not 2N+1 lines)."""
    kind = data.get("type")
    if kind == "account_state":
        account, state = str(data.get("account")), str(data.get("state"))
        if state == "syncing" or shown.get(account) == state:
            return False
        shown[account] = state
        return True
    if kind == "sync_result":
        results = data.get("results") or []
        return any(
            r.get("new") or r.get("changed") or r.get("deleted") or r.get("error") for r in results
        )
    return True


async def _serve(
    config: Config, store_path: Path | None, quiet: bool, out: TextIO, err: TextIO
) -> int:
    store = await connect_store(config, path=store_path)
    try:
        async with trio.open_nursery() as nursery:
            running = await nursery.start(partial(serve, config, store=store))
            broadcaster = running.broadcaster
            print(
                f"serving {len(config.accounts)} account(s); "
                f"state in {store_name(config, store_path)}",
                file=err,
                flush=True,
            )
            print(f"events on {broadcaster.url}", file=err, flush=True)
            print(f"dashboard on {broadcaster.http_url}", file=err, flush=True)
            for hook in config.webhooks:
                print(f"webhook {hook.name}: {hook.url}", file=err, flush=True)
            if running.token_generated:
                print(
                    f"token (made up for this run; set [broadcast] token_env to keep one): "
                    f"{broadcaster.token.reveal()}",
                    file=err,
                    flush=True,
                )
            if threading.current_thread() is threading.main_thread() and config.path:
                nursery.start_soon(_reload_on_hangup, running.service, config.path, err)
            await _print_events(running.service, quiet, out)
            nursery.cancel_scope.cancel()
    finally:
        with trio.CancelScope(shield=True):  # closed however serve ends, cancelled too
            await store.aclose()
    return 0


async def _print_events(service: EventSource, quiet: bool, out: TextIO) -> None:
    """Print the service's events worth a line (new mail, state changes) until it ends."""
    shown: dict[str, str] = {}
    with service.subscribe(4096) as events:
        async for event in events:
            data = to_dict(event)
            if quiet or not _worth_printing(data, shown):
                continue
            for line in describe(data):
                print(f"{_stamp(data)} {line}", file=out, flush=True)


async def _worker(config: Config, quiet: bool, out: TextIO, err: TextIO) -> int:
    async with trio.open_nursery() as nursery:
        worker = await nursery.start(partial(run_worker, config))
        assert config.cluster is not None
        print(
            f"worker {worker.name}: {len(worker.held)} account(s) of its own so far; "
            f"leases in {config.cluster.redis_url}, state in {store_name(config)}",
            file=err,
            flush=True,
        )
        await _print_events(worker.service, quiet, out)
        nursery.cancel_scope.cancel()
    return 0


async def _broadcast(config: Config, err: TextIO) -> int:
    async with trio.open_nursery() as nursery:
        broadcaster = await nursery.start(partial(run_broadcaster, config))
        print(f"events on {broadcaster.url}", file=err, flush=True)
        print(f"dashboard on {broadcaster.http_url}", file=err, flush=True)
        await trio.sleep_forever()
    return 0  # pragma: no cover


async def _reload_on_hangup(service: Any, path: Path, err: TextIO) -> None:
    """SIGHUP: read the config file again and apply its accounts (``SyncService.reload``)."""
    with trio.open_signal_receiver(signal.SIGHUP) as hangups:
        async for _ in hangups:
            try:
                config = load_config(path)
            except ConfigError as exc:
                print(f"reload refused, nothing changed: {exc}", file=err, flush=True)
                continue
            done = await service.reload(config)
            print(
                "config reloaded: "
                + "; ".join(f"{what} {', '.join(ids) or 'none'}" for what, ids in done.items()),
                file=err,
                flush=True,
            )


# ---------------------------------------------------------------- status


def _status_rows(accounts: list[dict[str, Any]]) -> list[list[str]]:
    now = datetime.now(UTC).timestamp()

    def ago(at: object) -> str:
        if not isinstance(at, int | float) or not at:
            return "never"
        seconds = max(0, now - at)
        return f"{seconds:.0f} s ago" if seconds < 120 else f"{seconds / 60:.0f} min ago"

    return [
        [
            str(a["id"]),
            str(a["state"]),
            ago(a.get("last_sync")),
            "" if a.get("connections") is None else str(a["connections"]),
            "" if a.get("folders") is None else str(a["folders"]),
            str(a.get("messages_today", "")),
            (a.get("detail") or "").removeprefix(f"{a['id']}: "),
        ]
        for a in accounts
    ]


async def _status(
    config: Config, store: Path | None, token: str | None, out: TextIO, err: TextIO
) -> int:
    """The running service's accounts (its API), or what the store knows when it is not running."""
    settings = config.broadcast
    token = token or (settings.token.reveal() if settings.token else None)
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    scheme = "https" if settings.cert_file else "http"
    url = f"{scheme}://{host}:{settings.port}/api/accounts"
    headers = ["account", "state", "last sync", "conns", "folders", "today", "detail"]
    if token:
        try:
            async with httpx.AsyncClient(timeout=10, verify=True) as http:
                answer = await http.get(url, headers={"Authorization": f"Bearer {token}"})
        except httpx.HTTPError:
            answer = None  # not running: the store says what it can
        if answer is not None:
            if answer.status_code == 401:
                print(f"error: {url}: the service refused the token", file=err)
                return 1
            accounts = answer.json()["accounts"]
            print(_table(headers, _status_rows(accounts)), file=out)
            return 0 if all(a["state"] not in ("error", "auth_failed") for a in accounts) else 1
    try:
        known = listings.account_overview(store_reader(config, store))
    except StoreError as exc:
        print(f"error: the service does not answer at {url}, and {exc}", file=err)
        return 1
    print(
        f"the service does not answer at {url}; from the store {store_name(config, store)}:",
        file=err,
    )
    rows = []
    for account in config.accounts:
        folders, messages, last = known.get(account.id, (0, 0, 0.0))
        rows.append(
            {"id": account.id, "state": "not running", "last_sync": last, "folders": folders}
            | {"messages_today": f"{messages} stored"}
        )
    print(_table(headers, _status_rows(rows)), file=out)
    return 0


#: ``watch`` waits this long before reconnecting, doubling up to WATCH_BACKOFF_MAX.
WATCH_BACKOFF = 1.0
WATCH_BACKOFF_MAX = 60.0


async def _watch(
    url: str,
    token: str,
    as_json: bool,
    count: int | None,
    since: int | None,
    reconnect: bool,
    out: TextIO,
    err: TextIO,
) -> int:
    """Print events; on a lost connection, reconnect and resume after the last id printed.

    The first connection must work (a wrong URL is one error, not a retry loop).
    """
    seen = 0
    backoff = WATCH_BACKOFF
    connected = False
    while True:
        try:
            async with open_event_stream(url, token, since=since) as events:
                connected = True
                async for event in events:
                    backoff = WATCH_BACKOFF
                    if isinstance(event.get("id"), int):
                        since = event["id"]
                    elif event.get("type") == "reset" or (
                        event.get("type") == "hello" and since is None
                    ):
                        # From here on: a reconnection resumes where this stream went on.
                        since = event.get("last_id")
                    if as_json:
                        print(json.dumps(event, ensure_ascii=False), file=out, flush=True)
                    else:
                        for line in describe(event):
                            print(f"{_stamp(event)} {line}", file=out, flush=True)
                    seen += 1
                    if count is not None and seen >= count:
                        return 0
            if not reconnect:
                return 0
            problem = "the service stopped"
        except (EventStreamClosed, OSError) as exc:
            if not (reconnect and connected):
                raise
            problem = str(exc)
        where = "" if since is None else f", resuming after event {since}"
        print(f"{problem}; reconnecting in {backoff:g} s{where}", file=err, flush=True)
        await trio.sleep(backoff)
        backoff = min(WATCH_BACKOFF_MAX, backoff * 2)


# ---------------------------------------------------------------- entry

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class _JsonLogFormatter(logging.Formatter):
    """One JSON object per log line: time, level, logger, message (and the exception)."""

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


def _configure_logging(args: argparse.Namespace, err: TextIO) -> None:
    """``--log-level``, else ``-v`` (INFO), else ``--quiet`` (ERROR), else WARNING."""
    level = getattr(args, "log_level", None)
    if level is None:
        if getattr(args, "verbose", False):
            level = "INFO"
        elif getattr(args, "quiet", False):
            level = "ERROR"
        else:
            level = "WARNING"
    root = logging.getLogger()
    if root.handlers:
        return  # configured by a host program (or pytest): its logging is its own, as basicConfig
    handler = logging.StreamHandler(err)
    if getattr(args, "json_logs", False):
        handler.setFormatter(_JsonLogFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)


def run(argv: list[str], out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run one subcommand; returns its exit status (stop signals give 128 + the signal)."""
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    # Global options, accepted before and after the subcommand (SUPPRESS: one given
    # after it does not reset one given before).
    common = argparse.ArgumentParser(add_help=False)
    logs = common.add_argument_group("logging")
    logs.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="log at INFO"
    )
    logs.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        type=str.upper,
        default=argparse.SUPPRESS,
        help="log at this level (DEBUG says what the engine decides; default WARNING)",
    )
    logs.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=argparse.SUPPRESS,
        help="errors only: no progress lines, no events printed by serve",
    )
    logs.add_argument(
        "--json-logs",
        action="store_true",
        default=argparse.SUPPRESS,
        help="log lines as JSON objects (time, level, logger, message)",
    )
    parser = argparse.ArgumentParser(
        prog="trio-mailsync",
        description="Keep many IMAP accounts in step and hear about new mail at once.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"trio-mailsync {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, **kwargs: Any) -> argparse.ArgumentParser:
        return commands.add_parser(name, parents=[common], **kwargs)

    serve = command(
        "serve",
        help="watch every account (IDLE), push events to WebSocket clients, serve the "
        "dashboard and API; SIGHUP reloads the config's accounts",
    )
    serve.add_argument("--config", required=True, type=Path, help="TOML config file")
    serve.add_argument("--store", type=Path, help="SQLite file (default: as for sync)")
    serve.add_argument("--trace", type=Path, help=TRACE_HELP)

    worker = command(
        "worker",
        help="run one of a cluster's workers: the accounts whose leases it holds "
        '(the config needs [cluster] and [store] backend = "postgres")',
    )
    worker.add_argument("--config", required=True, type=Path, help="TOML config file")

    broadcast = command(
        "broadcast",
        help="run one of a cluster's broadcasters: the workers' events and replays from "
        "the store to WebSocket clients, the dashboard and API for the whole cluster (as "
        "many as you like, one [broadcast] port each)",
    )
    broadcast.add_argument("--config", required=True, type=Path, help="TOML config file")
    broadcast.add_argument("--port", type=int, help="listen here, not on [broadcast] port")

    demo = command(
        "demo", help="run the service against a built-in testing server: no config needed"
    )
    demo.add_argument("--accounts", type=int, default=3, help="accounts (default 3)")
    demo.add_argument(
        "--duration", type=float, default=30.0, help="seconds to run; 0: until Ctrl-C"
    )
    demo.add_argument(
        "--interval", type=float, default=2.0, help="seconds between deliveries (default 2)"
    )
    demo.add_argument("--port", type=int, default=0, help="WebSocket port (default: any)")

    watch = command("watch", help="print a running service's events")
    watch.add_argument("url", help="the service's WebSocket URL, e.g. ws://127.0.0.1:8765/")
    watch.add_argument("--token", help=f"the service's token (default: ${TOKEN_ENV})")
    watch.add_argument("--json", action="store_true", help="print events as JSON lines")
    watch.add_argument("--count", type=int, help="stop after this many events")
    watch.add_argument(
        "--since",
        type=int,
        help="start after this event id (replays what the service logged since); default: from now",
    )
    watch.add_argument(
        "--no-reconnect",
        action="store_true",
        help="stop when the connection ends (default: reconnect and resume)",
    )

    sync = command("sync", help="sync every account once and print what changed")
    sync.add_argument("--config", required=True, type=Path, help="TOML config file")
    sync.add_argument(
        "--store",
        type=Path,
        help=f"SQLite file (default: from the config, or {default_store_path()})",
    )
    sync.add_argument("--concurrency", type=int, default=32, help="accounts synced at once")
    sync.add_argument("--trace", type=Path, help=TRACE_HELP)
    sync.add_argument(
        "--list", action="store_true", help="also list the new messages (as each account ends)"
    )
    sync.add_argument(
        "--dry-run",
        action="store_true",
        help="show what would change (the events that would be logged); store nothing",
    )

    failures = command(
        "failures", help="list the events that webhooks gave up on (works while serve runs)"
    )
    failures.add_argument("--config", required=True, type=Path, help="TOML config file")
    failures.add_argument("--store", type=Path, help="SQLite file (default: as for sync)")

    degraded = command(
        "degraded",
        help="list messages the server's answers for could not be read whole (works while "
        "serve runs)",
    )
    degraded.add_argument("--config", required=True, type=Path, help="TOML config file")
    degraded.add_argument("--store", type=Path, help="SQLite file (default: as for sync)")

    check = command("check", help="check the config and try each account's login")
    check.add_argument("--config", required=True, type=Path, help="TOML config file")
    check.add_argument("--trace", type=Path, help=TRACE_HELP)

    parse = command(
        "parse", help="decode a captured IMAP server transcript and print its responses"
    )
    parse.add_argument(
        "file",
        nargs="?",
        help="the server's bytes, or a --trace file (default: standard input)",
    )

    status = command(
        "status", help="the accounts' states: from the running service, else from the store"
    )
    status.add_argument("--config", required=True, type=Path, help="TOML config file")
    status.add_argument("--store", type=Path, help="SQLite file (default: as for sync)")
    status.add_argument("--token", help=f"the service's token (default: config, ${TOKEN_ENV})")

    args = parser.parse_args(argv)
    _configure_logging(args, err)
    try:
        try:
            return _command(parser, args, out, err)
        except* KeyboardInterrupt:
            pass  # Ctrl-C before the signals were ours (while starting): grouped, maybe
    except _Stopped as stopped:
        print("interrupted" if stopped.signum == signal.SIGINT else "terminated", file=err)
        return 128 + stopped.signum
    print("interrupted", file=err)
    return 130


def _command(
    parser: argparse.ArgumentParser, args: argparse.Namespace, out: TextIO, err: TextIO
) -> int:
    if args.command == "demo":
        if args.accounts < 1 or args.interval <= 0 or args.duration < 0:
            print("error: --accounts, --interval and --duration must be positive", file=err)
            return 2
        duration = math.inf if args.duration == 0 else args.duration
        result = _run(
            partial(
                run_demo,
                out,
                accounts=args.accounts,
                duration=duration,
                interval=args.interval,
                port=args.port,
            )
        )
        return 0 if result.announced >= result.delivered else 1
    if args.command == "watch":
        token = args.token or os.environ.get(TOKEN_ENV)
        if not token:
            print(f"error: a token is needed (--token or ${TOKEN_ENV})", file=err)
            return 2
        try:
            if args.since is not None and args.since < 0:
                print("error: --since must be an event id (0 or more)", file=err)
                return 2
            return _run(
                _watch,
                args.url,
                token,
                args.json,
                args.count,
                args.since,
                not args.no_reconnect,
                out,
                err,
            )
        except (EventStreamRejected, EventStreamClosed, OSError, ValueError) as exc:
            print(f"error: {exc}", file=err)
            return 1
    if args.command == "parse":
        if args.file:
            with open(args.file, "rb") as f:
                return print_transcript(f, out)
        return print_transcript(sys.stdin.buffer, out)
    if args.command in (
        "sync",
        "check",
        "serve",
        "failures",
        "degraded",
        "status",
        "worker",
        "broadcast",
    ):
        try:
            config = load_config(args.config)
        except ConfigError as exc:
            print(f"error: {exc}", file=err)
            return 2
        if getattr(args, "trace", None) is not None:
            config = attrs.evolve(config, service=attrs.evolve(config.service, trace=args.trace))
        if args.command == "check":
            return _run(_check, config, out)
        if args.command in ("worker", "broadcast"):
            if config.cluster is None:
                role = "worker" if args.command == "worker" else "broadcaster"
                print(f"error: a {role} needs a [cluster] table in the config", file=err)
                return 2
            if getattr(args, "port", None) is not None:
                config = attrs.evolve(
                    config, broadcast=attrs.evolve(config.broadcast, port=args.port)
                )
            try:
                if args.command == "broadcast":
                    return _run(_broadcast, config, err)
                return _run(_worker, config, getattr(args, "quiet", False), out, err)
            except (MailSyncError, OSError) as exc:
                print(f"error: {exc}", file=err)
                return 1
        store = args.store  # a SQLite file given on the command line, or None
        if store is not None and config.store.backend != "sqlite":
            print('error: --store names a SQLite file; the config\'s store is "postgres"', file=err)
            return 2
        if args.command == "failures":
            return _failures(store_reader(config, store), out, err)
        if args.command == "status":
            return _run(_status, config, store, args.token or os.environ.get(TOKEN_ENV), out, err)
        if args.command == "degraded":
            return _degraded(store_reader(config, store), out, err)
        if args.command == "sync" and args.concurrency < 1:
            print("error: --concurrency must be at least 1", file=err)
            return 2
        try:
            if args.command == "serve":
                return _run(_serve, config, store, getattr(args, "quiet", False), out, err)
            return _run(_sync, config, store, args.concurrency, args.list, args.dry_run, out, err)
        except (StoreError, OSError) as exc:  # the store cannot be had, the port is taken
            print(f"error: {exc}", file=err)
            return 1
    parser.print_help(out)
    return 2
