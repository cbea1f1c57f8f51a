"""One IMAP connection over a Trio stream, driving the sans-IO client, with a typed command API.

There is no background task. A task that waits for its command's
completion reads from the stream meanwhile, under a lock, and files
whatever else it reads for the others: completions of pipelined commands go
to their waiters, unsolicited updates to a bounded queue. A connection in a
pool therefore costs nothing while it sits there.

Timeouts are the caller's cancel scopes. A command cancelled in flight
leaves the connection out of step (its answer will come, and nobody will read
it), so the connection is marked broken and closed.

Responses are decoded into typed results here, once: the ``decode_*``
functions serve both the methods below and the sync planner, which pipelines
raw commands with :meth:`IMAPConnection.run_many`.
"""

from __future__ import annotations

import logging
import math
import ssl
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager, suppress
from datetime import datetime

import attrs
import trio

from trio_mailsync.core.errors import (
    ConnectionLost,
    InsecureConnection,
    ProviderError,
    ServerBusy,
)
from trio_mailsync.protocol import (
    NEED_DATA,
    Append,
    Authenticate,
    Capability,
    Client,
    Close,
    Command,
    CommandCompleted,
    CommandData,
    ConnectionClosed,
    ConnectionState,
    Create,
    Delete,
    Done,
    Enable,
    ESearchData,
    Event,
    Examine,
    ExistsData,
    Expunge,
    FetchData,
    FlagsCode,
    FlagsData,
    Greeting,
    Idle,
    IdleAccepted,
    IdleRejected,
    IdleState,
    Limits,
    List,
    ListData,
    Login,
    Logout,
    Noop,
    NumberCode,
    ProtocolError,
    Response,
    ResponseStatus,
    SaslMechanism,
    SearchData,
    SearchKey,
    Select,
    SequenceSet,
    StartTLS,
    Status,
    StatusData,
    UidExpunge,
    UidFetch,
    UidSearch,
    UidStore,
    Unselect,
    UntaggedStatus,
    VanishedData,
)
from trio_mailsync.providers.imap.errors import (
    CommandFailed,
    IdleEnded,
    IdleRefused,
    bye_error,
    failure,
)
from trio_mailsync.providers.imap.trace import REDACTED, WireTrace
from trio_mailsync.secret import Secret

__all__ = [
    "CLEANUP_TIMEOUT",
    "IMAPConnection",
    "SelectedMailbox",
    "decode_fetch",
    "decode_search",
    "decode_select",
    "decode_status",
    "tls_reason",
]

logger = logging.getLogger(__name__)

#: Unsolicited updates kept for a connection nobody is reading updates from.
MAX_PENDING_UPDATES = 4096
#: How long DONE and LOGOUT may take on the way out, even inside a cancelled scope.
CLEANUP_TIMEOUT = 5.0
#: A connection is replaced this long before its OAuth token expires (or after three
#: quarters of the token's life, for a short-lived token).
REAUTH_MARGIN = 60.0


def renew_time(expires_at: float) -> float:
    """When a connection logged in with a token expiring at ``expires_at`` is replaced."""
    left = expires_at - trio.current_time()
    return expires_at - min(REAUTH_MARGIN, left / 4)


_RECEIVE_SIZE = 65536


@attrs.frozen(kw_only=True)
class SelectedMailbox:
    """What SELECT or EXAMINE reported about a mailbox."""

    name: str
    exists: int
    uidvalidity: int | None
    uidnext: int | None
    highestmodseq: int | None
    flags: tuple[str, ...]
    permanent_flags: tuple[str, ...]
    readonly: bool


# ---------------------------------------------------------------- decoding completions


def decode_status(done: CommandCompleted) -> StatusData | None:
    """The STATUS data a successful STATUS brought; ``None`` if it failed or brought none."""
    if done.ok:
        for item in done.data:
            if isinstance(item, StatusData):
                return item
    return None


def decode_search(done: CommandCompleted) -> list[int]:
    """The UIDs (or numbers) a SEARCH found, from SEARCH or ESEARCH ALL."""
    ids: list[int] = []
    for item in done.data:
        if isinstance(item, SearchData):
            ids.extend(item.ids)
        elif isinstance(item, ESearchData) and item.all is not None:
            ids.extend(item.all)
    return ids


