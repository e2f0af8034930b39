"""A faster Locust request-stats path: RequestStats.log_request and StatsEntry.log fused, same resulting state.

Locust logs every request twice (its name's entry and the total), each
through three method calls, two `time.time()` calls and two bucket
roundings. At 40K+ calls/s per process that was a quarter of the worker's
CPU (`python -m bench.cpu_profile`). This does the same work in one function
per entry, reads the clock once and buckets once per request. Every field it
touches is the one Locust's own code touches (tests/users/test_fast_stats.py
logs the same requests through both and compares every field), and the
bucketing is still whatever `locust.stats.bucket_response_time` is.
"""

from __future__ import annotations

import time
from typing import Any

from locust import stats as locust_stats

_ORIGINAL_LOG = locust_stats.StatsEntry.log
_ORIGINAL_LOG_REQUEST = locust_stats.RequestStats.log_request


def _log_entry(entry: Any, now: float, response_time: float | None, bucket: float | None, length: int) -> None:
    """StatsEntry.log's state changes, with the clock and the bucket given."""
    second = int(now)
    last = entry.last_request_timestamp
    if entry.use_response_times_cache and last and second > int(last):
        entry._cache_response_times(second - 1)
    entry.num_requests += 1
    entry.num_reqs_per_sec[second] += 1
    entry.last_request_timestamp = now
    if response_time is None:
        entry.num_none_requests += 1
    else:
        entry.total_response_time += response_time
        low = entry.min_response_time
        if low is None or response_time < low:
            entry.min_response_time = response_time
        if response_time > entry.max_response_time:
            entry.max_response_time = response_time
        entry.response_times[bucket] += 1
    entry.total_content_length += length


def log(self: Any, response_time: float | None, content_length: int) -> None:
    """StatsEntry.log, fused."""
    bucket = None if response_time is None else locust_stats.bucket_response_time(response_time)
    _log_entry(self, time.time(), response_time, bucket, content_length)


def log_request(self: Any, method: str, name: str, response_time: float | None, content_length: int) -> None:
    """RequestStats.log_request, fused: one clock reading and one bucket for the total and the entry."""
    now = time.time()
    bucket = None if response_time is None else locust_stats.bucket_response_time(response_time)
    _log_entry(self.total, now, response_time, bucket, content_length)
    _log_entry(self.entries[(name, method)], now, response_time, bucket, content_length)


def install_fast_stats() -> None:
    """Use the fused functions in every StatsEntry and RequestStats; idempotent."""
    locust_stats.StatsEntry.log = log  # type: ignore[method-assign]
    locust_stats.RequestStats.log_request = log_request  # type: ignore[method-assign]


def uninstall_fast_stats() -> None:
    """Restore Locust's own functions (for tests and A/B benchmarks)."""
    locust_stats.StatsEntry.log = _ORIGINAL_LOG  # type: ignore[method-assign]
    locust_stats.RequestStats.log_request = _ORIGINAL_LOG_REQUEST  # type: ignore[method-assign]
