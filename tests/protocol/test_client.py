"""The client state machine: states, pipelining, literals, SASL, IDLE, BYE, STARTTLS."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import pytest

from trio_mailsync.protocol import (
    NEED_DATA,
    Append,
    Authenticate,
    Capability,
    CapabilityData,
    Client,
    Close,
    Command,
    CommandCompleted,
    CommandData,
    ConnectionClosed,
    ConnectionState,
    ContinuationRequest,
    Create,
    Delete,
    Done,
    Enable,
    Examine,
    ExistsData,
    Expunge,
    ExpungeData,
    FetchData,
    FlagsData,
    Greeting,
    Idle,
    IdleAccepted,
    IdleRejected,
    IdleState,
    List,
    ListData,
    LocalProtocolError,
    Login,
    Logout,
    Noop,
    Plain,
    RemoteProtocolError,
    ResponseStatus,
    SearchData,
    Select,
    StartTLS,
    Status,
    StatusData,
    UidExpunge,
    UidFetch,
    UidSearch,
    UidStore,
    UnparsedResponse,
    Unselect,
    UntaggedStatus,
    XOAuth2,
    decode_xoauth2_error,
)

from .helpers import events, ready_client

S = ConnectionState


def mailboxes(done: CommandCompleted) -> list[str]:
    return [d.mailbox for d in done.data if isinstance(d, ListData | StatusData)]


def state_of(client: Client) -> ConnectionState:
    return client.state


def idle_of(client: Client) -> IdleState:
    return client.idle_state


def completed(client: Client) -> list[CommandCompleted]:
    out = events(client)
    assert all(isinstance(e, CommandCompleted) for e in out), out
    return out  # type: ignore[return-value]


# ---------------------------------------------------------------- (state, command) table

COMMANDS: dict[str, Callable[[], Command | Done]] = {
    "CAPABILITY": Capability,
    "NOOP": Noop,
    "LOGOUT": Logout,
    "STARTTLS": StartTLS,
    "LOGIN": lambda: Login("u", "p"),
    "AUTHENTICATE": lambda: Authenticate(Plain("u", "p")),
    "ENABLE": lambda: Enable("CONDSTORE"),
    "SELECT": lambda: Select("INBOX"),
    "EXAMINE": lambda: Examine("INBOX"),
    "CREATE": lambda: Create("x"),
    "DELETE": lambda: Delete("x"),
    "LIST": List,
    "STATUS": lambda: Status("INBOX"),
    "APPEND": lambda: Append("INBOX", b"x"),
    "CLOSE": Close,
    "UNSELECT": Unselect,
    "EXPUNGE": Expunge,
    "UID EXPUNGE": lambda: UidExpunge("1"),
    "UID SEARCH": UidSearch,
    "UID FETCH": lambda: UidFetch("1:*"),
    "UID STORE": lambda: UidStore("1", "+FLAGS", ("\\Seen",)),
    "IDLE": Idle,
    "DONE": Done,
}

ANY = {"CAPABILITY", "NOOP", "LOGOUT"}
AUTHENTICATED = ANY | {
    "SELECT",
    "EXAMINE",
    "CREATE",
    "DELETE",
    "LIST",
    "STATUS",
    "APPEND",
    "IDLE",
    "ENABLE",
}
# Written out by hand from RFC 9051 section 6 (and RFC 2177, 5161), not derived from the code.
LEGAL: dict[str, set[str]] = {
    "awaiting greeting": set(),
    "not authenticated": ANY | {"STARTTLS", "LOGIN", "AUTHENTICATE"},
    "authenticated": AUTHENTICATED,
    "selected": (AUTHENTICATED - {"ENABLE"})
    | {"CLOSE", "UNSELECT", "EXPUNGE", "UID EXPUNGE", "UID SEARCH", "UID FETCH", "UID STORE"},
    "logout": set(),
    "idle requested": set(),
    "idle accepted": {"DONE"},
    # After DONE the next command may follow at once, before IDLE's completion.
    "idle done sent": ANY
    | {
        "SELECT",
        "EXAMINE",
        "CREATE",
        "DELETE",
        "LIST",
        "STATUS",
        "APPEND",
        "IDLE",
        "CLOSE",
        "UNSELECT",
        "EXPUNGE",
        "UID EXPUNGE",
        "UID SEARCH",
        "UID FETCH",
        "UID STORE",
    },
}


def client_in(state: str) -> Client:
    if state == "awaiting greeting":
        return Client()
    if state == "not authenticated":
        return ready_client(authenticated=False)
    if state == "authenticated":
        return ready_client()
    if state == "selected":
        return ready_client(selected=True)
    if state == "logout":
        client = ready_client()
        client.receive_data(b"* BYE shutting down\r\n")
        events(client)
        return client
    client = ready_client(b"IMAP4rev1 IDLE", selected=True)
    client.send(Idle())
    if state == "idle requested":
        return client
    client.receive_data(b"+ idling\r\n")
    assert isinstance(events(client)[0], IdleAccepted)
    if state == "idle accepted":
        return client
    client.send(Done())
    assert state == "idle done sent"
    return client


@pytest.mark.parametrize("state", list(LEGAL))
@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_state_and_command(state: str, name: str) -> None:
    client = client_in(state)
    command = COMMANDS[name]()
    if name in LEGAL[state]:
        data = client.send(command)
        assert data.endswith(b"\r\n")
        assert (b"DONE" if name == "DONE" else name.encode()) in data
    else:
        with pytest.raises(LocalProtocolError):
            client.send(command)


# Server input in every state, expected outcome written out by hand:
# an event class, or RemoteProtocolError.
SERVER_INPUTS = {
    "continuation": b"+ go ahead\r\n",
    "bye": b"* BYE going away\r\n",
    "unknown tag": b"Z9 OK what\r\n",
    "exists": b"* 3 EXISTS\r\n",
    "eof": b"",
}
E = RemoteProtocolError
SERVER_OUTCOMES: dict[str, dict[str, type]] = {
    "awaiting greeting": {"continuation": E, "bye": Greeting, "unknown tag": E, "exists": E},
    "not authenticated": {
        "continuation": E,
        "bye": UntaggedStatus,
        "unknown tag": E,
        "exists": ExistsData,
    },
    "authenticated": {
        "continuation": E,
        "bye": UntaggedStatus,
        "unknown tag": E,
        "exists": ExistsData,
    },
    "selected": {"continuation": E, "bye": UntaggedStatus, "unknown tag": E, "exists": ExistsData},
    "logout": {"continuation": E, "bye": UntaggedStatus, "unknown tag": E, "exists": ExistsData},
    "idle requested": {
        "continuation": IdleAccepted,
        "bye": UntaggedStatus,
        "unknown tag": E,
        "exists": ExistsData,
    },
    "idle accepted": {
        "continuation": E,
        "bye": UntaggedStatus,
        "unknown tag": E,
        "exists": ExistsData,
    },
    "idle done sent": {
        "continuation": E,
        "bye": UntaggedStatus,
        "unknown tag": E,
        "exists": ExistsData,
    },
}


@pytest.mark.parametrize("state", list(LEGAL))
@pytest.mark.parametrize("name", list(SERVER_INPUTS))
def test_every_state_and_server_input(state: str, name: str) -> None:
    client = client_in(state)
    client.receive_data(SERVER_INPUTS[name])
    expected = ConnectionClosed if name == "eof" else SERVER_OUTCOMES[state][name]
    if expected is RemoteProtocolError:
        with pytest.raises(RemoteProtocolError):
            client.next_event()
        assert client.broken
        return
    event = client.next_event()
    assert type(event) is expected
    if name in ("bye", "eof"):
        assert state_of(client) is S.LOGOUT


def test_states_follow_completions() -> None:
    client = Client()
    assert state_of(client) is S.AWAITING_GREETING
    client.receive_data(b"* OK hi\r\n")
    assert isinstance(events(client)[0], Greeting)
    assert state_of(client) is S.NOT_AUTHENTICATED
    client.send(Login("u", "wrong"))
    client.receive_data(b"A1 NO [AUTHENTICATIONFAILED] Invalid credentials\r\n")
    (done,) = completed(client)
    assert done.status is ResponseStatus.NO
    assert done.code is not None
    assert done.code.name == "AUTHENTICATIONFAILED"
    assert state_of(client) is S.NOT_AUTHENTICATED
    client.send(Login("u", "right"))
    client.receive_data(b"A2 OK done\r\n")
    completed(client)
    assert state_of(client) is S.AUTHENTICATED
    client.send(Select("INBOX"))
    client.receive_data(b"A3 OK [READ-WRITE] done\r\n")
    completed(client)
    assert state_of(client) is S.SELECTED
    client.send(Select("nope"))
    client.receive_data(b"A4 NO no such mailbox\r\n")
    completed(client)
    assert state_of(client) is S.AUTHENTICATED  # a failed SELECT deselects
    client.send(Examine("INBOX"))
    client.receive_data(b"A5 OK [READ-ONLY] done\r\n")
    completed(client)
    client.send(Unselect())
    client.receive_data(b"A6 OK done\r\n")
    completed(client)
    assert state_of(client) is S.AUTHENTICATED
    client.send(Logout())
    client.receive_data(b"* BYE bye\r\nA7 OK done\r\n")
    (done,) = completed(client)
    assert done.data == (UntaggedStatus(status=ResponseStatus.BYE, text="bye"),)
    assert state_of(client) is S.LOGOUT
    client.receive_data(b"")
    assert isinstance(client.next_event(), ConnectionClosed)


@pytest.mark.parametrize(
    ("greeting", "state"),
    [
        (b"* OK ready", S.NOT_AUTHENTICATED),
        (b"* PREAUTH welcome back", S.AUTHENTICATED),
        (b"* BYE too many connections", S.LOGOUT),
    ],
)
def test_greetings(greeting: bytes, state: ConnectionState) -> None:
    client = Client()
    client.receive_data(greeting + b"\r\n")
    (event,) = events(client)
    assert isinstance(event, Greeting)
    assert client.state is state


def test_greeting_must_be_a_status() -> None:
    client = Client()
    client.receive_data(b"* 1 EXISTS\r\n")
    with pytest.raises(RemoteProtocolError, match="greeting"):
        client.next_event()


def test_pipelining_then_login_in_flight() -> None:
    client = ready_client(authenticated=False)
    # Commands valid only after LOGIN may be pipelined behind it.
    wire = client.send(Login("u", "p")) + client.send(Select("INBOX")) + client.send(Noop())
    assert wire == b"A1 LOGIN u p\r\nA2 SELECT INBOX\r\nA3 NOOP\r\n"
    assert client.in_flight == ("A1", "A2", "A3")
    with pytest.raises(LocalProtocolError):
        client.send(Login("u", "p"))  # already logged in once A1 succeeds


# ---------------------------------------------------------------- attribution of untagged data


def test_each_completion_carries_its_own_data() -> None:
    client = ready_client()
    client.send(Status("INBOX"))
    client.send(Status("Sent"))
    client.send(List())
    client.send(Capability())
    client.receive_data(
        b"* STATUS Sent (MESSAGES 1)\r\n"
        b'* LIST () "/" INBOX\r\n'
        b"* STATUS INBOX (MESSAGES 2)\r\n"
        b"* CAPABILITY IMAP4rev1 IDLE\r\n"
        b'* LIST () "/" Sent\r\n'
        b"A2 OK\r\nA3 OK\r\nA4 OK\r\nA5 OK\r\n"
    )
    status_inbox, status_sent, listing, caps = completed(client)
    assert status_inbox.data == (
        StatusData(mailbox="INBOX", raw_mailbox=b"INBOX", messages=2, items={"MESSAGES": 2}),
    )
    assert mailboxes(status_sent) == ["Sent"]
    assert mailboxes(listing) == ["INBOX", "Sent"]
    assert caps.data == (CapabilityData(capabilities=frozenset({"IMAP4REV1", "IDLE"})),)
    assert client.capabilities == frozenset({"IMAP4REV1", "IDLE"})


def test_select_collects_mailbox_state() -> None:
    client = ready_client()
    cmd = Select("INBOX")
    client.send(cmd)
    client.receive_data(
        b"* 172 EXISTS\r\n* 1 RECENT\r\n* OK [UNSEEN 12] first unseen\r\n"
        b"* OK [UIDVALIDITY 3857529045] UIDs valid\r\n* OK [UIDNEXT 4392] next\r\n"
        b"* FLAGS (\\Answered \\Seen)\r\n* OK [ALERT] maintenance tonight\r\n"
        b"A2 OK [READ-WRITE] SELECT completed\r\n"
    )
    alert, done = events(client)
    assert isinstance(alert, UntaggedStatus)  # ALERT is always shown, never buried
    assert isinstance(done, CommandCompleted)
    assert done.command is cmd
    assert [type(d).__name__ for d in done.data] == [
        "ExistsData",
        "RecentData",
        "UntaggedStatus",
        "UntaggedStatus",
        "UntaggedStatus",
        "FlagsData",
    ]


def test_unsolicited_data_arrives_as_events() -> None:
    client = ready_client(selected=True)
    client.send(UidSearch("UID", "1:*"))
    client.receive_data(b"* 5 EXISTS\r\n* SEARCH 1 2\r\n* 3 EXPUNGE\r\nA3 OK\r\n")
    exists, expunge, done = events(client)
    assert exists == ExistsData(count=5)
    assert expunge == ExpungeData(seq=3)
    assert isinstance(done, CommandCompleted)
    assert done.data == (SearchData(ids=(1, 2)),)
    # With nothing in flight, everything is unsolicited.
    client.receive_data(b"* 2 FETCH (FLAGS (\\Seen))\r\n* FLAGS (\\Seen)\r\n")
    assert events(client) == [FetchData(seq=2, flags=("\\Seen",)), FlagsData(flags=("\\Seen",))]


def test_streaming_fetch_delivers_items_at_once() -> None:
    client = ready_client(selected=True)
    fetch = UidFetch("1:*", ("UID", "BODY.PEEK[]"), stream=True)
    client.send(fetch)
    client.receive_data(b"* 1 FETCH (UID 7 BODY[] {2}\r\nhi)\r\n")
    (item,) = events(client)
    assert isinstance(item, CommandData)
    assert (item.tag, item.command) == ("A3", fetch)
    assert item.response == FetchData(seq=1, uid=7, sections={"BODY[]": b"hi"})
    client.receive_data(b"* 5 EXISTS\r\n* 2 FETCH (UID 8 BODY[] NIL)\r\nA3 OK done\r\n")
    exists, second, done = events(client)
    assert exists == ExistsData(count=5)  # unsolicited stays unsolicited
    assert isinstance(second, CommandData)
    assert isinstance(done, CommandCompleted)
    assert done.data == ()


def test_one_unreadable_fetch_response_costs_that_message_only() -> None:
    """A content error is listed by the command's completion; the connection carries on."""
    client = ready_client(selected=True)
    fetch = UidFetch("1:*", ("UID", "FLAGS", "ENVELOPE"))
    client.send(fetch)
    client.receive_data(
        b"* 1 FETCH (UID 7 FLAGS ())\r\n"
        b'* 2 FETCH (UID 8 FLAGS () ENVELOPE ("date" "subject" (("a" NIL "b" "c")) oops\r\n'
        b"* 3 FETCH (UID 9 FLAGS ())\r\n"
        b"A3 OK done\r\n"
    )
    (done,) = completed(client)
    assert done.ok
    assert [d.uid for d in done.data if isinstance(d, FetchData)] == [7, 9]
    (bad,) = done.unparsed
    assert (bad.kind, bad.number, bad.uid) == ("FETCH", 2, 8)
    assert not client.broken
    client.send(Noop())
    client.receive_data(b"A4 OK\r\n")
    assert completed(client)[0].ok
    # Streamed, it arrives as the command's data too.
    client.send(UidFetch("1:*", ("UID", "ENVELOPE"), stream=True))
    client.receive_data(b"* 1 FETCH (UID 7 ENVELOPE (\r\nA5 OK\r\n")
    item, end = events(client)
    assert isinstance(item, CommandData)
    assert isinstance(item.response, UnparsedResponse)
    assert isinstance(end, CommandCompleted)


