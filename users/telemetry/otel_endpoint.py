"""With Locust's --otel: the wsload instruments on Locust's meter provider, and call durations (MCP conventions)."""

from __future__ import annotations

import logging
from typing import Any

from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from users.load.config import current_config
from users.telemetry.export_readings import RunReadings
from users.telemetry.otel_export import instruments
from users.telemetry.prometheus_export import MAX_TOOL_LABELS, OTHER_TOOL, TOOL_PREFIX, call_outcome, tool_label

logger = logging.getLogger(__name__)

CALL_DURATION = "wsload.call.duration"
MCP_DURATION = "mcp.client.operation.duration"
"""OpenTelemetry's MCP semantic conventions: the client's operation duration, in seconds."""


def otel_meter() -> Any | None:
    """Locust's meter (its --otel set the global meter provider), or None without the SDK."""
    try:
        from opentelemetry import metrics
    except ImportError:
        return None
    return metrics.get_meter("wsload")


class CallDurations:
    """A request listener recording each settled call's duration (workers and single processes: where calls are)."""

    def __init__(self, meter: Any, mcp: bool) -> None:
        self.histogram = meter.create_histogram(CALL_DURATION, unit="s", description="Call duration, by tool")
        self.mcp = meter.create_histogram(MCP_DURATION, unit="s", description="MCP request duration") if mcp else None
        self.tools: dict[str, str] = {}

    def tool(self, name: str) -> str:
        label = self.tools.get(name)
        if label is None:
            label = tool_label(name[len(TOOL_PREFIX) :]) if len(self.tools) < MAX_TOOL_LABELS else OTHER_TOOL
            self.tools[name] = label
        return label

    def on_request(self, name: str, response_time: float | None, exception: Any = None, **_: Any) -> None:
        if response_time is None:
            return
        seconds = response_time / 1000.0
        if name.startswith(TOOL_PREFIX):
            tool = self.tool(name)
            error = getattr(exception, "code", None) or (exception.__class__.__name__ if exception else None)
            outcome = call_outcome(str(error)) if exception is not None else "ok"
            self.histogram.record(seconds, {"tool": tool, "outcome": outcome})
            if self.mcp is not None:
                attributes = {"mcp.method.name": "tools/call", "gen_ai.tool.name": tool,
                              "network.protocol.name": "websocket"}  # fmt: skip
                if error:
                    attributes["error.type"] = str(error)[:64]
                self.mcp.record(seconds, attributes)
        elif name == "hello" and self.mcp is not None:
            attributes = {"mcp.method.name": "initialize", "network.protocol.name": "websocket"}
            if exception is not None:
                attributes["error.type"] = str(getattr(exception, "code", exception.__class__.__name__))[:64]
            self.mcp.record(seconds, attributes)


class OtelExport:
    """Registers the instruments at init when Locust's --otel is on."""

    def __init__(self, readings: RunReadings) -> None:
        self.readings = readings
        self.enabled = False

    def on_init(self, environment: Environment, **_: Any) -> None:
        config = current_config(environment)
        if not config.otel:
            return
        meter = otel_meter()
        if meter is None:
            return  # Locust has logged that the SDK is missing
        self.enabled = True
        if not isinstance(environment.runner, WorkerRunner):
            self.observe(meter, environment)
        if not isinstance(environment.runner, MasterRunner):
            durations = CallDurations(meter, config.protocol == "mcp")
            environment.events.request.add_listener(durations.on_request)

    def observe(self, meter: Any, environment: Environment) -> None:
        """The run's summed counters as observable instruments, read at each export (no per-call cost)."""
        from opentelemetry.metrics import Observation

        sources = self.readings.sources(environment)
        for instrument in instruments():

            def callback(_: Any, read: Any = instrument.read) -> list[Any]:
                return [Observation(value, attributes) for value, attributes in read(sources)]

            make = meter.create_observable_counter if instrument.kind == "counter" else meter.create_observable_gauge
            make(instrument.name, callbacks=[callback], unit=instrument.unit, description=instrument.description)

    def on_quitting(self, **_: Any) -> None:
        """Export the final values now (a forked worker may leave without running atexit handlers)."""
        if not self.enabled:
            return
        from opentelemetry import metrics

        provider = metrics.get_meter_provider()
        flush = getattr(provider, "force_flush", None)
        if flush is not None:
            flush(timeout_millis=10_000)


def register_otel(events: Any, readings: RunReadings) -> OtelExport:
    export = OtelExport(readings)
    events.init.add_listener(export.on_init)
    events.quitting.add_listener(export.on_quitting)
    return export
