"""The dashboard in a real browser: Debian's headless Chromium driven by Selenium.

The service runs here (Trio); the browser's calls block, so they run in a thread.
A failing test leaves a screenshot in ``test-artifacts/``.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import pytest
import trio

from tests.service_support import TOKEN, serving
from tests.support import Connect
from trio_mailsync.core.events import AccountState
from trio_mailsync.testing import MailStore, sample_message

pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By

from tests.dashboard_support import (
    WAIT,
    click,
    in_browser,
    log_in,
    row_state,
    tail_lines,
    wait_for,
)


async def test_the_dashboard_shows_accounts_events_and_syncs_on_request(
    browser: Any, plain_connector: Connect, mail: MailStore, tmp_path: Path
) -> None:
    async with serving(plain_connector, tmp_path) as running:
        service = running.service
        with trio.fail_after(WAIT):
            while {service.state(a) for a in ("alice", "bob")} != {AccountState.IDLE}:
                await trio.sleep(0.01)
        url = running.broadcaster.http_url

        def wrong_token() -> str:
            browser.get(url)
            field = wait_for(browser, lambda d: d.find_element(By.ID, "token"))
            field.send_keys("not-the-token")
            browser.find_element(By.ID, "connect").click()
            error = wait_for(
                browser,
                lambda d: d.find_element(By.ID, "error").text or None,
            )
            return str(error)

        assert "Wrong token" in await in_browser(wrong_token)

        shown = await in_browser(partial(log_in, browser, url, TOKEN, ["alice", "bob"]))
        assert shown == {"alice": "idle", "bob": "idle"}
        assert TOKEN not in await in_browser(lambda: browser.current_url)

        mail.deliver("alice", sample_message(5, subject="Seen in the browser"))

        def delivered() -> list[str]:
            wait_for(browser, lambda d: any("Seen in the browser" in t for t in tail_lines(d)))
            return tail_lines(browser)

        (line,) = [t for t in await in_browser(delivered) if "Seen in the browser" in t]
        assert "alice INBOX: new from Sender 5" in line

        def sync_now() -> list[str]:
            click(browser, 'tr[data-account="bob"] button[data-action="sync"]')
            wait_for(browser, lambda d: any("sync (manual)" in t for t in tail_lines(d)))
            return tail_lines(browser)

        lines = await in_browser(sync_now)
        assert any("sync (manual): 1 account(s)" in t for t in lines)

        def pause_bob() -> str | None:
            click(browser, 'tr[data-account="bob"] button[data-action="pause"]')
            # What the wait saw (read again, the row may be between renderings: None).
            return str(wait_for(browser, lambda d: row_state(d, "bob") == "paused" and "paused"))

        assert await in_browser(pause_bob) == "paused"
        assert service.state("bob") is AccountState.PAUSED
        assert service.state("alice") is AccountState.IDLE
