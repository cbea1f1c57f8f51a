"""``trio-mailsync demo``: the whole service, with no config and no mail account.

It starts the testing IMAP server on a loopback port with a few accounts, and the
local Gmail-API server with one Gmail API account (``gdemo``, polled every second),
runs the real service and broadcaster against them, delivers a message to a
random account every few seconds, and prints the events a WebSocket client
receives, each new message with the time it took from delivery to client. A toy
processor (a keyword classifier) labels each new message after its event.
"""

from __future__ import annotations

import math
import random
import secrets
import statistics
import tempfile
from functools import partial
from pathlib import Path
from typing import TextIO

import attrs
import trio

from trio_mailsync.app import serve
from trio_mailsync.core.config import BroadcastSettings, Config, ServiceSettings
from trio_mailsync.core.events import describe
from trio_mailsync.core.model import MessageRecord
from trio_mailsync.providers.auth import OAuth2Auth, PasswordAuth
from trio_mailsync.providers.gmail import gmail_account
from trio_mailsync.providers.imap import Security, imap_account
from trio_mailsync.sinks.client import EventStream, EventStreamClosed, open_event_stream
from trio_mailsync.testing import IMAPTestServer, MailStore, sample_message
from trio_mailsync.testing.gmail import GmailMail, open_gmail_server

__all__ = ["DemoResult", "run_demo"]

SUBJECTS = (
    "Lunch on Friday?",
    "Re: quarterly numbers",
    "Your parcel is on its way",
    "Minutes of today's meeting",
    "Fwd: photos from the trip",
    "Build #1729 passed",
    "Invitation: design review",
    "Grüße aus Köln",
)
SENDERS = (
    "Ada Lovelace <ada@example.com>",
    "Grace Hopper <grace@example.org>",
    "=?utf-8?q?Ren=C3=A9_Descartes?= <rene@example.net>",
    "builds@ci.example.com",
)
#: The demo's Gmail API account, and how often it is polled (no push without Pub/Sub).
GMAIL_ACCOUNT = "gdemo"
GMAIL_ADDRESS = "gdemo@gmail.test"
GMAIL_POLL = 1.0


#: The demo's toy processor's labels: a subject word (lower case) for each.
LABELS = {
    "meetings": ("meeting", "invitation", "review", "lunch"),
    "shopping": ("parcel", "order"),
    "builds": ("build",),
    "finance": ("numbers", "invoice"),
}


async def classify(message: MessageRecord) -> dict[str, str]:
    """A toy keyword classifier: the demo's processor (a real one would call a model)."""
    words = (message.subject or "").lower()
    for label, keys in LABELS.items():
        if any(key in words for key in keys):
            return {"label": label}
    return {"label": "other"}


@attrs.define
class DemoResult:
    """Messages delivered, announced to the client, and each one's delivery-to-client time."""

    delivered: int = 0
    announced: int = 0
    latencies: list[float] = attrs.field(factory=list)


