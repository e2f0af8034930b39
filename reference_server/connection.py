"""One WebSocket connection: message reassembly, hello, call dispatch, in-flight work, pushes, close."""

from __future__ import annotations

import asyncio
import collections
import logging
import random
import socket
import struct
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from orjson import JSONEncodeError
from picows import WSCloseCode, WSFrame, WSListener, WSMsgType, WSTransport

from .auth import AuthError, Verifier
from .counters import Counters
from .faults import KEEPS_ANSWER, Faults, garbage_frames
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
from .push import Hub, Stream
from .ratelimit import TokenBucket
from .tools import PENDING, Tool, ToolError

log = logging.getLogger("reference_server")

TEXT = WSMsgType.TEXT
BINARY = WSMsgType.BINARY
CONTINUATION = WSMsgType.CONTINUATION
CLOSE = WSMsgType.CLOSE
#: How long to wait for the peer's CLOSE after sending ours before dropping the socket.
CLOSE_REPLY_TIMEOUT_S = 1.0
#: Close codes that may not be echoed on the wire.
_UNSENDABLE_CODES = frozenset({0, 1005, 1006, 1015})
#: Largest high-water mark of a connection's outgoing buffer (see ServerContext.high_water).
MAX_HIGH_WATER = 256 * 1024


@dataclass(eq=False)
class ServerContext:
    """State shared by every connection of one server process."""

    loop: asyncio.AbstractEventLoop
    counters: Counters
    verifier: Verifier
    tools: dict[str, Tool]
    hub: Hub
    server_info: dict[str, str]
    hello_timeout_s: float
    max_message_bytes: int
    rate_limit: float | None = None
    tool_timeout_s: float | None = None
    #: A message due while more than this is buffered for the client closes it (1008).
    max_send_buffer_bytes: int = 8 * 1024 * 1024
    #: Writes paused (buffer over the high-water mark) this long close the connection (1008).
    send_timeout_s: float = 10.0
    #: Open connections beyond which new ones are closed with 1013 (None: no limit).
    max_connections: int | None = None
    connections: set[Connection] = field(default_factory=set)
    shutting_down: bool = False
    #: The ongoing faults; change them with set_faults.
    faults: Faults = field(default_factory=Faults)
    #: faults.affects_answers, cached for the per-answer check.
    answer_faults: bool = False
    rng: random.Random = field(default_factory=random.Random)
    garbage_serial: int = 0
    tool_names: list[str] = field(init=False)
    tool_descriptions: list[dict[str, str]] = field(init=False)
    #: Outgoing buffer sizes at which a connection stops / resumes reading its client.
    high_water: int = field(init=False)
    low_water: int = field(init=False)

    def __post_init__(self) -> None:
        self.high_water = min(MAX_HIGH_WATER, self.max_send_buffer_bytes // 4)
        self.low_water = self.high_water // 4
        self.tool_names = list(self.tools)
        self.tool_descriptions = [{"name": t.name, "description": t.description} for t in self.tools.values()]
        self.set_faults(self.faults)

    def set_faults(self, faults: Faults) -> None:
        """Make ``faults`` the ongoing faults of this process."""
        self.faults = faults
        self.answer_faults = faults.affects_answers


class Connection(WSListener):
    """Per-connection protocol state; picows calls ``on_ws_*`` for every event.

    Implements the tools' ``Session`` (answer_after, answer_with, subscribe,
    broadcast) and the hub's ``Subscriber`` (push_event).

    Backpressure: when the outgoing buffer crosses the high-water mark (the client
    reads slower than it asks), the connection stops reading from the socket and holds
    the messages already read (in order) until the buffer drains to the low-water mark,
    so a client that does not read cannot make the server run (and buffer) more of its
    calls. It is closed with 1008 if writes stay paused for ``send_timeout_s``, or if a
    message is due while more than ``max_send_buffer_bytes`` are buffered.
    """

    __slots__ = (
        "_ctx",
        "_counters",
        "_loop",
        "_tools",
        "_transport",
        "_ready",
        "_closing",
        "_scope",
        "_inflight",
        "_frag",
        "_frag_text",
        "_limiter",
        "_hello_timer",
        "_close_timer",
        "_streams",
        "_seqs",
        "_delayed",
        "_delay_seq",
        "_stalled",
        "_hello_stalled",
        "_raw",
        "_paused",
        "_hold",
        "_held",
        "_send_timer",
    )

    def __init__(self, ctx: ServerContext) -> None:
        self._ctx = ctx
        self._counters = ctx.counters
        self._loop = ctx.loop
        self._tools = ctx.tools
        self._transport: WSTransport | None = None
        self._ready = False
        self._closing = False
        self._scope: frozenset[str] | None = frozenset()
        self._inflight: dict[str, asyncio.TimerHandle | asyncio.Task[None]] = {}
        self._frag: bytearray | None = None
        self._frag_text = False
        self._limiter: TokenBucket | None = None
        self._hello_timer: asyncio.TimerHandle | None = None
        self._close_timer: asyncio.TimerHandle | None = None
        self._streams: set[Stream] = set()
        self._seqs: dict[str, int] = {}
        # Fault injection: answers held back by delay_ms, calls withheld by stall.
        self._delayed: dict[int, asyncio.TimerHandle] = {}
        self._delay_seq = 0
        self._stalled = 0
        self._hello_stalled = False
        # Backpressure: the TCP transport, writes paused, messages held back (bytes, or
        # None for a binary message) while paused or until the held ones are handled.
        self._raw: Any = None
        self._paused = False
        self._hold = False
        self._held: collections.deque[bytes | None] | None = None  # made on the first pause
        self._send_timer: asyncio.TimerHandle | None = None

    # ---- picows callbacks -------------------------------------------------------------

    def on_ws_connected(self, transport: WSTransport) -> None:
        self._transport = transport
        ctx = self._ctx
        ctx.connections.add(self)
        self._counters.connections_opened += 1
        try:
            self._raw = transport.underlying_transport
            self._raw.set_write_buffer_limits(high=ctx.high_water, low=ctx.low_water)
            if ctx.shutting_down:
                self.close(WSCloseCode.GOING_AWAY, "server shutting down")
                return
            self._hello_timer = self._loop.call_later(ctx.hello_timeout_s, self._on_hello_timeout)
            if ctx.rate_limit is not None:
                self._limiter = TokenBucket(ctx.rate_limit, self._loop.time())
        except Exception:
            log.exception("internal error on a new connection; closing it with 1011")
            self.close(WSCloseCode.INTERNAL_ERROR, "internal error")

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        try:
            if (
                frame.msg_type is TEXT
                and frame.fin
                and not (frame.rsv1 or frame.rsv2 or frame.rsv3)  # picows does not check RSV bits
                and self._frag is None
                and not self._closing
            ):
                self._counters.bytes_in += frame.payload_size
                self._on_text(frame.get_payload_as_memoryview())
            else:
                self._on_other_frame(frame)
        except Exception:
            log.exception("internal error while handling a frame; closing the connection with 1011")
            self.close(WSCloseCode.INTERNAL_ERROR, "internal error")

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self._counters.connections_closed += 1
        self._ctx.connections.discard(self)
        self._closing = True
        if self._close_timer is not None:
            self._close_timer.cancel()
            self._close_timer = None
        try:
            self._stop_work()
        except Exception:
            log.exception("internal error while cleaning up a connection")

    def pause_writing(self) -> None:
        """The outgoing buffer crossed the high-water mark: stop reading this client."""
        if self._paused:
            return
        self._paused = True
        self._hold = True
        if self._held is None:
            self._held = collections.deque()
        self._counters.writes_paused += 1
        if self._closing:
            return
        try:
            self._raw.pause_reading()
            self._send_timer = self._loop.call_later(self._ctx.send_timeout_s, self._on_send_timeout)
        except Exception:
            log.exception("internal error while pausing a connection; closing it with 1011")
            self.close(WSCloseCode.INTERNAL_ERROR, "internal error")

    def resume_writing(self) -> None:
        """The outgoing buffer drained to the low-water mark: handle held messages, read again."""
        if not self._paused:
            return
        self._paused = False
        if self._send_timer is not None:
            self._send_timer.cancel()
            self._send_timer = None
        if not self._closing:
            # Not from inside the transport's write callback: on the next loop iteration.
            self._loop.call_soon(self._release_held)

    # ---- frames -------------------------------------------------------------------------

    def _on_other_frame(self, frame: WSFrame) -> None:
        mtype = frame.msg_type
        if mtype is CLOSE:
            self._on_close_frame(frame)
            return
        if self._closing:
            return
        if frame.rsv1 or frame.rsv2 or frame.rsv3:
            self.close(WSCloseCode.PROTOCOL_ERROR, "no extension was negotiated")
            return
        if mtype is CONTINUATION:
            buf = self._frag
            if buf is None:
                self.close(WSCloseCode.PROTOCOL_ERROR, "continuation frame without a message")
                return
            if len(buf) + frame.payload_size > self._ctx.max_message_bytes:
                self._frag = None
                self.close(WSCloseCode.MESSAGE_TOO_BIG, "message too big")
                return
            if self._frag_text:
                self._counters.bytes_in += frame.payload_size
            buf += frame.get_payload_as_memoryview()
            if frame.fin:
                self._frag = None
                if self._frag_text:
                    self._on_text(buf)
                else:
                    self._on_binary()
            return
        if mtype is TEXT or mtype is BINARY:
            if self._frag is not None:
                self.close(WSCloseCode.PROTOCOL_ERROR, "new message inside a fragmented message")
                return
            if not frame.fin:
                self._frag = bytearray(frame.get_payload_as_memoryview())
                self._frag_text = mtype is TEXT
                if self._frag_text:
                    self._counters.bytes_in += frame.payload_size
                return
            self._on_binary()
        # PING is answered by picows (auto pong); PONG needs nothing.

    def _on_close_frame(self, frame: WSFrame) -> None:
        transport = self._transport
        assert transport is not None
        if not self._closing:
            self._closing = True
            self._stop_work()
            code = frame.get_close_code()
            transport.send_close(WSCloseCode.OK if int(code) in _UNSENDABLE_CODES else code)
        transport.disconnect()
        if self._close_timer is None and self._raw is not None and self._raw.get_write_buffer_size():
            # A graceful disconnect waits for the buffer to drain: bound that wait too.
            self._close_timer = self._loop.call_later(CLOSE_REPLY_TIMEOUT_S, self._finish_close)

    def _on_binary(self) -> None:
        if self._hold:
            self._held.append(None)  # type: ignore[union-attr]  # _hold implies _held
            return
        self._handle_binary()

    def _handle_binary(self) -> None:
        if not self._ready:
            if self._hello_stalled:
                return
            self._refuse_hello("hello_required", "send hello first")
            return
        self._counters.bad_messages += 1
        self._send(error("bad_message", "binary frames are not part of the protocol"))

    # ---- messages -----------------------------------------------------------------------

    def _on_text(self, data: memoryview | bytearray) -> None:
        if self._hold:
            self._held.append(bytes(data))  # type: ignore[union-attr]
            return
        self._handle_text(data)

    def _handle_text(self, data: memoryview | bytearray | bytes) -> None:
        if not self._ready and self._hello_stalled:
            return  # stall_hello: everything after the unanswered hello is ignored
        try:
            msg = decode(data)
        except BadMessage as exc:
            if self._ready:
                self._bad_message(exc)
            else:
                self._refuse_hello("hello_required", "send hello first")
            return
        except InvalidUtf8:
            self._counters.bad_messages += 1
            self.close(WSCloseCode.INVALID_TEXT, "invalid UTF-8")
            return
        if type(msg) is dict:
            op = msg.get("op")
            if self._ready:
                if op == "call_tool":
                    self._on_call(msg)
                elif op == "list_tools":
                    self._on_list_tools(msg)
                elif op == "hello":
                    self._bad_message(BadMessage("hello was already accepted on this connection"))
                else:
                    self._bad_message(BadMessage(describe_op(msg)))
                return
            if op == "hello":
                self._on_hello(msg)
                return
        if self._ready:
            self._bad_message(BadMessage(describe_op(msg)))
        else:
            self._refuse_hello("hello_required", "send hello first")

    def _on_call(self, msg: dict[str, Any]) -> None:
        counters = self._counters
        try:
            request_id, name, args = parse_call(msg)
        except BadMessage as exc:
            self._bad_message(exc)
            return
        counters.calls_received += 1
        if self._ctx.answer_faults and self._ctx.faults.stall:
            self._stalled += 1
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

    def _on_hello(self, msg: dict[str, Any]) -> None:
        if self._ctx.faults.stall_hello:
            self._cancel_hello_timer()
            self._hello_stalled = True
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
        self._cancel_hello_timer()
        self._ready = True
        self._scope = grant.scope
        self._counters.hello_ok += 1
        self._send(hello_ok(session_id, self._ctx.server_info, self._ctx.tool_names))

    def _on_hello_timeout(self) -> None:
        self._hello_timer = None
        if not self._ready and not self._closing:
            self._refuse_hello("hello_required", f"no hello within {self._ctx.hello_timeout_s:g} s")

    def _refuse_hello(self, code: str, message: str) -> None:
        self._counters.refuse_hello(code)
        self._send(error(code, message))
        self.close(WSCloseCode.POLICY_VIOLATION, code)

    def _bad_message(self, exc: BadMessage) -> None:
        self._counters.bad_messages += 1
        if exc.request_id is None:
            self._send(error("bad_message", exc.reason))
        else:
            self._counters.calls_received += 1
            self._result_error(exc.request_id, "bad_message", exc.reason)

    # ---- backpressure -------------------------------------------------------------------

    def _release_held(self) -> None:
        """Handle held messages in order while writes flow; read the socket again once none is left."""
        held = self._held
        assert held is not None
        while held and not self._paused and not self._closing:
            data = held.popleft()
            try:
                if data is None:
                    self._handle_binary()
                else:
                    self._handle_text(data)
            except Exception:
                log.exception("internal error while handling a held message; closing the connection with 1011")
                self.close(WSCloseCode.INTERNAL_ERROR, "internal error")
                return
        if held or self._paused or self._closing:
            return
        self._hold = False
        try:
            self._raw.resume_reading()
        except Exception:
            log.exception("internal error while resuming a connection; closing it with 1011")
            self.close(WSCloseCode.INTERNAL_ERROR, "internal error")

    def _on_send_timeout(self) -> None:
        self._send_timer = None
        if self._paused and not self._closing:
            self._close_slow("send_timeout", f"not reading: writes paused for {self._ctx.send_timeout_s:g} s")

    def _over_send_limit(self) -> bool:
        """While paused: True (and the connection closing) if more than the limit is buffered."""
        if self._raw.get_write_buffer_size() <= self._ctx.max_send_buffer_bytes:
            return False
        self._close_slow("send_buffer_limit", "not reading: send buffer over its limit")
        return True

    def _close_slow(self, reason: str, message: str) -> None:
        self._counters.bump(self._counters.slow_clients_closed, reason)
        self.close(WSCloseCode.POLICY_VIOLATION, message)

    # ---- answers ------------------------------------------------------------------------

    def _send(self, data: bytes) -> bool:
        """Send one text message; False if it was not sent (closing, or the client is too slow)."""
        transport = self._transport
        if transport is None or self._closing or (self._paused and self._over_send_limit()):
            return False
        transport.send(TEXT, data)
        self._counters.bytes_out += len(data)
        return True

    def _result_ok(self, request_id: str, result: Any) -> None:
        try:
            data = tool_ok(request_id, result)
        except JSONEncodeError:
            self._result_error(request_id, "tool_failed", "result cannot be encoded as JSON")
            return
        if self._ctx.answer_faults:
            self._faulty_answer(data, None)
            return
        if self._send(data):
            self._counters.results_ok += 1
        else:
            self._counters.calls_unanswered += 1

    def _result_error(self, request_id: str, code: str, message: str) -> None:
        data = tool_error(request_id, code, message)
        if self._ctx.answer_faults:
            self._faulty_answer(data, code)
            return
        if self._send(data):
            self._counters.result_error(code)
        else:
            self._counters.calls_unanswered += 1

    # ---- fault injection ----------------------------------------------------------------

    def _faulty_answer(self, data: bytes, code: str | None) -> None:
        """Answer under the stall / delay_ms / garbage faults (``code`` None for ok)."""
        faults = self._ctx.faults
        if faults.stall:
            self._stalled += 1
        elif faults.delay_ms > 0:
            key = self._delay_seq
            self._delay_seq += 1
            self._delayed[key] = self._loop.call_later(faults.delay_ms / 1000.0, self._deliver_delayed, key, data, code)
        else:
            self._deliver(data, code)

    def _deliver_delayed(self, key: int, data: bytes, code: str | None) -> None:
        self._delayed.pop(key, None)
        if self._ctx.faults.stall:
            self._stalled += 1
        else:
            self._deliver(data, code)

    def _deliver(self, data: bytes, code: str | None) -> None:
        """Send one tool answer, or garbage instead of it (garbage_fraction)."""
        ctx = self._ctx
        faults = ctx.faults
        counters = self._counters
        if faults.garbage_fraction > 0 and ctx.rng.random() < faults.garbage_fraction:
            kind = faults.garbage_kind
            ctx.garbage_serial += 1
            frames = garbage_frames(kind, data, ctx.garbage_serial, faults.oversize_bytes)
            counters.bump(counters.faults_injected, kind)
            sent = self._send_frames(frames)
            if kind not in KEEPS_ANSWER or not sent:
                counters.calls_unanswered += 1
                return
        elif not self._send(data):
            counters.calls_unanswered += 1
            return
        if code is None:
            counters.results_ok += 1
        else:
            counters.result_error(code)

    def _send_frames(self, frames: list[tuple[bool, bytes]]) -> bool:
        transport = self._transport
        if transport is None or self._closing or (self._paused and self._over_send_limit()):
            return False
        for binary, payload in frames:
            if binary:
                transport.send(BINARY, payload)
            else:
                transport.send(TEXT, payload)
                self._counters.bytes_out += len(payload)
        return True

    @property
    def droppable(self) -> bool:
        """Open and past hello: a candidate for the drop fault."""
        return self._ready and not self._closing and self._transport is not None

    def drop(self, mode: str, code: int) -> None:
        """Drop this connection: ``close`` (CLOSE ``code``, then disconnect) or ``reset`` (TCP RST).

        Calls in flight are not answered (they count in ``calls_unanswered``).
        """
        self._counters.bump(self._counters.connections_dropped, mode)
        if mode == "reset":
            self.reset()
        else:
            self.close(code, "dropped by fault injection")  # type: ignore[arg-type]

    def reset(self) -> None:
        """Abort the TCP connection with an RST (SO_LINGER 0), dropping pending work."""
        transport = self._transport
        if transport is None:
            return
        self._closing = True
        self._stop_work()
        sock = transport.underlying_transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        transport.disconnect(graceful=False)

    # ---- tools.Session --------------------------------------------------------------------

    def answer_after(self, request_id: str, delay_s: float, result: Any) -> None:
        timeout = self._ctx.tool_timeout_s
        if timeout is not None and delay_s > timeout:
            handle = self._loop.call_later(timeout, self._answer_timeout, request_id)
        else:
            handle = self._loop.call_later(delay_s, self._answer_later, request_id, result)
        self._inflight[request_id] = handle

    def answer_with(self, request_id: str, work: Coroutine[Any, Any, Any]) -> None:
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
        if self._closing:
            return False
        seq = self._seqs.get(topic, 0) + 1
        try:
            payload = event(topic, seq, time.time_ns(), data)
        except JSONEncodeError:
            return False
        if not self._send(payload):
            return False
        self._seqs[topic] = seq
        self._counters.pushes_sent += 1
        return True

    def _answer_later(self, request_id: str, result: Any) -> None:
        self._inflight.pop(request_id, None)
        self._result_ok(request_id, result)

    def _answer_timeout(self, request_id: str) -> None:
        self._inflight.pop(request_id, None)
        self._result_error(request_id, "timeout", f"tool ran longer than {self._ctx.tool_timeout_s:g} s")

    async def _run_work(self, request_id: str, work: Coroutine[Any, Any, Any]) -> None:
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

    # ---- lifecycle ----------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        """True while calls on this connection are still waiting for their answer.

        Calls withheld by the stall fault do not count: they will never be answered.
        """
        return bool(self._inflight) or bool(self._delayed)

    def stop_streams(self) -> None:
        """Stop every push stream (used when the server starts shutting down)."""
        for stream in self._streams:
            stream.cancel()
        self._streams.clear()

    def close(self, code: WSCloseCode, reason: str) -> None:
        """Drop pending work, send CLOSE, and disconnect once the peer answers (or soon)."""
        transport = self._transport
        if self._closing or transport is None:
            return
        self._closing = True
        self._stop_work()
        transport.send_close(code, reason.encode())
        self._close_timer = self._loop.call_later(CLOSE_REPLY_TIMEOUT_S, self._finish_close)

    def _finish_close(self) -> None:
        """The peer did not answer our CLOSE in time (or has not read what we sent): disconnect.

        Gracefully if nothing is left to send; otherwise abort, since a client that does
        not read would keep a graceful close (and its buffer) waiting forever.
        """
        self._close_timer = None
        transport = self._transport
        if transport is not None:
            transport.disconnect(graceful=self._raw is None or self._raw.get_write_buffer_size() == 0)

    def abort(self) -> None:
        """Drop the socket now."""
        if self._transport is not None:
            self._transport.disconnect(graceful=False)

    def _cancel_hello_timer(self) -> None:
        if self._hello_timer is not None:
            self._hello_timer.cancel()
            self._hello_timer = None

    def _stop_work(self) -> None:
        self._cancel_hello_timer()
        if self._held:
            self._held.clear()
        if self._send_timer is not None:
            self._send_timer.cancel()
            self._send_timer = None
        unanswered = self._stalled
        self._stalled = 0
        if self._inflight:
            unanswered += len(self._inflight)
            for handle in self._inflight.values():
                handle.cancel()
            self._inflight.clear()
        if self._delayed:
            unanswered += len(self._delayed)
            for timer in self._delayed.values():
                timer.cancel()
            self._delayed.clear()
        self._counters.calls_unanswered += unanswered
        self.stop_streams()
        if self._seqs:
            self._ctx.hub.remove(self, list(self._seqs))


class Busy(WSListener):
    """A connection over ``--max-connections``: closed with 1013 (try again later) once upgraded.

    It is not a Connection: not in ``connections_opened``, counted in ``connections_rejected_busy``.
    """

    __slots__ = ("_loop", "_counters", "_timer")

    def __init__(self, ctx: ServerContext) -> None:
        self._loop = ctx.loop
        self._counters = ctx.counters
        self._timer: asyncio.TimerHandle | None = None

    def on_ws_connected(self, transport: WSTransport) -> None:
        self._counters.connections_rejected_busy += 1
        transport.send_close(WSCloseCode.TRY_AGAIN_LATER, b"too many connections, try again later")
        self._timer = self._loop.call_later(CLOSE_REPLY_TIMEOUT_S, transport.disconnect, False)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type is CLOSE:
            transport.disconnect()

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
