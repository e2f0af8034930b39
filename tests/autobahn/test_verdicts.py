"""The pure verdict over Autobahn's index.json (no fuzzingserver needed)."""

from __future__ import annotations

from tests.autobahn.verdicts import acceptable, problems


def test_acceptable() -> None:
    assert acceptable("OK", "FAILED") and acceptable("INFORMATIONAL", None)
    assert acceptable("NON-STRICT", "NON-STRICT") and acceptable("NON-STRICT", "FAILED")
    assert not acceptable("NON-STRICT", "OK") and not acceptable("FAILED", "FAILED")
    assert not acceptable("UNIMPLEMENTED", "UNIMPLEMENTED")


def test_problems_name_new_failures_and_stale_expectations() -> None:
    ours = {
        "1.1.1": {"behavior": "OK"},
        "6.4.1": {"behavior": "NON-STRICT"},
        "3.2": {"behavior": "NON-STRICT", "behaviorClose": "OK"},
        "7.9.1": {"behavior": "FAILED"},
        "7.9.2": {"behavior": "OK"},
        "10.1.1": {"behavior": "FAILED", "behaviorClose": "UNCLEAN"},
    }
    yardstick = {k: {"behavior": "OK"} for k in ours} | {"6.4.1": {"behavior": "NON-STRICT"}}
    expected = {"7.9.1": "echoes invalid codes", "7.9.2": "echoes invalid codes"}
    assert problems(ours, yardstick, expected) == [
        "3.2: NON-STRICT, close OK (websocket-client OK)",
        "7.9.2: OK now (websocket-client OK): remove it from EXPECTED_FAIL",
        "10.1.1: FAILED, close UNCLEAN (websocket-client OK)",
    ]
    assert problems(ours, yardstick, expected, may_pass={"7.9.2"}) == [
        "3.2: NON-STRICT, close OK (websocket-client OK)",
        "10.1.1: FAILED, close UNCLEAN (websocket-client OK)",
    ]
