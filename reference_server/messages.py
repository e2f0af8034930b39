"""Pure parsing/validation of client messages and builders for server replies (PROTOCOL.md)."""

from __future__ import annotations

from typing import Any

from orjson import JSONDecodeError, dumps, loads

#: Shared, never-mutated default for a call_tool without ``arguments``.
NO_ARGUMENTS: dict[str, Any] = {}


class BadMessage(Exception):
    """A client message that breaks the protocol; answered with code ``bad_message``.

    ``request_id`` is set when the message still carried a usable string id, so the
    answer can be a ``tool_result`` the client can correlate.
    """

    def __init__(self, reason: str, request_id: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.request_id = request_id


class InvalidUtf8(Exception):
    """A text message that is not valid UTF-8 (the connection is closed with 1007)."""


def decode(data: bytes | bytearray | memoryview) -> Any:
    """Parse one text message into a JSON value.

    Raises InvalidUtf8 for bytes that are not UTF-8, BadMessage for anything else
    that is not JSON.
    """
    try:
        return loads(data)
    except JSONDecodeError:
        try:
            str(data, "utf-8")
        except UnicodeDecodeError:
            raise InvalidUtf8("message is not valid UTF-8") from None
        raise BadMessage("message is not valid JSON") from None


def parse_call(msg: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """Validate a ``call_tool`` object -> (request_id, name, arguments).

    ``arguments`` may be omitted (an empty object is used). Raises BadMessage.
    """
    request_id = msg.get("request_id")
    name = msg.get("name")
    arguments = msg.get("arguments", NO_ARGUMENTS)
    if type(request_id) is str and type(name) is str and type(arguments) is dict:
        return request_id, name, arguments
    if type(request_id) is not str:
        if request_id is None:
            raise BadMessage("call_tool lacks request_id")
        raise BadMessage("call_tool request_id must be a string")
    if type(name) is not str:
        raise BadMessage("call_tool needs a string name", request_id)
    raise BadMessage("call_tool arguments must be an object", request_id)


def parse_hello(msg: dict[str, Any]) -> tuple[str, str]:
    """Validate a ``hello`` object -> (session_id, token). Raises BadMessage."""
    session_id = msg.get("session_id")
    token = msg.get("token")
    if type(session_id) is not str:
        raise BadMessage("hello needs a string session_id")
    if type(token) is not str:
        raise BadMessage("hello needs a string token")
    return session_id, token


def parse_list_tools(msg: dict[str, Any]) -> str:
    """Validate a ``list_tools`` object -> request_id. Raises BadMessage."""
    request_id = msg.get("request_id")
    if type(request_id) is not str:
        raise BadMessage("list_tools needs a string request_id")
    return request_id


def describe_op(msg: Any) -> str:
    """Why a non-call message could not be handled, as a short human reason."""
    if not isinstance(msg, dict):
        return "message must be a JSON object"
    op = msg.get("op")
    if op is None:
        return "message lacks op"
    if not isinstance(op, str):
        return "op must be a string"
    return "unknown op"


# ---- replies -------------------------------------------------------------------------


def hello_ok(session_id: str, server: dict[str, str], tools: list[str]) -> bytes:
    """The answer to an accepted hello."""
    return dumps({"op": "hello_ok", "session_id": session_id, "server": server, "tools": tools})


def error(code: str, message: str) -> bytes:
    """A connection-level error (hello refusal, bad_message without a request_id)."""
    return dumps({"op": "error", "code": code, "message": message})


def tool_ok(request_id: str, result: Any) -> bytes:
    """A successful tool_result (raises orjson.JSONEncodeError for unencodable results)."""
    return dumps({"op": "tool_result", "request_id": request_id, "ok": True, "result": result})


def tool_error(request_id: str, code: str, message: str) -> bytes:
    """A failed tool_result."""
    return dumps(
        {
            "op": "tool_result",
            "request_id": request_id,
            "ok": False,
            "error": {"code": code, "message": message},
        }
    )


def tools_list(request_id: str, tools: list[dict[str, str]]) -> bytes:
    """The answer to list_tools."""
    return dumps({"op": "tools", "request_id": request_id, "tools": tools})


def event(topic: str, seq: int, sent_at_ns: int, data: Any) -> bytes:
    """A server push."""
    return dumps({"op": "event", "topic": topic, "seq": seq, "sent_at_ns": sent_at_ns, "data": data})
