"""The runner without sockets: each case's failure modes become outcomes, details are redacted, and the overall
time limit leaves later cases FAILED as not run (the clock passed in)."""

from __future__ import annotations

from probe.case import Case
from probe.client import ProbeTimeout
from probe.context import Context, Tokens
from probe.results import Outcome
from probe.runner import run_cases
from probe.session import skip
from probe.speakers import Speaker
from probe.target import parse_target

CTX = Context(parse_target("ws://127.0.0.1:1/"), Speaker.for_options("toolcall", "2025-06-18", ""), Tokens())


def raises(exc: BaseException) -> Case:
    def run(ctx: Context) -> Outcome:
        raise exc

    return Case("1.1", "raises", run)


def test_failure_modes_become_outcomes() -> None:
    cases = [
        raises(ProbeTimeout()),
        raises(ConnectionResetError(104, "Connection reset by peer")),
        raises(ValueError("not an HTTP answer: 'SSH-2.0'")),
        raises(skip("no slow tool")),
        raises(KeyError("oops")),
        Case("2.1", "ok", lambda ctx: Outcome("OK", "token s3cr3t-token seen")),
    ]
    got = [(r.outcome.behavior, r.outcome.detail) for r in run_cases(cases, CTX, ["s3cr3t-token"], 60.0)]
    assert got == [
        ("FAILED", "no answer within 2 s"),
        ("FAILED", "connection failed: ConnectionResetError: Connection reset by peer"),
        ("FAILED", "not an HTTP answer: 'SSH-2.0'"),
        ("INFORMATIONAL", "skipped: no slow tool"),
        ("FAILED", "probe error: KeyError: 'oops'"),
        ("OK", "token *** seen"),
    ]


def test_cases_after_the_total_time_are_failed_as_not_run() -> None:
    ticks = iter([0.0, 1.0, 4.0, 6.0, 9.0, 11.0, 11.0])
    case = Case("2.1", "ok", lambda ctx: Outcome("OK", "fine"))
    results = list(run_cases([case, case, case], CTX, [], 10.0, clock=lambda: next(ticks)))
    assert [r.outcome.behavior for r in results] == ["OK", "OK", "FAILED"]
    assert results[2].outcome.detail == "not run: the probe's 10 s were used up"
    assert [r.duration_ms for r in results] == [3000, 3000, 0]
