"""bench.protocol_cost: every case settles every call through the core, and `python -m bench` lists it."""

from __future__ import annotations

from bench import protocol_cost
from bench.__main__ import BENCHMARKS


def test_every_case_is_measured_in_both_shapes() -> None:
    entry, targets = protocol_cost.run(quick=True, repeats=1)
    assert targets == [] and entry["calls"] == 2000
    assert set(entry["us_per_call"]) == {"toolcall", "jsonrpc", "mcp", "toolcall+deflate", "jsonrpc+deflate"}
    for values in entry["us_per_call"].values():
        assert values["closed_loop_us"] > 0 and values["pipelined_us"] > 0
    assert "protocol_cost" in BENCHMARKS


def test_answers_are_what_each_protocol_settles_as_a_success() -> None:
    # cost_us asserts every call settled ok with no protocol error; a wrong answer shape fails it
    for protocol, deflate in protocol_cost.CASES.values():
        assert protocol_cost.cost_us(protocol, deflate, calls=200, batch=100) > 0