def decode_fetch(done: CommandCompleted) -> tuple[list[FetchData], list[int]]:
    """The FETCH results, and the UIDs reported gone by ``VANISHED (EARLIER)``."""
    fetched = [d for d in done.data if isinstance(d, FetchData)]
    gone = [uid for d in done.data if isinstance(d, VanishedData) for uid in d.uids]
    return fetched, gone


def decode_select(mailbox: str | bytes, done: CommandCompleted, readonly: bool) -> SelectedMailbox:
    """What a successful SELECT or EXAMINE of ``mailbox`` said about it."""
    exists = 0
    uidvalidity = uidnext = highestmodseq = None
    flags: tuple[str, ...] = ()
    permanent: tuple[str, ...] = ()
    for d in done.data:
        if isinstance(d, ExistsData):
            exists = d.count
        elif isinstance(d, FlagsData):
            flags = d.flags
        elif isinstance(d, UntaggedStatus) and d.code is not None:
            if isinstance(d.code, NumberCode):
                if d.code.name == "UIDVALIDITY":
                    uidvalidity = d.code.value
                elif d.code.name == "UIDNEXT":
                    uidnext = d.code.value
                elif d.code.name == "HIGHESTMODSEQ":
                    highestmodseq = d.code.value
            elif isinstance(d.code, FlagsCode):
                permanent = d.code.flags
    return SelectedMailbox(
        name=mailbox if isinstance(mailbox, str) else mailbox.decode("utf-8", "replace"),
        exists=exists,
        uidvalidity=uidvalidity,
        uidnext=uidnext,
        highestmodseq=highestmodseq,
        flags=flags,
        permanent_flags=permanent,
        readonly=readonly or (done.code is not None and done.code.name == "READ-ONLY"),
    )


def tls_reason(exc: BaseException) -> str:
    """Why a TLS handshake failed, in words a person can act on."""
    cause = exc.__cause__ if isinstance(exc, trio.BrokenResourceError) else exc
    if isinstance(cause, ssl.SSLCertVerificationError):
        reason = f"certificate not trusted ({cause.verify_message})"
        if "self-signed" in (cause.verify_message or "") or "local issuer" in (
            cause.verify_message or ""
        ):
            reason += (
                '; hint: for a self-signed or private CA, set ca_file = "/path/to/ca.pem" in '
                "the account's table"
            )
        return reason
    text = str(cause) or type(cause).__name__
    if "WRONG_VERSION_NUMBER" in text or "record layer failure" in text:
        text += (
            "; hint: the port does not start with TLS: for a STARTTLS port (often 143) set "
            'security = "starttls"'
        )
    return text


# ---------------------------------------------------------------- the connection


