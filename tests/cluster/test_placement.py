"""Rendezvous placement: the same answer everywhere, the cap kept, and only what must move moves."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from trio_mailsync.cluster.placement import place, rank

ACCOUNTS = [f"account-{n}" for n in range(600)]


def test_a_fourth_worker_takes_about_a_quarter_and_nothing_else_moves() -> None:
    three = place(ACCOUNTS, ["w1", "w2", "w3"], cap=10_000)
    four = place(ACCOUNTS, ["w1", "w2", "w3", "w4"], cap=10_000)
    moved = {a for a in ACCOUNTS if three[a] != four[a]}
    assert all(four[a] == "w4" for a in moved)  # only to the newcomer
    assert 0.18 * len(ACCOUNTS) < len(moved) < 0.32 * len(ACCOUNTS)


def test_a_worker_that_leaves_hands_on_its_own_accounts_only() -> None:
    four = place(ACCOUNTS, ["w1", "w2", "w3", "w4"], cap=10_000)
    three = place(ACCOUNTS, ["w1", "w2", "w4"], cap=10_000)
    assert {a for a in ACCOUNTS if three[a] != four[a]} == {a for a in ACCOUNTS if four[a] == "w3"}


def test_the_cap_binds_and_overflow_goes_to_the_next_choice() -> None:
    placed = place(ACCOUNTS[:10], ["w1", "w2"], cap=6)
    loads = sorted(list(placed.values()).count(w) for w in ("w1", "w2"))
    assert loads == [4, 6]
    # The overflow is each account's second choice: w1 for those w2 had no room for.
    for account, worker in placed.items():
        if worker != rank(account, ["w1", "w2"])[0]:
            assert list(placed.values()).count(rank(account, ["w1", "w2"])[0]) == 6
    assert len(place(ACCOUNTS[:10], ["w1"], cap=6)) == 6  # the rest run nowhere
    assert place(ACCOUNTS, [], cap=10) == {}


@given(
    accounts=st.sets(st.text(min_size=1, max_size=8), max_size=60),
    workers=st.lists(st.text(min_size=1, max_size=4), min_size=1, max_size=6, unique=True),
    cap=st.integers(min_value=1, max_value=80),
)
def test_placement_is_the_same_whatever_the_order_and_keeps_the_cap(
    accounts: set[str], workers: list[str], cap: int
) -> None:
    placed = place(sorted(accounts), workers, cap)
    assert placed == place(sorted(accounts, reverse=True), list(reversed(workers)), cap)
    assert all(list(placed.values()).count(w) <= cap for w in workers)
    assert len(placed) == min(len(accounts), cap * len(workers))
