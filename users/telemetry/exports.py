"""The run's metrics exports: Prometheus /metrics and OpenTelemetry (with Locust's --otel), one shared reading."""

from __future__ import annotations

from typing import Any

from users.telemetry.export_readings import RunReadings
from users.telemetry.otel_endpoint import register_otel
from users.telemetry.prometheus_endpoint import register_prometheus


def register_exports(events: Any, reporting: Any) -> RunReadings:
    """Attach both exporters; they read the same summed counters as PREFIX_ws.csv."""
    readings = RunReadings(reporting)
    events.test_start.add_listener(readings.on_test_start)
    events.test_stop.add_listener(readings.on_test_stop)
    register_prometheus(events, readings)
    register_otel(events, readings)
    return readings
