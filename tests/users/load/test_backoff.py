"""Reconnect delays grow exponentially, stay under the cap, and are jittered."""

from __future__ import annotations

import random

from users.load.backoff import STABLE_AFTER_S, attempts_after_session, backoff_delay, reconnect_delay


def test_no_delay_before_the_first_attempt() -> None:
    assert backoff_delay(0, 0.1, 5.0, random.Random(0)) == 0.0


def test_ceiling_doubles_then_caps() -> None:
    rng = random.Random(0)
    for attempt, ceiling in [(1, 0.1), (2, 0.2), (3, 0.4), (7, 5.0), (100, 5.0)]:
        delays = [backoff_delay(attempt, 0.1, 5.0, rng) for _ in range(2000)]
        assert 0.0 <= min(delays) and max(delays) <= ceiling
        assert max(delays) > 0.9 * ceiling  # jitter spans the whole range
        assert len(set(delays)) > 1900


def test_reconnect_delays_never_fall_under_half_the_ceiling() -> None:
    rng = random.Random(0)
    assert reconnect_delay(0, 0.1, 5.0, rng) == 0.0
    for attempt, ceiling in [(1, 0.1), (2, 0.2), (4, 0.8), (7, 5.0), (100, 5.0)]:
        delays = [reconnect_delay(attempt, 0.1, 5.0, rng) for _ in range(2000)]
        assert ceiling / 2 <= min(delays) and max(delays) <= ceiling


def test_a_flapping_server_gets_a_few_attempts_per_user_per_second_at_most() -> None:
    rng = random.Random(1)
    attempts, elapsed, count = 0, 0.0, 0
    while elapsed < 10.0:  # every session ends 50 ms after hello: the worst a server can do
        attempts = attempts_after_session(attempts, lived_s=0.05, clean=False)
        elapsed += 0.05 + reconnect_delay(attempts, 0.1, 5.0, rng)
        count += 1
    assert count <= 12  # no backoff: 200 attempts in these 10 s


def test_only_a_long_clean_session_lets_the_next_reconnect_go_at_once() -> None:
    assert attempts_after_session(4, lived_s=STABLE_AFTER_S, clean=True) == 0
    assert attempts_after_session(4, lived_s=STABLE_AFTER_S, clean=False) == 1
    assert attempts_after_session(4, lived_s=STABLE_AFTER_S - 0.01, clean=True) == 5