async def run_demo(
    out: TextIO,
    *,
    accounts: int = 3,
    duration: float = 30.0,
    interval: float = 2.0,
    port: int = 0,
    rng: random.Random | None = None,
) -> DemoResult:
    """Run the demo for ``duration`` seconds (``inf``: until cancelled)."""
    rng = rng or random.Random()
    mail = MailStore()
    users = {f"demo{i}": secrets.token_urlsafe(12) for i in range(1, accounts + 1)}
    number = 0
    for user, password in users.items():
        mail.add_user(user, password)
        for _ in range(2):
            number += 1
            mail.deliver(user, sample_message(number, subject=rng.choice(SUBJECTS)))
    gmail = GmailMail()
    gmail_refresh = secrets.token_urlsafe(16)
    gmail.add_user(GMAIL_ADDRESS, gmail_refresh)
    gmail.deliver(GMAIL_ADDRESS, subject=rng.choice(SUBJECTS))
    delivered: dict[tuple[str, int], float] = {}
    result = DemoResult()

    def show(line: str) -> None:
        print(line, file=out, flush=True)

    async def watch(url: str, token: str, *, task_status: trio.TaskStatus[None]) -> None:
        async with open_event_stream(url, token) as events:
            task_status.started()
            try:
                await show_events(events)
            except EventStreamClosed:
                # Stopping (Ctrl-C) cuts the service off first: then this is no error.
                await trio.lowlevel.checkpoint()
                raise

    async def show_events(events: EventStream) -> None:
        async for event in events:
            lines = describe(event)
            if event["type"] == "new_messages":
                for line, m in zip(lines, event["messages"], strict=True):
                    sent = delivered.pop((event["account"], m["uid"]), None)
                    result.announced += 1
                    if sent is not None:
                        latency = trio.current_time() - sent
                        result.latencies.append(latency)
                        line += f"  [{latency * 1000:.1f} ms after delivery]"
                    show("  " + line)
            else:
                for line in lines:
                    show("  " + line)

    async def deliver() -> None:
        nonlocal number
        while True:
            await trio.sleep(interval)
            number += 1
            user = rng.choice([*users, GMAIL_ACCOUNT])
            subject, sender = rng.choice(SUBJECTS), rng.choice(SENDERS)
            if user == GMAIL_ACCOUNT:
                message_id = gmail.deliver(GMAIL_ADDRESS, subject=subject, sender=sender)
                uid = int(message_id, 16)
                shown = f"Gmail id {message_id}"
            else:
                uid = mail.deliver(user, sample_message(number, subject=subject, sender=sender))
                shown = f"UID {uid}"
            delivered[(user, uid)] = trio.current_time()
            result.delivered += 1
            show(f"> delivered a message to {user} ({shown})")

    with tempfile.TemporaryDirectory(prefix="trio-mailsync-demo-") as tmp:
        server = IMAPTestServer(mail)
        async with (
            open_gmail_server(gmail) as (_, gmail_url),
            trio.open_nursery() as nursery,
        ):
            imap_port = await nursery.start(partial(server.serve_tcp, host="127.0.0.1"))
            token = secrets.token_hex(24)  # shown as --token <token>: it must not start with "-"
            config = Config(
                accounts=(
                    *(
                        imap_account(
                            user,
                            host="127.0.0.1",
                            port=imap_port,
                            username=user,
                            auth=PasswordAuth(password=password),
                            # Loopback, to our own testing server: no TLS needed.
                            security=Security.NONE,
                            allow_insecure=True,
                        )
                        for user, password in users.items()
                    ),
                    gmail_account(
                        GMAIL_ACCOUNT,
                        auth=OAuth2Auth(
                            token_url=f"{gmail_url}/token",
                            client_id="demo",
                            refresh_token=gmail_refresh,
                        ),
                        username=GMAIL_ADDRESS,
                        base_url=gmail_url,
                        folders=("INBOX",),
                        poll_interval=GMAIL_POLL,
                    ),
                ),
                store_path=Path(tmp) / "demo.sqlite3",
                service=ServiceSettings(sweep_interval=60),
                broadcast=BroadcastSettings(port=port, token=token),
            )
            running = await nursery.start(serve, config)
            # Results come as message_processed events, after the message's new_messages.
            running.service.add_processor(classify, concurrency=2, timeout=10)
            url = running.broadcaster.url
            show(f"testing IMAP server on 127.0.0.1:{imap_port} with {accounts} account(s)")
            show(
                f"local Gmail API server on {gmail_url} with one account ({GMAIL_ACCOUNT}, "
                f"polled every {GMAIL_POLL:g} s)"
            )
            show(f"events on {url}; from another terminal:")
            show(f"    trio-mailsync watch {url} --token {token}")
            length = "until Ctrl-C" if math.isinf(duration) else f"for {duration:g} s"
            show(f"running {length}; a new message every {interval:g} s")
            await nursery.start(watch, url, token)
            with trio.move_on_after(duration):
                await deliver()
            # No more deliveries; the last one's event is on its way (the Gmail account's
            # a poll away).
            await trio.sleep(GMAIL_POLL + 0.5)
            nursery.cancel_scope.cancel()
    if result.latencies:
        ms = sorted(x * 1000 for x in result.latencies)
        show(
            f"{result.delivered} delivered, {len(ms)} reached the WebSocket client; "
            f"delivery to client: median {statistics.median(ms):.1f} ms, max {ms[-1]:.1f} ms"
        )
    return result
