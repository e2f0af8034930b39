"""The /metrics exposition: values in, text out (no sockets); and one short real run scraped directly."""

from __future__ import annotations

import os
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from reference_server.launcher import RunningServer, start_reference_server
from tests.support.locust_run import ROOT, free_port, headless_command, read_run, secret_env
from users.telemetry.prometheus_export import (
    DISCONNECT_KINDS,
    MAX_LABEL_CHARS,
    MAX_TOOL_LABELS,
    OTHER_TOOL,
    RunSources,
    WsCollector,
    call_outcome,
    tool_views,
)
from users.telemetry.ws_csv import COUNTER_KEYS


@dataclass
class Entry:
    name: str
    response_times: dict[float, int]
    num_failures: int = 0
    num_none_requests: int = 0

    @property
    def num_requests(self) -> int:
        return sum(self.response_times.values())

    @property
    def total_response_time(self) -> float:
        return sum(ms * n for ms, n in self.response_times.items())


@dataclass
class Error:
    name: str
    error: str
    occurrences: int


@dataclass
class Stats:
    entries: dict[tuple[str, str], Entry] = field(default_factory=dict)
    errors: dict[str, Error] = field(default_factory=dict)


def samples(sources: RunSources) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """(sample name, sorted labels) -> value, parsed back from the exposition text."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(WsCollector(sources))
    text = generate_latest(registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_counters_are_the_ws_csv_columns_they_mirror() -> None:
    counters = {key: float(i + 1) for i, key in enumerate(COUNTER_KEYS)}
    got = samples(RunSources(counters=lambda: counters, users=lambda: 7))
    for outcome in ("ok", "failed", "timeout", "lost"):
        assert got[("wsload_calls_total", (("outcome", outcome),))] == counters[f"calls_{outcome}"]
    for kind, column in DISCONNECT_KINDS.items():
        assert got[("wsload_disconnects_total", (("kind", kind),))] == counters[column]
    for unit in ("messages", "bytes"):
        for direction in ("sent", "received"):
            assert got[(f"wsload_{unit}_total", (("direction", direction),))] == counters[f"{unit}_{direction}"]
    for metric, column in (("wsload_connects_total", "connects"), ("wsload_reconnects_total", "reconnects"),
                           ("wsload_connect_failures_total", "connect_failures"),
                           ("wsload_calls_sent_late_total", "calls_sent_late"),
                           ("wsload_calls_in_flight", "calls_in_flight"),
                           ("wsload_connections_open", "connections_open"),
                           ("wsload_rate_target_calls_per_second", "rate_target")):  # fmt: skip
        assert got[(metric, ())] == counters[column], metric
    assert got[("wsload_users", ())] == 7


def test_histogram_buckets_are_cumulative_and_sub_millisecond() -> None:
    stats = Stats(
        entries={
            ("call_tool:echo", "WS"): Entry("call_tool:echo", {0.05: 3, 0.1: 2, 0.4: 1, 2.0: 4, 20000.0: 1}, 2),
            ("connect", "WS"): Entry("connect", {3.0: 5}),
        },
        errors={"a": Error("call_tool:echo", "timeout", 1), "b": Error("call_tool:echo", "connection_lost: reset", 1)},
    )
    got = samples(RunSources(counters=dict, stats=lambda: stats))
    echo = (("tool", "echo"),)

    def bucket(le: str) -> float:
        return got[("wsload_call_duration_seconds_bucket", (("le", le), ("tool", "echo")))]

    assert (bucket("0.0001"), bucket("0.0005"), bucket("0.001"), bucket("0.0025"), bucket("10.0")) == (5, 6, 6, 10, 10)
    assert bucket("+Inf") == got[("wsload_call_duration_seconds_count", echo)] == 11
    assert got[("wsload_call_duration_seconds_sum", echo)] == pytest.approx((0.35 + 0.4 + 8.0 + 20000.0) / 1000)
    outcomes = {o: got[("wsload_tool_calls_total", (("outcome", o), ("tool", "echo")))] for o in
                ("ok", "failed", "timeout", "lost")}  # fmt: skip
    assert outcomes == {"ok": 9, "failed": 0, "timeout": 1, "lost": 1}
    assert not [k for k in got if ("tool", "connect") in k[1]]  # only calls are tools


def test_tool_labels_are_bounded() -> None:
    entries = {(f"call_tool:{i:03d}{'x' * 100}", "WS"): Entry(f"call_tool:{i:03d}{'x' * 100}", {1.0: 1})
               for i in range(MAX_TOOL_LABELS + 30)}  # fmt: skip
    views = tool_views(Stats(entries=entries))
    assert len(views) == MAX_TOOL_LABELS + 1 and views[OTHER_TOOL].count == 30
    assert max(len(label) for label in views) == MAX_LABEL_CHARS


def test_outcome_of_each_failure_code() -> None:
    assert [call_outcome(e) for e in ("timeout", "connection_lost: close 1011", "write_timeout", "unknown_tool")] == [
        "timeout",
        "lost",
        "lost",
        "failed",
    ]


def test_failing_thresholds_are_one() -> None:
    got = samples(RunSources(counters=dict, thresholds=lambda: {"p99<1ms": True, "errors<1%": False}))
    assert got[("wsload_threshold_failing", (("threshold", "p99<1ms"),))] == 1
    assert got[("wsload_threshold_failing", (("threshold", "errors<1%"),))] == 0


@pytest.fixture
def server() -> RunningServer:
    with start_reference_server() as running:
        yield running


@pytest.mark.timeout(120)
def test_a_short_run_serves_its_final_values_while_it_lingers(tmp_path: Path, server: RunningServer) -> None:
    port = free_port()
    config = tmp_path / "locust.conf"  # the options from locust.conf and the environment, as every option
    config.write_text("prometheus-linger = 30\n")
    command = headless_command(tmp_path / "run", server.url, "--config", str(config), "--threshold", "p99<0.001ms",
                               users=2, run_time="2s")  # fmt: skip
    env = {**os.environ, **secret_env(server), "LOCUST_PROMETHEUS_PORT": str(port)}
    log_path = tmp_path / "locust.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while "serving the final metrics" not in log_path.read_text(errors="replace"):
            assert process.poll() is None and time.monotonic() < deadline, log_path.read_text()[-2000:]
            time.sleep(0.2)
        text = _scrape(port)
        assert process.poll() is None  # still lingering
    finally:
        process.terminate()
        process.wait(30)
    output = log_path.read_text(errors="replace")
    final = read_run(tmp_path / "run", 0, output).ws_final
    got = {(s.name, tuple(sorted(s.labels.items()))): s.value
           for f in text_string_to_metric_families(text) for s in f.samples}  # fmt: skip
    assert final["calls_ok"] > 0
    assert got[("wsload_calls_total", (("outcome", "ok"),))] == final["calls_ok"]
    assert got[("wsload_call_duration_seconds_count", (("tool", "echo"),))] == final["calls_ok"]
    assert got[("wsload_disconnects_total", (("kind", "normal"),))] == final["closes_normal"] == 2
    assert got[("wsload_threshold_failing", (("threshold", "p99<0.001ms"),))] == 1
    assert "serving the final metrics for 30 s more" in output


def _scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        return answer.read().decode()


def test_a_busy_port_is_one_error_line_and_exit_code_2(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        command = headless_command(tmp_path / "run", "ws://127.0.0.1:1", "--prometheus-port", str(port))
        done = subprocess.run(command, cwd=ROOT, env={**os.environ, "LOCUST_JWT_SECRET": "s"}, capture_output=True,
                              text=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 2, done.stderr[-2000:]
    assert f"error: --prometheus-port {port} on 127.0.0.1:" in done.stderr and "Traceback" not in done.stderr


def test_a_bad_port_is_one_error_line_and_exit_code_2(tmp_path: Path) -> None:
    command = headless_command(tmp_path / "run", "ws://127.0.0.1:1", "--prometheus-port", "http")
    done = subprocess.run(command, cwd=ROOT, env={**os.environ, "LOCUST_JWT_SECRET": "s"}, capture_output=True,
                          text=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 2 and "error: --prometheus-port must be a TCP port" in done.stderr, done.stderr[-2000:]
