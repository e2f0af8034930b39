"""The fused logging of users.integration.stats_path against Locust's own RequestStats: the same requests leave every field the same."""

from __future__ import annotations

import random
from typing import Any

import pytest
from locust import stats as locust_stats

from tests.support.stats_state import Clock, entry_state
from users.integration import stats_path


def state(stats: Any) -> dict[str, Any]:
    return {"total": entry_state(stats.total), **{f"{k}": entry_state(v) for k, v in stats.entries.items()}}


def requests(seed: int, n: int) -> list[tuple[float, str, float | None, int]]:
    """(seconds to advance, name, response time or None, length): every bucket range, None, repeats."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        kind = rng.random()
        if kind < 0.05:
            rt = None
        elif kind < 0.6:
            rt = rng.uniform(0, 10)
        elif kind < 0.8:
            rt = rng.uniform(10, 100)
        else:
            rt = rng.choice([rng.uniform(100, 100_000), 0.0, 9.995, 100.0, 12345.6])
        out.append(
            (rng.choice([0.0, 0.0, 0.3, 1.0]), rng.choice(["call_tool:echo", "connect"]), rt, rng.randrange(500))
        )
    return out


def run(clock: Clock, fused: bool, cache: bool, seed: int) -> dict[str, Any]:
    if fused:
        stats_path.install_fused_logging()
    else:
        locust_stats.StatsEntry.log = stats_path.ORIGINAL_LOG  # type: ignore[method-assign]
        locust_stats.RequestStats.log_request = stats_path.ORIGINAL_LOG_REQUEST  # type: ignore[method-assign]
    start = clock.now
    stats = locust_stats.RequestStats(use_response_times_cache=cache)
    for advance, name, rt, length in requests(seed, 3000):
        clock.now += advance
        stats.log_request("WS", name, rt, length)  # type: ignore[arg-type]
        stats.get("direct", "WS").log(rt, length)  # type: ignore[arg-type]  # StatsEntry.log on its own
    clock.now = start
    return state(stats)


@pytest.mark.parametrize("cache", [False, True])
@pytest.mark.parametrize("fine", [False, True])
def test_fused_logging_leaves_the_same_state_as_locusts(clock: Clock, cache: bool, fine: bool) -> None:
    bucket = locust_stats.bucket_response_time
    locust_stats.bucket_response_time = stats_path.fine_bucket_response_time if fine else stats_path.ORIGINAL_BUCKET
    try:
        for seed in range(3):
            assert run(clock, True, cache, seed) == run(clock, False, cache, seed)
    finally:
        locust_stats.bucket_response_time = bucket


def test_install_and_restore_swap_the_functions() -> None:
    stats_path.install_fused_logging()
    assert locust_stats.StatsEntry.log is stats_path.log
    stats_path.restore()
    assert locust_stats.StatsEntry.log is stats_path.ORIGINAL_LOG
