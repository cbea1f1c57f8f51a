#!/usr/bin/env python3
"""Set up the project's environment and run its jobs. Needs only python3 (3.11+).

    python3 scripts/dev.py run [--config FILE] [args]
                                                the service; with no config, the demo
    python3 scripts/dev.py test [pytest args]   lint, type check and the whole test suite
    python3 scripts/dev.py fuzz [--examples N]  the long-running parser fuzz targets
    python3 scripts/dev.py bench                the benchmarks in bench/

The environment lives in .venv and is refreshed when pyproject.toml changes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
BIN = VENV / "bin"
STAMP = VENV / ".installed"


def run(*cmd: str | Path, env: dict[str, str] | None = None) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    result = subprocess.run([str(c) for c in cmd], cwd=ROOT, env=env, check=False)
    if result.returncode:
        sys.exit(result.returncode)


def ensure_env(extras: str = "") -> None:
    """Install the project with ``extras``, unless an earlier install already covers them."""
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    have: set[str] | None = None  # extras installed for this pyproject.toml, if any
    if STAMP.exists():
        stamped_digest, _, stamped_extras = STAMP.read_text().partition(" ")
        if stamped_digest == digest:
            have = set(filter(None, stamped_extras.split(",")))
    want = set(filter(None, extras.split(",")))
    if have is not None and want <= have:
        return
    extras = ",".join(sorted(want | (have or set())))
    if not (BIN / "python").exists():
        print(f"creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    run(BIN / "python", "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    run(BIN / "python", "-m", "pip", "install", "--quiet", "-e", f".[{extras}]" if extras else ".")
    STAMP.write_text(f"{digest} {extras}")


def ensure_dovecot() -> None:
    """Install Debian's Dovecot for the integration tests (needs root; else they skip)."""
    code = (
        "from trio_mailsync.testing.dovecot import ensure_installed, DovecotUnavailable\n"
        "try:\n    print('dovecot:', ensure_installed())\n"
        "except DovecotUnavailable as exc:\n    print('dovecot unavailable:', exc)"
    )
    run(BIN / "python", "-c", code)


def ensure_browser() -> None:
    """Install Debian's chromium and chromium-driver for the dashboard tests (root only)."""
    run(BIN / "python", "-m", "tests.browser_support")


def run_service(args: list[str]) -> None:
    """``--config FILE`` runs ``serve``; anything else is passed to ``demo``."""
    ensure_env()
    cli = str(BIN / "trio-mailsync")
    serve = any(a == "--config" or a.startswith("--config=") for a in args)
    command = "serve" if serve else "demo"
    # exec, so that Ctrl-C and the exit status belong to the service alone
    os.execv(cli, [cli, command, *args])  # noqa: S606


def test(args: list[str]) -> None:
    ensure_env("test,bench")
    ensure_dovecot()
    ensure_browser()
    run(BIN / "ruff", "check", ".")
    run(BIN / "ruff", "format", "--check", ".")
    run(BIN / "mypy")
    # The whole suite, slow tests included (plain `pytest` leaves them out while working).
    run(BIN / "python", "-m", "pytest", "--run-slow", *args)


def fuzz(args: list[str]) -> None:
    ensure_env("test")
    env = dict(os.environ)
    if args[:1] == ["--examples"] and len(args) >= 2:
        env["TRIO_MAILSYNC_FUZZ_EXAMPLES"] = args[1]
        args = args[2:]
    env.setdefault("TRIO_MAILSYNC_FUZZ_EXAMPLES", "200000")
    run(BIN / "python", "-m", "pytest", "fuzz", "-p", "no:cacheprovider", *args, env=env)


def bench(args: list[str]) -> None:
    ensure_env("test,bench")
    ensure_dovecot()
    scripts = args or sorted(str(p) for p in (ROOT / "bench").glob("*.py") if p.name[0] != "_")
    for script in scripts:
        run(BIN / "python", script)


def main() -> None:
    jobs = {"run": run_service, "test": test, "fuzz": fuzz, "bench": bench}
    if len(sys.argv) < 2 or sys.argv[1] not in jobs:
        sys.exit(__doc__)
    jobs[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    main()
