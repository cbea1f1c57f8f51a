"""The one exponential backoff: a delay that doubles per failure in a row, up to a ceiling.

The pool waits it before logging in again, the service before restarting a crashed
account, a webhook before posting a batch again. Each caller adds its own jitter, or none.
"""

from __future__ import annotations

__all__ = ["exponential_backoff"]

#: 2.0 ** 1024 raises OverflowError; any exponent up to this one is a finite float.
_MAX_DOUBLINGS = 1023


def exponential_backoff(failures: int, *, initial: float, maximum: float) -> float:
    """``initial`` doubled per failure after the first, never above ``maximum``.

    Only the exponent is held back (below float overflow), never the result, so a long
    outage reaches ``maximum`` and stays there however many failures it counts.
    """
    return min(maximum, initial * 2.0 ** min(failures - 1, _MAX_DOUBLINGS))
