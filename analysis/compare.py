"""Two runs side by side: the change of each headline metric and whether it is a regression beyond a threshold."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from analysis.compute import CALLS, NON_CALL_NAMES, REPORTED_PERCENTILES, Summary, min_samples
from analysis.report import (
    Banner,
    Bullets,
    Document,
    Image,
    Section,
    Table,
    Text,
    fmt_ms,
    fmt_rate,
    fmt_ratio,
    missing,
)

HIGHER, LOWER = "higher", "lower"

MIX_TOLERANCE = 0.02
"""Tool shares of two runs differing by more than this (2 percentage points) make their tool mixes differ."""

TOOL_PREFIX = "call_tool:"


@dataclass(frozen=True)
class Metric:
    """One compared metric; `checked` ones can be regressions."""

    name: str
    unit: str
    better: str
    base: float
    candidate: float
    checked: bool
    regression: bool
    note: str = ""

    @property
    def change(self) -> float:
        """Relative change from base to candidate (0.1 = +10%); NaN when either is missing or base is 0."""
        if missing(self.base) or missing(self.candidate) or self.base == 0:
            return math.nan
        return (self.candidate - self.base) / self.base

    def as_dict(self) -> dict[str, object]:
        def num(v: float) -> float | None:
            return None if missing(v) else float(v)

        return {
            "name": self.name,
            "unit": self.unit,
            "better": self.better,
            "base": num(self.base),
            "candidate": num(self.candidate),
            "change": num(self.change),
            "checked": self.checked,
            "regression": self.regression,
            "note": self.note,
        }


@dataclass(frozen=True)
class Comparison:
    base: Summary
    candidate: Summary
    metrics: list[Metric]
    max_regression: float
    latency_floor_ms: float
    max_success_drop: float = 0.005
    differences: list[str] = field(default_factory=list)

    @property
    def regressions(self) -> list[Metric]:
        return [m for m in self.metrics if m.regression]


def is_regression(better: str, base: float, candidate: float, limit: float, floor: float = 0.0) -> bool:
    """True when the candidate is worse than base by more than `limit` (relative) and more than `floor` (absolute).

    A metric the base has and the candidate lacks is a regression; one the base lacks cannot be compared.
    """
    if missing(base):
        return False
    if missing(candidate):
        return True
    if better == HIGHER:
        return candidate < base * (1 - limit) and base - candidate > floor
    return candidate > base * (1 + limit) and candidate - base > floor


def _latency(summary: Summary, name: str | None, column: str) -> float:
    if name is None or name not in summary.latency.index:
        return math.nan
    return float(summary.latency.loc[name, column])


def _few_samples(base: Summary, base_row: str | None, candidate: Summary, candidate_row: str | None,
                 column: str) -> str:  # fmt: skip
    """'n/a: ...' when either run has too few samples to compare percentile `column` on, else ''."""
    needed = min_samples(dict(REPORTED_PERCENTILES)[column])
    counts = [
        int(summary.latency.loc[row, "requests"])
        for summary, row in ((base, base_row), (candidate, candidate_row))
        if row is not None and row in summary.latency.index
    ]
    few = min(counts) if counts else 0
    return f"n/a: {few:,} samples ({column} needs ≥ {needed:,})" if counts and few < needed else ""


def request_counts(summary: Summary) -> dict[str, int]:
    """Requests per name that a run made (names with none, and the combined calls row, left out)."""
    table = summary.latency
    return {str(n): int(table.loc[n, "requests"]) for n in table.index if n != CALLS and table.loc[n, "requests"] > 0}


def tool_mix(summary: Summary) -> dict[str, float]:
    """Share of each called tool among the run's calls (call_tool:NAME -> NAME), largest first."""
    counts = request_counts(summary)
    calls = {n: c for n, c in counts.items() if n.startswith(TOOL_PREFIX)}
    if not calls:
        calls = {n: c for n, c in counts.items() if n not in NON_CALL_NAMES}
    total = sum(calls.values())
    shares = {n.removeprefix(TOOL_PREFIX): c / total for n, c in calls.items()} if total else {}
    return dict(sorted(shares.items(), key=lambda item: (-item[1], item[0])))