def test_noop_collects_updates() -> None:
    client = ready_client(selected=True)
    client.send(Noop())
    client.receive_data(b"* 22 EXPUNGE\r\n* 23 EXISTS\r\n* 14 FETCH (FLAGS (\\Seen))\r\nA3 OK\r\n")
    (done,) = completed(client)
    assert len(done.data) == 3


def test_esearch_correlated_by_tag() -> None:
    client = ready_client(selected=True)
    first = UidSearch("ALL", return_=("COUNT",))
    second = UidSearch("UNSEEN", return_=("COUNT",))
    client.send(first)
    client.send(second)
    client.receive_data(b'* ESEARCH (TAG "A4") UID COUNT 1\r\n* ESEARCH (TAG "A3") UID COUNT 9\r\n')
    client.receive_data(b"A3 OK\r\nA4 OK\r\n")
    a, b = completed(client)
    assert (a.command, a.data[0].count) == (first, 9)  # type: ignore[union-attr]
    assert (b.command, b.data[0].count) == (second, 1)  # type: ignore[union-attr]


# ---------------------------------------------------------------- literals


def test_synchronizing_literal_waits_for_continuation() -> None:
    client = ready_client()
    append = Append("INBOX", b"Subject: x\r\n\r\nbody")
    assert client.send(append) == b"A2 APPEND INBOX {18}\r\n"
    # A command sent meanwhile must wait behind the literal.
    assert client.send(Noop()) == b""
    client.receive_data(b"+ Ready for literal data\r\n")
    assert events(client) == []
    assert client.data_to_send() == b"Subject: x\r\n\r\nbody\r\nA3 NOOP\r\n"
    client.receive_data(b"A2 OK [APPENDUID 38505 3955] APPEND completed\r\nA3 OK\r\n")
    done, _ = completed(client)
    assert done.command is append


