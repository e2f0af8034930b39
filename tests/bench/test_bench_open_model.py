"""bench_open_model: window figures from counter rows (no sockets), descriptor checks, and a tiny real run (no speeds)."""

from __future__ import annotations

import pytest

from bench import bench_open_model
from bench.bench_open_model import open_model_figures, usable_connections
from bench.common import LoadRun, Sample

pytestmark = pytest.mark.timeout(240)


def row(t: float, open_: int, sent: int, late: int, target: float, lag: float = 0.0) -> dict[str, float]:
    return {
        "timestamp": t,
        "connections_open": open_,
        "calls_sent": sent,
        "calls_ok": sent,
        "calls_sent_late": late,
        "calls_skipped": 0,
        "schedule_lag_ms": lag,
        "rate_target": target,
    }


def test_figures_cover_the_rate_stage_with_every_connection_open() -> None:
    rows = [
        row(100.0, 5, 10, 10, 1000),  # connecting: excluded
        row(101.0, 10, 500, 50, 1000),
        row(102.0, 10, 1500, 60, 1000, lag=30.0),  # warm-up ends here
        row(103.0, 10, 2500, 60, 1000, lag=12.0),
        row(104.0, 10, 3500, 70, 1000, lag=15.0),
        row(105.0, 10, 3500, 70, 0),  # after the stage: idle, excluded
    ]
    samples = [Sample(t=100.0 + i, cpu_s=0.5 * i, rss=0, server_cpu_s=0, server_rss=0, server={}) for i in range(6)]
    run = LoadRun("rate", [], 0, rows, samples, "")
    got = open_model_figures(run, connections=10, rate=1000, warmup_s=1.0)
    assert got["window_s"] == 2.0 and got["calls_sent"] == 2000 and got["calls_per_s"] == 1000
    assert got["calls_sent_late"] == 10 and got["late_share"] == 10 / 2000
    assert got["cpu_us_per_call"] == pytest.approx(1e6 * 1.0 / 2000)
    assert got["max_schedule_lag_ms"] == 15.0 and got["cpu_share"] == pytest.approx(0.5)


def test_no_steady_window_is_an_error_naming_the_run() -> None:
    run = LoadRun("rate", [], 1, [row(100.0, 3, 10, 0, 1000)], [], "connect failed\n")
    with pytest.raises(RuntimeError, match=r"10 connections\): no steady window"):
        open_model_figures(run, connections=10, rate=1000, warmup_s=1.0)


def test_connection_counts_over_the_descriptor_limit_are_skipped_with_a_note(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench_open_model, "raise_fd_limit", lambda: 3_000)
    usable, notes = usable_connections((1_000, 4_000))
    assert usable == (1_000,)
    assert notes == ["4,000 connections skipped: RLIMIT_NOFILE is 3,000, 5,000 needed"]


def test_tiny_rate_run_against_the_native_open_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench_open_model, "raise_fd_limit", lambda: 1_025)  # 30 connections + 1,000 headroom: over it
    entry, targets = bench_open_model.run(quick=True, run_time_s=2.0, connections=(20, 30), rate=200)
    (round_,) = entry["runs"]
    assert round_["pipelined"]["calls"] > 0 and round_["pipelined_cpu_us_per_call"] > 0
    figures = round_["20"]
    assert figures["calls_sent"] > 0 and figures["failed"] == 0 and figures["window_s"] >= 2.0
    assert 0.0 <= figures["late_share"] <= 1.0 and figures["cpu_ratio"] > 0
    native = figures["native"]  # the native client's --rate, measured by the same code over its own window
    assert native["calls_sent"] > 0 and native["failed"] == 0 and native["window_s"] >= 1.0
    assert 0.0 <= native["late_share"] <= 1.0 and 0.5 < native["calls_per_s"] / 200 < 1.5
    assert figures["over_native"] == figures["cpu_us_per_call"] / native["cpu_us_per_call"]
    assert [(t.limit, t.unit, t.at_most, t.measured) for t in targets] == [
        (1.3, "x", True, True),
        (1.0, "%", True, True),
        (1.3, "x", True, False),  # 30 connections skipped: not measured, a MISS
        (1.0, "%", True, False),
    ]
    assert targets[0].value == entry["summary"]["20"]["over_native"]["median"]
    assert "30 connections" in targets[2].issue22 and entry["skipped"]
