"""The benchmark helpers that need no server: windows, interpolation, summaries, targets, /proc reading."""

from __future__ import annotations

import math
import os

from bench.common import (
    Sample,
    Target,
    fmt_spread,
    interpolate,
    proc_cpu_rss,
    steady_window,
    summary,
)


def row(t: float, open_: int, ok: int) -> dict[str, float]:
    return {
        "timestamp": t,
        "connections_open": open_,
        "calls_sent": ok + 10,
        "calls_ok": ok,
        "messages_sent": ok + 10,
        "messages_received": ok,
    }


def test_steady_window_skips_ramp_up_warmup_and_stop() -> None:
    rows = [row(1, 2, 0), row(2, 4, 100), row(3, 4, 300), row(4, 4, 500), row(5, 4, 700), row(6, 1, 750)]
    window = steady_window(rows, connections=4, warmup_s=1.0)
    assert window is not None
    assert (window.start["timestamp"], window.end["timestamp"]) == (3, 5)
    assert window.delta("calls_ok") / window.seconds == 200


def test_steady_window_of_a_very_short_run_ends_at_the_final_row() -> None:
    window = steady_window([row(1, 2, 0), row(2, 4, 10), row(3, 0, 20)], connections=4, warmup_s=0)
    assert window is not None and window.delta("calls_ok") == 10
    assert steady_window([row(1, 3, 10), row(2, 3, 20)], connections=4, warmup_s=0) is None


def test_interpolate_is_linear_and_clamped() -> None:
    samples = [Sample(10.0, 1.0, 0, 0.0, 0, {}), Sample(12.0, 3.0, 0, 0.0, 0, {})]
    cpu = lambda s: s.cpu_s  # noqa: E731
    assert interpolate(samples, 11.0, cpu) == 2.0
    assert interpolate(samples, 5.0, cpu) == 1.0
    assert interpolate(samples, 20.0, cpu) == 3.0
    assert math.isnan(interpolate([], 1.0, cpu))


def test_summary_and_spread_format() -> None:
    s = summary([3.0, 1.0, 2.0, float("nan")])
    assert (s["median"], s["min"], s["max"], s["n"]) == (2.0, 1.0, 3.0, 3)
    assert fmt_spread(s) == "2 (1..3)"
    assert fmt_spread(summary([0.5, 0.25, 0.75]), pct=True) == "50% (25..75)"
    assert fmt_spread(summary([])) == "n/a"


def test_targets_say_pass_or_miss() -> None:
    assert Target("rate", 41_000, 40_000, "calls/s").line().startswith("PASS")
    assert Target("rate", float("nan"), 40_000, "calls/s").line().startswith("MISS")
    assert Target("memory", 31, 30, "KB", at_most=True).line().startswith("MISS")


def test_proc_cpu_rss_reads_this_process() -> None:
    cpu, rss = proc_cpu_rss(os.getpid())
    assert cpu > 0 and rss > 1_000_000
