"""Pure capped exponential backoff with full jitter for reconnects."""

from __future__ import annotations

import random


def backoff_delay(attempt: int, base_s: float, cap_s: float, rng: random.Random) -> float:
    """Seconds to wait before reconnect attempt number `attempt` (1 = first retry): uniform in [0, min(cap, base*2^(attempt-1))]."""
    if attempt <= 0:
        return 0.0
    ceiling = min(cap_s, base_s * (2 ** min(attempt - 1, 30)))
    return rng.uniform(0.0, ceiling)
