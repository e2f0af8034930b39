"""The toolcall protocol is users/wire/protocol.py's codec unchanged: same bytes, and the very same parse function."""

from __future__ import annotations

import json

from users.wire.protocol import CallTemplate, Dialect, ToolResult, build_hello, parse_server_message
from users.wire.protocols import ToolCall


def test_hello_and_calls_are_the_codecs_own_bytes() -> None:
    toolcall = ToolCall()
    assert toolcall.hello("s1", "tok") == build_hello("s1", "tok")
    assert toolcall.template("echo", {"x": 1}).encode("7") == CallTemplate("echo", {"x": 1}).encode("7")
    assert toolcall.upgrade_headers("tok") == [] and toolcall.has_hello and toolcall.subprotocols == ()


def test_the_default_dialect_parses_with_no_wrapper_and_another_dialect_with_its_names() -> None:
    assert ToolCall().parser() is parse_server_message  # the hot path pays no extra call
    renamed = ToolCall(Dialect(op="type", request_id="id", tool_result="result"))
    message = json.dumps({"type": "result", "id": "3", "ok": True, "result": 1}).encode()
    assert renamed.parser()(message) == ToolResult("3", True, 1, None)
    assert json.loads(renamed.template("echo", {}).encode("3"))["type"] == "call_tool"
