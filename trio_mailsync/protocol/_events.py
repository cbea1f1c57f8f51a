"""Events that only the client state machine produces (the parser's are in ``_responses``)."""

from __future__ import annotations

import attrs

from ._commands import Command
from ._responses import Event, Response, ResponseCode, ResponseStatus, UnparsedResponse

__all__ = ["CommandCompleted", "CommandData", "Greeting", "IdleAccepted", "IdleRejected"]


@attrs.frozen(kw_only=True)
class Greeting(Event):
    """The server's first words: OK, PREAUTH (already authenticated) or BYE (refused)."""

    status: ResponseStatus
    code: ResponseCode | None = None
    text: str = ""


@attrs.frozen(kw_only=True)
class CommandCompleted(Event):
    """A command's tagged completion, with the untagged data that belonged to it.

    ``command`` is the very object that was sent. ``data`` holds, in arrival
    order, the untagged responses (and, for AUTHENTICATE, the continuation
    requests) that this command claimed.
    """

    tag: str
    command: Command
    status: ResponseStatus
    code: ResponseCode | None = None
    text: str = ""
    data: tuple[Response, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether the command completed with OK (not NO or BAD)."""
        return self.status is ResponseStatus.OK

    @property
    def unparsed(self) -> tuple[UnparsedResponse, ...]:
        """Its responses that were whole but could not be read (content errors)."""
        return tuple(d for d in self.data if isinstance(d, UnparsedResponse))


@attrs.frozen(kw_only=True)
class CommandData(Event):
    """One item of a command that streams its data (``UidFetch(..., stream=True)``).

    It arrives as soon as it is parsed, so a large FETCH need not be held in
    memory until its completion; that completion then has empty ``data``.
    """

    tag: str
    command: Command
    response: Response


@attrs.frozen(kw_only=True)
class IdleAccepted(Event):
    """The server answered IDLE with ``+``: updates now arrive as events until DONE."""

    tag: str


@attrs.frozen(kw_only=True)
class IdleRejected(Event):
    """The server refused IDLE with a tagged NO or BAD before accepting it."""

    tag: str
    status: ResponseStatus
    code: ResponseCode | None = None
    text: str = ""