def test_two_literals_in_one_command() -> None:
    client = ready_client(authenticated=False)
    assert client.send(Login("ü", "p\r\nw")) == b"A1 LOGIN {2}\r\n"
    client.receive_data(b"+ go\r\n")
    events(client)
    assert client.data_to_send() == "ü".encode() + b" {4}\r\n"
    client.receive_data(b"+ go\r\n")
    events(client)
    assert client.data_to_send() == b"p\r\nw\r\n"


def test_refused_literal_drops_the_rest_and_releases_the_queue() -> None:
    client = ready_client()
    client.send(Append("INBOX", b"x" * 100))
    assert client.send(Noop()) == b""
    client.receive_data(b"A2 NO [TOOBIG] message too large\r\n")
    (done,) = completed(client)
    assert done.status is ResponseStatus.NO
    assert client.data_to_send() == b"A3 NOOP\r\n"


def test_literal_plus_sends_at_once() -> None:
    client = ready_client(b"IMAP4rev1 LITERAL+")
    assert client.send(Append("INBOX", b"hi")) == b"A2 APPEND INBOX {2+}\r\nhi\r\n"


def test_literal_minus_only_for_small_literals() -> None:
    client = ready_client(b"IMAP4rev1 LITERAL-")
    assert client.send(Append("INBOX", b"a" * 4096)).startswith(b"A2 APPEND INBOX {4096+}\r\n")
    assert client.send(Append("INBOX", b"a" * 4097)) == b"A3 APPEND INBOX {4097}\r\n"


