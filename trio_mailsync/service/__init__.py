"""The service: supervised accounts, coalesced syncs, sweeps, and the events they publish.

It builds on the core's ports (providers, a store) and the sync engine; sinks
(``trio_mailsync.sinks``) consume its events through the ``EventSource`` port.
``trio_mailsync.app`` composes it from a config.
"""

from trio_mailsync.service.service import ServiceStatistics, SyncService

__all__ = ["ServiceStatistics", "SyncService"]
