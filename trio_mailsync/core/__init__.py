"""The provider-neutral core: the model, events, errors, settings and the ports.

Nothing in here knows IMAP or any other provider, and nothing in here imports
``providers``, ``stores``, ``sinks`` or ``service`` (``tests/test_layering.py``
checks it): they all build on this package.
"""

from trio_mailsync.core.config import (
    DEFAULT_FOLDERS,
    ROLES,
    Account,
    BroadcastSettings,
    Config,
    ProviderSettings,
    ServiceSettings,
    TableReader,
)
from trio_mailsync.core.errors import (
    AuthenticationFailed,
    ConfigError,
    ConnectionLost,
    CredentialsError,
    InsecureConnection,
    MailSyncError,
    ProviderError,
    ServerBusy,
)
from trio_mailsync.core.events import (
    SCHEMA_VERSION,
    AccountState,
    AccountStateChanged,
    Hello,
    NewMessages,
    ServiceEvent,
    Subscription,
    SyncCompleted,
    describe,
    to_dict,
    to_json,
)
from trio_mailsync.core.model import (
    AppliedUpdate,
    Change,
    Deletion,
    FlagChange,
    FolderState,
    FolderUpdate,
    MessageRecord,
    SyncRequest,
    SyncResult,
)
from trio_mailsync.core.ports import (
    AccountSession,
    EventSink,
    EventSource,
    Provider,
    StateStore,
    SyncTarget,
    WatchTarget,
)
from trio_mailsync.secret import Secret

__all__ = [
    "DEFAULT_FOLDERS",
    "ROLES",
    "SCHEMA_VERSION",
    "Account",
    "AccountSession",
    "AccountState",
    "AccountStateChanged",
    "AppliedUpdate",
    "AuthenticationFailed",
    "BroadcastSettings",
    "Change",
    "Config",
    "ConfigError",
    "ConnectionLost",
    "CredentialsError",
    "Deletion",
    "EventSink",
    "EventSource",
    "FlagChange",
    "FolderState",
    "FolderUpdate",
    "Hello",
    "InsecureConnection",
    "MailSyncError",
    "MessageRecord",
    "NewMessages",
    "Provider",
    "ProviderError",
    "ProviderSettings",
    "Secret",
    "ServerBusy",
    "ServiceEvent",
    "ServiceSettings",
    "StateStore",
    "Subscription",
    "SyncCompleted",
    "SyncRequest",
    "SyncResult",
    "SyncTarget",
    "TableReader",
    "WatchTarget",
    "describe",
    "to_dict",
    "to_json",
]
