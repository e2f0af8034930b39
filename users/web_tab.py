"""A "WebSocket" tab in Locust's web UI: current stage, rate target, messages/s, connections, in flight, reconnects."""

from __future__ import annotations

import json
import time
from collections import deque
from typing import Any

from flask import Response, request
from locust.env import Environment

from users.base import counters_for
from users.load_control import LoadSource

TAB_KEY = "websocket"
RATE_WINDOW_S = 3.0


class WebSocketTab:
    """Rows for the tab, rates from counter differences over the last few seconds."""

    def __init__(self, environment: Environment, load_source: LoadSource | None) -> None:
        self._environment = environment
        self._load_source = load_source
        self._history: deque[tuple[float, int, int]] = deque()

    def rows(self, now: float) -> list[dict[str, str]]:
        """(metric, value) rows as the tab shows them."""
        counters = counters_for(self._environment)
        point = self._load_source.point() if self._load_source is not None else None
        settled = counters.calls.settled
        messages = counters.messages_sent + counters.messages_received
        self._history.append((now, settled, messages))
        while len(self._history) > 2 and self._history[1][0] < now - RATE_WINDOW_S:
            self._history.popleft()
        t0, settled0, messages0 = self._history[0]
        span = now - t0
        calls_per_s = (settled - settled0) / span if span > 0 else 0.0
        messages_per_s = (messages - messages0) / span if span > 0 else 0.0
        values = [
            ("Stage", point.stage if point is not None else "(no scenario)"),
            ("Rate target (calls/s)", f"{point.rate:,.0f}" if point is not None and point.rate else "closed loop"),
            ("Calls/s", f"{calls_per_s:,.0f}"),
            ("Messages/s (sent + received)", f"{messages_per_s:,.0f}"),
            ("Connections open", f"{counters.connections_open:,}"),
            ("Calls in flight", f"{counters.calls.in_flight:,}"),
            ("Reconnects (attempts)", f"{counters.reconnects:,} ({counters.reconnect_attempts:,})"),
            ("Calls lost / timed out", f"{counters.calls.lost:,} / {counters.calls.timeout:,}"),
            ("Calls sent late / skipped (rate mode)", f"{counters.calls_sent_late:,} / {counters.calls_skipped:,}"),
            ("Push gaps / duplicates / reordered",
             f"{counters.push_gaps:,} / {counters.push_duplicates:,} / {counters.push_reordered:,}"),
        ]  # fmt: skip
        return [{"metric": name, "value": value} for name, value in values]


def install_web_tab(environment: Environment, load_source: LoadSource | None) -> None:
    """Add the tab to the web UI of `environment`, if it has one."""
    web_ui = environment.web_ui
    if web_ui is None:
        return
    tab = WebSocketTab(environment, load_source)
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