def test_sent_bytes_come_out_in_order_when_data_to_send_is_skipped() -> None:
    client = ready_client()
    client.send(Append("INBOX", b"abc"))
    client.receive_data(b"+ ok\r\n")
    events(client)
    # The literal released by "+" comes before the next command's bytes.
    assert client.send(Noop()) == b"abc\r\nA3 NOOP\r\n"


# ---------------------------------------------------------------- SASL


def test_authenticate_plain_without_sasl_ir() -> None:
    client = ready_client(authenticated=False)
    cmd = Authenticate(Plain("tim", "tanstaaftanstaaf"))
    assert client.send(cmd) == b"A1 AUTHENTICATE PLAIN\r\n"
    client.receive_data(b"+ \r\n")
    assert events(client) == []
    assert client.data_to_send() == b"AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n"
    client.receive_data(b"A1 OK [CAPABILITY IMAP4rev1 IDLE] Success\r\n")
    (done,) = completed(client)
    assert done.command is cmd
    assert state_of(client) is S.AUTHENTICATED
    assert client.capabilities == frozenset({"IMAP4REV1", "IDLE"})


def test_authenticate_with_sasl_ir_goes_in_one_line() -> None:
    client = ready_client(b"IMAP4rev1 SASL-IR AUTH=PLAIN", authenticated=False)
    assert client.send(Authenticate(Plain("tim", "tanstaaftanstaaf"))) == (
        b"A1 AUTHENTICATE PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n"
    )


