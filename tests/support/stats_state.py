"""A settable clock and a field-by-field view of Locust's stats, for tests that compare two ways of logging."""

from __future__ import annotations

from typing import Any

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


def entry_state(entry: Any) -> dict[str, Any]:
    """Every field of a Locust StatsEntry that logging a request touches."""
    state = {name: getattr(entry, name) for name in FIELDS}
    state["response_times"] = dict(entry.response_times)
    state["num_reqs_per_sec"] = dict(entry.num_reqs_per_sec)
    cache = entry.response_times_cache
    state["cache"] = None if cache is None else {t: (dict(c.response_times), c.num_requests) for t, c in cache.items()}
    return state
