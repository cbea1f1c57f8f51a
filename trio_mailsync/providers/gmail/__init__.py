"""The Gmail API provider: labels as folders, history ids as cursors, polling as the watch.

See :mod:`trio_mailsync.providers.gmail.provider` for how a sync goes and
``docs/providers.md`` for what it supports and how to get credentials.
"""

from trio_mailsync.providers.gmail.api import GmailApi, GmailStatistics, HistoryExpired
from trio_mailsync.providers.gmail.provider import (
    GmailProvider,
    GmailSession,
    open_gmail_provider,
    record_from_metadata,
)
from trio_mailsync.providers.gmail.settings import (
    GMAIL_API_KEYS,
    GmailQuota,
    GmailSettings,
    gmail_account,
    gmail_settings,
    parse_gmail_settings,
)

__all__ = [
    "GMAIL_API_KEYS",
    "GmailApi",
    "GmailProvider",
    "GmailQuota",
    "GmailSession",
    "GmailSettings",
    "GmailStatistics",
    "HistoryExpired",
    "gmail_account",
    "gmail_settings",
    "open_gmail_provider",
    "parse_gmail_settings",
    "record_from_metadata",
]
