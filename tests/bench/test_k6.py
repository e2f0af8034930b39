"""k6 helpers: finding the binary, counter rows from the server's /stats (no sockets), and a real k6 run when installed."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import k6 as k6_module
from bench.bench_native import measure_k6
from bench.bench_throughput import Shape
from bench.common import Sample, reference_server
from bench.k6 import find_k6, server_counter_rows

pytestmark = pytest.mark.timeout(120)


def stats(opened: int, closed: int, ok: int, errors: int = 0) -> dict[str, object]:
    return {
        "connections_opened": opened,
        "connections_closed": closed,
        "hello_ok": opened,
        "calls_received": ok + errors,
        "results_ok": ok,
        "results_error": {"tool_failed": errors} if errors else {},
    }


def sample(t: float, server: dict[str, object]) -> Sample:
    return Sample(t=t, cpu_s=0.0, rss=0, server_cpu_s=0.0, server_rss=0, server=server)


def test_server_rows_are_relative_to_the_first_sample_and_skip_missing_stats() -> None:
    samples = [
        sample(10.0, stats(opened=5, closed=5, ok=100)),  # an earlier run's connections, all closed
        sample(10.2, {}),  # /stats did not answer
        sample(10.4, stats(opened=8, closed=5, ok=160, errors=2)),
    ]
    rows = server_counter_rows(samples)
    assert [r["timestamp"] for r in rows] == [10.0, 10.4]
    assert rows[0]["calls_ok"] == 0 and rows[0]["connections_open"] == 0
    assert rows[1]["calls_ok"] == 60 and rows[1]["calls_failed"] == 2 and rows[1]["calls_sent"] == 62
    assert rows[1]["connections_open"] == 3 and rows[1]["hellos_ok"] == 3
    assert rows[1]["messages_received"] == 60 + 2 + 3


def test_find_k6_looks_on_path_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "k6"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_k6() == fake
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(k6_module, "REPO_ROOT", tmp_path / "no-repo")
    monkeypatch.setattr(k6_module.sys, "executable", str(tmp_path / "no-venv" / "python"))
    assert find_k6() is None


@pytest.mark.skipif(find_k6() is None, reason="no k6 binary on PATH or in .venv/bin (optional)")
def test_k6_closed_loop_is_counted_by_the_server(tmp_path: Path) -> None:
    k6 = find_k6()
    assert k6 is not None
    with reference_server("--workers", "1") as server:
        got, k6_summary = measure_k6(k6, server, Shape("closed 3x1", 3, 1), 3.0, 0.5, tmp_path)
    assert got.calls > 0 and got.failed == 0 and got.cpu_s_per_1k_calls > 0
    assert k6_summary is not None and k6_summary["calls_ok"] >= got.calls
    assert k6_summary["unknown_request_ids"] == 0 and k6_summary["hello_refused"] == 0
