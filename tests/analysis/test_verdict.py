"""The whole verdict: targets, thresholds and a clean end; INCOMPLETE is never PASS and has its own exit code."""

from __future__ import annotations

from analysis.thresholds import Judgement, parse_threshold
from analysis.verdict import Verdict


def judgement(text: str, passed: bool | None) -> Judgement:
    return Judgement(parse_threshold(text), passed, "observed")


def test_thresholds_join_the_targets_in_the_head_and_the_exit_code() -> None:
    failing = Verdict(True, (judgement("p99<0.01ms", False), judgement("errors<1%", True)))
    assert failing.head(4, 4) == "FAIL (4/4 targets met, 1/2 thresholds met)" and failing.exit_code == 1
    assert failing.missed_thresholds() == ["threshold p99<0.01ms"]
    holding = Verdict(True, (judgement("errors<1%", True), judgement("p99<5ms", None)))
    assert holding.head(4, 4) == "PASS (4/4 targets met, 2/2 thresholds met)" and holding.exit_code == 0
    assert Verdict(False).head(3, 4) == "FAIL (3/4 targets met)"


def test_an_incomplete_run_is_incomplete_whatever_else_held() -> None:
    verdict = Verdict(True, (judgement("errors<1%", True),), "the run never recorded its end")
    assert verdict.word == "INCOMPLETE" and verdict.exit_code == 3
    assert verdict.head(4, 4) == (
        "INCOMPLETE (4/4 targets met, 1/1 thresholds met, incomplete: the run never recorded its end)"
    )
