"""A real Prometheus scrapes /metrics of a `--processes 2` run and of a master with two workers: its numbers equal
the server's and PREFIX_ws.csv's."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest

from reference_server.launcher import RunningServer
from tests.distributed.cluster import Cluster
from tests.support.locust_run import ROOT, LocustRun, free_port, run_locust, secret_env
from tests.support.prometheus_server import Prometheus, last_scraped, running_prometheus, scraped_sums
from users.telemetry.prometheus_export import DISCONNECT_KINDS, OUTCOMES

pytestmark = pytest.mark.timeout(300)

LINGER = ("--prometheus-linger", "5")
"""Five one-second scrapes of the final values after the run ends."""


def check_export(prometheus: Prometheus, result: LocustRun, server_stats: dict[str, Any], serving: str,
                 silent: list[str]) -> dict[str, float]:  # fmt: skip
    """Prometheus's largest scraped call total, histogram count and disconnect kinds against the server and ws.csv;
    only `serving` (the master) answers scrapes. Returns the figures compared."""
    final = result.ws_final
    settled = sum(final[f"calls_{outcome}"] for outcome in OUTCOMES)
    sums = scraped_sums(prometheus, "wsload_calls_total")
    largest = max(sums.values())
    assert len(sums) >= 3 and min(sums.values()) < largest, sums  # scraped while the run went on, too
    assert largest == server_stats["calls_received"] == settled == final["calls_sent"], (largest, server_stats, final)
    by_outcome = last_scraped(prometheus, "wsload_calls_total")
    assert by_outcome == {f"outcome={o}": final[f"calls_{o}"] for o in OUTCOMES}
    assert sum(last_scraped(prometheus, "wsload_call_duration_seconds_count").values()) == settled
    by_tool = last_scraped(prometheus, "wsload_tool_calls_total")
    assert sum(by_tool.values()) == settled and by_tool["outcome=ok,tool=echo"] == final["calls_ok"]
    kinds = last_scraped(prometheus, "wsload_disconnects_total")
    assert kinds == {f"kind={kind}": final[column] for kind, column in DISCONNECT_KINDS.items()}
    assert kinds["kind=normal"] == server_stats["connections_closed"]
    for name, column in (("wsload_connects_total", "connects"), ("wsload_calls_sent_total", "calls_sent")):
        assert last_scraped(prometheus, name) == {"": final[column]}, name
    messages = last_scraped(prometheus, "wsload_messages_total")
    assert messages == {"direction=sent": final["messages_sent"], "direction=received": final["messages_received"]}
    up = prometheus.targets_up()
    assert up[serving] == 1 and all(up[t] == 0 for t in silent), up  # workers serve nothing
    return {"prometheus": largest, "server": server_stats["calls_received"], "ws_csv": settled}


def test_processes_2_prometheus_equals_server_and_ws_csv(tmp_path: Path, server: RunningServer) -> None:
    port = free_port()
    with running_prometheus(tmp_path, [f"127.0.0.1:{port}"]) as prometheus:
        result = run_locust(
            tmp_path, server.url, "--processes", "2", "--in-flight", "2", "--prometheus-port", str(port), *LINGER,
            env=secret_env(server), run_time="8s", timeout_s=120,
        )  # fmt: skip
        assert result.returncode == 0, result.output[-3000:]
        stats = server.wait_stats(lambda s: s["connections_closed"] == 4)
        figures = check_export(prometheus, result, stats, f"127.0.0.1:{port}", [])
    print("processes 2:", figures)


def test_master_and_two_workers_prometheus_equals_server_and_ws_csv(tmp_path: Path, server: RunningServer) -> None:
    ports = [free_port() for _ in range(3)]
    targets = [f"127.0.0.1:{p}" for p in ports]
    with running_prometheus(tmp_path, targets) as prometheus:
        args = ["-u", "4", "-r", "100", "-t", "8s", "--in-flight", "2", "--prometheus-port", str(ports[0]), *LINGER]
        cluster = Cluster(tmp_path, server.url, args, secret_env(server))
        master = cluster.start_master()
        workers = [cluster.start_worker(i, "--prometheus-port", str(ports[i + 1])) for i in range(2)]
        run = cluster.finish(master, workers, 120)
        assert run.result.returncode == 0, run.master_log[-3000:]
        stats = server.wait_stats(lambda s: s["connections_closed"] == 4)
        figures = check_export(prometheus, run.result, stats, targets[0], targets[1:])
    print("master + 2 workers:", figures)


DASHBOARD = ROOT / "deploy" / "grafana" / "wsload.json"
GRAFANA_VARIABLES = {"$__rate_interval": "15s", "$job": ".*"}
"""What Grafana substitutes in the dashboard's queries before sending them to Prometheus."""


def dashboard_queries() -> list[tuple[str, str]]:
    """(panel title, PromQL as Grafana sends it) of every target of every panel."""
    queries = []
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        for target in panel["targets"]:
            expr = target["expr"]
            for variable, value in GRAFANA_VARIABLES.items():
                expr = expr.replace(variable, value)
            queries.append((panel["title"], expr))
    return queries


def test_the_dashboard_covers_the_documented_panels() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    titles = " | ".join(p["title"] for p in dashboard["panels"]).lower()
    for topic in ("messages/s", "outcome", "latency", "connections", "disconnects", "in flight", "late", "thresholds"):
        assert topic in titles, topic
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    queries = " ".join(q for _, q in dashboard_queries())
    documented = re.findall(r"^\| `(wsload_[a-z_]+)`", (ROOT / "docs" / "monitoring.md").read_text(), re.M)
    assert len(documented) >= 15
    for metric in documented:
        assert metric in queries, metric
    assert "50000" in DASHBOARD.read_text() and "200000" in DASHBOARD.read_text()


def test_every_dashboard_panel_returns_data_from_a_real_run(tmp_path: Path, server: RunningServer) -> None:
    port = free_port()
    with running_prometheus(tmp_path, [f"127.0.0.1:{port}"]) as prometheus:
        result = run_locust(
            tmp_path, server.url, "--in-flight", "2", "--threshold", "p99<0.001ms", "--prometheus-port", str(port),
            *LINGER, env=secret_env(server), run_time="6s", timeout_s=120,
        )  # fmt: skip
        assert result.returncode == 1, result.output[-3000:]  # the impossible threshold fails the run
        last = max(scraped_sums(prometheus, "wsload_calls_total"))
        empty = []
        for title, query in dashboard_queries():
            values = [float(r["value"][1]) for r in prometheus.api("query", query=query, time=str(last))["result"]]
            if not values or all(math.isnan(v) for v in values):
                empty.append((title, query, values))
        assert not empty, empty
        failing = prometheus.api("query", query="wsload_threshold_failing", time=str(last))["result"]
        assert [float(r["value"][1]) for r in failing] == [1.0]