def fmt_mix(mix: dict[str, float]) -> str:
    """{'echo': 0.9, 'sleep': 0.1} -> 'echo 90%/sleep 10%'."""
    return "/".join(f"{tool} {round(100 * share, 1):g}%" for tool, share in mix.items()) or "no calls"


def run_differences(base: Summary, candidate: Summary, tolerance: float = MIX_TOLERANCE) -> list[str]:
    """What differs between the runs' request names and tool mixes, one line each (empty: like for like)."""
    base_names, candidate_names = set(request_counts(base)), set(request_counts(candidate))
    lines = []
    if base_names - candidate_names:
        lines.append(f"only in base: {', '.join(sorted(base_names - candidate_names))}")
    if candidate_names - base_names:
        lines.append(f"only in candidate: {', '.join(sorted(candidate_names - base_names))}")
    base_mix, candidate_mix = tool_mix(base), tool_mix(candidate)
    tools = set(base_mix) | set(candidate_mix)
    if any(abs(base_mix.get(t, 0.0) - candidate_mix.get(t, 0.0)) > tolerance for t in tools):
        lines.append(f"tool mix differs: {fmt_mix(base_mix)} vs {fmt_mix(candidate_mix)}")
    return lines


def compare(
    base: Summary,
    candidate: Summary,
    max_regression: float = 0.10,
    latency_floor_ms: float = 0.1,
    max_success_drop: float = 0.005,
) -> Comparison:
    """Throughput (mean messages/s and calls/s), call p50/p99 and the call success rate (a drop of more than
    `max_success_drop`, absolute) are checked; the other rows are shown only."""
    metrics: list[Metric] = []

    def add(name: str, unit: str, better: str, b: float, c: float, checked: bool, floor: float = 0.0,
            note: str = "") -> None:  # fmt: skip
        flagged = checked and not note and is_regression(better, b, c, max_regression, floor)
        metrics.append(Metric(name, unit, better, b, c, checked, flagged, note))

    bt, ct = base.throughput, candidate.throughput
    add("messages/s (mean)", "msg/s", HIGHER, bt.messages.mean, ct.messages.mean, True)
    add("messages/s (peak 10 s)", "msg/s", HIGHER, bt.messages.peak_10s, ct.messages.peak_10s, False)
    add("calls/s (mean)", "calls/s", HIGHER, bt.calls.mean, ct.calls.mean, True)
    add("sent/s (mean)", "msg/s", HIGHER, bt.sent.mean, ct.sent.mean, False)
    add("received/s (mean)", "msg/s", HIGHER, bt.received.mean, ct.received.mean, False)
    bn, cn = base.call_latency_name, candidate.call_latency_name
    for column in ("p50", "p90", "p99", "p99.9", "max"):
        checked = column in ("p50", "p99")
        note = _few_samples(base, bn, candidate, cn, column) if checked else ""
        add(f"call {column}", "ms", LOWER, _latency(base, bn, column), _latency(candidate, cn, column), checked,
            latency_floor_ms, note)  # fmt: skip
    add("connect p99", "ms", LOWER, _latency(base, "connect", "p99"), _latency(candidate, "connect", "p99"), False)
    bs, cs = base.success_rate, candidate.success_rate
    dropped = not missing(bs) and (missing(cs) or bs - cs > max_success_drop)
    metrics.append(Metric("call success rate", "ratio", HIGHER, bs, cs, True, dropped))
    differences = run_differences(base, candidate)
    return Comparison(base, candidate, metrics, max_regression, latency_floor_ms, max_success_drop, differences)


def _fmt(metric: Metric, value: float) -> str:
    if metric.unit == "ms":
        return f"{fmt_ms(value)} ms" if not missing(value) else "n/a"
    if metric.unit == "ratio":
        return fmt_ratio(value)
    return fmt_rate(value)


def _fmt_change(metric: Metric) -> str:
    if metric.unit == "ratio":  # success rates change in percentage points
        points = metric.candidate - metric.base
        return "n/a" if missing(points) else f"{100 * points:+.2f} pp"
    change = metric.change
    return "n/a" if missing(change) else f"{100 * change:+.1f}%"


