"""Locust's per-request statistics path, faster and finer: fused logging, 0.01 ms buckets, the request event's
shortcut. Internal to users.integration, which installs it only on the Locust versions the tests prove.

Fused logging. Locust logs every request twice (its name's entry and the total), each through three method
calls, two `time.time()` calls and two bucket roundings; this does the same work in one function per entry,
reads the clock once and buckets once per request. Every field it touches is the one Locust's own code touches
(tests/users/integration/test_stats_path.py logs the same requests through both and compares every field).

Latency resolution. Locust rounds every response time to whole milliseconds below 100 ms
(`locust.stats.bucket_response_time`, documented as replaceable) and its CSV writer casts percentiles to int;
WebSocket calls on a LAN take well under a millisecond, so both would turn real latencies into 0 or 1.

The request event. `events.request.fire(**kwargs)` copies the listener list, loops, and calls Locust's listener
(a closure in `Runner.__init__`) with keyword arguments. `request_fire` returns a function with the event's
keyword signature that, whenever that listener is the only one, makes exactly its two calls itself; the moment
anything else listens (a plugin, a test, your own `@events.request.add_listener`), every request goes through
`events.request.fire` again, so every listener sees every request. Its `inline_safe()` says whether Locust's
listener is alone, so the client may fire from the hub (users/engine/client.py): Locust's listener never blocks;
another might, so then it fires from a greenlet. While it is alone, a success is exactly one
`log_request(request_type, name, response_time, length)`, which `log_request` exposes for users/engine/reporter.py.
"""

from __future__ import annotations

import bisect
import logging
import time
import weakref
from collections.abc import Callable
from typing import Any

from locust import log as locust_log
from locust import stats as locust_stats
from locust.env import Environment

logger = logging.getLogger(__name__)

ORIGINAL_LOG = locust_stats.StatsEntry.log
ORIGINAL_LOG_REQUEST = locust_stats.RequestStats.log_request
ORIGINAL_BUCKET = locust_stats.bucket_response_time
ORIGINAL_PERCENTILE_FIELDS = locust_stats.StatsCSV._percentile_fields
LOCUST_STATS_LISTENER = "Runner.__init__.<locals>.on_request"
"""The qualified name of the listener every Locust runner adds to the request event (locust/runners.py)."""


# ------------------------------------------------------------ fused logging
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


# ------------------------------------------------------- latency resolution
def fine_bucket_response_time(response_time: float) -> float | int:
    """0.01 ms resolution below 10 ms, 0.1 ms below 100 ms, Locust's ~2 significant digits above.

    Rounds half up with integer arithmetic: `round(x, 2)` costs about 0.6 us against 0.15 us here, paid on
    every request. `k / 100` is the double nearest to k hundredths, the same key `round` gives.
    """
    if response_time < 10:
        return int(response_time * 100.0 + 0.5) / 100.0
    if response_time < 100:
        return int(response_time * 10.0 + 0.5) / 10.0
    return ORIGINAL_BUCKET(response_time)


def _percentile_fields(self: Any, stats_entry: Any, use_current: bool = False) -> list[Any]:
    if not stats_entry.num_requests:
        return self.percentiles_na
    if use_current and stats_entry.use_response_times_cache:
        values = [stats_entry.get_current_response_time_percentile(p) for p in self.percentiles_to_report]
    else:  # StatsEntry.get_response_time_percentile for each, with one sort of the buckets for them all
        counted = stats_entry.num_requests - stats_entry.num_none_requests
        values = response_time_percentiles(stats_entry.response_times, counted, self.percentiles_to_report)
    top = stats_entry.max_response_time  # exact; a percentile is its rounded bucket and may be above it
    return [_csv_number(min(v or 0, top)) for v in values]


def response_time_percentiles(response_times: dict[Any, int], num_requests: int, percents: list[float]) -> list[Any]:
    """Locust's `calculate_response_time_percentile` of each of `percents`, from one sort of the buckets (Locust
    sorts them once per percentile: with 0.01 ms buckets, thousands of keys, eleven times per row per second)."""
    remaining: list[int] = []  # negated: requests left after each bucket, slowest first (non-decreasing)
    keys = sorted(response_times, reverse=True)
    processed = 0
    for key in keys:
        processed += response_times[key]
        remaining.append(processed - num_requests)
    values: list[Any] = []
    for percent in percents:
        at = bisect.bisect_left(remaining, -int(num_requests * percent))
        values.append(keys[at] if at < len(keys) else 0)
    return values


