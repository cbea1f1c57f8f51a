"""IMAP over Trio: connections, the connection pool and the folder cache."""

from trio_mailsync.imap.connection import (
    Connector,
    IdleEnded,
    IdleRefused,
    IMAPConnection,
    SelectedMailbox,
    connect_account,
    open_connection,
    tcp_connector,
)
from trio_mailsync.imap.folders import (
    FolderCache,
    FolderCacheStatistics,
    FolderInfo,
    FolderList,
    folder_list,
)
from trio_mailsync.imap.pool import ConnectionPool, PoolStatistics, open_pool
from trio_mailsync.imap.tls import client_ssl_context

__all__ = [
    "ConnectionPool",
    "Connector",
    "FolderCache",
    "FolderCacheStatistics",
    "FolderInfo",
    "FolderList",
    "IMAPConnection",
    "IdleEnded",
    "IdleRefused",
    "PoolStatistics",
    "SelectedMailbox",
    "client_ssl_context",
    "connect_account",
    "folder_list",
    "open_connection",
    "open_pool",
    "tcp_connector",
]
