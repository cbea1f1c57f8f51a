"""The client state machine: commands in, bytes out; bytes in, events out. No I/O."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Final, Literal

from ._commands import (
    LITERAL_MINUS_MAX,
    Authenticate,
    Command,
    Done,
    EncodeContext,
    Fragment,
    Idle,
    Login,
    StartTLS,
    Status,
    encode_command,
)
from ._commands import Literal as LiteralFragment
from ._errors import LocalProtocolError, ProtocolError, RemoteProtocolError
from ._events import CommandCompleted, CommandData, Greeting, IdleAccepted, IdleRejected
from ._limits import Limits
from ._parser import NEED_DATA, NeedData, ResponseParser
from ._responses import (
    CapabilityCode,
    CapabilityData,
    ConnectionClosed,
    ContinuationRequest,
    EnabledData,
    ESearchData,
    Event,
    Response,
    ResponseStatus,
    StatusData,
    TaggedResponse,
    UnparsedResponse,
    UntaggedStatus,
)
from ._states import ConnectionState, IdleState

__all__ = ["Client"]

_TAG_PREFIX = re.compile(r"[A-Za-z0-9.\-_]{1,16}\Z")


class _Wait:
    """Outbox barrier: stop here until the server's ``+`` for a literal."""

    __slots__ = ()


_WAIT: Final = _Wait()
#: What a parsed response costs in memory beyond its bytes, for ``max_command_data``.
RESPONSE_OVERHEAD: Final = 512


class _Running:
    """A command in flight."""

    __slots__ = ("command", "data", "data_size", "initial_sent", "tag")

    def __init__(self, command: Command, tag: str, initial_sent: bool) -> None:
        self.command = command
        self.tag = tag
        self.data: list[Response] = []
        #: Bytes of the responses in ``data``, as received.
        self.data_size = 0
        self.initial_sent = initial_sent  # AUTHENTICATE: initial response already sent


