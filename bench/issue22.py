"""Pure: the issue-22 summary table, one row per ratio (name, measured, target, PASS/MISS), from the runs' targets.

Each benchmark marks its issue-22 targets (``Target.issue22``, the row's name); `summary_rows` puts them in the
issue's order and adds a "not run" row for each issue-22 benchmark the run left out (``--only``). A target its
benchmark could not measure (NaN, e.g. no k6 binary) shows as "not measured" and counts as a MISS.
"""

from __future__ import annotations

from typing import Any

from bench.common import Target, table_lines

BENCHMARKS = ("churn", "native", "open_model", "connections")
"""The benchmarks that measure issue 22's ratios, in the order the summary lists them."""
TITLE = "Issue 22: ratios measured in this run, each pair against the same server"
HEADER = ("ratio", "measured", "target", "result")


def fmt_value(value: float, unit: str) -> str:
    """`value` in `unit`: 62.0%, 0.21%, 2.71x, 15.2 KB, 19,940 connections."""
    if value != value:
        return "not measured"
    if unit == "%":
        return f"{value:.2f}%" if abs(value) < 10 else f"{value:.1f}%"
    if unit == "x":
        return f"{value:.2f}x"
    if unit == "KB":
        return f"{value:.1f} KB"
    return f"{value:,.0f} {unit}".rstrip()


def summary_rows(done: dict[str, list[Target]]) -> list[list[str]]:
    """Rows of the issue-22 table: each issue-22 target of `done` (benchmark name -> its targets) in BENCHMARKS
    order, and "not run" for each of BENCHMARKS missing from `done`."""
    rows = []
    for benchmark in BENCHMARKS:
        if benchmark not in done:
            rows.append([f"{benchmark}: not run in this invocation", "-", "-", "-"])
            continue
        for target in done[benchmark]:
            if target.issue22:
                op = "<=" if target.at_most else ">="
                limit = fmt_value(target.limit, target.unit)
                verdict = "PASS" if target.met else "MISS"
                rows.append([target.issue22, fmt_value(target.value, target.unit), f"{op} {limit}", verdict])
    return rows


def summary_lines(done: dict[str, list[Target]]) -> list[str]:
    """The table as printed: title, header, rule, rows."""
    return [TITLE, *table_lines(HEADER, summary_rows(done))]


def summary_json(done: dict[str, list[Target]]) -> list[dict[str, Any]]:
    """The rows for bench/results.json (key "issue22"): each issue-22 target's dict, or a benchmark not run."""
    out: list[dict[str, Any]] = []
    for benchmark in BENCHMARKS:
        if benchmark not in done:
            out.append({"benchmark": benchmark, "run": False})
            continue
        out += [{"benchmark": benchmark, **t.as_dict()} for t in done[benchmark] if t.issue22]
    return out
