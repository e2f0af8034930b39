"""users.fast_stats against Locust's own RequestStats: the same requests leave every field the same."""

from __future__ import annotations

import random
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from locust import stats as locust_stats

from users import fast_stats
from users.latency_resolution import install_latency_resolution, uninstall_latency_resolution

FIELDS = (
    "num_requests", "num_none_requests", "num_failures", "total_response_time", "min_response_time",
    "max_response_time", "last_request_timestamp", "total_content_length",
)  # fmt: skip


class Clock:
    """time.time() for both implementations; the test moves it."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    clock = Clock(1_800_000_000.25)
    fake_time = SimpleNamespace(time=clock.time)
    monkeypatch.setattr(locust_stats, "time", fake_time)
    monkeypatch.setattr(fast_stats, "time", fake_time)
    yield clock
    fast_stats.uninstall_fast_stats()


def entry_state(entry: Any) -> dict[str, Any]:
    state = {name: getattr(entry, name) for name in FIELDS}
    state["response_times"] = dict(entry.response_times)
    state["num_reqs_per_sec"] = dict(entry.num_reqs_per_sec)
    cache = entry.response_times_cache
    state["cache"] = None if cache is None else {t: (dict(c.response_times), c.num_requests) for t, c in cache.items()}
    return state


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
        fast_stats.install_fast_stats()
    else:
        fast_stats.uninstall_fast_stats()
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
    install_latency_resolution() if fine else uninstall_latency_resolution()
    try:
        for seed in range(3):
            assert run(clock, True, cache, seed) == run(clock, False, cache, seed)
    finally:
        locust_stats.bucket_response_time = bucket


def test_install_and_uninstall_swap_the_functions() -> None:
    fast_stats.install_fast_stats()
    assert locust_stats.StatsEntry.log is fast_stats.log
    fast_stats.uninstall_fast_stats()
    assert locust_stats.StatsEntry.log is fast_stats._ORIGINAL_LOG
