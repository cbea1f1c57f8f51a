"""The dashboard in a real browser: helpers for its tests (Selenium driving Debian's
headless Chromium). Import it after ``pytest.importorskip("selenium.webdriver")``; the
``browser`` fixture (``tests/conftest.py``) opens the browser with :func:`open_browser`.

The browser's calls block: a Trio test runs them in a thread (:func:`in_browser`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import trio
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser_support import BrowserUnavailable, ensure_chromium

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
#: Seconds a browser wait may take (generous: a shared machine; not a latency claim).
WAIT = 15


def open_browser(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """The ``browser`` fixture's body: headless Chromium, a screenshot in
    ``test-artifacts/`` when the test fails, closed at the end."""
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


def log_in(driver: Any, url: str, token: str, accounts: Sequence[str]) -> dict[str, str | None]:
    """Open the dashboard at ``url``, give ``token``, and wait until the table is live
    and shows every one of ``accounts``; their states as the wait saw them (a row read
    again afterwards may be between two renderings)."""
    driver.get(url)
    wait_for(driver, lambda d: d.find_element(By.ID, "token")).send_keys(token)
    driver.find_element(By.ID, "connect").click()
    wait_for(driver, lambda d: d.find_element(By.ID, "status").text == "live")
    states: dict[str, str | None] = {}

    def all_shown(d: Any) -> bool:
        states.update({a: row_state(d, a) for a in accounts})
        return all(state is not None for state in states.values())

    wait_for(driver, all_shown)
    return states
