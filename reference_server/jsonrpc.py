"""The ``jsonrpc`` protocol: JSON-RPC 2.0 requests whose method is a tool; token checked at the upgrade.

Same tools, counters, limits and faults as the toolcall protocol; only the messages differ:
a request ``{"jsonrpc":"2.0","id":N,"method":TOOL,"params":{...}}`` (integer or string id)
is answered ``{"jsonrpc":"2.0","id":N,"result":...}`` or with ``error`` {code, message,
data: {code: <PROTOCOL.md code>}}; pushes are ``subscription`` notifications.
"""

from __future__ import annotations

from typing import Any

from orjson import JSONEncodeError
from picows import WSCloseCode

from . import rpc_messages as rpc
from .connection import Connection
from .context import ServerContext
from .messages import BadMessage, InvalidUtf8, decode
from .rpc_messages import NO_ID, BadRequest
from .work import HELLO_STALLED, OPEN


class JsonRpcConnection(Connection):
    """A Connection speaking JSON-RPC 2.0 instead of PROTOCOL.md's messages.

    The bearer token was checked at the upgrade (``upgrade``); ``scope`` is its grant.
    Client notifications (no ``id``) are not answered and not counted; batches are
    refused with -32600.
    """

    __slots__ = ("_grant_scope",)
    ID_KEY = "id"
    #: The subprotocol the upgrade must offer and the answer names (None: none).
    SUBPROTOCOL: str | None = None
    #: True when the protocol has its own handshake before calls (MCP's initialize).
    HANDSHAKE = False

    def __init__(self, ctx: ServerContext, scope: frozenset[str] | None) -> None:
        super().__init__(ctx)
        self._grant_scope = scope

    def _start_session(self) -> None:
        super()._start_session()
        if not self.HANDSHAKE:
            self._accept(self._grant_scope)

    # ---- messages -----------------------------------------------------------------------------

    def _handle_text(self, data: memoryview | bytearray | bytes) -> None:
        state = self._state
        if state is HELLO_STALLED:
            return
        try:
            msg = decode(data)
        except BadMessage:
            self._bad_request(BadRequest(rpc.PARSE_ERROR, "message is not valid JSON"))
            return
        except InvalidUtf8:
            self._invalid_utf8()
            return
        try:
            request_id, method, params = rpc.parse_request(msg)
        except BadRequest as exc:
            if not self._on_other(msg):
                self._bad_request(exc)
            return
        if request_id is NO_ID:
            return  # a notification: nothing to answer
        if state is OPEN:
            self._on_request(request_id, method, params)
        else:
            self._on_opening(request_id, method, params)

    def _handle_binary(self) -> None:
        self._bad_request(BadRequest(rpc.INVALID_REQUEST, "binary frames are not part of the protocol"))

    def _on_request(self, request_id: Any, method: str, params: Any) -> None:
        """A request after the handshake: the method is the tool."""
        if type(params) is not dict:
            self._counters.calls_received += 1
            self._result_error(request_id, "invalid_arguments", "params must be an object")
            return
        self._dispatch(request_id, method, params)

    def _on_opening(self, request_id: Any, method: str, params: Any) -> None:
        """A request before the handshake completed (only protocols with a handshake have one)."""
        self._refuse_hello("hello_required", "initialize first")

    def _on_other(self, msg: Any) -> bool:
        """A message that is not a request: True if the protocol handled it (else it is a bad request)."""
        return False

    def _bad_request(self, exc: BadRequest) -> None:
        if self._state is not OPEN:
            if self._state is not HELLO_STALLED:
                self._refuse_hello("hello_required", "initialize first")
            return
        self._counters.bad_messages += 1
        if exc.request_id is None:
            self._send(rpc.error(None, exc.rpc_code, exc.message, "bad_message"))
        else:
            self._counters.calls_received += 1
            self._answer(rpc.error(exc.request_id, exc.rpc_code, exc.message, "bad_message"), "bad_message")

    def _refuse_hello(self, code: str, message: str) -> None:
        self._counters.refuse_hello(code)
        self._send(rpc.error(None, rpc.INVALID_REQUEST, message, code))
        self.close(WSCloseCode.POLICY_VIOLATION, code)

    # ---- answers ------------------------------------------------------------------------------

    def _result_ok(self, request_id: Any, result: Any) -> None:
        try:
            data = rpc.result(request_id, result)
        except JSONEncodeError:
            self._result_error(request_id, "tool_failed", "result cannot be encoded as JSON")
            return
        self._answer(data, None)

    def _result_error(self, request_id: Any, code: str, message: str) -> None:
        self._answer(rpc.tool_error(request_id, code, message), code)

    def _encode_event(self, topic: str, seq: int, sent_at_ns: int, data: Any) -> bytes:
        return rpc.subscription_event(topic, seq, sent_at_ns, data)
