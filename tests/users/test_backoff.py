"""Reconnect delays grow exponentially, stay under the cap, and are jittered."""

from __future__ import annotations

import random

from users.backoff import backoff_delay


def test_no_delay_before_the_first_attempt() -> None:
    assert backoff_delay(0, 0.1, 5.0, random.Random(0)) == 0.0


def test_ceiling_doubles_then_caps() -> None:
    rng = random.Random(0)
    for attempt, ceiling in [(1, 0.1), (2, 0.2), (3, 0.4), (7, 5.0), (100, 5.0)]:
        delays = [backoff_delay(attempt, 0.1, 5.0, rng) for _ in range(2000)]
        assert 0.0 <= min(delays) and max(delays) <= ceiling
        assert max(delays) > 0.9 * ceiling  # jitter spans the whole range
        assert len(set(delays)) > 1900
