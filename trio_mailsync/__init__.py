"""trio-mailsync: keep many mail accounts in step and hear about new mail at once.

Layers, bottom to top (each imports only what ``tests/test_layering.py`` allows):

- :mod:`trio_mailsync.protocol`: the sans-IO IMAP client (and :mod:`trio_mailsync.secret`);
- :mod:`trio_mailsync.core`: the provider-neutral model, events, errors and ports;
- :mod:`trio_mailsync.providers`: IMAP (and the credentials providers share);
- :mod:`trio_mailsync.stores`, :mod:`trio_mailsync.sync`: the state store, the sync engine;
- :mod:`trio_mailsync.service`: supervised accounts, coalesced syncs, sweeps, events;
- :mod:`trio_mailsync.sinks`: the WebSocket broadcaster and its client;
- :mod:`trio_mailsync.app`, :mod:`trio_mailsync.config`: composition from a config file.

This module imports nothing, so that importing the protocol layer loads no Trio.
"""

__version__ = "0.1.0.dev0"
