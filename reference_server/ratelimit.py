"""Token-bucket rate limiter for calls on one connection (pure: time is passed in)."""

from __future__ import annotations

_EPSILON = 1e-9


class TokenBucket:
    """Allows ``rate`` calls per second on average with bursts of up to ``capacity``.

    The bucket starts full; ``capacity`` defaults to one second's worth (at least 1).
    """

    __slots__ = ("rate", "capacity", "tokens", "last")

    def __init__(self, rate: float, now: float, capacity: float | None = None) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.capacity = max(1.0, rate) if capacity is None else capacity
        self.tokens = self.capacity
        self.last = now

    def take(self, now: float) -> bool:
        """Spend one token if available at time ``now`` (seconds, monotonic)."""
        elapsed = now - self.last
        if elapsed > 0:
            self.tokens = min(self.capacity, self.tokens + elapsed * self.rate)
            self.last = now
        if self.tokens >= 1.0 - _EPSILON:  # tolerate float rounding in elapsed * rate
            self.tokens = max(0.0, self.tokens - 1.0)
            return True
        return False
