"""Testing helpers for trio-mailsync and for applications that embed it.

:class:`IMAPTestServer` serves an in-memory :class:`MailStore` over loopback TCP
or in-memory streams; :class:`Behavior` injects faults (delays, dropped
connections, BYE, missing capabilities, odd responses).
"""

from ._messages import sample_message
from ._server import Behavior, CommandInfo, IMAPTestServer, ServerStatistics, Session
from ._store import Folder, MailStore, StoredMessage, User

__all__ = [
    "Behavior",
    "CommandInfo",
    "Folder",
    "IMAPTestServer",
    "MailStore",
    "ServerStatistics",
    "Session",
    "StoredMessage",
    "User",
    "sample_message",
]
