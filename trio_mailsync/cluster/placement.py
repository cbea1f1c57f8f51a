"""Which worker runs which account: rendezvous hashing over the live workers, with a cap.

Every worker computes the same answer from the same inputs (the live workers, the
accounts, the cap), so no one hands accounts out. Rendezvous (highest random weight)
hashing ranks the workers for each account by a hash of the pair; the account goes to
the first in its ranking that still has room. When a worker joins, only the accounts
that rank it first move to it (about 1/n of them); when one leaves, only its own accounts
move, each to its next choice. Thaler and Ravishankar, "Using name-based mappings to
increase hit rates" (IEEE/ACM ToN, 1998).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

__all__ = ["place", "rank"]


def _weight(account: str, worker: str) -> int:
    digest = hashlib.blake2b(f"{account}\x00{worker}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def rank(account: str, workers: Iterable[str]) -> list[str]:
    """The workers in the account's order of preference (ties by name, for determinism)."""
    return sorted(workers, key=lambda worker: (-_weight(account, worker), worker))


def place(accounts: Iterable[str], workers: Sequence[str], cap: int) -> dict[str, str]:
    """account -> the worker that should run it. No worker gets more than ``cap``.

    Accounts are placed in a fixed order (by their own hash), so that when the cap
    binds, the same accounts overflow to their next choice on every worker. Accounts
    beyond every worker's room are left out (no worker runs them).
    """
    if not workers:
        return {}
    load = dict.fromkeys(workers, 0)
    placed = {}
    ordered = sorted(set(accounts), key=lambda a: (_weight(a, ""), a))
    for account in ordered:
        for worker in rank(account, workers):
            if load[worker] < cap:
                placed[account] = worker
                load[worker] += 1
                break
    return placed
