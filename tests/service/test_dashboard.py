"""The dashboard in a real browser: Debian's headless Chromium driven by Selenium.

The service runs here (Trio); the browser's calls block, so they run in a thread.
A failing test leaves a screenshot in ``test-artifacts/``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trio

from tests.browser_support import BrowserUnavailable, ensure_chromium
from tests.service_support import TOKEN, serving
from tests.support import Connect
from trio_mailsync.core.events import AccountState
from trio_mailsync.testing import MailStore, sample_message

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.common.exceptions import (  # noqa: E402
    StaleElementReferenceException,
    WebDriverException,
)
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

ARTIFACTS = Path(__file__).resolve().parent.parent.parent / "test-artifacts"
#: Seconds a browser wait may take (generous: a shared machine; not a latency claim).
WAIT = 15


@pytest.fixture
def browser(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    try:
        chromium, chromedriver = ensure_chromium()
    except BrowserUnavailable as exc:
        pytest.skip(f"no browser for the dashboard tests: {exc}")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    # As root, without a screen, on a machine with no outside network: no sandbox, no
    # GPU, none of Chromium's own background connections.
    for flag in (
        "--headless=new",
        "--window-size=1400,900",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'chromium'}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
    try:
        yield driver
        report = getattr(request.node, "outcome_call", None)
        if report is not None and report.failed:
            ARTIFACTS.mkdir(exist_ok=True)
            shot = ARTIFACTS / f"{request.node.name}.png"
            driver.save_screenshot(str(shot))
            print(f"screenshot: {shot}")
    finally:
        driver.quit()


async def in_browser(fn: Callable[[], Any]) -> Any:
    return await trio.to_thread.run_sync(fn)


def wait_for(driver: Any, what: Callable[[Any], Any]) -> Any:
    return WebDriverWait(driver, WAIT, poll_frequency=0.05).until(what)


def row_state(driver: Any, account: str) -> str | None:
    """The account's state as its row shows it; ``None`` while there is no row (or the row
    was rendered anew between finding and reading it)."""
    try:
        cell = driver.find_element(By.CSS_SELECTOR, f'tr[data-account="{account}"] td.state')
        return str(cell.text.split("\n")[0])
    except WebDriverException:
        return None


def click(driver: Any, selector: str) -> None:
    """Click a button of the table, which each refresh renders anew: a button found just
    before a refresh is stale, and is found again."""

    def clicked(d: Any) -> bool:
        try:
            d.find_element(By.CSS_SELECTOR, selector).click()
        except StaleElementReferenceException:
            return False
        return True

    wait_for(driver, clicked)


def tail_lines(driver: Any) -> list[str]:
    return [li.text for li in driver.find_elements(By.CSS_SELECTOR, "#tail li")]


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

        def log_in() -> dict[str, str | None]:
            browser.find_element(By.ID, "token").send_keys(TOKEN)
            browser.find_element(By.ID, "connect").click()
            wait_for(browser, lambda d: d.find_element(By.ID, "status").text == "live")
            # The states as read by the wait itself: a row read again afterwards may be
            # between two renderings (row_state is None then).
            states: dict[str, str | None] = {}

            def both_shown(d: Any) -> bool:
                states.update({a: row_state(d, a) for a in ("alice", "bob")})
                return states["alice"] == "idle" and states["bob"] is not None

            wait_for(browser, both_shown)
            return states

        assert await in_browser(log_in) == {"alice": "idle", "bob": "idle"}
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
