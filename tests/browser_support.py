"""Headless Chromium for the dashboard's tests: Debian's chromium and chromium-driver,
installed when missing (root only, like Dovecot), driven by Selenium; no browser is
downloaded at run time."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


class BrowserUnavailable(Exception):
    """Chromium or its driver is not installed and cannot be."""


def ensure_chromium() -> tuple[str, str]:
    """(chromium, chromedriver); installs Debian's packages if needed (root only)."""
    if Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists():
        return CHROMIUM, CHROMEDRIVER
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise BrowserUnavailable("chromium is not installed; install chromium chromium-driver")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for args in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "chromium", "chromium-driver"],
    ):
        result = subprocess.run(args, env=env, capture_output=True, check=False, timeout=900)
        if result.returncode != 0 and args[1] == "install":
            raise BrowserUnavailable(
                "installing chromium failed: " + result.stderr.decode(errors="replace")[-500:]
            )
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        raise BrowserUnavailable("chromium was installed but is not at /usr/bin/chromium")
    return CHROMIUM, CHROMEDRIVER


if __name__ == "__main__":
    try:
        print("chromium:", ensure_chromium()[0])
    except BrowserUnavailable as exc:
        print("chromium unavailable:", exc)
