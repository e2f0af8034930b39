"""Pure hello / call_tool message building and parsing (shared/PROTOCOL.md), with configurable field names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson


@dataclass(frozen=True)
class Dialect:
    """Field names and op values; the defaults are PROTOCOL.md, other servers of the family may differ."""

    op: str = "op"
    request_id: str = "request_id"
    tool_name: str = "name"
    arguments: str = "arguments"
    session_id: str = "session_id"
    token: str = "token"
    hello: str = "hello"
    hello_ok: str = "hello_ok"
    call_tool: str = "call_tool"
    tool_result: str = "tool_result"
    error: str = "error"
    event: str = "event"


DEFAULT_DIALECT = Dialect()


class ProtocolViolation(Exception):
    """A server message that breaks the protocol; `code` names what was wrong."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


@dataclass(frozen=True, slots=True)
class HelloOk:
    """The server accepted hello."""

    session_id: str | None
    server: dict[str, Any]
    tools: list[Any]


_LAST_HELLO: list[HelloOk] = []
"""The process's last distinct hello_ok (one at most): see `shared_hello`."""


def shared_hello(hello: HelloOk) -> HelloOk:
    """`hello` with the previous connection's `server` and `tools` objects when they are equal: every connection
    of a run keeps its hello_ok, and one server's are all alike (about 750 B each, kept once instead)."""
    last = _LAST_HELLO[0] if _LAST_HELLO else None
    try:
        alike = last is not None and last.server == hello.server and last.tools == hello.tools
    except RecursionError:  # a server's lists nested a thousand deep: kept as they are
        alike = False
    if alike:
        return HelloOk(hello.session_id, last.server, last.tools)  # type: ignore[union-attr]
    _LAST_HELLO[:] = [hello]
    return hello


@dataclass(slots=True)  # not frozen: a frozen __init__ costs twice as much, once per message
class ToolResult:
    """The answer to one call_tool; `error_code` is set when `ok` is false."""

    request_id: str
    ok: bool
    result: Any
    error_code: str | None


@dataclass(frozen=True, slots=True)
class ServerError:
    """An `error` op not tied to a call (hello refused, bad_message, hello_required)."""

    code: str
    message: str


@dataclass(slots=True)  # not frozen: a frozen __init__ costs twice as much, once per message
class PushEvent:
    """One server-push message: an event of a subscription (`seq` set: gaps are tracked), or a notification
    without one (`seq` None: only counted); `topic` names it (`push:<topic>`)."""

    topic: str
    seq: int | None
    sent_at_ns: int | None


@dataclass(frozen=True, slots=True)
class OtherMessage:
    """A well-formed message with an op this client does not act on (e.g. `tools`)."""

    op: str
    request_id: str | None


@dataclass(frozen=True, slots=True)
class Reply:
    """A server request the client answers at once (e.g. MCP's `ping`): `payload` is the answer to send."""

    payload: bytes


@dataclass(frozen=True, slots=True)
class Several:
    """More than one outcome of one server message, handled in order: each a message of the types above, or a
    ProtocolViolation counted as a fault (a JSON-RPC batch answer; a response that fails its call and is also
    a protocol error)."""

    messages: tuple[Any, ...]


ServerMessage = HelloOk | ToolResult | ServerError | PushEvent | OtherMessage | Reply | Several


def build_hello(session_id: str, token: str, dialect: Dialect = DEFAULT_DIALECT) -> bytes:
    """The hello message as UTF-8 JSON bytes."""
    return orjson.dumps({dialect.op: dialect.hello, dialect.session_id: session_id, dialect.token: token})


class CallTemplate:
    """A call_tool message for one tool with fixed arguments, serialised once; only the request_id varies."""

    __slots__ = ("tool", "arguments", "_head", "_tail")

    def __init__(self, tool: str, arguments: Any, dialect: Dialect = DEFAULT_DIALECT) -> None:
        self.tool = tool
        self.arguments = arguments
        d = dialect
        self._head = (
            b"{" + orjson.dumps(d.op) + b":" + orjson.dumps(d.call_tool) + b"," + orjson.dumps(d.request_id) + b':"'
        )
        self._tail = (
            b'",'
            + orjson.dumps(d.tool_name)
            + b":"
            + orjson.dumps(tool)
            + b","
            + orjson.dumps(d.arguments)
            + b":"
            + orjson.dumps(arguments)
            + b"}"
        )

    def encode(self, request_id: str) -> bytes:
        """The message for `request_id`, which must need no JSON escaping (the client makes digits)."""
        return self._head + request_id.encode() + self._tail


def parse_server_message(payload: bytes, dialect: Dialect = DEFAULT_DIALECT) -> ServerMessage:
    """Classify one text frame from the server; raise ProtocolViolation when it is malformed."""
    try:
        msg = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        code = "invalid_utf8" if "utf-8" in str(exc).lower() else "bad_json"
        raise ProtocolViolation(code, "server frame is not valid JSON") from None
    if not isinstance(msg, dict):
        raise ProtocolViolation("not_an_object", f"server sent a JSON {type(msg).__name__}")
    d = dialect
    op = msg.get(d.op)
    if op == d.tool_result:
        rid = msg.get(d.request_id)
        if not isinstance(rid, str):
            if rid is None:
                raise ProtocolViolation("missing_request_id", "tool_result without a request_id")
            raise ProtocolViolation("bad_request_id_type", f"tool_result with a {type(rid).__name__} request_id")
        ok = msg.get("ok")
        if ok is True:
            return ToolResult(rid, True, msg.get("result"), None)
        if ok is False:
            error = msg.get("error")
            code = error.get("code") if isinstance(error, dict) else None
            if not isinstance(code, str) or not code:
                raise ProtocolViolation("bad_result", "failed tool_result without error.code")
            return ToolResult(rid, False, None, code)
        raise ProtocolViolation("bad_result", "tool_result without a boolean ok")
    if op == d.event:
        seq = msg.get("seq")
        topic = msg.get("topic")
        if not isinstance(seq, int) or not isinstance(topic, str):
            raise ProtocolViolation("bad_event", "event without integer seq and string topic")
        sent = msg.get("sent_at_ns")
        return PushEvent(topic, seq, sent if isinstance(sent, int) else None)
    if op == d.hello_ok:
        tools = msg.get("tools")
        server = msg.get("server")
        return HelloOk(
            msg.get(d.session_id),
            server if isinstance(server, dict) else {},
            tools if isinstance(tools, list) else [],
        )
    if op == d.error:
        code = msg.get("code")
        if not isinstance(code, str) or not code:
            raise ProtocolViolation("bad_error", "error without a code")
        message = msg.get("message")
        return ServerError(code, message if isinstance(message, str) else "")
    if isinstance(op, str):
        rid = msg.get(d.request_id)
        return OtherMessage(op, rid if isinstance(rid, str) else None)
    raise ProtocolViolation("unknown_op", "server message without a string op")
