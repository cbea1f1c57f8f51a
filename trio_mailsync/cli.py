"""``trio-mailsync`` subcommands: sync, check, parse."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import BinaryIO, TextIO

import trio

from trio_mailsync import __version__
from trio_mailsync.config import Config, load_config
from trio_mailsync.credentials import credentials_for
from trio_mailsync.errors import ConfigError, MailSyncError
from trio_mailsync.imap import connect_account, folder_list, open_pool
from trio_mailsync.protocol import NEED_DATA, ConnectionClosed, ProtocolError, ResponseParser
from trio_mailsync.sync import AsyncStore, SyncEngine, SyncResult, default_store_path

ROLES = ("inbox", "sent", "drafts", "archive", "junk", "trash", "all", "flagged")


# ---------------------------------------------------------------- parse


def _parse(stream: BinaryIO, out: TextIO) -> int:
    """Print every response in a captured server transcript, one per line."""
    parser = ResponseParser()
    while True:
        chunk = stream.read(65536)
        parser.receive_data(chunk)
        try:
            while (response := parser.next_response()) is not NEED_DATA:
                if isinstance(response, ConnectionClosed):
                    return 0
                print(repr(response), file=out)
        except ProtocolError as exc:
            print(f"error: {exc}", file=out)
            return 1


# ---------------------------------------------------------------- sync


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *rows, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)


def _summary(result: SyncResult) -> str:
    if not result.ok:
        return f"error: {result.error}"
    text = (
        f"{len(result.new_messages)} new, {len(result.flag_changes)} changed, "
        f"{len(result.deletions)} deleted, {result.folders_synced}/{result.folders_checked} "
        f"folders synced, {result.round_trips} round trips, {result.duration:.2f} s"
    )
    if result.folder_errors:
        text += f" ({len(result.folder_errors)} folder errors)"
    return text


async def _sync(
    config: Config, store_path: Path, concurrency: int, list_new: bool, out: TextIO, err: TextIO
) -> int:
    store = await AsyncStore.open(store_path)
    total = len(config.accounts)
    done = 0

    def progress(result: SyncResult) -> None:
        nonlocal done
        done += 1
        print(f"[{done}/{total}] {result.account}: {_summary(result)}", file=err, flush=True)

    print(f"syncing {total} account(s) into {store_path}", file=err, flush=True)
    try:
        async with open_pool(config.accounts) as pool:
            engine = SyncEngine(pool, store, concurrency=concurrency)
            results = await engine.sync_all_accounts(on_result=progress)
    finally:
        await store.aclose()
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
    if list_new:
        for r in results:
            for m in r.new_messages:
                print(
                    f"{m.account}  {m.folder}  {m.uid}  {m.sender or '-'}  {m.subject or ''}",
                    file=out,
                )
    return 0 if all(r.ok for r in results) else 1


# ---------------------------------------------------------------- check


async def _check(config: Config, out: TextIO) -> int:
    failures = 0

    async def one(index: int) -> None:
        nonlocal failures
        account = config.accounts[index]
        where = f"{account.host}:{account.port} {account.security.value}"
        try:
            with trio.fail_after(account.limits.connect_timeout + 30):
                conn = await connect_account(account, credentials_for(account))
                try:
                    listing, _ = await conn.list_folders()
                finally:
                    await conn.logout()
        except (MailSyncError, OSError, trio.TooSlowError) as exc:
            failures += 1
            reason = "timed out" if isinstance(exc, trio.TooSlowError) else str(exc)
            print(f"{account.id}: error ({where}): {reason}", file=out, flush=True)
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


# ---------------------------------------------------------------- entry


def run(argv: list[str], out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    parser = argparse.ArgumentParser(
        prog="trio-mailsync",
        description="Keep many IMAP accounts in step and hear about new mail at once.",
    )
    parser.add_argument("--version", action="version", version=f"trio-mailsync {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    sync = commands.add_parser("sync", help="sync every account once and print what changed")
    sync.add_argument("--config", required=True, type=Path, help="TOML config file")
    sync.add_argument(
        "--store",
        type=Path,
        help=f"SQLite file (default: from the config, or {default_store_path()})",
    )
    sync.add_argument("--concurrency", type=int, default=32, help="accounts synced at once")
    sync.add_argument("--list", action="store_true", help="also list the new messages")

    check = commands.add_parser("check", help="check the config and try each account's login")
    check.add_argument("--config", required=True, type=Path, help="TOML config file")

    parse = commands.add_parser(
        "parse", help="decode a captured IMAP server transcript and print its responses"
    )
    parse.add_argument("file", nargs="?", help="transcript file (default: standard input)")

    args = parser.parse_args(argv)
    if args.command == "parse":
        if args.file:
            with open(args.file, "rb") as f:
                return _parse(f, out)
        return _parse(sys.stdin.buffer, out)
    if args.command in ("sync", "check"):
        try:
            config = load_config(args.config)
        except ConfigError as exc:
            print(f"error: {exc}", file=err)
            return 2
        try:
            if args.command == "check":
                return trio.run(_check, config, out)
            store = args.store or config.store_path or default_store_path()
            if args.concurrency < 1:
                print("error: --concurrency must be at least 1", file=err)
                return 2
            return trio.run(_sync, config, store, args.concurrency, args.list, out, err)
        except KeyboardInterrupt:
            print("interrupted", file=err)
            return 130
    parser.print_help(out)
    return 2
