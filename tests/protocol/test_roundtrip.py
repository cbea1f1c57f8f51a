"""Models written by an independent test-side encoder parse back to themselves."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trio_mailsync.protocol import Response

from .helpers import parse_all
from .strategies import Encoder, responses


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(responses(), min_size=1, max_size=4), st.randoms(use_true_random=False))
def test_models_round_trip(models: list[Response], rnd: random.Random) -> None:
    encoder = Encoder(lambda: rnd.random() < 0.3)
    data = b"".join(encoder.response(m) for m in models)
    assert parse_all(data) == models
    sizes = [rnd.randint(1, 64) for _ in range(len(data))]
    assert parse_all(data, chunks=sizes) == models