def test_xoauth2_error_challenge_gets_an_empty_response() -> None:
    client = ready_client(b"IMAP4rev1 SASL-IR AUTH=XOAUTH2", authenticated=False)
    client.send(Authenticate(XOAuth2("user@example.com", "expired-token")))
    error = base64.b64encode(json.dumps({"status": "401", "schemes": "bearer"}).encode())
    client.receive_data(b"+ " + error + b"\r\n")
    assert events(client) == []
    assert client.data_to_send() == b"\r\n"
    client.receive_data(b"A1 NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)\r\n")
    (done,) = completed(client)
    assert done.status is ResponseStatus.NO
    (challenge,) = done.data
    assert isinstance(challenge, ContinuationRequest)
    assert decode_xoauth2_error(challenge.data) == {"status": "401", "schemes": "bearer"}
    assert state_of(client) is S.NOT_AUTHENTICATED


def test_plain_cancels_on_unexpected_challenge() -> None:
    client = ready_client(b"IMAP4rev1 SASL-IR", authenticated=False)
    client.send(Authenticate(Plain("u", "p")))
    client.receive_data(b"+ " + base64.b64encode(b"what?") + b"\r\n")
    events(client)
    assert client.data_to_send() == b"*\r\n"


def test_capabilities_forgotten_after_login_without_report() -> None:
    client = ready_client(authenticated=False)
    client.send(Login("u", "p"))
    client.receive_data(b"A1 OK done\r\n")
    completed(client)
    assert client.capabilities is None
    client = ready_client(authenticated=False)
    client.send(Login("u", "p"))
    # Gmail sends an untagged CAPABILITY before the tagged OK.
    client.receive_data(b"* CAPABILITY IMAP4rev1 X-GM-EXT-1\r\nA1 OK done\r\n")
    completed(client)
    assert client.has_capability("x-gm-ext-1")


