"""Decoding a captured IMAP server transcript (``trio-mailsync parse``)."""

from __future__ import annotations

from typing import BinaryIO, TextIO

from trio_mailsync.protocol import NEED_DATA, ConnectionClosed, ProtocolError, ResponseParser

__all__ = ["print_transcript"]


def print_transcript(stream: BinaryIO, out: TextIO) -> int:
    """Print every response in a server transcript, one per line; 1 at the first bad one."""
    parser = ResponseParser()
    while True:
        chunk = stream.read(65536)
        parser.receive_data(chunk)
        try:
            while (response := parser.next_response()) is not NEED_DATA:
                if isinstance(response, ConnectionClosed):
                    return 0
                print(repr(response), file=out)
        except ProtocolError as exc:
            print(f"error: {exc}", file=out)
            return 1
