"""tools: argument validation and results, with a recording fake session (no sockets)."""

from __future__ import annotations

from typing import Any

import pytest

from reference_server import tools
from reference_server.tools import PENDING, ToolError, compute_digest, reference_tools


class FakeSession:
    def __init__(self) -> None:
        self.later: list[tuple[str, float, Any]] = []
        self.work: list[tuple[str, Any]] = []
        self.subscriptions: list[tuple[str, float, int]] = []
        self.broadcasts: list[tuple[str, Any]] = []

    def answer_after(self, request_id: str, delay_s: float, result: Any) -> None:
        self.later.append((request_id, delay_s, result))

    def answer_with(self, request_id: str, work: Any) -> None:
        self.work.append((request_id, work))

    def subscribe(self, topic: str, rate: float, count: int | None) -> None:
        self.subscriptions.append((topic, rate, count))

    def broadcast(self, topic: str, data: Any) -> int:
        self.broadcasts.append((topic, data))
        return 3


TOOLS = reference_tools()


def run(name: str, args: dict[str, Any], session: FakeSession | None = None) -> Any:
    return TOOLS[name].run(session or FakeSession(), "r1", args)  # type: ignore[arg-type]


def invalid(name: str, args: dict[str, Any]) -> str:
    with pytest.raises(ToolError) as info:
        run(name, args)
    assert info.value.code == "invalid_arguments"
    return info.value.message


def test_table_lists_every_reference_tool_with_a_description() -> None:
    assert list(TOOLS) == ["echo", "sleep", "compute", "payload", "fail", "subscribe", "broadcast"]
    assert all(tool.description for tool in TOOLS.values())


def test_echo_and_payload() -> None:
    assert run("echo", {"a": [1, {"b": None}]}) == {"a": [1, {"b": None}]}
    assert run("payload", {"bytes": 5}) == "xxxxx"
    assert run("payload", {"bytes": 0}) == ""
    invalid("payload", {"bytes": tools.MAX_PAYLOAD_BYTES + 1})
    invalid("payload", {"bytes": "5"})


def test_sleep_is_answered_later() -> None:
    session = FakeSession()
    assert run("sleep", {"ms": 250}, session) is PENDING
    assert session.later == [("r1", 0.25, {"slept_ms": 250})]
    for bad in ({}, {"ms": -1}, {"ms": "1"}, {"ms": True}, {"ms": tools.MAX_SLEEP_MS + 1}):
        invalid("sleep", bad)


def test_compute_inline_and_chunked() -> None:
    assert run("compute", {"rounds": 3}) == compute_digest(3)
    assert compute_digest(0) != compute_digest(1) and len(compute_digest(1)) == 64
    session = FakeSession()
    assert run("compute", {"rounds": tools.COMPUTE_CHUNK + 1}, session) is PENDING
    ((request_id, work),) = session.work
    work.close()
    assert "between" in invalid("compute", {"rounds": tools.MAX_COMPUTE_ROUNDS + 1})
    invalid("compute", {"rounds": 1.5})


def test_fail_raises_the_requested_code() -> None:
    with pytest.raises(ToolError) as info:
        run("fail", {"code": "tool_failed", "message": "on purpose"})
    assert (info.value.code, info.value.message) == ("tool_failed", "on purpose")
    with pytest.raises(ToolError) as info:
        run("fail", {})
    assert info.value.code == "tool_failed"
    invalid("fail", {"code": "Not A Code"})
    invalid("fail", {"code": "x", "message": 3})


def test_subscribe_and_broadcast_go_through_the_session() -> None:
    session = FakeSession()
    assert run("subscribe", {"topic": "t", "rate": 50, "count": 4}, session) == {"topic": "t", "rate": 50, "count": 4}
    assert run("subscribe", {"topic": "t", "rate": 0, "count": 0}, session)["count"] == 0
    assert run("subscribe", {"topic": "t", "rate": 100}, session) == {"topic": "t", "rate": 100, "count": None}
    assert run("subscribe", {"topic": "t"}, session) == {"topic": "t", "rate": 0, "count": None}
    assert session.subscriptions == [("t", 50, 4), ("t", 0, 0), ("t", 100, None), ("t", 0, None)]
    assert run("broadcast", {"topic": "t", "data": [1]}, session) == {"delivered": 3}
    assert session.broadcasts == [("t", [1])]
    for bad in (
        {"rate": 1, "count": 1},
        {"topic": "", "rate": 1, "count": 1},
        {"topic": "t", "rate": 0, "count": 2},
        {"topic": "t", "rate": 1, "count": -1},
        {"topic": "t", "rate": 1e9, "count": 1},
    ):
        invalid("subscribe", bad)
    invalid("broadcast", {"data": 1})
