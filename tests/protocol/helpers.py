"""Small helpers shared by the protocol tests."""

from __future__ import annotations

from collections.abc import Iterable

from trio_mailsync.protocol import (
    NEED_DATA,
    Client,
    ConnectionClosed,
    Event,
    Limits,
    Response,
    ResponseParser,
)


def parse_all(
    data: bytes, *, chunks: Iterable[int] | None = None, limits: Limits | None = None
) -> list[Response]:
    """Every response in ``data``, fed whole or in chunks of the given sizes."""
    parser = ResponseParser(limits=limits)
    out: list[Response] = []

    def drain() -> None:
        while True:
            r = parser.next_response()
            if r is NEED_DATA:
                return
            assert not isinstance(r, ConnectionClosed)
            out.append(r)

    if chunks is None:
        parser.receive_data(data)
        drain()
    else:
        pos = 0
        for size in chunks:
            parser.receive_data(data[pos : pos + size])
            pos += size
            drain()
            if pos >= len(data):
                break
        if pos < len(data):
            parser.receive_data(data[pos:])
            drain()
    assert parser.buffered == 0, "unparsed bytes left over"
    return out


def parse_one(line: bytes) -> Response:
    """The single response in ``line`` (CRLF added if missing)."""
    if not line.endswith(b"\n"):
        line += b"\r\n"
    (response,) = parse_all(line)
    return response


def events(client: Client) -> list[Event]:
    out: list[Event] = []
    while (event := client.next_event()) is not NEED_DATA:
        out.append(event)
    return out


def ready_client(
    capabilities: bytes = b"IMAP4rev1", *, authenticated: bool = True, selected: bool = False
) -> Client:
    """A client past the greeting (and LOGIN, and SELECT, if asked)."""
    from trio_mailsync.protocol import Login, Select

    client = Client()
    client.receive_data(b"* OK [CAPABILITY " + capabilities + b"] ready\r\n")
    events(client)
    if authenticated:
        tag = client.send(Login("user", "pass")).split()[0]
        client.receive_data(tag + b" OK [CAPABILITY " + capabilities + b"] logged in\r\n")
        events(client)
    if selected:
        tag = client.send(Select("INBOX")).split()[0]
        client.receive_data(tag + b" OK [READ-WRITE] selected\r\n")
        events(client)
    return client