def _csv_number(value: float) -> float | int:
    return round(value, 2) if value < 100 else int(value)


# ---------------------------------------------------------- the request event
def locust_stats_listener(environment: Environment) -> Callable[..., Any] | None:
    """The runner's own request listener, if the event has it; None otherwise (then nothing is bypassed)."""
    for handler in environment.events.request._handlers:
        if getattr(handler, "__qualname__", "") == LOCUST_STATS_LISTENER:
            return handler
    return None


_FIRES: weakref.WeakKeyDictionary[Environment, tuple[Any, Any, Any, Callable[..., None]]] = weakref.WeakKeyDictionary()
"""Each environment's shortcut with what it was made from: one per process, not three closures (950 B) per
connection."""


def request_fire(environment: Environment) -> Callable[..., None]:
    """`environment.events.request.fire`, or its equivalent shortcut while Locust's stats listener is alone;
    the same shortcut for every connection while the hook, the stats and the listener stay the same."""
    hook = environment.events.request
    listener = locust_stats_listener(environment)
    if listener is None:
        return hook.fire
    made = _FIRES.get(environment)
    if made is not None and made[0] is hook and made[1] is environment.stats and made[2] is listener:
        return made[3]
    fire_request = _shortcut(environment, listener)
    _FIRES[environment] = (hook, environment.stats, listener, fire_request)
    return fire_request


def _shortcut(environment: Environment, listener: Callable[..., Any]) -> Callable[..., None]:
    """`request_fire`'s shortcut: Locust's stats logged directly while `listener` is the request hook's only
    listener, `hook.fire` otherwise."""
    hook = environment.events.request
    handlers = hook._handlers  # Locust adds and removes listeners in place: this list stays current
    stats = environment.stats
    fire = hook.fire

    def fire_request(
        *,
        request_type: str,
        name: str,
        response_time: float | None,
        response_length: int,
        exception: BaseException | None = None,
        **extra: Any,
    ) -> None:
        if len(handlers) == 1 and handlers[0] is listener:
            try:
                stats.log_request(request_type, name, response_time, response_length)  # type: ignore[arg-type]
                if exception:
                    stats.log_error(request_type, name, exception)
            except Exception:  # as EventHook.fire: a listener's error is logged, never raised into the caller
                logger.exception("Uncaught exception in Locust's request statistics")
                locust_log.unhandled_greenlet_exception = True
            return
        fire(
            request_type=request_type,
            name=name,
            response_time=response_time,
            response_length=response_length,
            exception=exception,
            **extra,
        )

    def alone() -> bool:
        return len(handlers) == 1 and handlers[0] is listener

    fire_request.inline_safe = alone  # type: ignore[attr-defined]
    fire_request.log_request = stats.log_request  # type: ignore[attr-defined]
    return fire_request


# --------------------------------------------------------------- installing
def install_fused_logging() -> None:
    """Use the fused functions in every StatsEntry and RequestStats; idempotent."""
    locust_stats.StatsEntry.log = log  # type: ignore[method-assign]
    locust_stats.RequestStats.log_request = log_request  # type: ignore[method-assign]


def install_fine_buckets() -> None:
    """0.01 ms buckets (Locust's documented, replaceable `bucket_response_time`); idempotent."""
    locust_stats.bucket_response_time = fine_bucket_response_time


def install_csv_percentiles() -> None:
    """CSV percentiles with two decimals below 100 ms; idempotent."""
    locust_stats.StatsCSV._percentile_fields = _percentile_fields  # type: ignore[method-assign]


def restore() -> None:
    """Locust's own logging, buckets and CSV percentiles."""
    locust_stats.StatsEntry.log = ORIGINAL_LOG  # type: ignore[method-assign]
    locust_stats.RequestStats.log_request = ORIGINAL_LOG_REQUEST  # type: ignore[method-assign]
    locust_stats.bucket_response_time = ORIGINAL_BUCKET
    locust_stats.StatsCSV._percentile_fields = ORIGINAL_PERCENTILE_FIELDS  # type: ignore[method-assign]