class Client:
    """Sans-IO IMAP client connection.

    Feed received bytes to :meth:`receive_data` (``b""`` at end of file) and
    pull events from :meth:`next_event` until it returns :data:`NEED_DATA`.
    :meth:`send` turns a command into bytes to write. Some bytes are due only
    after the server speaks (the rest of a command after a synchronizing
    literal's ``+``, SASL responses): collect them with :meth:`data_to_send`
    after :meth:`next_event`, and write them in order. Several commands may be
    in flight at once.
    """

    def __init__(self, *, limits: Limits | None = None, tag_prefix: str = "A") -> None:
        if not _TAG_PREFIX.match(tag_prefix):
            raise ValueError(f"tag prefix must be 1-16 letters, digits or .-_, not {tag_prefix!r}")
        self._limits = limits or Limits()
        self._parser = ResponseParser(limits=self._limits)
        #: Stream offset where the response being handled started (for its size).
        self._response_start = 0
        self._tag_prefix = tag_prefix
        self._next_tag = 1
        self._state = ConnectionState.AWAITING_GREETING
        self._capabilities: frozenset[str] | None = None
        self._ctx: EncodeContext | None = None
        self._ctx_for: tuple[frozenset[str] | None, frozenset[str]] = (None, frozenset())
        self._enabled: frozenset[str] = frozenset()
        self._running: dict[str, _Running] = {}
        # Lists, not deques: these hold an item or two at a time, and an empty deque
        # costs 760 bytes (a 64-slot block) per connection.
        self._outbox: list[tuple[str, bytes | _Wait]] = []
        self._to_send = bytearray()
        self._events: list[Event] = []
        self._idle = IdleState.NONE
        self._idle_tag: str | None = None
        self._bye: UntaggedStatus | None = None
        self._closed = False
        self._error: ProtocolError | None = None

    # ------------------------------------------------------------ observation

    @property
    def state(self) -> ConnectionState:
        """Where the connection stands: greeting, not authenticated, authenticated, selected..."""
        return self._state

    @property
    def idle_state(self) -> IdleState:
        """Where an IDLE stands: none, requested, accepted, DONE sent."""
        return self._idle

    @property
    def capabilities(self) -> frozenset[str] | None:
        """Upper-cased capabilities, or ``None`` when they must be asked for again
        (before the first report, after STARTTLS, after login without a report)."""
        return self._capabilities

    @property
    def enabled(self) -> frozenset[str]:
        """Extensions turned on with ENABLE."""
        return self._enabled

    @property
    def bye(self) -> UntaggedStatus | None:
        """The server's BYE, once it said it."""
        return self._bye

    @property
    def in_flight(self) -> tuple[str, ...]:
        """Tags of the commands sent and not yet completed, oldest first."""
        return tuple(self._running)

    def tag_of(self, command: Command) -> str | None:
        """The tag of ``command`` while it is in flight, else ``None``."""
        if self._running:
            # Usually asked right after send(): the last one in flight.
            last = self._running[next(reversed(self._running))]
            if last.command is command:
                return last.tag
        for running in self._running.values():
            if running.command is command:
                return running.tag
        return None

    @property
    def broken(self) -> bool:
        """A protocol error happened; the connection must be closed."""
        return self._error is not None

    def has_capability(self, name: str) -> bool:
        """Whether the server announced ``name`` (case-insensitive); ``False`` while unknown."""
        return self._capabilities is not None and name.upper() in self._capabilities

    # ------------------------------------------------------------ sending

    def send(self, command: Command | Done) -> bytes:
        """Return the bytes to write for ``command``.

        Bytes held back by an earlier synchronizing literal are returned
        first, so what this returns can always be written at once.
        """
        if self._error is not None:
            raise LocalProtocolError(f"the connection is broken: {self._error}")
        if self._closed or self._state is ConnectionState.LOGOUT:
            raise LocalProtocolError("the connection is logged out or closed")
        if isinstance(command, Done):
            return self._send_done()
        if self._state is ConnectionState.AWAITING_GREETING:
            raise LocalProtocolError("wait for the server's greeting before sending commands")
        if self._idle in (IdleState.REQUESTED, IdleState.ACCEPTED):
            raise LocalProtocolError(f"IDLE is {self._idle.value}; send Done() first")
        projected = self._projected_state()
        if projected not in command.allowed:
            raise LocalProtocolError(
                f"{command.name} is not allowed in the {projected.value} state"
            )
        if any(r.command is command for r in self._running.values()):
            raise LocalProtocolError(f"this {command.name} command object is already in flight")
        tag = f"{self._tag_prefix}{self._next_tag}"
        ctx = self._context()
        fragments = encode_command(command, tag, ctx)
        self._next_tag += 1
        self._running[tag] = _Running(command, tag, initial_sent=ctx.sasl_ir)
        if isinstance(command, Idle):
            self._idle = IdleState.REQUESTED
            self._idle_tag = tag
        for chunk in self._chunks(fragments, ctx):
            self._outbox.append((tag, chunk))
        self._flush_outbox()
        return self.data_to_send()

    def data_to_send(self) -> bytes:
        """Bytes released by what the server said; write them before anything else."""
        out = bytes(self._to_send)
        self._to_send.clear()
        return out

    def _send_done(self) -> bytes:
        if self._idle is not IdleState.ACCEPTED:
            raise LocalProtocolError(
                f"DONE is only allowed in an accepted IDLE (IDLE is {self._idle.value})"
            )
        self._idle = IdleState.DONE_SENT
        self._to_send += b"DONE\r\n"
        return self.data_to_send()

    def _context(self) -> EncodeContext:
        # Made again only when what it depends on was replaced (sets are immutable).
        made_for = (self._capabilities, self._enabled)
        if (
            self._ctx is None
            or self._ctx_for[0] is not made_for[0]
            or self._ctx_for[1] is not made_for[1]
        ):
            self._ctx = EncodeContext(
                utf8="UTF8=ACCEPT" in self._enabled,
                literal_plus=self.has_capability("LITERAL+"),
                literal_minus=self.has_capability("LITERAL-"),
                sasl_ir=self.has_capability("SASL-IR"),
            )
            self._ctx_for = made_for
        return self._ctx

    @staticmethod
    def _chunks(fragments: list[Fragment], ctx: EncodeContext) -> list[bytes | _Wait]:
        chunks: list[bytes | _Wait] = []
        out = bytearray()
        for fragment in fragments:
            if isinstance(fragment, LiteralFragment):
                size = len(fragment.data)
                non_sync = ctx.literal_plus or (ctx.literal_minus and size <= LITERAL_MINUS_MAX)
                out += b"{%d%s}\r\n" % (size, b"+" if non_sync else b"")
                if not non_sync:
                    chunks.append(bytes(out))
                    chunks.append(_WAIT)
                    out.clear()
                out += fragment.data
            else:
                out += fragment
        out += b"\r\n"
        chunks.append(bytes(out))
        return chunks

    def _flush_outbox(self) -> None:
        outbox = self._outbox
        while outbox and outbox[0][1] is not _WAIT:
            chunk = outbox.pop(0)[1]
            assert isinstance(chunk, bytes)
            self._to_send += chunk

    def _projected_state(self) -> ConnectionState:
        """The state once every command in flight has succeeded."""
        state = self._state
        for running in self._running.values():
            state = running.command.next_state(state, True)
        return state

    # ------------------------------------------------------------ receiving

    def receive_data(self, data: bytes | bytearray) -> None:
        """Feed bytes from the server; ``b""`` means the server closed the connection."""
        if self._closed and data:
            raise LocalProtocolError("receive_data() after the connection was closed")
        self._parser.receive_data(data)

    def next_event(self) -> Event | Literal[NeedData.NEED_DATA]:
        """The next event, or :data:`NEED_DATA`."""
        if self._events:
            return self._events.pop(0)
        if self._error is not None:
            raise self._error
        while True:
            try:
                self._response_start = self._parser.offset
                response = self._parser.next_response()
                if response is NEED_DATA:
                    return NEED_DATA
                if isinstance(response, ConnectionClosed):
                    self._closed = True
                    self._state = ConnectionState.LOGOUT
                    self._idle = IdleState.NONE
                    return response
                self._handle(response)
            except RemoteProtocolError as exc:
                self._error = exc
                raise
            if self._events:
                return self._events.pop(0)

    def _fail(self, message: str) -> RemoteProtocolError:
        return RemoteProtocolError(message, offset=self._parser.offset)

    def _handle(self, response: Response) -> None:
        if self._state is ConnectionState.AWAITING_GREETING:
            self._greeting(response)
        elif isinstance(response, TaggedResponse):
            self._tagged(response)
        elif isinstance(response, ContinuationRequest):
            self._continuation(response)
        else:
            self._untagged(response)

    def _greeting(self, response: Response) -> None:
        if not isinstance(response, UntaggedStatus) or response.status not in (
            ResponseStatus.OK,
            ResponseStatus.PREAUTH,
            ResponseStatus.BYE,
        ):
            raise self._fail("expected a greeting (* OK, * PREAUTH or * BYE)")
        self._state = {
            ResponseStatus.OK: ConnectionState.NOT_AUTHENTICATED,
            ResponseStatus.PREAUTH: ConnectionState.AUTHENTICATED,
            ResponseStatus.BYE: ConnectionState.LOGOUT,
        }[response.status]
        if response.status is ResponseStatus.BYE:
            self._bye = response
        if isinstance(response.code, CapabilityCode):
            self._capabilities = response.code.capabilities
        self._events.append(
            Greeting(status=response.status, code=response.code, text=response.text)
        )

    def _tagged(self, response: TaggedResponse) -> None:
        running = self._running.pop(response.tag, None)
        if running is None:
            raise self._fail(f"tagged response for unknown tag {response.tag!r}")
        if any(tag == response.tag for tag, _ in self._outbox):
            # The server answered before taking all of a synchronizing literal:
            # the rest of that command is never sent.
            self._outbox = [item for item in self._outbox if item[0] != response.tag]
            self._flush_outbox()
        command = running.command
        ok = response.status is ResponseStatus.OK
        self._state = command.next_state(self._state, ok)
        if isinstance(response.code, CapabilityCode):
            self._capabilities = response.code.capabilities
        elif ok and isinstance(command, StartTLS):
            if self._parser.buffered:
                # Bytes that arrived before the TLS handshake could be injected
                # by anyone on the path (CVE-2011-0411 and its kin).
                raise self._fail("data after the STARTTLS response, before TLS")
            self._capabilities = None
        elif ok and isinstance(command, Authenticate | Login):
            reported = [d for d in running.data if isinstance(d, CapabilityData)]
            self._capabilities = reported[-1].capabilities if reported else None
        if isinstance(command, Idle) and response.tag == self._idle_tag:
            # (An earlier IDLE, ended by a DONE that the next IDLE followed without a
            # wait, completes as any command: the state is the current IDLE's.)
            idle = self._idle
            self._idle = IdleState.NONE
            self._idle_tag = None
            if idle is IdleState.REQUESTED:
                self._events.append(
                    IdleRejected(
                        tag=response.tag,
                        status=response.status,
                        code=response.code,
                        text=response.text,
                    )
                )
                return
        self._events.append(
            CommandCompleted(
                tag=response.tag,
                command=command,
                status=response.status,
                code=response.code,
                text=response.text,
                data=tuple(running.data),
            )
        )

    def _continuation(self, response: ContinuationRequest) -> None:
        if self._outbox and self._outbox[0][1] is _WAIT:
            self._outbox.pop(0)
            self._flush_outbox()
            return
        if self._idle is IdleState.REQUESTED and self._idle_tag is not None:
            self._idle = IdleState.ACCEPTED
            self._events.append(IdleAccepted(tag=self._idle_tag))
            return
        for running in self._running.values():
            if isinstance(running.command, Authenticate):
                self._sasl_step(running, response)
                return
        raise self._fail("continuation request when no command waits for one")

    def _sasl_step(self, running: _Running, response: ContinuationRequest) -> None:
        assert isinstance(running.command, Authenticate)
        mechanism = running.command.mechanism
        running.data.append(response)
        answer: bytes | None
        if not running.initial_sent:
            running.initial_sent = True
            answer = mechanism.initial_response()
        else:
            try:
                challenge = base64.b64decode(response.data, validate=True)
            except binascii.Error:
                raise self._fail("SASL challenge is not base64") from None
            answer = mechanism.respond(challenge)
        self._to_send += b"*\r\n" if answer is None else base64.b64encode(answer) + b"\r\n"

    def _untagged(self, response: Response) -> None:
        if isinstance(response, UntaggedStatus):
            if isinstance(response.code, CapabilityCode):
                self._capabilities = response.code.capabilities
            if response.status is ResponseStatus.BYE:
                self._bye = response
                self._state = ConnectionState.LOGOUT
        elif isinstance(response, CapabilityData):
            self._capabilities = response.capabilities
        elif isinstance(response, EnabledData):
            self._enabled |= response.capabilities
            if "UTF8=ACCEPT" in response.capabilities:
                self._parser.utf8_mailboxes = True
        owner = self._owner(response)
        if owner is None:
            self._events.append(response)
        elif owner.command.streams():
            self._events.append(
                CommandData(tag=owner.tag, command=owner.command, response=response)
            )
        else:
            # Its size on the wire, plus what its objects cost (measured about 420 bytes
            # for a short FETCH or STATUS): the budget is of memory, not of bytes received.
            owner.data_size += self._parser.offset - self._response_start + RESPONSE_OVERHEAD
            if owner.data_size > self._limits.max_command_data:
                raise self._fail(
                    f"{owner.command.name} was sent more than "
                    f"{self._limits.max_command_data} bytes of data (max_command_data)"
                )
            owner.data.append(response)

    def _owner(self, response: Response) -> _Running | None:
        if isinstance(response, ESearchData) and response.tag is not None:
            return self._running.get(response.tag)
        if isinstance(response, UnparsedResponse):
            # Whoever would have claimed it, had it been readable: by its name.
            for running in self._running.values():
                if response.kind is not None and _would_claim(running.command, response.kind):
                    return running
            return None
        if isinstance(response, StatusData):
            # Pipelined STATUS commands: match by mailbox name first.
            for running in self._running.values():
                command = running.command
                if isinstance(command, Status) and _same_mailbox(command.mailbox, response):
                    return running
        for running in self._running.values():
            if running.command.claims(response):
                return running
        return None


#: Untagged response names, and the commands that claim them (by the words of their names).
_CLAIMED_BY = {
    "FETCH": ("FETCH", "STORE"),
    "STATUS": ("STATUS",),
    "LIST": ("LIST",),
    "LSUB": ("LSUB",),
    "SEARCH": ("SEARCH",),
    "ESEARCH": ("SEARCH",),
    "VANISHED": ("FETCH", "STORE", "EXPUNGE"),
}


def _would_claim(command: Command, kind: str) -> bool:
    words = command.name.split()
    return any(word in words for word in _CLAIMED_BY.get(kind, ()))


def _same_mailbox(name: str | bytes, response: StatusData) -> bool:
    if isinstance(name, bytes):
        return name == response.raw_mailbox
    return name == response.mailbox or (name.upper() == "INBOX" and response.mailbox == "INBOX")
