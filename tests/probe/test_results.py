"""Pure parts of the probe: case classification, close behaviour, lines, summary, exit code, redaction, and the
Autobahn index.json shape (no sockets)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from probe.report import index, report_file, write_reports
from probe.results import (
    BEHAVIORS,
    CaseResult,
    Outcome,
    case_key,
    case_line,
    close_behavior,
    exit_code,
    expected_close,
    redact,
    summary_line,
)


def result(case_id: str, behavior: str, **close: object) -> CaseResult:
    return CaseResult(case_id, f"case {case_id}", Outcome(behavior, f"saw {case_id}", **close), 12)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("got_close", "code", "end", "clean", "behavior", "behavior_close"),
    [
        (True, 1002, "eof", True, "OK", "OK"),
        (True, 1002, "", False, "NON-STRICT", "UNCLEAN"),  # closed, but TCP left open
        (True, 1000, "eof", True, "FAILED", "WRONG CODE"),
        (False, None, "reset", False, "NON-STRICT", "UNCLEAN"),  # dropped TCP without a close frame
        (False, None, "", False, "FAILED", "UNCLEAN"),  # nothing at all within the case's time
    ],
)
def test_an_expected_close_is_classified(
    got_close: bool, code: int | None, end: str, clean: bool, behavior: str, behavior_close: str
) -> None:
    outcome = expected_close(1002, got_close, code, end, clean, "")
    assert (outcome.behavior, outcome.behavior_close) == (behavior, behavior_close)
    assert outcome.remote_close_code == (code if got_close else None)


def test_what_came_before_the_close_is_in_the_detail() -> None:
    assert "before it: text 'x'" in expected_close(1007, True, 1000, "eof", True, "text 'x'").detail


def test_close_behavior_without_an_expected_close_is_informational() -> None:
    assert close_behavior(None, True, 1000, True) == "INFORMATIONAL"


def test_an_unknown_behavior_is_refused() -> None:
    with pytest.raises(ValueError):
        Outcome("PASSED", "no such behaviour")


@pytest.mark.parametrize(
    ("behaviors", "code"),
    [(["OK", "OK"], 0), (["OK", "NON-STRICT", "INFORMATIONAL"], 0), (["OK", "FAILED", "NON-STRICT"], 1), ([], 0)],
)
def test_exit_code_is_one_only_when_a_case_failed(behaviors: list[str], code: int) -> None:
    assert exit_code([result(f"1.{i}", b) for i, b in enumerate(behaviors, 1)]) == code


def test_line_and_summary() -> None:
    results = [result("1.1", "OK"), result("6.10", "FAILED"), result("8.1", "NON-STRICT")]
    assert case_line(results[1]) == "FAILED        6.10  case 6.10: saw 6.10"
    assert summary_line(results, "ws://h:1/") == (
        "summary: 3 cases against ws://h:1/: 1 OK, 1 NON-STRICT, 1 FAILED, 0 INFORMATIONAL"
    )


def test_case_ids_sort_as_numbers() -> None:
    assert sorted(["6.10", "6.9", "10.1", "1.2"], key=case_key) == ["1.2", "6.9", "6.10", "10.1"]


def test_redact_hides_every_secret_longest_first() -> None:
    assert redact("token abc.def and abc", ["abc", "abc.def", ""]) == "token *** and ***"


def test_index_has_autobahns_shape() -> None:
    results = [result("6.10", "OK", behavior_close="OK", remote_close_code=1007), result("1.1", "INFORMATIONAL")]
    shaped = index("Picows/2.3 (ref)", results)
    assert list(shaped) == ["Picows/2.3 (ref)"]
    cases = shaped["Picows/2.3 (ref)"]
    assert list(cases) == ["1.1", "6.10"]
    assert cases["6.10"] == {
        "behavior": "OK",
        "behaviorClose": "OK",
        "duration": 12,
        "remoteCloseCode": 1007,
        "reportfile": "picows_2.3__ref__case_6_10.json",
    }
    assert cases["1.1"]["remoteCloseCode"] is None and cases["1.1"]["behaviorClose"] == "INFORMATIONAL"
    for entry in cases.values():
        assert set(entry) == {"behavior", "behaviorClose", "duration", "remoteCloseCode", "reportfile"}
        assert entry["behavior"] in BEHAVIORS


def test_reports_are_written(tmp_path: Path) -> None:
    results = [result("2.1", "FAILED")]
    path = write_reports(tmp_path / "out", "agent", results)
    assert json.loads(path.read_text()) == index("agent", results)
    case = json.loads((tmp_path / "out" / report_file("agent", "2.1")).read_text())
    assert case["behavior"] == "FAILED" and case["result"] == "saw 2.1" and case["description"] == "case 2.1"
