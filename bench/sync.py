"""No-change sync against a real Dovecot, ours against "the slow design", at several RTTs.

    python3 scripts/dev.py bench bench/sync.py     (or: .venv/bin/python bench/sync.py)

Part 1: 4 accounts with 20 folders each, synced once (not timed), then a
no-change cycle timed (median of several), through a latency-injecting TCP
proxy on loopback at round-trip times of 0, 50 and 100 ms. In the same run,
"the slow design": for each account in turn, a new TCP+TLS connection,
LOGIN, LIST, SELECT INBOX, UID SEARCH ALL, LOGOUT (it looks at one folder
where we look at 20, so the ratio favours it).

Part 2: 1,000 accounts on loopback (Dovecot configured for it), no proxy:
the first sync and a no-change cycle.

Part 3: the same 4 accounts at RTT 0, against peers that only ask "anything new?" with
a NOOP over an open connection per account: IMAPClient (one account after the other,
as its synchronous API goes) and aioimaplib (all four at once, on asyncio); ours
checks INBOX alone (one STATUS per account: one command each, as theirs) and, for
reference, all 20 folders. Median wall and CPU time of ``--repeat`` rounds each.

Part 4 (Gmail API; ``--gmail-only`` runs it alone, without Dovecot): the local
Gmail-API server on loopback behind the latency proxy, 4 and ``--gmail-many`` accounts
with 20 messages each: a no-change cycle (wall, CPU, HTTP requests and new connections
per cycle, counted at the server), against a naive poller measured in the same run (a
new HTTP connection and a token request per account per poll, then the first page of
``messages.list``, one account after the other: the design this project replaces). Then
the token endpoint's calls over a simulated day of 60 s polling (MockClock).

Needs root for Dovecot (installed from Debian's packages when missing).
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import ssl
import statistics
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import attrs
import httpx
import trio
import trio.testing
from _common import MANY_CONFIG, machine

from trio_mailsync.core.config import Account
from trio_mailsync.providers.auth import OAuth2Auth, PasswordAuth
from trio_mailsync.providers.gmail import gmail_account, gmail_settings, open_gmail_provider
from trio_mailsync.providers.imap import (
    IMAPConnection,
    ImapProvider,
    ImapSettings,
    client_ssl_context,
    connect_account,
    imap_settings,
    open_imap_provider,
)
from trio_mailsync.stores.sqlite import SQLiteStore
from trio_mailsync.sync import SyncEngine
from trio_mailsync.testing import sample_message
from trio_mailsync.testing.dovecot import DovecotServer
from trio_mailsync.testing.gmail import GmailMail, GmailTestServer
from trio_mailsync.testing.proxy import LatencyProxy

FOLDERS_PER_ACCOUNT = 20


async def populate(accounts: list[Account], folders: int) -> None:
    """Give each account ``folders`` folders (6 exist already) and some mail."""

    async def one(account: Account) -> None:
        conn = await connect_account(account)
        listing, _ = await conn.list_folders()
        existing = {f.mailbox for f in listing}
        for i in range(folders - len(existing)):
            name = f"Folder{i:02d}"
            if name not in existing:
                await conn.create(name)
        for n in range(5):
            await conn.append("INBOX", sample_message(n))
        await conn.logout()

    async with trio.open_nursery() as nursery:
        for account in accounts:
            nursery.start_soon(one, account)


async def cycle(
    engine: SyncEngine, imap: ImapProvider, accounts: list[Account]
) -> tuple[float, float]:
    """One no-change cycle: (wall time, this process's CPU time, all threads), seconds."""
    started, cpu = time.perf_counter(), time.process_time()
    results = await engine.sync_all_accounts([imap.session(a) for a in accounts])
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    bad = [r for r in results if not r.ok or r.new_messages or r.folder_errors]
    assert not bad, bad[:3]
    return elapsed, cpu


async def ours(
    accounts: list[Account], store_dir: Path, repeat: int, concurrency: int
) -> tuple[float, float, float, int]:
    """(first sync, median no-change cycle, its median CPU time, round trips per account)."""
    store = await SQLiteStore.open(store_dir / f"bench-{time.monotonic_ns()}.sqlite3")
    try:
        async with open_imap_provider(accounts) as imap:
            engine = SyncEngine(store, concurrency=concurrency)
            sessions = [imap.session(a) for a in accounts]
            started = time.perf_counter()
            first = await engine.sync_all_accounts(sessions)
            first_time = time.perf_counter() - started
            assert all(r.ok for r in first), [r.error for r in first if not r.ok][:3]
            await cycle(engine, imap, accounts)  # warm
            cycles = [await cycle(engine, imap, accounts) for _ in range(repeat)]
            trips = (await engine.sync_all_accounts(sessions))[0].round_trips
    finally:
        await store.aclose()
    wall = statistics.median(w for w, _ in cycles)
    return first_time, wall, statistics.median(c for _, c in cycles), trips


async def slow_design(accounts: list[Account]) -> float:
    """Each account in turn: new TCP+TLS connection, LOGIN, LIST, SELECT, UID SEARCH, LOGOUT."""
    started = time.perf_counter()
    for account in accounts:
        settings = imap_settings(account)
        tcp = await trio.open_tcp_stream("127.0.0.1", settings.port)
        context = client_ssl_context(settings.ca_file)
        tls = trio.SSLStream(tcp, context, server_hostname=settings.host)
        await tls.do_handshake()
        conn = IMAPConnection(tls, name=account.id)
        await conn.wait_greeting()
        assert isinstance(settings.auth, PasswordAuth)
        assert settings.auth.password is not None
        await conn.login(settings.username, settings.auth.password)
        await conn.list_folders()
        await conn.select("INBOX")
        await conn.uid_search("ALL")
        await conn.logout()
    return time.perf_counter() - started


async def part_one(
    dovecot: DovecotServer, rtts: list[float], repeat: int, store_dir: Path
) -> list[dict[str, float]]:
    accounts = [dovecot.account(f"bench{i}", account_id=f"bench{i}") for i in range(1, 5)]
    accounts = [attrs.evolve(a, folders=("*",)) for a in accounts]
    await populate(accounts, FOLDERS_PER_ACCOUNT)
    rows = []
    for rtt in rtts:
        proxy = LatencyProxy("127.0.0.1", dovecot.imaps_port, rtt=rtt)
        async with trio.open_nursery() as nursery:
            port = await nursery.start(proxy.serve)
            proxied = [
                attrs.evolve(a, settings=attrs.evolve(imap_settings(a), port=port))
                for a in accounts
            ]
            _, median, cpu, trips = await ours(proxied, store_dir, repeat, concurrency=32)
            slow = statistics.median([await slow_design(proxied) for _ in range(3)])
            nursery.cancel_scope.cancel()
        rows.append(
            {
                "rtt_ms": rtt * 1000,
                "ours_ms": median * 1000,
                "ours_cpu_ms": cpu * 1000,
                "round_trips_per_account": trips,
                "slow_ms": slow * 1000,
                "speedup": slow / median,
            }
        )
        print(
            f"  RTT {rtt * 1000:.0f} ms: ours {median * 1000:.1f} ms, slow {slow * 1000:.1f} ms, "
            f"{slow / median:.1f}x",
            file=sys.stderr,
            flush=True,
        )
    return rows


def peer_login(account: Account) -> tuple[ImapSettings, ssl.SSLContext, str]:
    """What a peer library needs to log in: the settings, a TLS context, the password."""
    s = imap_settings(account)
    assert isinstance(s.auth, PasswordAuth)
    assert s.auth.password is not None
    return s, ssl.create_default_context(cafile=str(s.ca_file)), s.auth.password.reveal()


def imapclient_noops(accounts: list[Account], repeat: int) -> tuple[float, float]:
    """IMAPClient: a NOOP on each account's open connection in turn; (wall, CPU) medians."""
    import imapclient

    clients = []
    for account in accounts:
        s, context, password = peer_login(account)
        client = imapclient.IMAPClient(s.host, port=s.port, ssl=True, ssl_context=context)
        client.login(s.username, password)
        client.select_folder("INBOX", readonly=True)
        clients.append(client)
    rounds = []
    for _ in range(repeat + 1):
        started, cpu = time.perf_counter(), time.process_time()
        for client in clients:
            client.noop()
        rounds.append((time.perf_counter() - started, time.process_time() - cpu))
    for client in clients:
        client.logout()
    rounds = rounds[1:]
    return statistics.median(w for w, _ in rounds), statistics.median(c for _, c in rounds)


def aioimaplib_noops(accounts: list[Account], repeat: int) -> tuple[float, float]:
    """aioimaplib: a NOOP on every account's open connection at once; (wall, CPU) medians."""
    import asyncio

    import aioimaplib

    async def run() -> tuple[float, float]:
        clients = []
        for account in accounts:
            s, context, password = peer_login(account)
            client = aioimaplib.IMAP4_SSL(host=s.host, port=s.port, ssl_context=context)
            await client.wait_hello_from_server()
            await client.login(s.username, password)
            await client.select("INBOX")
            clients.append(client)
        rounds = []
        for _ in range(repeat + 1):
            started, cpu = time.perf_counter(), time.process_time()
            await asyncio.gather(*(client.noop() for client in clients))
            rounds.append((time.perf_counter() - started, time.process_time() - cpu))
        for client in clients:
            await client.logout()
        rounds = rounds[1:]
        return statistics.median(w for w, _ in rounds), statistics.median(c for _, c in rounds)

    return asyncio.run(run())


async def part_three(
    dovecot: DovecotServer, repeat: int, store_dir: Path
) -> dict[str, tuple[float, float]]:
    """Ours (INBOX alone, and all folders) at RTT 0: (wall, CPU) medians, seconds."""
    accounts = [dovecot.account(f"bench{i}", account_id=f"bench{i}") for i in range(1, 5)]
    inbox = [attrs.evolve(a, folders=("INBOX",)) for a in accounts]
    every = [attrs.evolve(a, folders=("*",)) for a in accounts]
    _, wall, cpu, _ = await ours(inbox, store_dir, repeat, concurrency=32)
    _, wall_all, cpu_all, _ = await ours(every, store_dir, repeat, concurrency=32)
    return {"ours_inbox": (wall, cpu), "ours_all": (wall_all, cpu_all)}


async def part_two(
    dovecot: DovecotServer, count: int, repeat: int, store_dir: Path
) -> dict[str, float]:
    accounts = [dovecot.account(f"many{i:04d}", account_id=f"many{i:04d}") for i in range(count)]
    first, median, cpu, trips = await ours(accounts, store_dir, repeat, concurrency=count)
    return {
        "accounts": count,
        "first_sync_s": first,
        "no_change_s": median,
        "no_change_cpu_s": cpu,
        "round_trips_per_account": trips,
    }


def gmail_accounts(mail: GmailMail, count: int, base: str) -> list[Account]:
    """``count`` Gmail API accounts of ``mail`` at ``base`` (their users created, with 20
    messages each, when ``mail`` does not have them yet)."""
    accounts = []
    for i in range(count):
        address = f"user{i}@gmail.test"
        if address not in mail.users:
            mail.add_user(address, f"refresh-{i}")
            for n in range(20):
                mail.deliver(address, subject=f"message {n}")
        accounts.append(
            gmail_account(
                f"g{i}",
                auth=OAuth2Auth(
                    token_url=f"{base}/token", client_id="bench", refresh_token=f"refresh-{i}"
                ),
                base_url=base,
                folders=("INBOX",),
            )
        )
    return accounts


async def naive_poll(mail: GmailMail, accounts: list[Account]) -> None:
    """The design this project replaces: per account, one after the other, a new client
    (a new connection), a token request, and the first page of ``messages.list``."""
    for account in accounts:
        settings = gmail_settings(account)
        async with httpx.AsyncClient() as http:
            auth = settings.auth
            token = await http.post(
                auth.token_url,
                data={
                    "grant_type": "refresh_token",
                    "refresh_token": auth.refresh_token.reveal(),
                    "client_id": auth.client_id,
                },
            )
            access = token.json()["access_token"]
            listed = await http.get(
                f"{settings.base_url}/gmail/v1/users/me/messages",
                params={"labelIds": "INBOX", "maxResults": 20},
                headers={"Authorization": f"Bearer {access}"},
            )
            assert listed.status_code == 200


def _gmail_server_process(mail: GmailMail, rtts: list[float], conn: Connection) -> None:
    """The child process: the testing server and one latency proxy per RTT, until killed.
    Sends ``(server port, {rtt: proxy port})`` once they listen."""

    async def serve() -> None:
        server = GmailTestServer(mail)
        async with trio.open_nursery() as nursery:
            server_port = await nursery.start(server.serve)
            ports = {}
            for rtt in rtts:
                ports[rtt] = await nursery.start(
                    LatencyProxy("127.0.0.1", server_port, rtt=rtt).serve
                )
            conn.send((server_port, ports))

    trio.run(serve)


async def _server_stats(http: httpx.AsyncClient, port: int) -> tuple[int, int]:
    """(requests so far, connections so far) of the testing server."""
    stats = (await http.get(f"http://127.0.0.1:{port}/_statistics")).json()
    return sum(stats["requests"].values()), stats["connections"]


async def part_four(rtts: list[float], many: int, repeat: int, store_dir: Path) -> dict[str, Any]:
    # The server and the proxies run in a process of their own: the CPU time measured
    # here is the client's alone (ours, or the naive poller's).
    mail = GmailMail()
    for count in (4, many):
        gmail_accounts(mail, count, "")
    # Spawned, not forked: a child forked inside trio.run() would find Trio running.
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=_gmail_server_process, args=(mail, rtts, child), daemon=True)
    process.start()
    rows = []
    try:
        server_port, ports = await trio.to_thread.run_sync(parent.recv)
        async with httpx.AsyncClient() as stats_http:
            for count in (4, many):
                for rtt in rtts:
                    accounts = gmail_accounts(mail, count, f"http://127.0.0.1:{ports[rtt]}")
                    path = store_dir / f"gmail-{time.monotonic_ns()}.sqlite3"
                    store = await SQLiteStore.open(path)
                    try:
                        async with open_gmail_provider(accounts) as gmail:
                            engine = SyncEngine(store)  # the service's default: 32 at once
                            sessions = [gmail.session(a) for a in accounts]
                            first = await engine.sync_all_accounts(sessions)
                            assert all(r.ok for r in first), [r.error for r in first][:3]
                            cycles = []
                            for _ in range(repeat):
                                requests, connections = await _server_stats(stats_http, server_port)
                                started, cpu = time.perf_counter(), time.process_time()
                                results = await engine.sync_all_accounts(sessions)
                                wall = time.perf_counter() - started
                                cpu = time.process_time() - cpu
                                assert all(r.ok and not r.new_messages for r in results)
                                after = await _server_stats(stats_http, server_port)
                                # (``/_statistics`` is not counted; its connection stays open.)
                                cycles.append(
                                    (wall, cpu, after[0] - requests, after[1] - connections)
                                )
                    finally:
                        await store.aclose()
                    naive = []
                    # The naive poller goes one account after another: at 1,000 accounts
                    # and 50 ms that is minutes, so it is measured at RTT 0 only.
                    for _ in range(3 if count == 4 else 1 if rtt == 0 else 0):
                        _, connections = await _server_stats(stats_http, server_port)
                        started, cpu = time.perf_counter(), time.process_time()
                        await naive_poll(mail, accounts)
                        wall = time.perf_counter() - started
                        cpu = time.process_time() - cpu
                        _, after_connections = await _server_stats(stats_http, server_port)
                        naive.append((wall, cpu, after_connections - connections))
                    wall = statistics.median(c[0] for c in cycles)
                    naive_wall = statistics.median(n[0] for n in naive) if naive else math.nan
                    rows.append(
                        {
                            "accounts": count,
                            "rtt_ms": rtt * 1000,
                            "ours_ms": wall * 1000,
                            "ours_cpu_ms": statistics.median(c[1] for c in cycles) * 1000,
                            "requests_per_cycle": statistics.median(c[2] for c in cycles),
                            "new_connections_per_cycle": statistics.median(c[3] for c in cycles),
                            "naive_ms": naive_wall * 1000,
                            "naive_cpu_ms": (
                                statistics.median(n[1] for n in naive) * 1000 if naive else math.nan
                            ),
                            "naive_connections": (
                                statistics.median(n[2] for n in naive) if naive else math.nan
                            ),
                            "speedup": naive_wall / wall,
                        }
                    )
                    print(f"  {rows[-1]}", file=sys.stderr, flush=True)
    finally:
        process.kill()
        process.join()
    return {"rows": rows}


