"""The ``jsonrpc`` codec: JSON-RPC 2.0 requests whose method is a tool; token checked at the upgrade (pure).

Same tools, counters, limits and faults as the toolcall protocol; only the messages differ:
a request ``{"jsonrpc":"2.0","id":N,"method":TOOL,"params":{...}}`` (integer or string id)
is answered ``{"jsonrpc":"2.0","id":N,"result":...}`` or with ``error`` {code, message,
data: {code: <PROTOCOL.md code>}}; pushes are ``subscription`` notifications. Client
notifications (no ``id``) are not answered and not counted; batches are refused with -32600.
"""

from __future__ import annotations

from typing import Any

from . import rpc_messages as rpc
from .codec import BAD, BAD_CALL, IGNORED, NOT_A_HELLO, NOT_UTF8, REFUSED_CALL, OnCall, Request
from .messages import BadMessage, InvalidUtf8, decode
from .rpc_messages import NO_ID, BadRequest

_BINARY = "binary frames are not part of the protocol"


class JsonRpcCodec:
    """JSON-RPC 2.0 messages; open once upgraded (the bearer token was the handshake)."""

    __slots__ = ()
    ID_KEY = "id"
    SUBPROTOCOL: str | None = None
    HANDSHAKE = False
    PINGS = False
    HELLO_REQUIRED = "initialize first"

    def decode(self, data: bytes | bytearray | memoryview, on_call: OnCall) -> Request | None:
        try:
            msg = decode(data)
        except BadMessage:
            return self._bad_request(BadRequest(rpc.PARSE_ERROR, "message is not valid JSON"))
        except InvalidUtf8:
            return NOT_UTF8
        try:
            request_id, method, params = rpc.parse_request(msg)
        except BadRequest as exc:
            return IGNORED if self._is_other(msg) else self._bad_request(exc)
        if request_id is NO_ID:
            return IGNORED  # a notification: nothing to answer
        return self._request(request_id, method, params, on_call)

    def decode_opening(self, data: bytes | bytearray | memoryview) -> Request:
        try:
            msg = decode(data)
        except BadMessage:
            return NOT_A_HELLO
        except InvalidUtf8:
            return NOT_UTF8
        try:
            request_id, method, params = rpc.parse_request(msg)
        except BadRequest:
            return IGNORED if self._is_other(msg) else NOT_A_HELLO
        if request_id is NO_ID:
            return IGNORED
        return self._opening(request_id, method, params)

    def binary(self, opening: bool) -> Request:
        if opening:
            return NOT_A_HELLO
        return self._bad_request(BadRequest(rpc.INVALID_REQUEST, _BINARY))

    def _request(self, request_id: Any, method: str, params: Any, on_call: OnCall) -> Request | None:
        """A request after the handshake: the method is the tool."""
        if type(params) is not dict:
            data = rpc.tool_error(request_id, "invalid_arguments", "params must be an object")
            return (REFUSED_CALL, data, "invalid_arguments", None)
        on_call(request_id, method, params)
        return None

    def _opening(self, request_id: Any, method: str, params: Any) -> Request:
        """A request before the handshake completed (only protocols with a handshake have one)."""
        return NOT_A_HELLO

    def _is_other(self, msg: Any) -> bool:
        """A message that is not a request but needs nothing (else it is a bad request)."""
        return False

    @staticmethod
    def _bad_request(exc: BadRequest) -> Request:
        if exc.request_id is None:
            return (BAD, rpc.error(None, exc.rpc_code, exc.message, "bad_message"), None, None)
        return (BAD_CALL, rpc.error(exc.request_id, exc.rpc_code, exc.message, "bad_message"), "bad_message", None)

    ok = staticmethod(rpc.result)
    error = staticmethod(rpc.tool_error)
    event = staticmethod(rpc.subscription_event)

    @staticmethod
    def refusal(code: str, message: str) -> bytes:
        return rpc.error(None, rpc.INVALID_REQUEST, message, code)

    @staticmethod
    def ping(serial: int) -> bytes | None:
        return None
