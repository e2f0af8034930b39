"""messages: parsing client messages into requests or BadMessage, and reply shapes."""

import json

import pytest

from reference_server import messages
from reference_server.messages import BadMessage, InvalidUtf8


def test_decode_accepts_bytes_bytearray_and_memoryview() -> None:
    raw = b'{"op":"hello"}'
    for data in (raw, bytearray(raw), memoryview(raw)):
        assert messages.decode(data) == {"op": "hello"}


@pytest.mark.parametrize("data", [b"", b"nope", b'{"op":', b"{'op': 1}"])
def test_decode_rejects_non_json_as_bad_message(data: bytes) -> None:
    with pytest.raises(BadMessage):
        messages.decode(data)


@pytest.mark.parametrize("data", [b'{"op":"\xff"}', b"\xc3\x28", b'"\xed\xa0\x80"'])
def test_decode_reports_invalid_utf8_separately(data: bytes) -> None:
    with pytest.raises(InvalidUtf8):
        messages.decode(data)


def test_parse_call_returns_fields_and_defaults_arguments() -> None:
    assert messages.parse_call({"op": "call_tool", "request_id": "1", "name": "echo", "arguments": {"a": 1}}) == (
        "1",
        "echo",
        {"a": 1},
    )
    assert messages.parse_call({"op": "call_tool", "request_id": "2", "name": "echo"}) == ("2", "echo", {})


@pytest.mark.parametrize(
    ("msg", "request_id"),
    [
        ({"name": "echo"}, None),
        ({"request_id": None, "name": "echo"}, None),
        ({"request_id": 7, "name": "echo"}, None),
        ({"request_id": "r", "name": 3}, "r"),
        ({"request_id": "r"}, "r"),
        ({"request_id": "r", "name": "echo", "arguments": [1]}, "r"),
        ({"request_id": "r", "name": "echo", "arguments": None}, "r"),
    ],
)
def test_parse_call_keeps_a_usable_request_id_on_errors(msg: dict, request_id: str | None) -> None:
    with pytest.raises(BadMessage) as info:
        messages.parse_call({"op": "call_tool", **msg})
    assert info.value.request_id == request_id
    assert info.value.reason


def test_parse_hello_and_list_tools() -> None:
    assert messages.parse_hello({"op": "hello", "session_id": "s", "token": "t"}) == ("s", "t")
    with pytest.raises(BadMessage):
        messages.parse_hello({"op": "hello", "session_id": "s"})
    with pytest.raises(BadMessage):
        messages.parse_hello({"op": "hello", "session_id": 1, "token": "t"})
    assert messages.parse_list_tools({"op": "list_tools", "request_id": "x"}) == "x"
    with pytest.raises(BadMessage):
        messages.parse_list_tools({"op": "list_tools"})


@pytest.mark.parametrize(
    ("msg", "reason"),
    [([], "object"), ("x", "object"), ({}, "lacks op"), ({"op": 1}, "string"), ({"op": "dance"}, "unknown op")],
)
def test_describe_op(msg: object, reason: str) -> None:
    assert reason in messages.describe_op(msg)


def test_reply_shapes_follow_the_protocol() -> None:
    assert json.loads(messages.tool_ok("r", [1])) == {"op": "tool_result", "request_id": "r", "ok": True, "result": [1]}
    assert json.loads(messages.tool_error("r", "forbidden", "no")) == {
        "op": "tool_result",
        "request_id": "r",
        "ok": False,
        "error": {"code": "forbidden", "message": "no"},
    }
    assert json.loads(messages.error("hello_required", "first")) == {
        "op": "error",
        "code": "hello_required",
        "message": "first",
    }
    assert json.loads(messages.hello_ok("s", {"name": "n", "version": "v"}, ["echo"])) == {
        "op": "hello_ok",
        "session_id": "s",
        "server": {"name": "n", "version": "v"},
        "tools": ["echo"],
    }
    assert json.loads(messages.tools_list("r", [{"name": "echo", "description": "d"}]))["op"] == "tools"
    assert json.loads(messages.event("t", 3, 42, {"x": 1})) == {
        "op": "event",
        "topic": "t",
        "seq": 3,
        "sent_at_ns": 42,
        "data": {"x": 1},
    }
