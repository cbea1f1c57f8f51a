"""The IMAP provider: connections, pool, folders, the sync planner and the IDLE watcher.

The only package above ``trio_mailsync.protocol`` that speaks IMAP: responses
are decoded into typed results here, and nothing outside it imports the
protocol layer (``tests/test_layering.py``).

- :func:`open_imap_provider`: the provider (``core.ports.Provider``) for a set of accounts;
- :func:`imap_account`, :class:`ImapSettings`: an IMAP account and its settings;
- :func:`connect_account`, :class:`IMAPConnection`: one connection, for tools and tests;
- :func:`open_pool`, :class:`FolderCache`: what the provider is built on.
"""

from trio_mailsync.providers.imap.connect import (
    Connector,
    connect_account,
    open_connection,
    tcp_connector,
)
from trio_mailsync.providers.imap.connection import IMAPConnection, SelectedMailbox
from trio_mailsync.providers.imap.errors import CommandFailed, IdleEnded, IdleRefused
from trio_mailsync.providers.imap.folders import (
    FolderCache,
    FolderCacheStatistics,
    FolderInfo,
    FolderList,
    folder_list,
)
from trio_mailsync.providers.imap.pool import ConnectionPool, PoolStatistics, open_pool
from trio_mailsync.providers.imap.provider import ImapProvider, ImapSession, open_imap_provider
from trio_mailsync.providers.imap.settings import (
    AccountLimits,
    ImapSettings,
    Security,
    imap_account,
    imap_settings,
    parse_imap_settings,
)
from trio_mailsync.providers.imap.tls import client_ssl_context
from trio_mailsync.providers.imap.watcher import IdleWatcher, WatcherStatistics

__all__ = [
    "AccountLimits",
    "CommandFailed",
    "ConnectionPool",
    "Connector",
    "FolderCache",
    "FolderCacheStatistics",
    "FolderInfo",
    "FolderList",
    "IMAPConnection",
    "IdleEnded",
    "IdleRefused",
    "IdleWatcher",
    "ImapProvider",
    "ImapSession",
    "ImapSettings",
    "PoolStatistics",
    "Security",
    "SelectedMailbox",
    "WatcherStatistics",
    "client_ssl_context",
    "connect_account",
    "folder_list",
    "imap_account",
    "imap_settings",
    "open_connection",
    "open_imap_provider",
    "open_pool",
    "parse_imap_settings",
    "tcp_connector",
]
