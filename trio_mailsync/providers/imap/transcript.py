"""Decoding a captured IMAP server transcript (``trio-mailsync parse``).

The input is either the raw bytes a server sent, or a wire trace (``--trace``), whose
server records are read per connection.
"""

from __future__ import annotations

import io
from typing import BinaryIO, TextIO

from trio_mailsync.protocol import NEED_DATA, ConnectionClosed, ProtocolError, ResponseParser
from trio_mailsync.providers.imap.trace import is_trace, server_bytes

__all__ = ["print_transcript"]


def print_transcript(stream: BinaryIO, out: TextIO) -> int:
    """Print every response in a server transcript, one per line; 1 at the first bad one.

    For a wire trace, each connection's responses in turn, under its name.
    """
    first = stream.readline()
    if is_trace(first):
        status = 0
        for name, data in server_bytes([first, *stream]).items():
            print(f"== {name}", file=out)
            status |= _print_responses(io.BytesIO(data), out)
        return status
    return _print_responses(stream, out, first)


def _print_responses(stream: BinaryIO, out: TextIO, start: bytes = b"") -> int:
    """The responses of ``start`` and then of what ``stream`` holds, read in chunks."""
    parser = ResponseParser()
    if start:  # (b"" would mean the end of the input)
        parser.receive_data(start)
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
