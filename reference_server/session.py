"""The session state machine of one connection: hello, calls, answers, pushes, close (no I/O, any protocol).

Text in (already reassembled by the shell) goes through the protocol's codec into
requests; answers go out through the codec's encoders and the port's ``send``. Timers
and the clock come from the port (``work.Port``), so tests drive it with a fake one.
"""

from __future__ import annotations

import enum
import logging
import time
from typing import Any

from orjson import JSONEncodeError
from picows import WSCloseCode

from .answer_faults import AnswerFaults
from .auth import AuthError
from .codec import (
    BAD,
    BAD_CALL,
    BAD_HELLO,
    HELLO,
    INVALID_UTF8,
    LIST_TOOLS,
    NOT_HELLO,
    REFUSED_CALL,
    REPLY,
    Codec,
    Request,
)
from .context import ServerContext
from .ratelimit import TokenBucket
from .tools import PENDING, ToolError
from .work import Cancellable, Port, ToolWork

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


class Session:
    """Hello, call dispatch and answers of one connection, whatever its protocol (``codec``).

    ``grant`` is the scope the upgrade's bearer token granted (jsonrpc, mcp); the toolcall
    protocol's hello carries its own token.
    """

    __slots__ = (
        "_ctx", "_counters", "_codec", "_port", "_send", "_decode", "_on_call", "_ok", "state", "_tools", "_scope", "grant",
        "_limiter", "_hello_timer", "_ping_timer", "_pings", "_faults", "work", "_inflight",
    )  # fmt: skip

    def __init__(self, ctx: ServerContext, codec: Codec, port: Port, grant: frozenset[str] | None = None) -> None:
        self._ctx = ctx
        self._counters = ctx.counters
        self._codec = codec
        self._port = port
        self._send = port.send
        self._decode = codec.decode
        self._on_call = self._dispatch
        self._ok = codec.ok
        self.state = AWAITING_HELLO
        self._tools = ctx.tools
        self._scope: frozenset[str] | None = frozenset()
        self.grant = grant
        self._limiter: TokenBucket | None = None
        self._hello_timer: Cancellable | None = None
        self._ping_timer: Cancellable | None = None
        self._pings = 0
        self._faults = AnswerFaults(ctx, port.send, port.send_frames, port.later, codec.ID_KEY)
        self.work = ToolWork(ctx, port, self)
        self._inflight = self.work.inflight

    # ---- start ----------------------------------------------------------------------------

    def start(self) -> None:
        """The connection is upgraded: start the hello timer and the rate limit (open now without a handshake)."""
        ctx = self._ctx
        self._hello_timer = self._port.later(ctx.hello_timeout_s, self.hello_timeout)
        if ctx.rate_limit is not None:
            self._limiter = TokenBucket(ctx.rate_limit, self._port.now())
        if not self._codec.HANDSHAKE:
            self._accept(self.grant)

    # ---- messages -------------------------------------------------------------------------

    def on_text(self, data: memoryview | bytearray | bytes) -> None:
        """One text message from the client."""
        state = self.state
        if state is OPEN:
            request = self._decode(data, self._on_call)  # a tool call goes straight to _dispatch
            if request is not None:
                self._on_request(request[0], request[1], request[2])
        elif state is AWAITING_HELLO:
            self._on_opening(self._codec.decode_opening(data))
        # HELLO_STALLED: everything after the unanswered hello is ignored

    def on_binary(self) -> None:
        """One binary message from the client."""
        if self.state is OPEN:
            self._on_request(*self._codec.binary(False)[:3])
        elif self.state is AWAITING_HELLO:
            self._on_opening(self._codec.binary(True))

    def _on_request(self, kind: int, a: Any, b: Any) -> None:
        """A request after the handshake that is not a plain tool call."""
        counters = self._counters
        if kind == BAD_CALL or kind == REFUSED_CALL:
            if kind == BAD_CALL:
                counters.bad_messages += 1
            counters.calls_received += 1
            self._answer(a, b)
        elif kind == BAD:
            counters.bad_messages += 1
            self._send(a)
        elif kind == LIST_TOOLS:
            if not (self._ctx.answer_faults and self._ctx.faults.stall):
                self._send(a)
        elif kind == REPLY:
            self._send(a)
        elif kind == INVALID_UTF8:
            self._invalid_utf8()
        # IGNORE: nothing

    def _on_opening(self, request: Request) -> None:
        """A message before the handshake completed: only the handshake is welcome."""
        kind, a, b, _ = request
        if kind == HELLO or kind == BAD_HELLO:
            if self._ctx.faults.stall_hello:
                self._cancel_timers()
                self.state = HELLO_STALLED
                self._counters.hellos_unanswered += 1
            elif kind == BAD_HELLO:
                self._counters.bad_messages += 1
                self._counters.refuse_hello("bad_message")
                self._send(a)
                self._port.close(WSCloseCode.POLICY_VIOLATION, "bad_message")
            else:
                self._on_hello(a, b)
        elif kind == NOT_HELLO:
            self._refuse_hello("hello_required", self._codec.HELLO_REQUIRED)
        elif kind == REPLY:
            self._send(a)
        elif kind == INVALID_UTF8:
            self._invalid_utf8()

    def _invalid_utf8(self) -> None:
        self._counters.bad_messages += 1
        self._port.close(WSCloseCode.INVALID_TEXT, "invalid UTF-8")

    def _dispatch(self, request_id: Any, name: str, args: dict[str, Any]) -> None:
        """Run one well-formed call: limits, lookup, scope, the tool; answer it now or later."""
        self._counters.calls_received += 1
        if self._ctx.answer_faults and self._faults.withhold_call():
            return
        if self._limiter is not None and not self._limiter.take(self._port.now()):
            self.result_error(request_id, "rate_limited", "too many calls on this connection")
            return
        if request_id in self._inflight:
            self.result_error(request_id, "duplicate_request_id", "request_id is already in flight")
            return
        tool = self._tools.get(name)
        if tool is None:
            self.result_error(request_id, "unknown_tool", "no such tool")
            return
        scope = self._scope
        if scope is not None and name not in scope:
            self.result_error(request_id, "forbidden", "tool is outside the token's scope")
            return
        try:
            result = tool.run(self.work, request_id, args)
        except ToolError as exc:
            self.result_error(request_id, exc.code, exc.message)
            return
        except Exception:
            log.exception("tool %s failed", name)
            self.result_error(request_id, "tool_failed", "tool raised an internal error")
            return
        if result is not PENDING:
            self.result_ok(request_id, result)

    # ---- hello ----------------------------------------------------------------------------

    def _on_hello(self, token: str | None, reply: bytes) -> None:
        """A well-formed handshake: verify ``token`` (None: the upgrade's grant), accept, answer ``reply``."""
        if token is None:
            scope = self.grant
        else:
            try:
                scope = self._ctx.verifier.verify(token, time.time()).scope
            except AuthError as exc:
                self._refuse_hello(exc.code, exc.message)
                return
        self._accept(scope)
        self._send(reply)
        interval = self._ctx.ping_interval_s
        if interval and self._codec.PINGS:
            self._ping_timer = self._port.later(interval, self._ping)

    def _accept(self, scope: frozenset[str] | None) -> None:
        """The handshake succeeded: calls within ``scope`` (None: every tool) are handled from now on."""
        self._cancel_timers()
        self.state = OPEN
        self._scope = scope
        self._counters.hello_ok += 1

    def hello_timeout(self) -> None:
        """The hello timer fired."""
        self._hello_timer = None
        if self.state is AWAITING_HELLO:
            self._refuse_hello("hello_required", f"no hello within {self._ctx.hello_timeout_s:g} s")

    def _refuse_hello(self, code: str, message: str) -> None:
        self._counters.refuse_hello(code)
        self._send(self._codec.refusal(code, message))
        self._port.close(WSCloseCode.POLICY_VIOLATION, code)

    def _ping(self) -> None:
        """The server's keepalive request (MCP's ping), every ``--mcp-ping-interval``."""
        self._ping_timer = None
        interval = self._ctx.ping_interval_s
        if self.state is OPEN and interval:
            self._pings += 1
            self._send(self._codec.ping(self._pings))  # type: ignore[arg-type]  # a codec with pings
            self._ping_timer = self._port.later(interval, self._ping)

    def _cancel_timers(self) -> None:
        if self._hello_timer is not None:
            self._hello_timer.cancel()
            self._hello_timer = None
        if self._ping_timer is not None:
            self._ping_timer.cancel()
            self._ping_timer = None

    # ---- answers --------------------------------------------------------------------------

    def result_ok(self, request_id: Any, result: Any) -> None:
        """Answer a call with its tool's result."""
        try:
            data = self._ok(request_id, result)
        except JSONEncodeError:
            self.result_error(request_id, "tool_failed", "result cannot be encoded as JSON")
            return
        if self._ctx.answer_faults:
            self._faults.answer(data, None)
        elif self._send(data):
            self._counters.results_ok += 1
        else:
            self._counters.calls_unanswered += 1

    def result_error(self, request_id: Any, code: str, message: str) -> None:
        """Answer a call with our error ``code``."""
        self._answer(self._codec.error(request_id, code, message), code)

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

    def send_event(self, topic: str, seq: int, sent_at_ns: int, data: Any) -> bool:
        """Send one push; False if it was not sent (closed, unencodable, or the client too slow)."""
        if self.state is CLOSED:
            return False
        try:
            payload = self._codec.event(topic, seq, sent_at_ns, data)
        except JSONEncodeError:
            return False
        return self._send(payload)

    # ---- the end --------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        """True while calls on this connection are still waiting for their answer.

        Calls withheld by the stall fault do not count: they will never be answered.
        """
        return bool(self._inflight) or self._faults.delaying

    def stop(self) -> None:
        """Closed: cancel every timer and task; calls not answered yet count in calls_unanswered."""
        self.state = CLOSED
        self._cancel_timers()
        self._counters.calls_unanswered += self._faults.stop()
        self.work.stop()
