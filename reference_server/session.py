"""The protocol side of one connection (PROTOCOL.md): state, hello, dispatch, answers, tool work, pushes.

No sockets: a subclass provides ``_send``, ``_send_frames`` and ``close`` (``backpressure``,
``connection``); the fuzz model in tests/reference_server drives it with a fake transport.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Coroutine
from typing import Any

from orjson import JSONEncodeError
from picows import WSCloseCode, WSListener

from .answer_faults import AnswerFaults
from .auth import AuthError
from .context import ServerContext
from .messages import (
    BadMessage,
    InvalidUtf8,
    decode,
    describe_op,
    error,
    event,
    hello_ok,
    parse_call,
    parse_hello,
    parse_list_tools,
    tool_error,
    tool_ok,
    tools_list,
)
from .push import Stream
from .ratelimit import TokenBucket
from .tools import PENDING, ToolError

log = logging.getLogger("reference_server")


class State(enum.Enum):
    """Where one connection is in its life."""

    #: Upgraded; waiting for hello (the hello timer runs).
    AWAITING_HELLO = 1
    #: The stall_hello fault swallowed the hello: everything after it is ignored.
    HELLO_STALLED = 2
    #: Hello accepted: calls are handled.
    OPEN = 3
    #: Closing or closed: nothing more is handled or sent.
    CLOSED = 4


AWAITING_HELLO, HELLO_STALLED, OPEN, CLOSED = State.AWAITING_HELLO, State.HELLO_STALLED, State.OPEN, State.CLOSED


class Session(WSListener):
    """Hello, call dispatch, answers, tool work and pushes of one connection (toolcall protocol).

    Implements the tools' ``Session`` (answer_after, answer_with, subscribe, broadcast)
    and the hub's ``Subscriber`` (push_event). ``WSListener`` is only the base picows
    requires of the final class; nothing here touches a transport.
    """

    __slots__ = (
        "_ctx",
        "_counters",
        "_loop",
        "_tools",
        "_state",
        "_scope",
        "_inflight",
        "_limiter",
        "_hello_timer",
        "_streams",
        "_seqs",
        "_faults",
    )
    #: The key of an answer's request id (the garbage faults remove or replace it).
    ID_KEY = "request_id"

    def __init__(self, ctx: ServerContext) -> None:
        self._ctx = ctx
        self._counters = ctx.counters
        self._loop = ctx.loop
        self._tools = ctx.tools
        self._state = AWAITING_HELLO
        self._scope: frozenset[str] | None = frozenset()
        self._inflight: dict[Any, asyncio.TimerHandle | asyncio.Task[None]] = {}
        self._limiter: TokenBucket | None = None
        self._hello_timer: asyncio.TimerHandle | None = None
        self._streams: set[Stream] = set()
        self._seqs: dict[str, int] = {}
        self._faults = AnswerFaults(ctx, self._send, self._send_frames, self.ID_KEY)

    # ---- I/O, provided by the subclass ----------------------------------------------------

    def _send(self, data: bytes) -> bool:
        """Send one text message; False if it was not sent."""
        raise NotImplementedError

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
        state = self._state
        if state is HELLO_STALLED:
            return
        try:
            msg = decode(data)
        except BadMessage as exc:
            if state is OPEN:
                self._bad_message(exc)
            else:
                self._refuse_hello("hello_required", "send hello first")
            return
        except InvalidUtf8:
            self._counters.bad_messages += 1
            self.close(WSCloseCode.INVALID_TEXT, "invalid UTF-8")
            return
        if state is OPEN:
            if type(msg) is dict:
                op = msg.get("op")
                if op == "call_tool":
                    self._on_call(msg)
                    return
                if op == "list_tools":
                    self._on_list_tools(msg)
                    return
                if op == "hello":
                    self._bad_message(BadMessage("hello was already accepted on this connection"))
                    return
            self._bad_message(BadMessage(describe_op(msg)))
        elif type(msg) is dict and msg.get("op") == "hello":
            self._on_hello(msg)
        else:
            self._refuse_hello("hello_required", "send hello first")

    def _handle_binary(self) -> None:
        if self._state is OPEN:
            self._counters.bad_messages += 1
            self._send(error("bad_message", "binary frames are not part of the protocol"))
        elif self._state is AWAITING_HELLO:
            self._refuse_hello("hello_required", "send hello first")

    def _on_call(self, msg: dict[str, Any]) -> None:
        try:
            request_id, name, args = parse_call(msg)
        except BadMessage as exc:
            self._bad_message(exc)
            return
        self._dispatch(request_id, name, args)

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

    # ---- tools.Session and push.Subscriber --------------------------------------------------

    def answer_after(self, request_id: Any, delay_s: float, result: Any) -> None:
        timeout = self._ctx.tool_timeout_s
        if timeout is not None and delay_s > timeout:
            handle = self._loop.call_later(timeout, self._answer_timeout, request_id)
        else:
            handle = self._loop.call_later(delay_s, self._answer_later, request_id, result)
        self._inflight[request_id] = handle

    def answer_with(self, request_id: Any, work: Coroutine[Any, Any, Any]) -> None:
        self._inflight[request_id] = self._loop.create_task(self._run_work(request_id, work))

    def subscribe(self, topic: str, rate: float, count: int) -> None:
        if topic not in self._seqs:
            self._seqs[topic] = 0
            self._ctx.hub.add(topic, self)
        if count > 0:
            stream = Stream(self._loop, self, topic, rate, count, self._streams.discard)
            self._streams.add(stream)
            stream.start()

    def broadcast(self, topic: str, data: Any) -> int:
        return self._ctx.hub.broadcast(topic, data)

    def push_event(self, topic: str, data: Any) -> bool:
        """Send the next event on ``topic`` (seq from 1, no gaps per connection and topic)."""
        if self._state is CLOSED:
            return False
        seq = self._seqs.get(topic, 0) + 1
        try:
            payload = self._encode_event(topic, seq, time.time_ns(), data)
        except JSONEncodeError:
            return False
        if not self._send(payload):
            return False
        self._seqs[topic] = seq
        self._counters.pushes_sent += 1
        return True

    def _encode_event(self, topic: str, seq: int, sent_at_ns: int, data: Any) -> bytes:
        return event(topic, seq, sent_at_ns, data)

    def _answer_later(self, request_id: Any, result: Any) -> None:
        self._inflight.pop(request_id, None)
        self._result_ok(request_id, result)

    def _answer_timeout(self, request_id: Any) -> None:
        self._inflight.pop(request_id, None)
        self._result_error(request_id, "timeout", f"tool ran longer than {self._ctx.tool_timeout_s:g} s")

    async def _run_work(self, request_id: Any, work: Coroutine[Any, Any, Any]) -> None:
        timeout = self._ctx.tool_timeout_s
        try:
            if timeout is None:
                result = await work
            else:
                async with asyncio.timeout(timeout):
                    result = await work
        except TimeoutError:
            self._inflight.pop(request_id, None)
            self._result_error(request_id, "timeout", f"tool ran longer than {timeout:g} s")
            return
        except ToolError as exc:
            self._inflight.pop(request_id, None)
            self._result_error(request_id, exc.code, exc.message)
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("tool work for a call failed")
            self._inflight.pop(request_id, None)
            self._result_error(request_id, "tool_failed", "tool raised an internal error")
            return
        self._inflight.pop(request_id, None)
        self._result_ok(request_id, result)

    # ---- work -----------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        """True while calls on this connection are still waiting for their answer.

        Calls withheld by the stall fault do not count: they will never be answered.
        """
        return bool(self._inflight) or self._faults.delaying

    def stop_streams(self) -> None:
        """Stop every push stream (used when the server starts shutting down)."""
        for stream in self._streams:
            stream.cancel()
        self._streams.clear()

    def _stop_work(self) -> None:
        """Cancel every timer and task; calls not answered yet count in calls_unanswered."""
        self._cancel_hello_timer()
        unanswered = self._faults.stop()
        if self._inflight:
            unanswered += len(self._inflight)
            for handle in self._inflight.values():
                handle.cancel()
            self._inflight.clear()
        self._counters.calls_unanswered += unanswered
        self.stop_streams()
        if self._seqs:
            self._ctx.hub.remove(self, list(self._seqs))
