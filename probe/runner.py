"""Runs the cases one after another, each bounded by its own deadline, the whole run by an overall one."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator

from probe.case import Case
from probe.client import ProbeTimeout
from probe.context import Context
from probe.results import FAILED, CaseResult, Outcome, redact
from probe.session import CaseEnd


def run_case(case: Case, ctx: Context) -> Outcome:
    """One case's outcome; whatever goes wrong on the wire becomes a FAILED outcome naming it."""
    try:
        return case.run(ctx)
    except CaseEnd as end:
        return end.outcome
    except ProbeTimeout:
        return Outcome(FAILED, f"no answer within {ctx.timeout_s:g} s")
    except OSError as exc:
        return Outcome(FAILED, f"connection failed: {type(exc).__name__}: {exc.strerror or exc}")
    except ValueError as exc:
        return Outcome(FAILED, str(exc))
    except Exception as exc:  # a probe bug must not hide the other cases' results behind a traceback
        return Outcome(FAILED, f"probe error: {type(exc).__name__}: {exc}")


def run_cases(cases: Iterable[Case], ctx: Context, secrets: list[str], total_s: float,
              clock: Callable[[], float] = time.monotonic) -> Iterator[CaseResult]:  # fmt: skip
    """Each case's result as it finishes (details redacted); cases left when `total_s` is up are not run and count
    as FAILED (the probe did not finish)."""
    deadline = clock() + total_s
    for case in cases:
        start = clock()
        if start >= deadline:
            outcome = Outcome(FAILED, f"not run: the probe's {total_s:g} s were used up")
        else:
            outcome = run_case(case, ctx)
        clean = redact(outcome.detail, secrets)
        if clean != outcome.detail:
            outcome = Outcome(outcome.behavior, clean, outcome.behavior_close, outcome.remote_close_code)
        yield CaseResult(case.case_id, case.title, outcome, int((clock() - start) * 1000))
