"""Pure reconnect backoff: capped exponential delays with jitter, and when a reconnect must back off at all."""

from __future__ import annotations

import random

STABLE_AFTER_S = 3.0
"""A connection that lived at least this long and closed cleanly lets the next reconnect go at once."""


def backoff_delay(attempt: int, base_s: float, cap_s: float, rng: random.Random) -> float:
    """Seconds to wait before reconnect attempt number `attempt` (1 = first retry): uniform in
    [0, min(cap, base*2^(attempt-1))] (full jitter)."""
    if attempt <= 0:
        return 0.0
    ceiling = min(cap_s, base_s * (2 ** min(attempt - 1, 30)))
    return rng.uniform(0.0, ceiling)


def reconnect_delay(attempt: int, base_s: float, cap_s: float, rng: random.Random) -> float:
    """As `backoff_delay`, but never under half the ceiling (equal jitter): however the draws fall, a user
    makes at most about 1/base_s attempts in its first second and fewer after, down to one per cap_s/2."""
    if attempt <= 0:
        return 0.0
    ceiling = min(cap_s, base_s * (2 ** min(attempt - 1, 30)))
    return rng.uniform(ceiling / 2, ceiling)


def attempts_after_session(previous: int, lived_s: float, clean: bool) -> int:
    """The failed-attempt count a reconnect starts from once a connection (past hello) has ended.

    A connection that lived `STABLE_AFTER_S` and closed with 1000 starts over at 0 (no delay); one that lived
    that long but ended abnormally (an error close, a reset) starts at 1; a shorter one adds to `previous`, so a
    server that accepts hello and then drops every session meets growing delays, not a reconnect flood.
    """
    if lived_s >= STABLE_AFTER_S:
        return 0 if clean else 1
    return previous + 1


RUN_END_GRACE_S = 1.0
"""A wait that reaches the run's end lasts this much past it: the run's stop ends it, no attempt races the stop."""


def retry_after_delay(retry_after_s: float, cap_s: float, remaining_s: float | None) -> float:
    """The wait before the next attempt when the server asked for `retry_after_s` (a 429 or 503 answer's
    Retry-After): that, capped at `cap_s` and at the run's `remaining_s` (None: unknown) plus RUN_END_GRACE_S."""
    delay = min(max(retry_after_s, 0.0), cap_s)
    return delay if remaining_s is None else max(0.0, min(delay, remaining_s + RUN_END_GRACE_S))
