"""The one exponential backoff the pool, the service and the webhooks share."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from trio_mailsync.core.backoff import exponential_backoff


def test_doubles_per_failure_up_to_the_ceiling() -> None:
    delays = [exponential_backoff(n, initial=1.0, maximum=300.0) for n in range(1, 12)]
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 300.0, 300.0]


@given(
    failures=st.integers(min_value=1, max_value=10**9),
    initial=st.one_of(st.just(0.0), st.floats(min_value=1e-6, max_value=1e6)),
    maximum=st.floats(min_value=0.0, max_value=1e12),
)
def test_a_long_outage_reaches_the_ceiling_without_overflow(
    failures: int, initial: float, maximum: float
) -> None:
    delay = exponential_backoff(failures, initial=initial, maximum=maximum)
    assert 0.0 <= delay <= maximum
    if failures > 1100 and initial > 0.0:
        assert delay == maximum
