"""The latency buckets of users.integration.stats_path: 0.01 ms buckets below 10 ms, 0.1 ms below 100 ms, Locust's own above."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st
from locust import stats as locust_stats

from users.integration.stats_path import (
    ORIGINAL_BUCKET,
    _csv_number,
    fine_bucket_response_time,
    response_time_percentiles,
)


def near_a_tie(x: float, step: float) -> bool:
    frac = (x / step) % 1.0
    return abs(frac - 0.5) < 1e-6


@pytest.mark.parametrize(("low", "high", "digits"), [(0.0, 10.0, 2), (10.0, 100.0, 1)])
def test_buckets_are_the_nearest_step_as_round_gives_them(low: float, high: float, digits: int) -> None:
    rng = random.Random(7)
    step = 10.0**-digits
    for x in [low, *(rng.uniform(low, high) for _ in range(20_000))]:
        bucket = fine_bucket_response_time(x)
        assert abs(bucket - x) <= step / 2 + 1e-9
        assert bucket == round(bucket, digits)  # exactly a key of the grid
        if not near_a_tie(x, step):
            assert bucket == round(x, digits), x


def test_ties_round_up_and_the_grid_meets_locusts_buckets_at_100_ms() -> None:
    assert fine_bucket_response_time(0.125) == 0.13 and fine_bucket_response_time(0.0) == 0.0
    assert fine_bucket_response_time(9.996) == 10.0 and fine_bucket_response_time(99.96) == 100.0
    for x in (100.0, 147.0, 3432.0, 58760.0):
        assert fine_bucket_response_time(x) == ORIGINAL_BUCKET(x) == locust_stats.bucket_response_time(x)


def test_csv_percentiles_keep_two_decimals_below_100_ms() -> None:
    assert _csv_number(0.5734) == 0.57 and _csv_number(99.994) == 99.99 and _csv_number(150.7) == 150


PERCENTS = [0.5, 0.66, 0.75, 0.8, 0.9, 0.95, 0.98, 0.99, 0.999, 0.9999, 1.0]


@given(
    st.dictionaries(st.sampled_from([i / 100 for i in range(2000)] + [150.0, 3000.0]), st.integers(1, 50)),
    st.integers(0, 30),
    st.lists(st.floats(0.0, 1.0), max_size=5),
)
def test_all_percentiles_from_one_sort_are_locusts_one_by_one(
    times: dict[float, int], none: int, extra: list[float]
) -> None:
    """Against Locust's own function, also with fewer requests counted than bucketed and none at all."""
    for total in {sum(times.values()), max(0, sum(times.values()) - none)}:
        percents = PERCENTS + extra
        expected = [locust_stats.calculate_response_time_percentile(times, total, p) for p in percents]
        assert response_time_percentiles(times, total, percents) == expected
