"""Pure `jsonrpc` protocol (JSON-RPC 2.0): a tool is a method, integer ids, `result` / `error`, notifications."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from users.wire.protocol import (
    HelloOk,
    ProtocolViolation,
    PushEvent,
    Reply,
    ServerError,
    ServerMessage,
    Several,
    ToolResult,
)
from users.wire.protocols.base import Protocol

HELLO_ID = "hello"
"""The id of the handshake request (calls have integer ids, so it cannot be taken for one)."""
MESSAGE_CHARS = 60
"""A JSON-RPC error's message is cut to this many characters in the failure (Locust groups failures by it)."""
METHOD_NOT_FOUND = -32601
INVALID_RESPONSE = "jsonrpc:invalid_response"
"""The failure of a call whose response holds both `result` and `error`."""


class RpcTemplate:
    """A JSON-RPC request for one tool with fixed params, serialised once; only the integer id varies."""

    __slots__ = ("tool", "arguments", "_head", "_tail")

    def __init__(self, tool: str, arguments: Any, method: str, params: Any) -> None:
        self.tool = tool
        self.arguments = arguments
        self._head = b'{"jsonrpc":"2.0","id":'
        self._tail = b',"method":' + orjson.dumps(method) + b',"params":' + orjson.dumps(params) + b"}"

    def encode(self, request_id: str) -> bytes:
        """The request for `request_id`, which must be decimal digits (it is written as a JSON integer)."""
        return self._head + request_id.encode() + self._tail


def load_message(payload: bytes) -> dict[str, Any] | list[Any]:
    """The JSON object (or batch array) in `payload`; ProtocolViolation (bad_json, invalid_utf8, not_an_object)
    otherwise."""
    try:
        msg = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        code = "invalid_utf8" if "utf-8" in str(exc).lower() else "bad_json"
        raise ProtocolViolation(code, "server frame is not valid JSON") from None
    kind = type(msg)
    if kind is not dict and kind is not list:
        raise ProtocolViolation("not_an_object", f"server sent a JSON {kind.__name__}")
    return msg


def load_object(payload: bytes) -> dict[str, Any]:
    """The JSON object in `payload`; ProtocolViolation (bad_json, invalid_utf8, not_an_object) otherwise."""
    msg = load_message(payload)
    if type(msg) is not dict:
        raise ProtocolViolation("not_an_object", "server sent a JSON array")
    return msg


def error_code(error: Any) -> tuple[str, str]:
    """(failure code `jsonrpc_error:<code> <message>`, message) of a JSON-RPC error object."""
    if type(error) is not dict or type(error.get("code")) is not int:
        raise ProtocolViolation("bad_error", "error without an integer code")
    message = error.get("message")
    message = message if isinstance(message, str) else ""
    short = message[:MESSAGE_CHARS]
    return (f"jsonrpc_error:{error['code']} {short}" if short else f"jsonrpc_error:{error['code']}"), message


def request(request_id: Any, method: str, params: Any = None) -> bytes:
    """A request (or, with `request_id` None, a notification)."""
    msg: dict[str, Any] = {"jsonrpc": "2.0"}
    if request_id is not None:
        msg["id"] = request_id
    msg["method"] = method
    if params is not None:
        msg["params"] = params
    return orjson.dumps(msg)


