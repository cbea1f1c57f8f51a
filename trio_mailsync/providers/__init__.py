"""Providers: the kinds of mail service an account can be on, behind the core's ports.

Each provider package implements ``core.ports.Provider``: it reads its accounts'
settings from the config, and gives each account a session that syncs it into
a ``SyncTarget`` and watches it for changes. ``imap`` is IMAP4rev1 with its
extensions (IDLE, CONDSTORE, QRESYNC...), on the sans-IO ``protocol`` layer;
``auth`` holds the credentials every provider shares (passwords, OAuth 2.0).

A new provider is a package here with a settings class (a ``ProviderSettings``:
its ``provider`` name), a settings parser, and an ``open_*_provider`` context
manager; ``trio_mailsync.config`` and ``trio_mailsync.app`` register it.
"""
