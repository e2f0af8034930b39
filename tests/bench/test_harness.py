"""The benchmark harness end to end with tiny loads: every code path of `python -m bench --quick`, no timing asserted.

Targets live in the benchmark output (PASS/MISS), never here: these tests only
prove that each benchmark runs its processes, finds a steady window, reads its
counters and the server's, and writes its entry.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench import bench_connections, bench_latency_resolution, bench_server, bench_throughput
from bench.bench_throughput import Shape

ROOT = Path(__file__).resolve().parents[2]
TINY = (Shape("closed 3x1", 3, 1), Shape("pipelined 2x10", 2, 10))

pytestmark = pytest.mark.timeout(180)


def test_throughput_pairs_ceiling_and_locust_runs() -> None:
    entry, targets = bench_throughput.run(quick=True, repeats=1, run_time_s=4.0, shapes=TINY)
    for shape in TINY:
        got = entry["shapes"][shape.name]
        (pair,) = got["runs"]
        for side in ("ceiling", "locust"):
            assert pair[side]["calls"] > 0 and pair[side]["failed"] == 0
            assert pair[side]["cpu_s_per_1k_calls"] > 0
        assert got["summary"]["ratio_calls"]["n"] == 1
        assert 0.5 < got["summary"]["server_over_locust_calls"]["median"] < 1.5
    assert {t.name.split(" (")[0] for t in targets} >= {"pipelined Locust user", "closed-loop Locust user"}


def test_latency_resolution_compares_fine_and_coarse_buckets() -> None:
    entry, targets = bench_latency_resolution.run(quick=True, repeats=1, run_time_s=4.0, shape=TINY[1])
    (pair,) = entry["runs"]
    assert pair["fine"]["calls"] > 0 and pair["coarse"]["calls"] > 0
    assert all(t.at_most and t.limit == 0.10 for t in targets) and len(targets) == 2
    in_process = entry["stats_path_in_process"]
    assert in_process["fine_us_per_event"] > 0 and in_process["coarse_us_per_event"] > 0


def test_connections_holds_every_idle_connection() -> None:
    entry, (held, memory) = bench_connections.run(quick=True, connections=40, spawn_rate=40)
    assert entry["connections_held"] == 40 and held.met
    assert entry["connect_failures"] == 0
    assert entry["client_bytes_per_connection"] > 0 and memory.unit == "KB"


def test_reference_server_alone_is_consistent_with_its_stats() -> None:
    entry, (target,) = bench_server.run(quick=True, repeats=1, duration_s=0.5)
    assert entry["consistent"] and entry["runs"][0]["answers"] > 0
    assert target.value > 0


def test_cli_writes_results_with_machine_facts(tmp_path: Path) -> None:
    output = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", "reference_server", "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "PASS" in done.stdout or "MISS" in done.stdout
    data = json.loads(output.read_text())
    assert data["run"]["machine"]["cpus"] >= 1
    assert data["run"]["command"].startswith("python -m bench --quick")
    assert data["reference_server"]["summary"]["calls_per_s"]["n"] == 1


def test_cli_rejects_unknown_benchmark() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--only", "nope"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and "unknown benchmark" in done.stderr
