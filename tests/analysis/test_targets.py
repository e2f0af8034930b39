"""The report's targets as threshold expressions: parseable, changed by the shorthands, judged as --threshold is."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from analysis.compute import summarize
from analysis.load import load_run
from analysis.targets import DEFAULT_TARGETS, TargetSpec, judged_targets, rate_text, target_limit, target_specs
from analysis.thresholds import (
    NameFigures,
    RunFigures,
    StageRate,
    ThresholdError,
    judge,
    parse_threshold,
    parse_thresholds,
)
from tests.analysis.helpers import FIXTURES, run_cli


def test_every_default_target_is_a_threshold_the_parser_reads() -> None:
    assert [s.key for s in DEFAULT_TARGETS] == [
        "floor", "stretch", "call_p99", "call_p50", "connect_p99", "success", "rate"
    ]  # fmt: skip
    for spec in DEFAULT_TARGETS:
        (threshold,) = parse_thresholds(spec.expression, report=True)
        assert threshold == spec.threshold and threshold.text == spec.expression
    limits = {
        s.key: (s.threshold.metric, s.threshold.op, s.threshold.limit, s.threshold.gates) for s in DEFAULT_TARGETS
    }
    assert limits == {
        "floor": ("msgs", ">=", 50_000.0, True),
        "stretch": ("msgs", ">=", 200_000.0, False),  # reported only
        "call_p99": ("p99", "<", 100.0, True),
        "call_p50": ("p50", "<", 5.0, True),
        "connect_p99": ("p99", "<", 10.0, True),
        "success": ("success", ">=", 0.99, True),
        "rate": ("rate_error", "<=", 0.05, True),
    }
    assert target_specs() == DEFAULT_TARGETS


@pytest.mark.parametrize(
    ("options", "key", "expression"),
    [
        ({"target_msgs": 3000.0}, "floor", "msgs>=3K/s"),
        ({"stretch_msgs": 1.5e6}, "stretch", "msgs>=1.5M/s?"),
        ({"throughput_stat": "peak_10s"}, "floor", "msgs_peak>=50K/s"),
        ({"throughput_stat": "peak_10s", "stretch_msgs": 750.0}, "stretch", "msgs_peak>=750/s?"),
        ({"p99_ms": 50.0}, "call_p99", "calls:p99<50ms"),
        ({"p50_ms": 0.3}, "call_p50", "calls:p50<0.3ms"),
        ({"connect_p99_ms": 20.0}, "connect_p99", "connect:p99<20ms"),
        ({"min_success": 0.995}, "success", "success>=99.5%"),
    ],
)
def test_a_shorthand_changes_its_target_s_expression(options: dict[str, object], key: str, expression: str) -> None:
    specs = target_specs(**options)  # type: ignore[arg-type]
    changed = {s.key: s.expression for s in specs if s not in DEFAULT_TARGETS}
    assert changed[key] == expression
    assert all(k == key or options.get("throughput_stat") for k in changed)  # the others stay as they were
    limit = parse_threshold(expression, report=True).limit
    assert target_limit(specs, key) == limit
    if "throughput_stat" in options:
        assert next(s for s in specs if s.key == "floor").label == "messages/s (peak 10 s) floor"


@pytest.mark.parametrize("value", [0.5, 750.0, 3000.0, 50_000.0, 123_456.0, 1.5e6, 2e7])
def test_rate_text_reads_back_as_the_same_rate(value: float) -> None:
    assert parse_threshold(f"msgs>={rate_text(value)}/s").limit == pytest.approx(value, rel=1e-12)


@pytest.mark.parametrize("fixture", ["fast", "slow", "errors", "rate", "stages", "nofull"])
def test_a_target_and_the_equal_threshold_judge_alike(fixture: str) -> None:
    """Every default target given again as --threshold: the same judgement, figure and note, on real runs."""
    expressions = tuple(parse_thresholds([s.expression for s in DEFAULT_TARGETS], report=True))
    rows = summarize(load_run(FIXTURES / fixture / "run"), DEFAULT_TARGETS, expressions).targets
    targets = [t for t in rows if t.source == "target"]
    given = [t for t in rows if t.source == "threshold"]
    if given[-1].note == "no stage with a rate target":  # given, it says so; the default is left out
        assert given.pop().ok is None and not any(t.key == "rate" for t in targets)
    assert len(targets) == len(given) >= 6
    for target, threshold in zip(targets, given, strict=True):
        assert target.threshold == threshold.threshold
        same = ("ok", "gates", "note", "comparison", "target", "unit", "observed")
        assert {k: getattr(target, k) for k in same} == {k: getattr(threshold, k) for k in same}, target.name
        both_nan = math.isnan(target.measured) and math.isnan(threshold.measured)
        assert both_nan or target.measured == threshold.measured


def test_judged_as_the_report_does_a_target_s_figures_are_the_summary_s() -> None:
    summary = summarize(load_run(FIXTURES / "errors" / "run"))
    rows = {t.key: t for t in summary.targets}
    assert rows["floor"].measured == summary.throughput.messages.mean
    assert rows["success"].measured == pytest.approx(summary.success_rate)
    call_row = summary.call_latency_name
    assert rows["call_p99"].measured == summary.latency.loc[call_row, "p99"]


def figures(**overrides: object) -> RunFigures:
    names = {"connect": NameFigures(20, 0, {"p99": 35.6, "max": 35.6})}
    base = {"names": names, "duration_s": 10.0, "messages": 0, "calls_settled": 0, "calls_not_ok": 0}
    return RunFigures(**{**base, **overrides})  # type: ignore[arg-type]


def test_after_the_run_few_samples_are_not_judged_and_nothing_measured_fails() -> None:
    connect, success, msgs = (parse_threshold(t) for t in ("connect:p99<10ms", "success>=99%", "msgs>=1"))
    live = [judge(t, figures(duration_s=0.0)) for t in (connect, success, msgs)]
    assert [j.passed for j in live] == [False, None, None]  # live: every sample counts, nothing yet is pending
    after = [judge(t, figures(duration_s=0.0), after_run=True) for t in (connect, success, msgs)]
    assert [(j.passed, j.note) for j in after] == [
        (None, "20 samples (p99 needs ≥ 100); max 35.6 ms"), (False, "not measured"), (False, "not measured")
    ]  # fmt: skip
    missing = judge(parse_threshold("hello:p99<10ms"), figures(), after_run=True)
    assert (missing.passed, missing.note) == (None, "no hello requests")


def test_success_is_the_share_of_calls_ok() -> None:
    ledger = figures(calls_settled=1000, calls_not_ok=10)
    assert judge(parse_threshold("success>=99%"), ledger).passed is True  # exactly 99%
    assert judge(parse_threshold("success>99%"), ledger).passed is False
    assert judge(parse_threshold("success>=99%"), ledger).observed == "calls 99.00% of 1,000 ok"


def test_rate_error_is_judged_per_stage_and_a_question_mark_does_not_gate() -> None:
    stages = (StageRate("a", "a, 1-7 s", 100.0, 104.0, "n1"), StageRate("b", "b, 8-14 s", 200.0, 180.0, "n2"),
              StageRate("c", "c, 15-16 s", 300.0, None, "too short"))  # fmt: skip
    rows = judged_targets((TargetSpec("rate", "rate", "rate_error<=5%"),), (), figures(stage_rates=stages))
    assert [(t.name, t.ok, t.measured, t.target, t.comparison, t.note) for t in rows[:2]] == [
        ("rate (a, 1-7 s)", True, 104.0, 100.0, "±5%", "n1"),
        ("rate (b, 8-14 s)", False, 180.0, 200.0, "±5%", "n2"),
    ]
    assert (rows[2].name, rows[2].ok, rows[2].target, rows[2].note) == ("rate (c, 15-16 s)", None, 300.0, "too short")
    assert math.isnan(rows[2].measured)
    (named,) = judged_targets((), (parse_threshold("b:rate_error<=10%", report=True),), figures(stage_rates=stages))
    assert named.ok is True and named.source == "threshold"
    stretch = judged_targets((TargetSpec("s", "s", "msgs>=1M/s?"),), (), figures(messages=10))
    assert (stretch[0].ok, stretch[0].gates) == (False, False)
    assert judged_targets(DEFAULT_TARGETS, (), figures())[-1].key == "success"  # no stage: no rate row


@pytest.mark.parametrize("text", ["msgs>=200K/s?", "rate_error<=5%", "msgs_peak>=1K/s"])
def test_the_report_s_own_grammar_is_refused_live(text: str) -> None:
    with pytest.raises(ThresholdError, match="python -m analysis report"):
        parse_threshold(text)
    assert parse_threshold(text, report=True).text == text


def test_the_cli_shorthands_show_as_expressions_in_summary_json(tmp_path: Path) -> None:
    done = run_cli("report", str(FIXTURES / "fast" / "run"), "--out", str(tmp_path), "--target-msgs", "3K",
                   "--p99-ms", "50", "--min-success", "95%", "--threshold", "calls:p99<50ms,msgs>=1M/s?")  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "threshold msgs>=1M/s?: not met (does not gate)" in done.stdout
    data = json.loads((tmp_path / "summary.json").read_text())
    by_name = {t["name"]: t for t in data["targets"]}
    assert by_name["messages/s (mean) floor"]["threshold"] == "msgs>=3K/s"
    assert by_name["call success rate"]["threshold"] == "success>=95%"
    target, given = by_name["call p99"], by_name["calls:p99<50ms"]
    assert (target["threshold"], target["source"], given["source"]) == ("calls:p99<50ms", "target", "threshold")
    assert {k: v for k, v in target.items() if k not in ("name", "source")} == {
        k: v for k, v in given.items() if k not in ("name", "source")
    }
    assert data["thresholds"] == [{"threshold": "calls:p99<50ms", "passed": True},
                                  {"threshold": "msgs>=1M/s?", "passed": False}]  # fmt: skip