def token_day() -> int:
    """Token endpoint calls over a simulated day of 60 s polls (one account, MockClock)."""

    async def day() -> int:
        mail = GmailMail()
        server = GmailTestServer(mail)
        async with trio.open_nursery() as nursery:
            transport = server.transport(nursery)
            (account,) = gmail_accounts(mail, 1, "http://gmail.test")
            store = await SQLiteStore.open(":memory:", inline=True)
            async with open_gmail_provider(transport=transport) as gmail:
                engine = SyncEngine(store)
                session = gmail.session(account)
                for _ in range(24 * 60):
                    result = await engine.sync_account(session)
                    assert result.ok, result.error
                    await trio.sleep(60)
            await store.aclose()
            nursery.cancel_scope.cancel()
        assert server.statistics().expired_tokens == 0
        return server.statistics().tokens_issued

    return trio.run(day, clock=trio.testing.MockClock(autojump_threshold=0))


def print_gmail(gmail: dict[str, Any]) -> None:
    print("\nGmail API, local server behind the latency proxy, no-change cycle (median):\n")
    print(
        "| accounts | RTT | ours | our CPU | requests per cycle | new connections "
        "| naive poller | its CPU | its connections | speed-up |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in gmail["rows"]:
        print(
            f"| {r['accounts']:,} | {r['rtt_ms']:.0f} ms | {r['ours_ms']:.1f} ms "
            f"| {r['ours_cpu_ms']:.1f} ms | {r['requests_per_cycle']:g} "
            f"| {r['new_connections_per_cycle']:g} | {r['naive_ms']:.1f} ms "
            f"| {r['naive_cpu_ms']:.1f} ms | {r['naive_connections']:g} | {r['speedup']:.1f}x |"
        )
    print(
        f"\nToken endpoint calls over a simulated day of 60 s polls (tokens live 3,600 s): "
        f"{gmail['token_refreshes_per_day']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rtt", type=float, nargs="*", default=[0.0, 0.050, 0.100], help="seconds")
    parser.add_argument("--many", type=int, default=1000, help="accounts in part 2 (0: skip)")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--gmail-only", action="store_true", help="part 4 alone (no Dovecot)")
    parser.add_argument("--gmail-many", type=int, default=1000, help="accounts in part 4")
    args = parser.parse_args()
    if args.gmail_only:
        with tempfile.TemporaryDirectory(prefix="trio-mailsync-bench-") as tmp:
            gmail = trio.run(part_four, [0.0, 0.050], args.gmail_many, args.repeat, Path(tmp))
        gmail["token_refreshes_per_day"] = token_day()
        if args.json:
            print(json.dumps({"machine": machine(), "part4": gmail}, indent=2))
        else:
            print(f"Machine: {machine()}")
            print_gmail(gmail)
        return
    users = {f"bench{i}": f"bench-password-{i}" for i in range(1, 5)}
    users |= {f"many{i:04d}": f"many-password-{i}" for i in range(args.many)}
    with (
        tempfile.TemporaryDirectory(prefix="trio-mailsync-bench-") as tmp,
        DovecotServer(users, max_userip_connections=5000, extra_config=MANY_CONFIG) as dovecot,
    ):
        print(f"Dovecot up on {dovecot.imaps_port}; part 1", file=sys.stderr, flush=True)
        rows = trio.run(part_one, dovecot, args.rtt, args.repeat, Path(tmp))
        many = None
        if args.many:
            print(f"part 2: {args.many} accounts", file=sys.stderr, flush=True)
            many = trio.run(part_two, dovecot, args.many, 3, Path(tmp))
        print("part 3: NOOP-only peers", file=sys.stderr, flush=True)
        peers = trio.run(part_three, dovecot, args.repeat, Path(tmp))
        bench = [dovecot.account(f"bench{i}", account_id=f"bench{i}") for i in range(1, 5)]
        peers["imapclient"] = imapclient_noops(bench, args.repeat)
        peers["aioimaplib"] = aioimaplib_noops(bench, args.repeat)
        print("part 4: Gmail API", file=sys.stderr, flush=True)
        gmail = trio.run(part_four, [0.0, 0.050], args.gmail_many, args.repeat, Path(tmp))
        gmail["token_refreshes_per_day"] = token_day()
    if args.json:
        print(
            json.dumps(
                {
                    "machine": machine(),
                    "part1": rows,
                    "part2": many,
                    "part3": peers,
                    "part4": gmail,
                },
                indent=2,
            )
        )
        return
    print(f"Machine: {machine()}\n")
    print(
        "4 accounts x 20 folders, no-change sync through a latency proxy (median of "
        f"{args.repeat}):\n"
    )
    print(
        "| RTT | ours | our CPU | ours in RTTs | target (1.5 RTT + 20 ms) "
        "| round trips per account | slow design | speed-up |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        rtt = r["rtt_ms"]
        in_rtts = f"{r['ours_ms'] / rtt:.2f}" if rtt else "-"
        print(
            f"| {rtt:.0f} ms | {r['ours_ms']:.1f} ms | {r['ours_cpu_ms']:.1f} ms | {in_rtts} "
            f"| {1.5 * rtt + 20:.0f} ms | {r['round_trips_per_account']} "
            f"| {r['slow_ms']:.0f} ms | {r['speedup']:.1f}x |"
        )
    if many:
        per_account = many["no_change_cpu_s"] / many["accounts"] * 1000
        print(
            f"\n{many['accounts']} accounts on loopback: first sync {many['first_sync_s']:.2f} s, "
            f"no-change sync {many['no_change_s']:.3f} s, our CPU {many['no_change_cpu_s']:.3f} s "
            f"({per_account:.2f} ms per account; "
            f"{many['round_trips_per_account']} round trip per account)."
        )
    print("\n4 accounts at RTT 0, against NOOP-only peers (median wall and CPU time):\n")
    print("| client | what it asks | wall | CPU | wall ÷ best peer |")
    print("|---|---|---:|---:|---:|")
    best = min(peers["imapclient"][0], peers["aioimaplib"][0])
    for name, what in (
        ("imapclient", "NOOP, one account after the other"),
        ("aioimaplib", "NOOP, all at once"),
        ("ours_inbox", "STATUS of INBOX, all at once"),
        ("ours_all", f"STATUS of {FOLDERS_PER_ACCOUNT} folders each, all at once"),
    ):
        wall, cpu = peers[name]
        print(
            f"| {name} | {what} | {wall * 1000:.2f} ms | {cpu * 1000:.2f} ms | {wall / best:.2f} |"
        )
    print_gmail(gmail)


if __name__ == "__main__":
    main()