# ---------------------------------------------------------------- IDLE


def test_idle_accepted_updates_done() -> None:
    client = ready_client(b"IMAP4rev1 IDLE", selected=True)
    idle = Idle()
    assert client.send(idle) == b"A3 IDLE\r\n"
    assert idle_of(client) is IdleState.REQUESTED
    client.receive_data(b"+ idling\r\n")
    assert events(client) == [IdleAccepted(tag="A3")]
    assert idle_of(client) is IdleState.ACCEPTED
    client.receive_data(b"* 4 EXISTS\r\n* 2 EXPUNGE\r\n")
    assert events(client) == [ExistsData(count=4), ExpungeData(seq=2)]
    assert client.send(Done()) == b"DONE\r\n"
    assert idle_of(client) is IdleState.DONE_SENT
    with pytest.raises(LocalProtocolError):
        client.send(Done())
    assert client.send(Noop()) == b"A4 NOOP\r\n"  # may follow DONE at once
    client.receive_data(b"A3 OK IDLE terminated\r\nA4 OK\r\n")
    idle_done, _ = completed(client)
    assert idle_done.command is idle
    assert idle_of(client) is IdleState.NONE


@pytest.mark.parametrize("answer", [b"+ idling\r\n", b"A4 NO not now\r\n"])
def test_idle_reissued_right_after_done(answer: bytes) -> None:
    # DONE and the next IDLE in one write (a re-issue without a wait): the first IDLE's
    # completion is an ordinary completion, the state is the second IDLE's.
    client = ready_client(b"IMAP4rev1 IDLE", selected=True)
    first = Idle()
    client.send(first)
    client.receive_data(b"+ idling\r\n")
    events(client)
    assert client.send(Done()) + client.send(Idle()) == b"DONE\r\nA4 IDLE\r\n"
    assert idle_of(client) is IdleState.REQUESTED
    client.receive_data(b"A3 OK IDLE terminated\r\n" + answer)
    done, second = events(client)
    assert isinstance(done, CommandCompleted)
    assert done.command is first
    if answer.startswith(b"+"):
        assert second == IdleAccepted(tag="A4")
        assert idle_of(client) is IdleState.ACCEPTED
        assert client.send(Done()) == b"DONE\r\n"
    else:
        assert isinstance(second, IdleRejected)
        assert second.tag == "A4"
        assert idle_of(client) is IdleState.NONE


def test_idle_rejected() -> None:
    client = ready_client(selected=True)
    client.send(Idle())
    client.receive_data(b"A3 BAD [CLIENTBUG] IDLE not supported\r\n")
    (event,) = events(client)
    assert isinstance(event, IdleRejected)
    assert event.status is ResponseStatus.BAD
    assert idle_of(client) is IdleState.NONE
    with pytest.raises(LocalProtocolError, match="only allowed in an accepted IDLE"):
        client.send(Done())
    client.send(Noop())  # usable again


