"""IMAP over Trio: connections, the connection pool and the folder cache."""

from trio_mailsync.imap.connection import (
    Connector,
    IdleEnded,
    IMAPConnection,
    SelectedMailbox,
    connect_account,
    open_connection,
    tcp_connector,
)
from trio_mailsync.imap.tls import client_ssl_context

__all__ = [
    "Connector",
    "IMAPConnection",
    "IdleEnded",
    "SelectedMailbox",
    "client_ssl_context",
    "connect_account",
    "open_connection",
    "tcp_connector",
]
