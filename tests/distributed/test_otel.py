"""Locust's --otel with the wsload instruments: a loopback OTLP/HTTP receiver decodes the exports; their totals
equal the server's and PREFIX_ws.csv's."""

from __future__ import annotations

from pathlib import Path

import pytest

from reference_server.launcher import RunningServer, start_reference_server
from tests.support.locust_run import LocustRun, run_locust, secret_env
from tests.support.otlp_receiver import Receiver, otlp_receiver
from users.telemetry.prometheus_export import DISCONNECT_KINDS, OUTCOMES

pytestmark = pytest.mark.timeout(240)


def otel_env(receiver: Receiver) -> dict[str, str]:
    """Locust's own OTEL_* variables: OTLP over HTTP/protobuf to the receiver, every second, as deltas."""
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_METRIC_EXPORT_INTERVAL": "1000",
        "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": "delta",
        "OTEL_TRACES_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
    }


def check_totals(receiver: Receiver, result: LocustRun, server_stats: dict) -> dict[str, float]:
    final = result.ws_final
    settled = sum(final[f"calls_{o}"] for o in OUTCOMES)
    calls = receiver.delta_sum("wsload.calls")
    assert calls == settled == server_stats["calls_received"] == final["calls_sent"], (calls, settled, server_stats)
    for outcome in OUTCOMES:
        assert receiver.delta_sum("wsload.calls", outcome=outcome) == final[f"calls_{outcome}"], outcome
    assert receiver.delta_sum("wsload.call.duration") == settled  # histogram counts, from where the calls ran
    assert receiver.delta_sum("wsload.tool_calls", tool="echo") == settled
    for kind, column in DISCONNECT_KINDS.items():
        assert receiver.delta_sum("wsload.disconnects", kind=kind) == final[column], kind
    assert receiver.delta_sum("wsload.messages", direction="sent") == final["messages_sent"]
    assert receiver.delta_sum("wsload.connects") == final["connects"]
    assert receiver.named("locust.client.duration"), "Locust's own instrument rides along"
    return {"otlp": calls, "server": server_stats["calls_received"], "ws_csv": settled}


def test_otel_single_process_totals_equal_server_and_ws_csv(tmp_path: Path, server: RunningServer) -> None:
    with otlp_receiver() as receiver:
        result = run_locust(tmp_path, server.url, "--otel", "--in-flight", "2",
                            env={**secret_env(server), **otel_env(receiver)}, run_time="4s")  # fmt: skip
        assert result.returncode == 0, result.output[-3000:]
        assert "OpenTelemetry enabled" in result.output
        stats = server.wait_stats(lambda s: s["connections_closed"] == 4)
        print("otel local:", check_totals(receiver, result, stats), receiver.exports, "exports")
        assert receiver.exports >= 3


def test_otel_processes_2_totals_equal_server_and_ws_csv(tmp_path: Path, server: RunningServer) -> None:
    with otlp_receiver() as receiver:
        result = run_locust(tmp_path, server.url, "--otel", "--processes", "2", "--in-flight", "2",
                            env={**secret_env(server), **otel_env(receiver)}, run_time="8s",
                            timeout_s=120)  # fmt: skip
        assert result.returncode == 0, result.output[-3000:]
        stats = server.wait_stats(lambda s: s["connections_closed"] == 4)
        print("otel processes 2:", check_totals(receiver, result, stats))


def test_otel_mcp_calls_carry_the_mcp_semantic_conventions(tmp_path: Path) -> None:
    with start_reference_server("--protocol", "mcp") as server, otlp_receiver() as receiver:
        result = run_locust(tmp_path, server.url, "--otel", "--protocol", "mcp", "--tools", "echo:3,fail:1",
                            env={**secret_env(server), **otel_env(receiver)}, users=2, run_time="3s")  # fmt: skip
        assert result.returncode in (0, 1), result.output[-3000:]
        stats = server.wait_stats(lambda s: s["connections_closed"] == 2)
    points = receiver.named("mcp.client.operation.duration")
    assert points and all(p.attributes["network.protocol.name"] == "websocket" for p in points)
    calls = [p for p in points if p.attributes["mcp.method.name"] == "tools/call"]
    assert {p.attributes["gen_ai.tool.name"] for p in calls} == {"echo", "fail"}
    assert sum(p.value for p in calls) == stats["calls_received"]
    failed = sum(p.value for p in calls if "error.type" in p.attributes)
    assert failed == sum(stats["results_error"].values()) > 0
    assert {p.attributes.get("error.type") for p in calls if p.attributes["gen_ai.tool.name"] == "fail"} == {
        "tool_error"
    }
    initialize = [p for p in points if p.attributes["mcp.method.name"] == "initialize"]
    assert sum(p.value for p in initialize) == stats["hello_ok"] == 2
