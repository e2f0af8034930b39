"""Threshold expressions: parsing, units, scopes and judgements on hand-made figures (no sockets, no time)."""

from __future__ import annotations

import pytest

from analysis.thresholds import (
    NameFigures,
    RunFigures,
    ThresholdError,
    final_verdict,
    judge,
    judge_all,
    parse_threshold,
    parse_thresholds,
)


def figures(**overrides: object) -> RunFigures:
    names = {
        "call_tool:echo": NameFigures(900, 9, {"p50": 0.4, "p99": 2.0, "max": 7.5}),
        "call_tool:sleep": NameFigures(100, 1, {"p50": 5.2, "p99": 8.0, "max": 11.0}),
        "connect": NameFigures(10, 0, {"p99": 30.0}),
    }
    base = {"names": names, "duration_s": 10.0, "messages": 2020, "calls_settled": 1000, "calls_not_ok": 10}
    return RunFigures(**{**base, **overrides})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "metric", "op", "limit", "name"),
    [
        ("p99<100ms", "p99", "<", 100.0, None),
        ("p50<=2ms", "p50", "<=", 2.0, None),
        ("p99 < 0.5s", "p99", "<", 500.0, None),
        ("p99.9<250us", "p99.9", "<", 0.25, None),
        ("p95<7", "p95", "<", 7.0, None),
        ("errors<1%", "errors", "<", 0.01, None),
        ("errors<=0.05", "errors", "<=", 0.05, None),
        ("msgs>=50K/s", "msgs", ">=", 50_000.0, None),
        ("calls>=10k", "calls", ">=", 10_000.0, None),
        ("msgs>0.2M/s", "msgs", ">", 200_000.0, None),
        ("call_tool:echo:p99<5ms", "p99", "<", 5.0, "call_tool:echo"),
        ("connect:max<1s", "max", "<", 1000.0, "connect"),
        ("call_tool:fail:errors>=99%", "errors", ">=", 0.99, "call_tool:fail"),
        ("success>=99.5%", "success", ">=", 0.995, None),
        ("calls:p99<100ms", "p99", "<", 100.0, "calls"),
    ],
)
def test_parse(text: str, metric: str, op: str, limit: float, name: str | None) -> None:
    threshold = parse_threshold(text)
    assert (threshold.metric, threshold.op, threshold.name) == (metric, op, name)
    assert threshold.limit == pytest.approx(limit)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("p99", "is not a threshold"),
        ("p42<5ms", "unknown metric 'p42'"),
        ("p99<5%", "latency limit"),
        ("errors<150%", "error limit"),
        ("success>=2", "success limit"),
        ("msgs_peak>=1K/s", "report` only"),
        ("msgs>=lots", "a rate"),
        ("call_tool:echo:msgs>1", "takes no request name"),
        ("p99=5ms", "is not a threshold"),
    ],
)
def test_bad_expressions_name_themselves(text: str, message: str) -> None:
    with pytest.raises(ThresholdError, match=message) as caught:
        parse_threshold(text)
    assert repr(text.strip()) in str(caught.value) or "is not a threshold" in str(caught.value)


def test_several_comma_separated_and_repeated() -> None:
    parsed = parse_thresholds(["p99<100ms, errors<1%", "msgs>=50K/s", ""])
    assert [t.metric for t in parsed] == ["p99", "errors", "msgs"]
    assert parse_thresholds(None) == [] and parse_thresholds("") == []


def test_latency_without_a_name_applies_to_every_call_name() -> None:
    passed = judge(parse_threshold("p99<10ms"), figures())
    assert passed.passed is True and passed.observed == "call_tool:sleep 8 ms"  # the worst one is shown
    failed = judge(parse_threshold("p99<5ms"), figures())
    assert failed.passed is False and "call_tool:sleep 8 ms" in failed.describe()
    assert judge(parse_threshold("call_tool:echo:p99<5ms"), figures()).passed is True
    assert judge(parse_threshold("connect:p99<20ms"), figures()).passed is False  # connect is not a call


def test_errors_from_the_ledger_or_per_name() -> None:
    assert judge(parse_threshold("errors<1%"), figures()).passed is False  # 10 of 1,000 is exactly 1%
    assert judge(parse_threshold("errors<=1%"), figures()).passed is True
    without_ledger = figures(calls_settled=None, calls_not_ok=None)
    judged = judge(parse_threshold("errors<=1%"), without_ledger)
    assert judged.passed is True and "1.00% of 1,000" in judged.observed
    assert judge(parse_threshold("call_tool:sleep:errors<0.5%"), figures()).passed is False


def test_rates_over_the_duration() -> None:
    assert judge(parse_threshold("msgs>=202/s"), figures()).passed is True
    assert judge(parse_threshold("msgs>202/s"), figures()).passed is False
    assert judge(parse_threshold("calls>=100/s"), figures()).passed is True
    assert judge(parse_threshold("call_tool:sleep:calls>=11/s"), figures()).passed is False
    assert judge(parse_threshold("msgs>1"), figures(duration_s=0.0)).passed is None


def test_nothing_to_judge_is_pending_live_and_fails_at_the_end() -> None:
    empty = RunFigures(names={}, duration_s=3.0)
    judgements = judge_all(parse_thresholds("p99<100ms,errors<1%"), empty)
    assert [j.passed for j in judgements] == [None, None]
    assert final_verdict(judgements) is False
    assert final_verdict(judge_all(parse_thresholds("p99<100ms"), figures())) is True
