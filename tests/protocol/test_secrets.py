"""Passwords and tokens never appear in a repr, an exception or a log line."""

from __future__ import annotations

import base64
import logging
import pickle
import traceback

import pytest

from trio_mailsync.protocol import (
    Authenticate,
    Client,
    LocalProtocolError,
    Login,
    Plain,
    RemoteProtocolError,
    Secret,
    UnparsedResponse,
    XOAuth2,
)

from .helpers import events, ready_client

PASSWORD = "hunter2-correct-horse"
TOKEN = "ya29.a0AfH6SMBx-very-secret-access-token-value"


def test_reprs_hide_secrets() -> None:
    objects = [
        Secret(PASSWORD),
        Login("alice", PASSWORD),
        Plain("alice", PASSWORD),
        XOAuth2("alice", TOKEN),
        Authenticate(Plain("alice", PASSWORD)),
        Authenticate(XOAuth2("alice", TOKEN)),
    ]
    for obj in objects:
        for text in (repr(obj), str(obj), f"{obj}", f"{obj!r}"):
            assert PASSWORD not in text
            assert TOKEN not in text
    assert str(Secret(PASSWORD)) == "Secret('***')"
    assert Secret(PASSWORD).reveal() == PASSWORD
    assert Secret(PASSWORD) == Secret(PASSWORD)
    assert Secret(PASSWORD) != Secret("other")


def test_secret_cannot_be_pickled_or_changed() -> None:
    with pytest.raises(TypeError):
        pickle.dumps(Secret(PASSWORD))
    with pytest.raises(AttributeError):
        Secret(PASSWORD)._value = "x"


def test_completions_and_logs_of_a_whole_login_are_clean(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client = ready_client(b"IMAP4rev1 SASL-IR", authenticated=False)
    login = Login("alice", PASSWORD)
    wire = client.send(login)
    assert PASSWORD.encode() in wire  # it must go on the wire, and only there
    client.receive_data(b"A1 NO [AUTHENTICATIONFAILED] Invalid credentials\r\n")
    seen = events(client)
    client.send(Authenticate(XOAuth2("alice", TOKEN)))
    client.receive_data(b"+ eyJzdGF0dXMiOiI0MDEifQ==\r\nA2 NO [AUTHENTICATIONFAILED] no\r\n")
    text = repr(seen + events(client))
    assert PASSWORD not in text
    assert TOKEN not in text
    assert PASSWORD not in caplog.text
    assert TOKEN not in caplog.text


def test_errors_do_not_carry_secrets() -> None:
    with pytest.raises(LocalProtocolError) as info:
        ready_client().send(Login("alice", PASSWORD))  # wrong state
    assert PASSWORD not in "".join(traceback.format_exception(info.value))
    with pytest.raises(LocalProtocolError) as info:
        ready_client(authenticated=False).send(Login("alice", PASSWORD + "\0"))
    assert PASSWORD not in str(info.value)


def test_remote_error_snippets_redact_token_like_data() -> None:
    client = Client()
    echoed = base64.b64encode(f"user=alice\x01auth=Bearer {TOKEN}\x01\x01".encode())
    client.receive_data(b"* OK hi\r\n" + b"* 1 FETCH (" + echoed + b"\r\n")
    events_before = client.next_event()
    assert events_before is not None
    # Unreadable but whole: kept as an UnparsedResponse, whose repr and reason redact.
    unparsed = client.next_event()
    assert isinstance(unparsed, UnparsedResponse)
    for text in (repr(unparsed), unparsed.reason):
        assert echoed.decode()[:30] not in text
    assert "<redacted>" in repr(unparsed)
    # A tagged line that cannot be read is fatal, and its snippet is redacted too.
    client = Client()
    client.receive_data(b"* OK hi\r\n" + b"A1 " + echoed + b"\r\n")
    client.next_event()
    with pytest.raises(RemoteProtocolError) as info:
        client.next_event()
    message = str(info.value)
    assert "<redacted>" in message
    assert echoed.decode()[:30] not in message
