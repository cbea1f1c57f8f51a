"""Headless Chromium for the dashboard's tests: Debian's chromium and chromium-driver,
installed when missing (root only, like Dovecot), driven by Selenium; no browser is
downloaded at run time."""

from __future__ import annotations

from pathlib import Path

from trio_mailsync.testing._debian import ensure_program

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


class BrowserUnavailable(Exception):
    """Chromium or its driver is not installed and cannot be."""


def ensure_chromium() -> tuple[str, str]:
    """(chromium, chromedriver); installs Debian's packages if needed (root only)."""

    def find() -> tuple[str, str] | None:
        if Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists():
            return CHROMIUM, CHROMEDRIVER
        return None

    return ensure_program(
        find, ["chromium", "chromium-driver"], BrowserUnavailable, "chromium is not installed"
    )


if __name__ == "__main__":
    try:
        print("chromium:", ensure_chromium()[0])
    except BrowserUnavailable as exc:
        print("chromium unavailable:", exc)
