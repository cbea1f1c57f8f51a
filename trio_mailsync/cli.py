"""``trio-mailsync`` subcommands."""

from __future__ import annotations

import argparse
import sys
from typing import BinaryIO

from . import __version__
from .protocol import NEED_DATA, ConnectionClosed, ProtocolError, ResponseParser


def _parse(stream: BinaryIO, out: list[str]) -> int:
    """Print every response in a captured server transcript, one per line."""
    parser = ResponseParser()
    while True:
        chunk = stream.read(65536)
        parser.receive_data(chunk)
        try:
            while (response := parser.next_response()) is not NEED_DATA:
                if isinstance(response, ConnectionClosed):
                    return 0
                out.append(repr(response))
        except ProtocolError as exc:
            out.append(f"error: {exc}")
            return 1


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="trio-mailsync",
        description="Keep many IMAP accounts in step and hear about new mail at once.",
    )
    parser.add_argument("--version", action="version", version=f"trio-mailsync {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    parse = commands.add_parser(
        "parse", help="decode a captured IMAP server transcript and print its responses"
    )
    parse.add_argument("file", nargs="?", help="transcript file (default: standard input)")
    args = parser.parse_args(argv)
    if args.command == "parse":
        lines: list[str] = []
        if args.file:
            with open(args.file, "rb") as f:
                status = _parse(f, lines)
        else:
            status = _parse(sys.stdin.buffer, lines)
        print("\n".join(lines))
        return status
    parser.print_help()
    return 2
