"""Testing helpers for trio-mailsync and for applications that embed it.

:class:`IMAPTestServer` serves an in-memory :class:`MailStore` over loopback TCP
or in-memory streams; :class:`Behavior` injects faults (delays, dropped
connections, BYE, missing capabilities, odd responses).
:class:`MemoryProvider` is a provider with no protocol at all, over a
:class:`MemoryMail`, for tests of what sits above the providers.
"""

from ._messages import sample_message
from ._server import Behavior, CommandInfo, IMAPTestServer, ServerStatistics, Session
from ._store import Folder, MailStore, StoredMessage, User
from .memory import MemoryMail, MemoryProvider, memory_account

__all__ = [
    "Behavior",
    "CommandInfo",
    "Folder",
    "IMAPTestServer",
    "MailStore",
    "MemoryMail",
    "MemoryProvider",
    "ServerStatistics",
    "Session",
    "StoredMessage",
    "User",
    "memory_account",
    "sample_message",
]
