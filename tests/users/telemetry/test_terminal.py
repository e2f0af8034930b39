"""Terminal hooks without a run: repeated --threshold, unknown_tool detection, the clean stop, /stats fallback."""

from __future__ import annotations

import argparse
from types import SimpleNamespace

from tests.support.locust_run import free_port
from users.load.options import ThresholdAction
from users.telemetry.terminal import fetch_server_stats, request_run_stop, unknown_tool_names
from users.wire.errors import CallFailed


def test_threshold_option_repeats_and_joins_with_commas() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threshold", action=ThresholdAction, default="")
    assert parser.parse_args([]).threshold == ""
    joined = parser.parse_args(["--threshold", "p99<1ms", "--threshold", "errors<1%,msgs>1"]).threshold
    assert joined == "p99<1ms,errors<1%,msgs>1"


def test_unknown_tool_errors_are_found_locally_and_from_workers() -> None:
    stats = SimpleNamespace(
        errors={
            1: SimpleNamespace(name="call_tool:nope", error=CallFailed("unknown_tool")),  # an exception here
            2: SimpleNamespace(name="call_tool:gone", error="unknown_tool"),  # a string from a worker's report
            3: SimpleNamespace(name="call_tool:echo", error=CallFailed("tool_failed")),
        }
    )
    assert unknown_tool_names(stats) == ["call_tool:gone", "call_tool:nope"]
    assert unknown_tool_names(SimpleNamespace(errors={})) == []


def test_stop_goes_through_the_shape_when_it_can() -> None:
    reasons: list[str] = []
    shape = SimpleNamespace(request_stop=reasons.append)
    request_run_stop(SimpleNamespace(shape_class=shape, runner=None), "threshold failed")  # type: ignore[arg-type]
    assert reasons == ["threshold failed"]


def test_no_stats_answer_is_none() -> None:
    assert fetch_server_stats(f"http://127.0.0.1:{free_port()}") is None
