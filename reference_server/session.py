"""The protocol side of one connection (PROTOCOL.md): hello, dispatch, answers; tool work in ``work``.

No sockets: a subclass provides ``_send``, ``_send_frames`` and ``close`` (``backpressure``,
``connection``); the fuzz model in tests/reference_server drives it with a fake transport.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from orjson import JSONDecodeError, JSONEncodeError, loads
from picows import WSCloseCode

from .answer_faults import AnswerFaults
from .auth import AuthError
from .context import ServerContext
from .messages import (
    BadMessage,
    InvalidUtf8,
    decode,
    describe_op,
    error,
    hello_ok,
    parse_call,
    parse_hello,
    parse_list_tools,
    tool_error,
    tool_ok,
    tools_list,
)
from .ratelimit import TokenBucket
from .tools import PENDING, ToolError
from .work import AWAITING_HELLO, HELLO_STALLED, OPEN, ToolWork

log = logging.getLogger("reference_server")


class Session(ToolWork):
    """Hello, call dispatch and answers of one connection (toolcall protocol); tool work in ``ToolWork``.

    Nothing here touches a transport. Another protocol (``jsonrpc``, ``mcp``) is a subclass
    of the final Connection that overrides the message handling and the answer encoders.
    """

    __slots__ = ("_tools", "_scope", "_limiter", "_hello_timer", "_faults")
    #: The key of an answer's request id (the garbage faults remove or replace it).
    ID_KEY = "request_id"

    def __init__(self, ctx: ServerContext) -> None:
        super().__init__(ctx)
        self._tools = ctx.tools
        self._scope: frozenset[str] | None = frozenset()
        self._limiter: TokenBucket | None = None
        self._hello_timer: asyncio.TimerHandle | None = None
        self._faults = AnswerFaults(ctx, self._send, self._send_frames, self.ID_KEY)

    # ---- I/O, provided by the subclass ----------------------------------------------------

    def _send_frames(self, frames: list[tuple[bool, bytes]]) -> bool:
        """Send (is_binary, payload) frames; False if they were not sent."""
        raise NotImplementedError

    def close(self, code: WSCloseCode, reason: str) -> None:
        """Drop pending work and close the connection with ``code``."""
        raise NotImplementedError

    # ---- start ----------------------------------------------------------------------------

    def _start_session(self) -> None:
        """The connection is upgraded: start the hello timer and the rate limit."""
        ctx = self._ctx
        self._hello_timer = self._loop.call_later(ctx.hello_timeout_s, self._on_hello_timeout)
        if ctx.rate_limit is not None:
            self._limiter = TokenBucket(ctx.rate_limit, self._loop.time())

    # ---- messages -------------------------------------------------------------------------

    def _handle_text(self, data: memoryview | bytearray | bytes) -> None:
        if self._state is not OPEN:
            self._handle_opening_text(data)
            return
        try:
            msg = loads(data)  # messages.decode inlined: one call less per message
        except JSONDecodeError:
            self._undecodable(data)
            return
        if type(msg) is dict:
            op = msg.get("op")
            if op == "call_tool":
                try:
                    request_id, name, args = parse_call(msg)
                except BadMessage as exc:
                    self._bad_message(exc)
                    return
                self._dispatch(request_id, name, args)
                return
            if op == "list_tools":
                self._on_list_tools(msg)
                return
            if op == "hello":
                self._bad_message(BadMessage("hello was already accepted on this connection"))
                return
        self._bad_message(BadMessage(describe_op(msg)))

    def _handle_opening_text(self, data: memoryview | bytearray | bytes) -> None:
        """A text message before hello was accepted: only hello is welcome."""
        if self._state is HELLO_STALLED:
            return  # stall_hello: everything after the unanswered hello is ignored
        try:
            msg = decode(data)
        except BadMessage:
            self._refuse_hello("hello_required", "send hello first")
            return
        except InvalidUtf8:
            self._invalid_utf8()
            return
        if type(msg) is dict and msg.get("op") == "hello":
            self._on_hello(msg)
        else:
            self._refuse_hello("hello_required", "send hello first")

    def _undecodable(self, data: memoryview | bytearray | bytes) -> None:
        """After hello: a text message that is not JSON (bad_message) or not UTF-8 (close 1007)."""
        try:
            decode(data)
        except BadMessage as exc:
            self._bad_message(exc)
        except InvalidUtf8:
            self._invalid_utf8()

    def _invalid_utf8(self) -> None:
        self._counters.bad_messages += 1
        self.close(WSCloseCode.INVALID_TEXT, "invalid UTF-8")

    def _handle_binary(self) -> None:
        if self._state is OPEN:
            self._counters.bad_messages += 1
            self._send(error("bad_message", "binary frames are not part of the protocol"))
        elif self._state is AWAITING_HELLO:
            self._refuse_hello("hello_required", "send hello first")

    def _dispatch(self, request_id: Any, name: str, args: dict[str, Any]) -> None:
        """Run one well-formed call: limits, lookup, scope, the tool; answer it now or later."""
        self._counters.calls_received += 1
        if self._ctx.answer_faults and self._faults.withhold_call():
            return
        if self._limiter is not None and not self._limiter.take(self._loop.time()):
            self._result_error(request_id, "rate_limited", "too many calls on this connection")
            return
        if request_id in self._inflight:
            self._result_error(request_id, "duplicate_request_id", "request_id is already in flight")
            return
        tool = self._tools.get(name)
        if tool is None:
            self._result_error(request_id, "unknown_tool", "no such tool")
            return
        scope = self._scope
        if scope is not None and name not in scope:
            self._result_error(request_id, "forbidden", "tool is outside the token's scope")
            return
        try:
            result = tool.run(self, request_id, args)
        except ToolError as exc:
            self._result_error(request_id, exc.code, exc.message)
            return
        except Exception:
            log.exception("tool %s failed", name)
            self._result_error(request_id, "tool_failed", "tool raised an internal error")
            return
        if result is not PENDING:
            self._result_ok(request_id, result)

    def _on_list_tools(self, msg: dict[str, Any]) -> None:
        try:
            request_id = parse_list_tools(msg)
        except BadMessage as exc:
            self._bad_message(exc)
            return
        if self._ctx.answer_faults and self._ctx.faults.stall:
            return
        self._send(tools_list(request_id, self._ctx.tool_descriptions))

    def _bad_message(self, exc: BadMessage) -> None:
        self._counters.bad_messages += 1
        if exc.request_id is None:
            self._send(error("bad_message", exc.reason))
        else:
            self._counters.calls_received += 1
            self._result_error(exc.request_id, "bad_message", exc.reason)

    # ---- hello ----------------------------------------------------------------------------

    def _on_hello(self, msg: dict[str, Any]) -> None:
        if self._ctx.faults.stall_hello:
            self._cancel_hello_timer()
            self._state = HELLO_STALLED
            self._counters.hellos_unanswered += 1
            return
        try:
            session_id, token = parse_hello(msg)
        except BadMessage as exc:
            self._counters.bad_messages += 1
            self._refuse_hello("bad_message", exc.reason)
            return
        try:
            grant = self._ctx.verifier.verify(token, time.time())
        except AuthError as exc:
            self._refuse_hello(exc.code, exc.message)
            return
        self._accept(grant.scope)
        self._send(hello_ok(session_id, self._ctx.server_info, self._ctx.tool_names))

    def _accept(self, scope: frozenset[str] | None) -> None:
        """The handshake succeeded: calls within ``scope`` (None: every tool) are handled from now on."""
        self._cancel_hello_timer()
        self._state = OPEN
        self._scope = scope
        self._counters.hello_ok += 1

    def _on_hello_timeout(self) -> None:
        self._hello_timer = None
        if self._state is AWAITING_HELLO:
            self._refuse_hello("hello_required", f"no hello within {self._ctx.hello_timeout_s:g} s")

    def _refuse_hello(self, code: str, message: str) -> None:
        self._counters.refuse_hello(code)
        self._send(error(code, message))
        self.close(WSCloseCode.POLICY_VIOLATION, code)

    def _cancel_hello_timer(self) -> None:
        if self._hello_timer is not None:
            self._hello_timer.cancel()
            self._hello_timer = None

    # ---- answers --------------------------------------------------------------------------

    def _result_ok(self, request_id: Any, result: Any) -> None:
        try:
            data = tool_ok(request_id, result)
        except JSONEncodeError:
            self._result_error(request_id, "tool_failed", "result cannot be encoded as JSON")
            return
        if self._ctx.answer_faults:
            self._faults.answer(data, None)
        elif self._send(data):
            self._counters.results_ok += 1
        else:
            self._counters.calls_unanswered += 1

    def _result_error(self, request_id: Any, code: str, message: str) -> None:
        data = tool_error(request_id, code, message)
        if self._ctx.answer_faults:
            self._faults.answer(data, code)
        elif self._send(data):
            self._counters.result_error(code)
        else:
            self._counters.calls_unanswered += 1

    def _answer(self, data: bytes, code: str | None) -> None:
        """Send one encoded answer (``code`` None for ok) and count it; the fault policy first, if on."""
        if self._ctx.answer_faults:
            self._faults.answer(data, code)
        elif not self._send(data):
            self._counters.calls_unanswered += 1
        elif code is None:
            self._counters.results_ok += 1
        else:
            self._counters.result_error(code)

    # ---- work -----------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        """True while calls on this connection are still waiting for their answer.

        Calls withheld by the stall fault do not count: they will never be answered.
        """
        return bool(self._inflight) or self._faults.delaying

    def _stop_work(self) -> None:
        """Cancel every timer and task; calls not answered yet count in calls_unanswered."""
        self._cancel_hello_timer()
        self._counters.calls_unanswered += self._faults.stop()
        super()._stop_work()