def comparison_line(comparison: Comparison) -> str:
    """One line: regression or not, which metrics, and how the runs differ when they do."""
    limit = f"{100 * comparison.max_regression:g}%"
    differ = f" | runs differ: {'; '.join(comparison.differences)}" if comparison.differences else ""
    if not comparison.regressions:
        checked = ", ".join(m.name for m in comparison.metrics if m.checked)
        return f"NO REGRESSION beyond {limit} ({checked}){differ}"
    worse = "; ".join(
        f"{m.name} {_fmt(m, m.base)} -> {_fmt(m, m.candidate)} ({_fmt_change(m)})" for m in comparison.regressions
    )
    return f"REGRESSION beyond {limit}: {worse}{differ}"


def differences_blocks(comparison: Comparison) -> list[Banner | Bullets | Text]:
    """The differences between the two runs' request names and tool mixes, named before any number."""
    if not comparison.differences:
        return [Text("Same request names and tool mix (shares within 2 percentage points): like for like.")]
    return [
        Banner("The runs differ in what they did: their numbers are not like for like.", False),
        Bullets(list(comparison.differences)),
    ]


def comparison_document(comparison: Comparison, base_label: str, candidate_label: str,
                        charts: dict[str, bytes]) -> Document:  # fmt: skip
    """Side-by-side table, per-name latency and overlay charts."""
    table = Table(
        ["metric", "base", "candidate", "change", "checked", "result"],
        [
            [m.name, _fmt(m, m.base), _fmt(m, m.candidate), _fmt_change(m), "yes" if m.checked else "",
             "REGRESSION" if m.regression else (m.note or "ok") if m.checked else ""]
            for m in comparison.metrics
        ],
        numeric=(1, 2, 3),
    )  # fmt: skip
    base_latency, candidate_latency = comparison.base.latency, comparison.candidate.latency
    names = [*base_latency.index, *(n for n in candidate_latency.index if n not in base_latency.index)]

    def cell(table, name: str, column: str) -> str:
        return fmt_ms(table.loc[name, column]) if name in table.index else "–"

    per_name = Table(
        ["name", "base p50", "candidate p50", "base p99", "candidate p99"],
        [
            [str(n), cell(base_latency, n, "p50"), cell(candidate_latency, n, "p50"), cell(base_latency, n, "p99"),
             cell(candidate_latency, n, "p99")]
            for n in names
        ],
    )  # fmt: skip
    explain = Text(
        f"A checked metric regresses when it is worse than the base by more than {100 * comparison.max_regression:g}%"
        f" (latency also by more than {comparison.latency_floor_ms:g} ms); the call success rate regresses when it"
        f" drops by more than {100 * comparison.max_success_drop:g} percentage points. Throughput is messages/s ="
        " sent/s + received/s, from counter differences."
    )
    runs = Table(
        ["run", "prefix", "verdict", "duration (s)"],
        [
            ["base", base_label, comparison.base.verdict, f"{comparison.base.throughput.duration_s:.1f}"],
            ["candidate", candidate_label, comparison.candidate.verdict,
             f"{comparison.candidate.throughput.duration_s:.1f}"],
        ],
        text_columns=3,
    )  # fmt: skip
    images = [Image(f"{name}.png", name.replace("_", " "), png) for name, png in charts.items()]
    return Document(
        "Comparison of two load test runs",
        [
            Section("Differences between the runs", differences_blocks(comparison)),
            Section("Result", [Banner(comparison_line(comparison), not comparison.regressions), runs, explain]),
            Section("Metrics", [table]),
            Section("Latency by name (ms)", [per_name]),
            Section("Charts", images),
        ],
    )


def comparison_json(comparison: Comparison, base_label: str, candidate_label: str, charts: list[str]) -> dict:
    return {
        "regression": bool(comparison.regressions),
        "line": comparison_line(comparison),
        "max_regression": comparison.max_regression,
        "latency_floor_ms": comparison.latency_floor_ms,
        "max_success_drop": comparison.max_success_drop,
        "differences": list(comparison.differences),
        "tool_mix": {"base": tool_mix(comparison.base), "candidate": tool_mix(comparison.candidate)},
        "regressions": [m.name for m in comparison.regressions],
        "metrics": [m.as_dict() for m in comparison.metrics],
        "base": {"prefix": base_label, "verdict": comparison.base.verdict, "sources": comparison.base.sources},
        "candidate": {
            "prefix": candidate_label,
            "verdict": comparison.candidate.verdict,
            "sources": comparison.candidate.sources,
        },  # fmt: skip
        "charts": charts,
    }
