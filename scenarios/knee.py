"""Pure knee detection for step/ramp stages: judge each step's p99 and error rate from histogram deltas."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from analysis.histograms import percentile


@dataclass(frozen=True)
class StepWindow:
    """What one step produced: a response-time histogram (ms bucket -> count) and request/failure counts."""

    histogram: Mapping[float, int]
    requests: int
    failures: int


@dataclass(frozen=True)
class StepVerdict:
    """The judgement of one step: its p99, error rate, and whether either crossed its limit."""

    step_index: int
    users: int
    rate: float | None
    p99_ms: float | None
    error_rate: float
    requests: int
    crossed: str | None

    def describe(self) -> str:
        """One line for logs and reports."""
        load = f"{self.users} users" + (f", {self.rate:g} calls/s" if self.rate is not None else "")
        p99 = "n/a" if self.p99_ms is None else f"{self.p99_ms:g} ms"
        tail = f"knee: {self.crossed}" if self.crossed else "within limits"
        return f"step {self.step_index} ({load}): p99 {p99}, errors {self.error_rate:.2%} over {self.requests} calls; {tail}"


def judge_step(
    window: StepWindow, *, step_index: int, users: int, rate: float | None, p99_limit_ms: float, error_limit: float
) -> StepVerdict:
    """Whether this step's p99 or error rate crossed its limit (a step with no calls crosses nothing)."""
    p99 = percentile(window.histogram, 0.99)
    errors = window.failures / window.requests if window.requests else 0.0
    crossed = None
    if p99 is not None and p99 > p99_limit_ms:
        crossed = f"p99 {p99:g} ms > {p99_limit_ms:g} ms"
    elif window.requests and errors > error_limit:
        crossed = f"error rate {errors:.2%} > {error_limit:.2%}"
    return StepVerdict(step_index, users, rate, p99, errors, window.requests, crossed)
