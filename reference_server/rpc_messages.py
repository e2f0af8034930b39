"""Pure JSON-RPC 2.0 parsing and builders for the jsonrpc and mcp protocols (no I/O)."""

from __future__ import annotations

from typing import Any, Final

from orjson import dumps

PARSE_ERROR: Final = -32700
INVALID_REQUEST: Final = -32600
METHOD_NOT_FOUND: Final = -32601
INVALID_PARAMS: Final = -32602
#: A tool failed; ``error.data.code`` carries the tool's error code (PROTOCOL.md's codes).
TOOL_ERROR: Final = -32000
#: Our error code -> its JSON-RPC code (anything else is TOOL_ERROR).
RPC_CODES: Final = {
    "unknown_tool": METHOD_NOT_FOUND,
    "invalid_arguments": INVALID_PARAMS,
    "bad_message": INVALID_REQUEST,
}
#: Marks a message without an ``id`` (a notification).
NO_ID: Final = object()
_NO_PARAMS: dict[str, Any] = {}


class BadRequest(Exception):
    """A JSON-RPC message that is not a valid request: answered with ``rpc_code``.

    ``request_id`` is the message's id when it was usable (an integer or a string),
    else None (the answer then has ``"id": null``).
    """

    def __init__(self, rpc_code: int, message: str, request_id: Any = None) -> None:
        super().__init__(message)
        self.rpc_code = rpc_code
        self.message = message
        self.request_id = request_id


def usable_id(value: Any) -> bool:
    """True for the ids this server correlates: integers (not booleans) and strings."""
    kind = type(value)
    return kind is int or kind is str


def parse_request(msg: Any) -> tuple[Any, str, Any]:
    """A JSON-RPC message -> (id or NO_ID, method, params or {}). Raises BadRequest.

    ``params`` is returned as sent (the caller checks its shape); a missing one is ``{}``.
    """
    if type(msg) is not dict:
        if type(msg) is list:
            raise BadRequest(INVALID_REQUEST, "batch requests are not supported")
        raise BadRequest(INVALID_REQUEST, "a request must be a JSON object")
    request_id = msg.get("id", NO_ID)
    method = msg.get("method")
    if msg.get("jsonrpc") == "2.0" and type(method) is str and (request_id is NO_ID or usable_id(request_id)):
        return request_id, method, msg.get("params", _NO_PARAMS)
    known = request_id if usable_id(request_id) else None
    if msg.get("jsonrpc") != "2.0":
        raise BadRequest(INVALID_REQUEST, 'jsonrpc must be "2.0"', known)
    if type(method) is not str:
        raise BadRequest(INVALID_REQUEST, "method must be a string", known)
    raise BadRequest(INVALID_REQUEST, "id must be an integer or a string")


def is_response(msg: Any) -> bool:
    """True for a JSON-RPC response (the client answering a request of ours)."""
    return type(msg) is dict and "method" not in msg and ("result" in msg or "error" in msg) and "id" in msg


# ---- builders -------------------------------------------------------------------------------


def result(request_id: Any, value: Any) -> bytes:
    """A success response (raises orjson.JSONEncodeError for unencodable values)."""
    return dumps({"jsonrpc": "2.0", "id": request_id, "result": value})


def error(request_id: Any, rpc_code: int, message: str, code: str | None = None) -> bytes:
    """An error response; ``code`` (our error code) goes in ``error.data.code``."""
    err: dict[str, Any] = {"code": rpc_code, "message": message}
    if code is not None:
        err["data"] = {"code": code}
    return dumps({"jsonrpc": "2.0", "id": request_id, "error": err})


def tool_error(request_id: Any, code: str, message: str) -> bytes:
    """The error response to a call that failed with our error ``code``."""
    return error(request_id, RPC_CODES.get(code, TOOL_ERROR), message, code)


def notification(method: str, params: Any) -> bytes:
    """A notification (no id)."""
    return dumps({"jsonrpc": "2.0", "method": method, "params": params})


def request(request_id: Any, method: str, params: Any = None) -> bytes:
    """A request of the server's own (e.g. MCP's ping)."""
    msg: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params is not None:
        msg["params"] = params
    return dumps(msg)


def subscription_event(topic: str, seq: int, sent_at_ns: int, data: Any) -> bytes:
    """A push: ``subscription`` notification whose ``params.result`` is PROTOCOL.md's event fields."""
    return dumps(
        {
            "jsonrpc": "2.0",
            "method": "subscription",
            "params": {
                "subscription": topic,
                "result": {"topic": topic, "seq": seq, "sent_at_ns": sent_at_ns, "data": data},
            },
        }
    )
