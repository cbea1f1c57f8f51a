"""TLS contexts: one per process (per CA file), since a context costs far more than a socket."""

from __future__ import annotations

import functools
import ssl
from pathlib import Path

__all__ = ["client_ssl_context"]


@functools.cache
def client_ssl_context(ca_file: Path | None = None) -> ssl.SSLContext:
    """The shared client context: certificates and host names verified, TLS 1.2 at least.

    ``ca_file`` trusts that CA instead of the system's (for self-signed servers);
    each distinct file gets one context, shared too.
    """
    context = ssl.create_default_context(cafile=None if ca_file is None else str(ca_file))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context