class JsonRpc(Protocol):
    """JSON-RPC 2.0: `{"jsonrpc":"2.0","id":N,"method":<tool>,"params":<arguments>}`; the token, if any, in the
    upgrade's bearer header; no handshake unless `hello_method` is set (its request is then timed as `hello`)."""

    name = "jsonrpc"
    bearer_token = True

    def __init__(self, hello_method: str = "", hello_params: Any = None) -> None:
        self.hello_method = hello_method
        self.hello_params = {} if hello_params is None else hello_params
        self.has_hello = bool(hello_method)

    # ------------------------------------------------------------- outgoing
    def hello(self, session_id: str, token: str) -> bytes:
        return request(HELLO_ID, self.hello_method, self.hello_params)

    def template(self, tool: str, arguments: Any) -> RpcTemplate:
        return RpcTemplate(tool, arguments, tool, arguments)

    def parser(self) -> Callable[[bytes], ServerMessage]:
        return self.parse

    # ------------------------------------------------------------- incoming
    def parse(self, payload: bytes) -> ServerMessage:
        """Classify one server message: a response, a server request, a notification (a push), or a batch of
        them (a JSON array: each part settled in turn)."""
        msg = load_message(payload)
        if type(msg) is list:
            return self.batch(msg)
        return self.classify(msg)

    def batch(self, parts: list[Any]) -> Several:
        """A batch answer: each part classified alone (a part that is not a valid message is a violation)."""
        if not parts:
            raise ProtocolViolation("empty_batch", "server sent an empty JSON array")
        messages: list[Any] = []
        for part in parts:
            try:
                if type(part) is not dict:
                    raise ProtocolViolation("not_an_object", f"batch part is a JSON {type(part).__name__}")
                messages.append(self.classify(part))
            except ProtocolViolation as exc:
                messages.append(exc)
        return Several(tuple(messages))

    def classify(self, msg: dict[str, Any]) -> ServerMessage:
        """One JSON-RPC object: a response, a server request or a notification."""
        method = msg.get("method")
        if method is None:
            return self.response(msg)
        if type(method) is not str:
            raise ProtocolViolation("bad_request", "method is not a string")
        request_id = msg.get("id")
        if request_id is not None:
            return self.server_request(request_id, method, msg.get("params"))
        return self.notification(method, msg.get("params"))

    def response(self, msg: dict[str, Any]) -> ServerMessage:
        """A response: a call's result or error (integer id), the handshake's, or an error not tied to a call."""
        request_id = msg.get("id")
        if "result" in msg and "error" in msg:  # JSON-RPC 2.0 section 5: exactly one of them
            return invalid_response(request_id)
        if "result" in msg:
            if type(request_id) is int:
                return self.result(str(request_id), msg["result"])
            if request_id == HELLO_ID:
                return self.hello_answer(msg["result"])
            raise _id_violation(request_id)
        if "error" in msg:
            code, message = error_code(msg["error"])
            if type(request_id) is int:
                return ToolResult(str(request_id), False, None, code)
            if request_id is None or request_id == HELLO_ID:
                return ServerError(code, message)
            raise _id_violation(request_id)
        raise ProtocolViolation("bad_response", "a message with neither method, result nor error")

    def result(self, request_id: str, value: Any) -> ToolResult:
        """A call's `result`: a success."""
        return ToolResult(request_id, True, value, None)

    def hello_answer(self, value: Any) -> HelloOk:
        """The handshake's `result`."""
        return HelloOk(None, value if type(value) is dict else {}, [])

    def server_request(self, request_id: Any, method: str, params: Any) -> Reply:
        """A request from the server: `ping` is answered with an empty result, anything else method-not-found."""
        if method == "ping":
            return Reply(orjson.dumps({"jsonrpc": "2.0", "id": request_id, "result": {}}))
        error = {"code": METHOD_NOT_FOUND, "message": "method not found"}
        return Reply(orjson.dumps({"jsonrpc": "2.0", "id": request_id, "error": error}))

    def notification(self, method: str, params: Any) -> PushEvent:
        """A push: a subscription event carrying PROTOCOL.md's `topic`/`seq` (gaps tracked, named by topic), or
        any other notification (`eth_subscription`, `accountNotification`, ...), named by its method."""
        if type(params) is dict and "subscription" in params:
            result = params.get("result")
            if type(result) is dict:
                topic, seq = result.get("topic"), result.get("seq")
                if type(topic) is str and type(seq) is int:
                    sent = result.get("sent_at_ns")
                    return PushEvent(topic, seq, sent if type(sent) is int else None)
        return PushEvent(method, None, None)


def invalid_response(request_id: Any) -> Several:
    """A response with both `result` and `error`: its call (if its id names one) fails `jsonrpc:invalid_response`,
    and it counts as a protocol error."""
    violation = ProtocolViolation("invalid_response", "response with both result and error")
    if type(request_id) is not int:
        raise violation
    return Several((ToolResult(str(request_id), False, None, INVALID_RESPONSE), violation))


def _id_violation(request_id: Any) -> ProtocolViolation:
    if request_id is None:
        return ProtocolViolation("missing_request_id", "response without an id")
    return ProtocolViolation("bad_request_id_type", f"response with a {type(request_id).__name__} id")
