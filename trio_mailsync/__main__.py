"""Command-line entry point (``trio-mailsync``)."""

from __future__ import annotations

import sys

from .cli import run


def main(argv: list[str] | None = None) -> int:
    return run(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
