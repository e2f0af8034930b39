"""bench_native end to end with tiny shapes: native and Locust (and k6 when installed) paired in one run; no speeds."""

from __future__ import annotations

import pytest

from bench import bench_native
from bench.bench_throughput import Shape
from bench.k6 import find_k6

TINY = (Shape("pipelined 2x10", 2, 10), Shape("closed 3x1", 3, 1))

pytestmark = pytest.mark.timeout(240)


def test_native_and_locust_are_paired_per_shape_with_ratio_targets(capsys: pytest.CaptureFixture[str]) -> None:
    entry, targets = bench_native.run(quick=True, repeats=2, run_time_s=3.0, shapes=TINY, k6=None)
    for shape in TINY:
        got = entry["shapes"][shape.name]
        assert len(got["runs"]) == 2  # one round in each order
        for pair in got["runs"]:
            for side in ("native", "locust"):
                assert pair[side]["calls"] > 0 and pair[side]["failed"] == 0
                assert pair[side]["cpu_s_per_1k_calls"] > 0
                assert 0.5 < pair[side]["server_calls_per_s"] / pair[side]["calls_per_s"] < 1.5
            assert pair["k6"] is None
        assert got["summary"]["locust_over_native"]["n"] == 2 and got["summary"]["locust_over_k6"]["n"] == 0
    assert [(t.name, t.limit, t.unit, t.measured) for t in targets] == [
        ("Locust / native, pipelined 2x10", 60.0, "%", True),
        ("Locust / native, closed 3x1", 75.0, "%", True),
        ("Locust / k6, closed 3x1 (no k6 binary)", 2.5, "x", False),  # not measured: a MISS, not left out
    ]
    assert targets[1].value == 100 * entry["shapes"]["closed 3x1"]["summary"]["locust_over_native"]["median"]
    assert [t.issue22 for t in targets] == [
        "pipelined 2x10: Locust / native calls/s (issue 14's target)",
        "closed loop 3x1: Locust / native calls/s",
        "closed loop 3x1: Locust / k6 calls/s",
    ]
    out = capsys.readouterr().out
    assert "k6 comparison is skipped" in out and "locust/native" in out


@pytest.mark.skipif(find_k6() is None, reason="no k6 binary on PATH or in .venv/bin (optional)")
def test_k6_joins_the_closed_loop_round() -> None:
    entry, targets = bench_native.run(quick=True, repeats=2, run_time_s=3.0, shapes=TINY[1:])
    for round_ in entry["shapes"]["closed 3x1"]["runs"]:  # k6 last, then first
        assert round_["k6"]["calls"] > 0 and round_["k6_summary"]["unknown_request_ids"] == 0
    assert [t.name for t in targets] == ["Locust / native, closed 3x1", "Locust / k6, closed 3x1"]
    assert targets[1].limit == 2.5 and targets[1].measured
