"""The issue-22 summary table: targets in, lines out (no runs), and how each benchmark's counts are set."""

from __future__ import annotations

from bench.bench_connections import FD_RESERVE, connections_to_hold
from bench.common import Target
from bench.issue22 import fmt_value, summary_json, summary_lines, summary_rows


def churn(value: float) -> Target:
    return Target("churn", value, 50, "%", issue22="churn: Locust / native sessions/s")


def test_rows_follow_the_issue_order_with_measured_target_and_verdict() -> None:
    done = {
        "connections": [
            Target("held", 19_940, 19_940, "connections", issue22="idle held"),
            Target("memory", 21.14, 16, "KB", at_most=True, issue22="idle KB"),
        ],
        "churn": [churn(73.4)],
        "native": [
            Target("closed", 62.0, 75, "%", issue22="closed: Locust / native"),
            Target("k6", 2.71, 2.5, "x", issue22="closed: Locust / k6"),
        ],
        "open_model": [
            Target("cpu", 1.62, 1.3, "x", at_most=True, issue22="open 1,000: CPU"),
            Target("late", 0.21, 1.0, "%", at_most=True, issue22="open 1,000: late"),
        ],
        "recv_size": [Target("recv", 0.9, 1.2, "x", at_most=True)],  # not an issue-22 ratio: left out
    }
    assert summary_rows(done) == [
        ["churn: Locust / native sessions/s", "73.4%", ">= 50.0%", "PASS"],
        ["closed: Locust / native", "62.0%", ">= 75.0%", "MISS"],
        ["closed: Locust / k6", "2.71x", ">= 2.50x", "PASS"],
        ["open 1,000: CPU", "1.62x", "<= 1.30x", "MISS"],
        ["open 1,000: late", "0.21%", "<= 1.00%", "PASS"],
        ["idle held", "19,940 connections", ">= 19,940 connections", "PASS"],
        ["idle KB", "21.1 KB", "<= 16.0 KB", "MISS"],
    ]


def test_lines_are_an_aligned_table_under_the_title() -> None:
    lines = summary_lines({"churn": [churn(49.9)]})
    assert lines[0].startswith("Issue 22")
    header, rule, first, *rest = lines[1:]
    assert header.split() == ["ratio", "measured", "target", "result"]
    assert first.split("  ")[0] == "churn: Locust / native sessions/s" and first.endswith("MISS")
    assert header.index("measured") == first.index("49.9%") == rule.index(" -") + 1
    assert [r.split()[0] for r in rest] == ["native:", "open_model:", "connections:"]
    assert all(r.endswith("-") for r in rest)


def test_a_target_its_benchmark_could_not_measure_is_a_miss() -> None:
    k6 = Target("Locust / k6 (no k6 binary)", float("nan"), 2.5, "x", issue22="closed: Locust / k6")
    (row,) = [r for r in summary_rows({"native": [k6]}) if r[0].startswith("closed")]
    assert row == ["closed: Locust / k6", "not measured", ">= 2.50x", "MISS"]
    assert k6.line() == "MISS  Locust / k6 (no k6 binary): not measured (target >= 2.5)"
    assert fmt_value(float("nan"), "%") == "not measured"


def test_json_rows_keep_each_target_and_the_benchmarks_not_run() -> None:
    got = summary_json({"churn": [churn(61.0), Target("other", 1, 1, "x")]})
    assert got[0]["benchmark"] == "churn" and got[0]["value"] == 61.0 and got[0]["met"] is True
    assert got[1:] == [{"benchmark": b, "run": False} for b in ("native", "open_model", "connections")]


def test_idle_connections_held_are_the_descriptor_limit_less_the_reserve() -> None:
    assert connections_to_hold(20_000, None, quick=False) == (
        20_000 - FD_RESERVE,
        f"descriptor limit 20,000 less {FD_RESERVE} for the process's own",
    )
    assert connections_to_hold(200_000, None, quick=False)[0] == 20_000 - FD_RESERVE  # capped at the issue's 20,000
    assert connections_to_hold(5_000, None, quick=False)[0] == 5_000 - FD_RESERVE
    assert connections_to_hold(20_000, None, quick=True) == (500, "--quick")
    assert connections_to_hold(1_000, 4_000, quick=False) == (
        1_000 - FD_RESERVE,
        f"--connections 4,000, capped at {1_000 - FD_RESERVE:,}",
    )
    assert connections_to_hold(20_000, 40, quick=True) == (40, "--connections 40")
