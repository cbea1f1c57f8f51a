"""Connection and IDLE states of the client state machine."""

from __future__ import annotations

import enum

__all__ = ["ConnectionState", "IdleState"]


class ConnectionState(enum.Enum):
    """RFC 9051 section 3, plus the wait for the server's greeting."""

    AWAITING_GREETING = "awaiting greeting"
    NOT_AUTHENTICATED = "not authenticated"
    AUTHENTICATED = "authenticated"
    SELECTED = "selected"
    LOGOUT = "logout"


class IdleState(enum.Enum):
    """Where an RFC 2177 IDLE stands."""

    NONE = "none"
    #: IDLE sent, waiting for the server's ``+``.
    REQUESTED = "requested"
    #: The server accepted; only DONE may be sent now.
    ACCEPTED = "accepted"
    #: DONE sent, waiting for the tagged completion.
    DONE_SENT = "done sent"
