"""The providers this build knows, by the name configs give them (``accounts.<id>.provider``).

The one place a provider is registered: ``trio_mailsync.config`` reads each
account's settings with the parser registered here, ``trio_mailsync.app``
opens the providers a config needs with the opener registered here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

import attrs

from trio_mailsync.core.config import Account, ProviderSettings, ServiceSettings, TableReader
from trio_mailsync.core.ports import Provider
from trio_mailsync.providers.gmail.provider import open_gmail_provider
from trio_mailsync.providers.gmail.settings import GMAIL_API_KEYS, parse_gmail_settings
from trio_mailsync.providers.imap.provider import open_imap_provider
from trio_mailsync.providers.imap.settings import IMAP_KEYS, parse_imap_settings

__all__ = ["PROVIDERS", "ProviderKind"]


@attrs.frozen(kw_only=True)
class ProviderKind:
    """How to read a provider's settings and how to open it."""

    name: str
    #: The keys of an account's table the provider reads (besides provider and folders).
    keys: frozenset[str]
    #: Reads an account's settings: (reader, key path of the account, its table).
    parse_settings: Callable[[TableReader, str, Mapping[str, Any]], ProviderSettings]
    #: Opens the provider for these accounts (all of this kind) with the service's timings.
    open: Callable[[Sequence[Account], ServiceSettings], AbstractAsyncContextManager[Provider]]


def _open_imap(
    accounts: Sequence[Account], settings: ServiceSettings
) -> AbstractAsyncContextManager[Provider]:
    return open_imap_provider(accounts, settings=settings)


def _open_gmail(
    accounts: Sequence[Account], settings: ServiceSettings
) -> AbstractAsyncContextManager[Provider]:
    return open_gmail_provider(accounts, settings=settings)


PROVIDERS: dict[str, ProviderKind] = {
    "imap": ProviderKind(
        name="imap", keys=IMAP_KEYS, parse_settings=parse_imap_settings, open=_open_imap
    ),
    "gmail_api": ProviderKind(
        name="gmail_api",
        keys=GMAIL_API_KEYS,
        parse_settings=parse_gmail_settings,
        open=_open_gmail,
    ),
}