def test_done_refused_before_acceptance() -> None:
    client = ready_client(selected=True)
    client.send(Idle())
    with pytest.raises(LocalProtocolError):
        client.send(Done())


def test_server_ending_idle_by_itself() -> None:
    client = ready_client(selected=True)
    client.send(Idle())
    client.receive_data(b"+ idling\r\nA3 OK idle timed out\r\n")
    accepted, done = events(client)
    assert isinstance(accepted, IdleAccepted)
    assert isinstance(done, CommandCompleted)
    assert idle_of(client) is IdleState.NONE


# ---------------------------------------------------------------- BYE, EOF and errors


def test_unsolicited_bye() -> None:
    client = ready_client(selected=True)
    client.send(Noop())
    client.receive_data(b"* BYE [UNAVAILABLE] server shutting down\r\n")
    (bye,) = events(client)
    assert isinstance(bye, UntaggedStatus)
    assert bye.status is ResponseStatus.BYE
    assert client.bye == bye
    assert state_of(client) is S.LOGOUT
    with pytest.raises(LocalProtocolError):
        client.send(Noop())
    client.receive_data(b"")
    assert isinstance(client.next_event(), ConnectionClosed)
    assert client.in_flight == ("A3",)  # never completed: the caller fails it


def test_eof_without_bye() -> None:
    client = ready_client()
    client.receive_data(b"")
    assert isinstance(client.next_event(), ConnectionClosed)
    assert state_of(client) is S.LOGOUT
    with pytest.raises(LocalProtocolError):
        client.receive_data(b"more")


def test_unknown_tag_breaks_the_connection() -> None:
    client = ready_client()
    client.receive_data(b"Z99 OK what\r\n")
    with pytest.raises(RemoteProtocolError, match="unknown tag 'Z99'"):
        client.next_event()
    assert client.broken
    with pytest.raises(RemoteProtocolError):
        client.next_event()
    with pytest.raises(LocalProtocolError, match="broken"):
        client.send(Noop())


def test_unexpected_continuation() -> None:
    client = ready_client()
    client.receive_data(b"+ hello\r\n")
    with pytest.raises(RemoteProtocolError, match="continuation"):
        client.next_event()


def test_starttls_resets_capabilities() -> None:
    client = ready_client(b"IMAP4rev1 STARTTLS LOGINDISABLED", authenticated=False)
    client.send(StartTLS())
    client.receive_data(b"A1 OK Begin TLS negotiation now\r\n")
    completed(client)
    assert client.capabilities is None


def test_starttls_refuses_injected_data() -> None:
    client = ready_client(b"IMAP4rev1 STARTTLS", authenticated=False)
    client.send(StartTLS())
    client.receive_data(b"A1 OK Begin TLS\r\n* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n")
    with pytest.raises(RemoteProtocolError, match="STARTTLS"):
        events(client)


def test_same_command_object_cannot_be_in_flight_twice() -> None:
    client = ready_client()
    noop = Noop()
    client.send(noop)
    with pytest.raises(LocalProtocolError, match="already in flight"):
        client.send(noop)
    client.receive_data(b"A2 OK\r\n")
    completed(client)
    client.send(noop)  # fine once completed


def test_enable_utf8_switches_mailbox_decoding() -> None:
    client = ready_client(b"IMAP4rev1 UTF8=ACCEPT")
    client.send(Enable("UTF8=ACCEPT"))
    client.receive_data(b"* ENABLED UTF8=ACCEPT\r\nA2 OK\r\n")
    completed(client)
    assert client.enabled == frozenset({"UTF8=ACCEPT"})
    client.send(List())
    client.receive_data(b'* LIST () "/" "a&-b"\r\nA3 OK\r\n')
    (done,) = completed(client)
    (item,) = done.data
    assert isinstance(item, ListData)
    assert item.mailbox == "a&-b"  # UTF-8, not modified UTF-7


def test_tag_prefix() -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        Client(tag_prefix="a b")
    client = Client(tag_prefix="sync")
    client.receive_data(b"* OK\r\n")
    events(client)
    assert client.send(Noop()) == b"sync1 NOOP\r\n"


def test_need_data_until_whole_response() -> None:
    client = ready_client()
    client.send(Noop())
    for byte in b"A2 OK don":
        client.receive_data(bytes([byte]))
        assert client.next_event() is NEED_DATA
    client.receive_data(b"e\r\n")
    assert isinstance(client.next_event(), CommandCompleted)