class IMAPConnection:
    """An IMAP connection. Usually obtained from ``connect_account`` or a pool."""

    def __init__(
        self,
        stream: trio.abc.Stream,
        *,
        name: str = "imap",
        limits: Limits | None = None,
        encrypted: bool = False,
        trace: WireTrace | None = None,
    ) -> None:
        self.stream = stream
        #: Where both directions are recorded (``--trace``), secrets redacted.
        self.trace = trace
        # Tags of LOGIN and AUTHENTICATE in flight: what the client sends meanwhile is secret.
        self._secret_tags: set[str] = set()
        self.name = name
        self.client = Client(limits=limits)
        #: True once the stream is TLS.
        self.encrypted = encrypted or isinstance(stream, trio.SSLStream)
        self.greeting: Greeting | None = None
        self.selected: SelectedMailbox | None = None
        #: Trio time of the last byte received or command completed.
        self.last_activity = trio.current_time()
        self._send_lock = trio.Lock()
        self._read_lock = trio.Lock()
        self._results: dict[str, CommandCompleted | IdleRejected] = {}
        self._accepted: set[str] = set()
        self._streamed: dict[str, deque[Response]] = {}
        # Lists, not deques, for these queues that are nearly always empty: an empty
        # deque holds a 64-slot block (760 bytes), ten thousand connections 7 MiB.
        self._updates: list[Event] = []
        self._error: ProviderError | None = None
        self._idle_tag: str | None = None
        # See pipeline_done(): end the current IDLE without waiting for its completion.
        self._pipeline_done = False
        # The IDLE whose completion is still to come (its tag), and the event that says so.
        self._idle_ending: tuple[str, trio.Event] | None = None
        #: When to replace this connection (Trio clock): a little before the OAuth token
        #: it logged in with expires, after which the server may drop the session.
        self.renew_at = math.inf
        #: Writes that waited for an answer: pipelined commands count once.
        self.round_trips = 0
        #: Commands sent, by name.
        self.commands: dict[str, int] = {}

    def __repr__(self) -> str:
        state = "broken" if self.broken else self.client.state.value
        return f"<IMAPConnection {self.name} {state}>"

    # ------------------------------------------------------------ state

    @property
    def broken(self) -> bool:
        """Out of step or closed: it must not be used again."""
        return self._error is not None

    @property
    def error(self) -> ProviderError | None:
        """Why the connection broke, if it did."""
        return self._error

    @property
    def capabilities(self) -> frozenset[str]:
        """What the server said it can do (empty until it said)."""
        return self.client.capabilities or frozenset()

    def has(self, capability: str) -> bool:
        """Did the server advertise ``capability``?"""
        return self.client.has_capability(capability)

    def _break(self, error: ProviderError) -> ProviderError:
        if self._error is None:
            self._error = error
            logger.debug("%s: connection broken: %s", self.name, error)
        return self._error

    def _check(self) -> None:
        if self._error is not None:
            if isinstance(self._error, ConnectionLost):
                raise ConnectionLost(
                    str(self._error), bye_code=self._error.bye_code
                ) from self._error
            raise ConnectionLost(f"{self._error} (connection unusable)") from self._error

    async def _abandon(self, why: str) -> None:
        """The connection is out of step with the server: break it and close it now."""
        self._break(ConnectionLost(f"{self.name}: {why}"))
        await trio.aclose_forcefully(self.stream)

    async def aclose(self) -> None:
        """Close the stream at once (no LOGOUT)."""
        await self._abandon("closed")

    # ------------------------------------------------------------ I/O

    def _traced(self, command: Command | Done, data: bytes) -> None:
        """Record what ``command`` sent (redacted when it carries a credential)."""
        if isinstance(command, Login | Authenticate):
            tag = self.client.tag_of(command)
            if tag is not None:
                self._secret_tags.add(tag)
            if self.trace is not None:
                self.trace.write(self.name, "C", f"{tag} {command.name} ".encode() + REDACTED)
        elif self.trace is not None and data:
            self.trace.write(self.name, "C", data)

    async def _send_bytes(self, data: bytes) -> None:
        try:
            await self.stream.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise self._break(
                ConnectionLost(f"{self.name}: connection lost while sending")
            ) from exc
        except BaseException:
            # Cancelled or interrupted in the middle of a write: out of step.
            self._break(ConnectionLost(f"{self.name}: interrupted while sending"))
            raise

    async def _read_more(self) -> None:
        """Read once and file every event. The caller holds the read lock."""
        self._check()
        try:
            data = await self.stream.receive_some(_RECEIVE_SIZE)
        except (trio.BrokenResourceError, trio.ClosedResourceError, ssl.SSLError) as exc:
            raise self._break(ConnectionLost(f"{self.name}: connection lost: {exc}")) from exc
        self.last_activity = trio.current_time()
        if self.trace is not None:
            self.trace.write(self.name, "S", data)
        self.client.receive_data(data)
        try:
            while (event := self.client.next_event()) is not NEED_DATA:
                self._file(event)
                if isinstance(event, ConnectionClosed):
                    break  # it would be returned again and again
        except ProtocolError as exc:
            raise self._break(ProviderError(f"{self.name}: protocol error: {exc}")) from exc
        pending = self.client.data_to_send()
        if pending:
            if self.trace is not None:
                # A literal's rest, or a SASL response: secret while a login is in flight.
                self.trace.write(self.name, "C", REDACTED if self._secret_tags else pending)
            async with self._send_lock:
                await self._send_bytes(pending)
        self._check()

    def _file(self, event: Event) -> None:
        if isinstance(event, CommandCompleted | IdleRejected):
            ending = self._idle_ending
            if ending is not None and event.tag == ending[0]:
                self._idle_ending = None
                ending[1].set()
                return
            self._results[event.tag] = event
            self._secret_tags.discard(event.tag)
        elif isinstance(event, CommandData):
            self._streamed.setdefault(event.tag, deque()).append(event.response)
        elif isinstance(event, IdleAccepted):
            self._accepted.add(event.tag)
        elif isinstance(event, Greeting):
            self.greeting = event
        elif isinstance(event, ConnectionClosed):
            bye = self.client.bye
            if bye is None:
                self._break(ConnectionLost(f"{self.name}: server closed the connection"))
            else:
                self._break(bye_error(self.name, bye))
        else:
            if isinstance(event, UntaggedStatus) and event.status is ResponseStatus.BYE:
                logger.info("%s: server said BYE %s", self.name, event.text)
            if len(self._updates) >= MAX_PENDING_UPDATES:
                del self._updates[0]  # the oldest goes: nobody reads them
            self._updates.append(event)

    async def _wait_for(self, ready: Callable[[], bool]) -> None:
        while not ready():
            self._check()
            async with self._read_lock:
                if ready():
                    return
                await self._read_more()

    async def _wait_answer(self, ready: Callable[[], bool], what: str) -> None:
        """Read until ``ready()``; cancelled meanwhile, the connection is abandoned."""
        try:
            await self._wait_for(ready)
        except trio.Cancelled:
            # The answer will still come, and nobody will read it: out of step.
            await self._abandon(f"{what} cancelled in flight")
            raise

    def _count(self, command: Command | Done) -> None:
        name = "DONE" if isinstance(command, Done) else command.name
        self.commands[name] = self.commands.get(name, 0) + 1

    async def send(self, command: Command | Done) -> str | None:
        """Send without waiting; returns the command's tag (``None`` for DONE)."""
        self._check()
        async with self._send_lock:
            try:
                data = self.client.send(command)
            except ProtocolError as exc:
                raise ProviderError(f"{self.name}: {exc}") from exc
            self._count(command)
            self._traced(command, data)
            if data:
                await self._send_bytes(data)
        return None if isinstance(command, Done) else self.client.tag_of(command)

    async def run(self, command: Command, *, check: bool = True) -> CommandCompleted:
        """Send ``command`` and wait for its completion.

        With ``check`` (the default) a NO or BAD raises (``CommandFailed``, or the
        typed refusal: ``ServerBusy``, ``AuthenticationFailed``); without it the
        completion comes back whatever its status.
        """
        tag = await self.send(command)
        assert tag is not None  # only DONE has none
        self.round_trips += 1
        await self._wait_answer(lambda: tag in self._results, command.name)
        done = self._results.pop(tag)
        self._streamed.pop(tag, None)
        assert isinstance(done, CommandCompleted)
        self.last_activity = trio.current_time()
        if check and not done.ok:
            raise failure(self.name, command.name, done)
        return done

    async def run_many(self, commands: Sequence[Command]) -> list[CommandCompleted]:
        """Send ``commands`` in one write and wait for all: one round trip for the lot.

        Completions come back whatever their status; a cancelled wait breaks the
        connection, as for :meth:`run`.
        """
        tags: list[str] = []
        self._check()
        async with self._send_lock:
            data = bytearray()
            try:
                for command in commands:
                    sent = self.client.send(command)
                    data += sent
                    self._count(command)
                    self._traced(command, sent)
                    tag = self.client.tag_of(command)
                    assert tag is not None
                    tags.append(tag)
            except ProtocolError as exc:
                raise self._break(ProviderError(f"{self.name}: {exc}")) from exc
            await self._send_bytes(bytes(data))
        self.round_trips += 1
        last = tags[-1] if tags else None
        await self._wait_answer(
            # The last one first: servers answer in order, so it is the last to come.
            lambda: (
                (last is None or last in self._results)
                and all(tag in self._results for tag in tags)
            ),
            "pipelined commands",
        )
        results = []
        for tag in tags:
            done = self._results.pop(tag)
            assert isinstance(done, CommandCompleted)
            results.append(done)
        self.last_activity = trio.current_time()
        return results

    def pending_updates(self) -> list[Event]:
        """Take the unsolicited updates received so far (EXISTS, EXPUNGE, FETCH...)."""
        updates, self._updates = self._updates, []
        return updates

    async def next_update(self) -> Event:
        """The next unsolicited update, reading until one arrives.

        Inside :meth:`idle`, raises :class:`IdleEnded` if the server ends the IDLE.
        """
        tag = self._idle_tag
        await self._wait_for(
            lambda: bool(self._updates) or (tag is not None and tag in self._results)
        )
        if not self._updates:
            raise IdleEnded(f"{self.name}: the server ended IDLE")
        return self._updates.pop(0)

    # ------------------------------------------------------------ setup

    async def wait_greeting(self) -> Greeting:
        """The server's greeting; a BYE there (too many connections, usually) is ServerBusy."""
        await self._wait_for(lambda: self.greeting is not None)
        assert self.greeting is not None
        if self.greeting.status is ResponseStatus.BYE:
            text = self.greeting.text
            raise self._break(ServerBusy(f"{self.name}: server refused the connection: {text}"))
        return self.greeting

    async def starttls(self, context: ssl.SSLContext, server_hostname: str) -> None:
        """Upgrade to TLS. Never falls back to clear text."""
        if not self.has("STARTTLS"):
            raise self._break(InsecureConnection(f"{self.name}: server does not offer STARTTLS"))
        done = await self.run(StartTLS(), check=False)
        if not done.ok:
            raise self._break(
                InsecureConnection(
                    f"{self.name}: STARTTLS refused: {done.status.value} {done.text}"
                )
            )
        tls = trio.SSLStream(self.stream, context, server_hostname=server_hostname)
        try:
            await tls.do_handshake()
        except (trio.BrokenResourceError, ssl.SSLError) as exc:
            raise self._break(
                InsecureConnection(f"{self.name}: TLS handshake failed: {tls_reason(exc)}")
            ) from exc
        self.stream = tls
        self.encrypted = True
        await self.capability()

    async def capability(self) -> frozenset[str]:
        """Ask the server what it can do."""
        await self.run(Capability())
        return self.capabilities

    async def login(
        self, username: str, password: Secret | str, *, allow_insecure: bool = False
    ) -> None:
        """LOGIN; refused over clear text unless ``allow_insecure``."""
        self._require_encryption(allow_insecure)
        if self.has("LOGINDISABLED"):
            raise InsecureConnection(f"{self.name}: server refuses LOGIN here (LOGINDISABLED)")
        await self._authenticated(Login(username, password))

    async def authenticate(self, mechanism: SaslMechanism, *, allow_insecure: bool = False) -> None:
        """AUTHENTICATE with ``mechanism``; refused over clear text unless ``allow_insecure``."""
        self._require_encryption(allow_insecure)
        await self._authenticated(Authenticate(mechanism))

    def _require_encryption(self, allow_insecure: bool) -> None:
        if not self.encrypted and not allow_insecure:
            raise InsecureConnection(
                f"{self.name}: refusing to send credentials over an unencrypted connection"
            )

    async def _authenticated(self, command: Login | Authenticate) -> None:
        await self.run(command)
        if self.client.capabilities is None:
            await self.capability()

    # ------------------------------------------------------------ commands

    async def enable(self, *capabilities: str) -> frozenset[str]:
        """ENABLE those of ``capabilities`` the server offers; returns what is enabled."""
        wanted = [c for c in capabilities if self.has(c)]
        if wanted:
            await self.run(Enable(*wanted))
        return self.client.enabled

    async def enable_qresync(self) -> None:
        """ENABLE QRESYNC where offered, once; possible only before a mailbox is selected."""
        if (
            self.has("QRESYNC")
            and "QRESYNC" not in self.client.enabled
            and self.client.state is ConnectionState.AUTHENTICATED
        ):
            await self.enable("QRESYNC")

    async def list_folders(
        self, pattern: str = "*", *, reference: str = "", status_items: Sequence[str] = ()
    ) -> tuple[list[ListData], dict[str, StatusData]]:
        """LIST, with SPECIAL-USE attributes and (LIST-STATUS) STATUS data where offered."""
        special = self.has("SPECIAL-USE")
        items = tuple(status_items) if status_items and self.has("LIST-STATUS") else ()
        done = await self.run(
            List(reference=reference, pattern=pattern, special_use=special, status_items=items)
        )
        folders = [d for d in done.data if isinstance(d, ListData)]
        statuses = {d.mailbox: d for d in done.data if isinstance(d, StatusData)}
        return folders, statuses

    async def status(self, mailbox: str | bytes, items: Sequence[str]) -> StatusData:
        """STATUS of one mailbox."""
        done = await self.run(Status(mailbox, tuple(items)))
        status = decode_status(done)
        if status is None:
            raise ProviderError(f"{self.name}: STATUS {mailbox!r} returned no data")
        return status

    async def status_many(
        self, mailboxes: Iterable[str | bytes], items: Sequence[str]
    ) -> dict[str | bytes, StatusData | ProviderError]:
        """STATUS for many mailboxes, all sent in one write: one round trip.

        A mailbox must not be selected meanwhile: STATUS of the selected mailbox
        may describe the session's old view of it (RFC 3501 6.3.10; Dovecot does
        so, with ``[CLIENTBUG]``), so it is unselected first, in the same write.
        """
        names = list(mailboxes)
        commands: list[Command] = [Status(name, tuple(items)) for name in names]
        leave = self.unselect_command()
        if leave is not None:
            completions = (await self.run_many([leave, *commands]))[1:]
            self.selected = None
        else:
            completions = await self.run_many(commands)
        results: dict[str | bytes, StatusData | ProviderError] = {}
        for mailbox, done in zip(names, completions, strict=True):
            if not done.ok:
                results[mailbox] = failure(self.name, f"STATUS {mailbox!r}", done)
                continue
            status = decode_status(done)
            results[mailbox] = (
                status
                if status is not None
                else CommandFailed(
                    f"{self.name}: STATUS {mailbox!r}",
                    ResponseStatus.NO,
                    None,
                    "no STATUS data in the reply",
                )
            )
        return results

    def unselect_command(self) -> Command | None:
        """The command that unselects without expunging, if a mailbox is selected.

        ``None`` when nothing is selected, or when only CLOSE could do it and the
        mailbox is not known to be read-only (CLOSE would expunge).
        """
        if self.client.state is not ConnectionState.SELECTED:
            return None
        if self.has("UNSELECT"):
            return Unselect()
        if self.selected is not None and self.selected.readonly:
            return Close()  # read-only: CLOSE removes nothing (RFC 3501 6.4.2)
        return None

    async def select(
        self, mailbox: str | bytes, *, readonly: bool = False, condstore: bool = False
    ) -> SelectedMailbox:
        """SELECT (or EXAMINE, with ``readonly``) ``mailbox``."""
        command = (Examine if readonly else Select)(mailbox, condstore=condstore)
        self.selected = None
        done = await self.run(command)
        self.selected = decode_select(mailbox, done, readonly)
        return self.selected

    async def uid_search(self, *criteria: SearchKey) -> list[int]:
        """UID SEARCH; the UIDs found."""
        return decode_search(await self.run(UidSearch(*criteria)))

    async def uid_fetch(
        self,
        uids: SequenceSet | str,
        items: Sequence[str],
        *,
        changedsince: int | None = None,
        vanished: bool = False,
    ) -> tuple[list[FetchData], list[int]]:
        """UID FETCH: the results and, with ``vanished``, the UIDs reported gone."""
        done = await self.run(
            UidFetch(uids, tuple(items), changedsince=changedsince, vanished=vanished)
        )
        return decode_fetch(done)

    async def uid_fetch_stream(
        self, uids: SequenceSet | str, items: Sequence[str]
    ) -> AsyncIterator[FetchData]:
        """UID FETCH, yielding each result as it is read (memory for one message)."""
        command = UidFetch(uids, tuple(items), stream=True)
        tag = await self.send(command)
        assert tag is not None
        self.round_trips += 1
        queue = self._streamed.setdefault(tag, deque())
        try:
            while True:
                while queue:
                    item = queue.popleft()
                    if isinstance(item, FetchData):
                        yield item
                if tag in self._results:
                    break
                await self._wait_for(lambda: bool(queue) or tag in self._results)
        except BaseException:
            if tag not in self._results:
                await self._abandon("streaming UID FETCH abandoned")
            raise
        finally:
            self._streamed.pop(tag, None)
        done = self._results.pop(tag)
        assert isinstance(done, CommandCompleted)
        if not done.ok:
            raise failure(self.name, "UID FETCH", done)

    async def uid_store(
        self, uids: SequenceSet | str, mode: str, flags: Sequence[str], *, silent: bool = True
    ) -> None:
        """UID STORE: ``mode`` is ``+FLAGS``, ``-FLAGS`` or ``FLAGS``."""
        await self.run(UidStore(uids, mode, tuple(flags), silent=silent))

    async def uid_expunge(self, uids: SequenceSet | str) -> None:
        """UID EXPUNGE (UIDPLUS): remove these deleted messages only."""
        await self.run(UidExpunge(uids))

    async def expunge(self) -> None:
        """EXPUNGE every message marked deleted in the selected mailbox."""
        await self.run(Expunge())

    async def append(
        self,
        mailbox: str | bytes,
        message: bytes,
        *,
        flags: Sequence[str] = (),
        internaldate: datetime | None = None,
    ) -> int | None:
        """APPEND; returns the new UID when the server says it (UIDPLUS)."""
        done = await self.run(Append(mailbox, message, tuple(flags), internaldate))
        uids = getattr(done.code, "uids", None)
        return None if uids is None else next(iter(uids), None)

    async def create(self, mailbox: str | bytes) -> None:
        """CREATE a mailbox."""
        await self.run(Create(mailbox))

    async def delete(self, mailbox: str | bytes) -> None:
        """DELETE a mailbox."""
        await self.run(Delete(mailbox))

    async def noop(self) -> list[Response]:
        """NOOP; returns the mailbox updates it brought."""
        return list((await self.run(Noop())).data)

    @asynccontextmanager
    async def idle(self, *, accept_timeout: float = math.inf) -> AsyncIterator[IMAPConnection]:
        """IDLE until the block ends; inside it, :meth:`next_update` waits for news.

        The server must accept IDLE within ``accept_timeout`` seconds
        (:class:`trio.TooSlowError`). Leaving the block (also by cancellation) sends
        DONE and waits for the completion, shielded and bounded by
        :data:`CLEANUP_TIMEOUT`; if that fails the connection is broken.
        """
        command = Idle()
        with trio.fail_after(accept_timeout):
            tag = await self.send(command)
            assert tag is not None
            self.round_trips += 1
            await self._wait_answer(lambda: tag in self._accepted or tag in self._results, "IDLE")
        if tag in self._results and tag not in self._accepted:
            # Refused. (Accepted and already ended, both in one read, is not: the block
            # runs, and its first wait raises IdleEnded.)
            rejected = self._results.pop(tag)
            raise IdleRefused(
                f"{self.name}: server refused IDLE: {rejected.status.value} {rejected.text}"
            )
        self._accepted.discard(tag)
        self._idle_tag = tag
        try:
            yield self
        finally:
            self._idle_tag = None
            pipelined, self._pipeline_done = self._pipeline_done, False
            with trio.CancelScope(shield=True) as scope:
                scope.deadline = trio.current_time() + CLEANUP_TIMEOUT
                if not self.broken:
                    if self.client.idle_state is IdleState.ACCEPTED:
                        await self.send(Done())
                    if pipelined and tag not in self._results:
                        self._idle_ending = (tag, trio.Event())
                    else:
                        await self._wait_for(lambda: tag in self._results)
                        self._results.pop(tag)
            if scope.cancelled_caught:
                await self._abandon("no answer to DONE")

    def pipeline_done(self) -> None:
        """End the current IDLE (at the end of :meth:`idle`'s block) without waiting.

        DONE is sent and the block ends at once: the next commands follow DONE in the
        same stream, and the server answers IDLE before them, which saves a round trip
        when a sync is waiting for the connection. The completion is read with the
        next answers; :meth:`idle_ended` waits for it (a caller's watchdog: no
        answer means a dead connection).
        """
        self._pipeline_done = True

    async def idle_ended(self) -> None:
        """Wait until the completion of an IDLE ended by :meth:`pipeline_done` is read."""
        ending = self._idle_ending
        if ending is not None:
            await ending[1].wait()

    async def logout(self) -> None:
        """LOGOUT and close; bounded and shielded, as it runs on the way out."""
        with trio.CancelScope(shield=True) as scope:
            scope.deadline = trio.current_time() + CLEANUP_TIMEOUT
            if not self.broken and self.client.state is not ConnectionState.LOGOUT:
                with suppress(ProviderError):
                    await self.run(Logout(), check=False)
        await self._abandon("logged out")
