"""Time to recover after a storm, from samples passed in."""

from __future__ import annotations

import pytest

from users.load.recovery import RecoveryTracker


def feed(tracker: RecoveryTracker, rates: list[tuple[float, float, float]], start_count: int = 0) -> int:
    """Sample every 0.1 s through (start, end, rate) segments; returns the final count."""
    count = start_count
    for start, end, rate in rates:
        t = start
        while t < end - 1e-9:
            tracker.sample(round(t, 3), int(count))
            count += rate * 0.1
            t += 0.1
    return int(count)


def test_recovery_time_is_when_the_rate_is_back_within_ten_percent() -> None:
    tracker = RecoveryTracker(baseline_s=3.0, window_s=0.5)  # explicit: the test reasons with 0.5 s
    feed(tracker, [(0.0, 5.0, 1000.0)])
    storm = tracker.storm(5.0)
    assert storm.baseline_per_s == pytest.approx(1000.0, rel=0.02)
    count = feed(tracker, [(5.0, 6.0, 0.0)], start_count=5000)  # nothing completes for a second
    feed(tracker, [(6.0, 9.0, 1000.0)], start_count=count)
    assert storm.recovered_after_s is not None
    assert 1.4 <= storm.recovered_after_s <= 1.6  # 0.5 s of full rate after the 1 s outage


def test_never_recovered_stays_none_and_idle_baseline_is_immediate() -> None:
    tracker = RecoveryTracker()
    feed(tracker, [(0.0, 4.0, 500.0)])
    storm = tracker.storm(4.0)
    feed(tracker, [(4.0, 8.0, 100.0)], start_count=2000)
    assert storm.recovered_after_s is None
    idle = RecoveryTracker().storm(1.0)
    assert idle.recovered_after_s == 0.0
