"""The ``toolcall`` codec (PROTOCOL.md's messages): text in -> requests, answers -> text (pure)."""

from __future__ import annotations

from orjson import JSONDecodeError, loads

from . import messages as m
from .codec import (
    BAD,
    BAD_CALL,
    BAD_HELLO,
    HELLO,
    LIST_TOOLS,
    NOT_A_HELLO,
    NOT_UTF8,
    OnCall,
    Request,
)
from .messages import BadMessage, InvalidUtf8, parse_call


class ToolcallCodec:
    """PROTOCOL.md: hello with a token, ``call_tool`` / ``list_tools``, ``tool_result`` and ``event`` answers."""

    __slots__ = ("_server_info", "_tool_names", "_tool_descriptions")
    ID_KEY = "request_id"
    SUBPROTOCOL: str | None = None
    HANDSHAKE = True
    PINGS = False
    HELLO_REQUIRED = "send hello first"

    def __init__(
        self, server_info: dict[str, str], tool_names: list[str], tool_descriptions: list[dict[str, str]]
    ) -> None:
        self._server_info = server_info
        self._tool_names = tool_names
        self._tool_descriptions = tool_descriptions

    def decode(self, data: bytes | bytearray | memoryview, on_call: OnCall) -> Request | None:
        try:
            msg = loads(data)  # messages.decode inlined: one call less per message
        except JSONDecodeError:
            try:
                m.decode(data)
            except InvalidUtf8:
                return NOT_UTF8
            except BadMessage as exc:
                return self._bad(exc)
            raise  # pragma: no cover - loads and decode agree
        if type(msg) is dict:
            op = msg.get("op")
            if op == "call_tool":
                try:
                    request_id, name, args = parse_call(msg)
                except BadMessage as exc:
                    return self._bad(exc)
                on_call(request_id, name, args)
                return None
            if op == "list_tools":
                try:
                    request_id = m.parse_list_tools(msg)
                except BadMessage as exc:
                    return self._bad(exc)
                return (LIST_TOOLS, m.tools_list(request_id, self._tool_descriptions), None, None)
            if op == "hello":
                return self._bad(BadMessage("hello was already accepted on this connection"))
        return self._bad(BadMessage(m.describe_op(msg)))

    def decode_opening(self, data: bytes | bytearray | memoryview) -> Request:
        try:
            msg = m.decode(data)
        except BadMessage:
            return NOT_A_HELLO
        except InvalidUtf8:
            return NOT_UTF8
        if type(msg) is not dict or msg.get("op") != "hello":
            return NOT_A_HELLO
        try:
            session_id, token = m.parse_hello(msg)
        except BadMessage as exc:
            return (BAD_HELLO, m.error("bad_message", exc.reason), None, None)
        return (HELLO, token, m.hello_ok(session_id, self._server_info, self._tool_names), None)

    def binary(self, opening: bool) -> Request:
        if opening:
            return NOT_A_HELLO
        return (BAD, m.error("bad_message", "binary frames are not part of the protocol"), None, None)

    def _bad(self, exc: BadMessage) -> Request:
        """A bad message: a tool_result error when it carried a usable request_id, else a connection error."""
        if exc.request_id is None:
            return (BAD, m.error("bad_message", exc.reason), None, None)
        return (BAD_CALL, m.tool_error(exc.request_id, "bad_message", exc.reason), "bad_message", None)

    #: The answer encoders are messages' builders themselves (no wrapper call per answer).
    ok = staticmethod(m.tool_ok)
    error = staticmethod(m.tool_error)
    refusal = staticmethod(m.error)
    event = staticmethod(m.event)

    @staticmethod
    def ping(serial: int) -> bytes | None:
        return None
