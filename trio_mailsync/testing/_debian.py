# ruff: noqa: S603 - runs apt-get with fixed arguments
"""Debian packages for the test suites' real peers (Dovecot, Chromium), installed on demand."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar


def apt_install(*packages: str, start_services: bool = True) -> str | None:
    """Install ``packages`` with apt-get; ``None`` when it worked, else why not.

    Needs root. ``start_services=False`` keeps the packages' services from starting
    (a system-wide Dovecot on every interface is not wanted).
    """
    apt = shutil.which("apt-get")
    if os.geteuid() != 0 or apt is None:
        return f"install {' '.join(packages)} (needs root and apt-get)"
    policy = Path("/usr/sbin/policy-rc.d")
    block = not start_services and not policy.exists()
    if block:
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        subprocess.run(
            [apt, "update", "-qq"], env=env, capture_output=True, check=False, timeout=600
        )
        result = subprocess.run(
            [apt, "install", "-y", "-qq", *packages],
            env=env,
            capture_output=True,
            check=False,
            timeout=900,
        )
    finally:
        if block:
            policy.unlink(missing_ok=True)
    if result.returncode != 0:
        return (
            f"installing {' '.join(packages)} failed: "
            + result.stderr.decode(errors="replace")[-500:]
        )
    return None


T = TypeVar("T")


def ensure_program(
    find: Callable[[], T | None],
    packages: Sequence[str],
    unavailable: type[Exception],
    missing: str,
) -> T:
    """What ``find`` finds, after installing ``packages`` (their services not started: a
    system-wide server is not wanted, only the tests' own) when it finds nothing.

    Raises ``unavailable`` with ``missing`` when not root (nothing can be installed), or
    with apt-get's complaint when installing failed.
    """
    found = find()
    if found is not None:
        return found
    if os.geteuid() != 0:
        raise unavailable(f"{missing}; install {' '.join(packages)} (needs root)")
    problem = apt_install(*packages, start_services=False)
    if problem is not None:
        raise unavailable(problem)
    found = find()
    if found is None:
        raise unavailable(f"{missing} after installing {' '.join(packages)}")
    return found
