"""The whole verdict: one list of targets and thresholds, and a clean end; INCOMPLETE is never PASS (its own code)."""

from __future__ import annotations

from analysis.targets import Target
from analysis.verdict import Verdict


def row(name: str, ok: bool | None, source: str = "threshold", gates: bool = True) -> Target:
    return Target(name, "<", 1.0, "ms", 0.5, ok, gates, threshold=name, source=source)


TARGETS = tuple(row(f"target {i}", True, "target") for i in range(4))


def test_thresholds_join_the_targets_in_the_head_and_the_exit_code() -> None:
    failing = Verdict((*TARGETS, row("p99<0.01ms", False), row("errors<1%", True)))
    assert failing.head() == "FAIL (4/4 targets met, 1/2 thresholds met)" and failing.exit_code == 1
    assert failing.missed_thresholds() == ["threshold p99<0.01ms"]
    holding = Verdict((*TARGETS, row("errors<1%", True), row("p99<5ms", None)))
    assert holding.head() == "PASS (4/4 targets met, 2/2 thresholds met)" and holding.exit_code == 0
    missed = Verdict((*TARGETS[:3], row("floor", False, "target"), row("stretch", False, "target", gates=False)))
    assert missed.head() == "FAIL (3/4 targets met)" and missed.exit_code == 1


def test_rows_not_judged_or_not_gating_never_fail() -> None:
    verdict = Verdict((row("connect p99", None, "target"), row("msgs>=1M/s?", False, gates=False)))
    assert verdict.word == "PASS" and verdict.head() == "PASS (0/0 targets met)"


def test_an_incomplete_run_is_incomplete_whatever_else_held() -> None:
    verdict = Verdict((*TARGETS, row("errors<1%", True)), "the run never recorded its end")
    assert verdict.word == "INCOMPLETE" and verdict.exit_code == 3
    assert verdict.head() == (
        "INCOMPLETE (4/4 targets met, 1/1 thresholds met, incomplete: the run never recorded its end)"
    )
