"""Small domain assertions for reference server replies."""

from __future__ import annotations

from typing import Any


def assert_ok(reply: dict[str, Any], request_id: str) -> Any:
    """``reply`` is a successful tool_result for ``request_id``; return its result."""
    assert reply["op"] == "tool_result", reply
    assert reply["request_id"] == request_id, reply
    assert reply["ok"] is True, reply
    return reply["result"]


def assert_tool_error(reply: dict[str, Any], request_id: str, code: str) -> str:
    """``reply`` is a failed tool_result with ``code``; return its message."""
    assert reply["op"] == "tool_result", reply
    assert reply["request_id"] == request_id, reply
    assert reply["ok"] is False, reply
    assert reply["error"]["code"] == code, reply
    assert isinstance(reply["error"]["message"], str)
    return reply["error"]["message"]


def assert_error(reply: dict[str, Any], code: str) -> str:
    """``reply`` is an ``error`` op with ``code``; return its message."""
    assert reply["op"] == "error", reply
    assert reply["code"] == code, reply
    assert isinstance(reply["message"], str) and reply["message"], reply
    return reply["message"]
