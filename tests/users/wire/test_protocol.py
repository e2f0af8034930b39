"""Message building and parsing follow PROTOCOL.md and a configured dialect."""

from __future__ import annotations

import orjson
import pytest

from users.wire.protocol import (
    CallTemplate,
    Dialect,
    HelloOk,
    OtherMessage,
    ProtocolViolation,
    PushEvent,
    ServerError,
    ToolResult,
    build_hello,
    parse_server_message,
)


def test_hello_message() -> None:
    assert orjson.loads(build_hello("s-1", "tok")) == {"op": "hello", "session_id": "s-1", "token": "tok"}


@pytest.mark.parametrize("arguments", [{}, {"ms": 5}, {"text": 'quo"te \\ ü'}, [1, 2], None])
def test_call_template_equals_plain_serialisation(arguments: object) -> None:
    template = CallTemplate("echo", arguments)
    assert orjson.loads(template.encode("42")) == {
        "op": "call_tool",
        "request_id": "42",
        "name": "echo",
        "arguments": arguments,
    }


def test_dialect_renames_fields() -> None:
    dialect = Dialect(op="type", request_id="id", tool_name="tool", arguments="params", tool_result="result")
    assert orjson.loads(CallTemplate("echo", {}, dialect).encode("1")) == {
        "type": "call_tool",
        "id": "1",
        "tool": "echo",
        "params": {},
    }
    parsed = parse_server_message(b'{"type":"result","id":"1","ok":true,"result":3}', dialect)
    assert parsed == ToolResult("1", True, 3, None)


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b'{"op":"tool_result","request_id":"7","ok":true,"result":{"a":1}}', ToolResult("7", True, {"a": 1}, None)),
        (
            b'{"op":"tool_result","request_id":"7","ok":false,"error":{"code":"forbidden","message":"no"}}',
            ToolResult("7", False, None, "forbidden"),
        ),
        (
            b'{"op":"hello_ok","session_id":"s","server":{"name":"ref"},"tools":["echo"]}',
            HelloOk("s", {"name": "ref"}, ["echo"]),
        ),
        (b'{"op":"error","code":"token_expired","message":"expired"}', ServerError("token_expired", "expired")),
        (b'{"op":"event","topic":"t","seq":3,"sent_at_ns":99,"data":1}', PushEvent("t", 3, 99)),
        (b'{"op":"tools","request_id":"9","tools":[]}', OtherMessage("tools", "9")),
    ],
)
def test_parses_each_server_op(payload: bytes, expected: object) -> None:
    assert parse_server_message(payload) == expected


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"not json", "bad_json"),
        (b"\xff\xfe{}", "invalid_utf8"),
        (b"[1,2]", "not_an_object"),
        (b'{"no_op":1}', "unknown_op"),
        (b'{"op":"tool_result","ok":true}', "missing_request_id"),
        (b'{"op":"tool_result","request_id":5,"ok":true}', "bad_request_id_type"),
        (b'{"op":"tool_result","request_id":null,"ok":true}', "missing_request_id"),
        (b'{"op":"tool_result","request_id":["1"],"ok":true}', "bad_request_id_type"),
        (b'{"op":"tool_result","request_id":"1"}', "bad_result"),
        (b'{"op":"tool_result","request_id":"1","ok":false}', "bad_result"),
        (b'{"op":"tool_result","request_id":"1","ok":false,"error":{"code":""}}', "bad_result"),
        (b'{"op":"event","topic":"t","seq":"1"}', "bad_event"),
        (b'{"op":"error"}', "bad_error"),
    ],
)
def test_malformed_messages_raise_a_named_violation(payload: bytes, code: str) -> None:
    with pytest.raises(ProtocolViolation) as info:
        parse_server_message(payload)
    assert info.value.code == code
