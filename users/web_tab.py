"""A "WebSocket" tab in Locust's web UI: stage, rate and message targets, messages/s, connections, in flight, reconnects.

The numbers come from a `TabSource`: the process's own counters in a
single-process run, the sum over workers on a master (users.reporting), so the
master's tab shows the whole distributed run.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Mapping
from typing import Any, Protocol

from flask import Response, request
from locust.env import Environment

from users.base import counters_for
from users.load_control import LoadSource

TAB_KEY = "websocket"
RATE_WINDOW_S = 5.0
"""Rates are counter differences over about this long (workers report once a second)."""

TARGET_MSGS_PER_S = 50_000.0
"""The messages/s target of the analysis report (analysis.compute.Thresholds; a test keeps them equal)."""
STRETCH_MSGS_PER_S = 200_000.0
"""The stretch messages/s target of the analysis report."""


class TabSource(Protocol):
    """Where the tab's counters come from."""

    def snapshot(self) -> Mapping[str, float]:
        """Counters with WsCounters.snapshot() keys."""
        ...

    def workers_line(self) -> str | None:
        """A line about the reporting workers (master), or None."""
        ...


class _OwnCounters:
    """The process's own counters (single-process runs)."""

    def __init__(self, environment: Environment) -> None:
        self._environment = environment

    def snapshot(self) -> Mapping[str, float]:
        return counters_for(self._environment).snapshot()

    def workers_line(self) -> str | None:
        return None


def _share(value: float, target: float) -> str:
    return f"{100.0 * value / target:.0f}%" if target > 0 else "n/a"


class WebSocketTab:
    """Rows for the tab, rates from counter differences over the last few seconds."""

    def __init__(self, source: TabSource, load_source: LoadSource | None) -> None:
        self._source = source
        self._load_source = load_source
        self._history: deque[tuple[float, float, float]] = deque()

    def rows(self, now: float) -> list[dict[str, str]]:
        """(metric, value) rows as the tab shows them."""
        c = self._source.snapshot()
        point = self._load_source.point() if self._load_source is not None else None
        settled = c["calls_ok"] + c["calls_failed"] + c["calls_timeout"] + c["calls_lost"]
        messages = c["messages_sent"] + c["messages_received"]
        if self._history and (settled < self._history[-1][1] or messages < self._history[-1][2]):
            self._history.clear()  # a new run started from zero
        self._history.append((now, settled, messages))
        while len(self._history) > 2 and self._history[1][0] < now - RATE_WINDOW_S:
            self._history.popleft()
        t0, settled0, messages0 = self._history[0]
        span = now - t0
        calls_per_s = (settled - settled0) / span if span > 0 else 0.0
        messages_per_s = (messages - messages0) / span if span > 0 else 0.0
        rate = point.rate if point is not None else None
        values = [
            ("Stage", point.stage if point is not None else "(no scenario)"),
            ("Rate target (calls/s)", f"{rate:,.0f} (about {2 * rate:,.0f} msg/s)" if rate else "closed loop"),
            ("Calls/s", f"{calls_per_s:,.0f}"),
            ("Messages/s (sent + received)", f"{messages_per_s:,.0f}"),
            ("Messages/s target / stretch", f"{TARGET_MSGS_PER_S:,.0f} / {STRETCH_MSGS_PER_S:,.0f}"),
            ("Of target / stretch", f"{_share(messages_per_s, TARGET_MSGS_PER_S)} / "
                                    f"{_share(messages_per_s, STRETCH_MSGS_PER_S)}"),
            ("Connections open", f"{c['connections_open']:,}"),
            ("Calls in flight", f"{c['calls_in_flight']:,}"),
            ("Reconnects (attempts)", f"{c['reconnects']:,} ({c['reconnect_attempts']:,})"),
            ("Calls lost / timed out", f"{c['calls_lost']:,} / {c['calls_timeout']:,}"),
            ("Calls sent late / skipped (rate mode)", f"{c['calls_sent_late']:,} / {c['calls_skipped']:,}"),
            ("Push gaps / duplicates / reordered",
             f"{c['push_gaps']:,} / {c['push_duplicates']:,} / {c['push_reordered']:,}"),
        ]  # fmt: skip
        workers = self._source.workers_line()
        if workers is not None:
            values.append(("Workers", workers))
        return [{"metric": name, "value": value} for name, value in values]


def install_web_tab(environment: Environment, load_source: LoadSource | None, source: TabSource | None = None) -> None:
    """Add the tab to the web UI of `environment`, if it has one; `source` defaults to the process's counters."""
    web_ui = environment.web_ui
    if web_ui is None:
        return
    tab = WebSocketTab(source if source is not None else _OwnCounters(environment), load_source)
    web_ui.template_args["extended_tabs"] = [{"title": "WebSocket", "key": TAB_KEY}]
    web_ui.template_args["extended_tables"] = [
        {"key": TAB_KEY, "structure": [{"key": "metric", "title": "Metric"}, {"key": "value", "title": "Value"}]}
    ]

    @web_ui.app.after_request
    def add_websocket_stats(response: Response) -> Response:
        if request.path != "/stats/requests" or response.status_code != 200:
            return response
        data: dict[str, Any] = json.loads(response.get_data())
        data["extended_stats"] = [{"key": TAB_KEY, "data": tab.rows(time.monotonic())}]
        response.set_data(json.dumps(data))
        return response
