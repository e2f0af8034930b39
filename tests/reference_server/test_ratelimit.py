"""TokenBucket: bursts up to capacity, then the configured rate (time passed in)."""

import pytest

from reference_server.ratelimit import TokenBucket


def test_burst_of_one_second_then_refill_at_rate() -> None:
    bucket = TokenBucket(10, now=100.0)
    assert all(bucket.take(100.0) for _ in range(10))
    assert not bucket.take(100.0)
    assert bucket.take(100.1)  # one token refilled after 0.1 s
    assert not bucket.take(100.1)


def test_refill_never_exceeds_capacity() -> None:
    bucket = TokenBucket(2, now=0.0)
    assert bucket.take(0.0) and bucket.take(0.0)
    assert sum(bucket.take(1000.0) for _ in range(5)) == 2


def test_slow_rate_still_allows_one_call() -> None:
    bucket = TokenBucket(0.5, now=0.0)
    assert bucket.take(0.0)
    assert not bucket.take(1.0)
    assert bucket.take(2.0)


def test_rate_must_be_positive() -> None:
    with pytest.raises(ValueError):
        TokenBucket(0, now=0.0)
