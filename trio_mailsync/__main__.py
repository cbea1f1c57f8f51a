"""Command-line entry point (``trio-mailsync``)."""

from __future__ import annotations

import sys

from .cli import run


def main(argv: list[str] | None = None) -> int:
    """The ``trio-mailsync`` command: run ``argv`` (the process's arguments by default)."""
    return run(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
