"""The one module that touches sockets: handshake (websocket-client), hello, calls, and a reader greenlet."""

from __future__ import annotations

import itertools
import logging
import math
import socket
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

import gevent
import websocket
from gevent.event import AsyncResult, Event
from gevent.lock import Semaphore

from users.correlation import PendingCall, PendingCalls
from users.deadlines import SWEEPER
from users.errors import (
    CallFailed,
    CallTimeout,
    ConnectFailed,
    ConnectionLost,
    HelloRefused,
    ServerProtocolError,
    WsFailure,
    describe_os_error,
)
from users.frames import (
    CLOSE_GOING_AWAY,
    CLOSE_INVALID_PAYLOAD,
    CLOSE_NORMAL,
    FRAME_ERROR_CODES,
    OP_BINARY,
    OP_CLOSE,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    FrameDecoder,
    FrameError,
    encode_close,
    encode_frame,
    encode_text_frames,
    parse_close_payload,
)
from users.metrics import WsCounters
from users.protocol import (
    DEFAULT_DIALECT,
    CallTemplate,
    Dialect,
    HelloOk,
    ProtocolViolation,
    PushEvent,
    ServerError,
    ToolResult,
    build_hello,
    parse_server_message,
)
from users.push_tracking import SequenceTracker

logger = logging.getLogger(__name__)

RECV_BYTES = 256 * 1024
CLOSE_WAIT_S = 2.0

RequestHook = Callable[..., Any]
"""Locust's `environment.events.request.fire` (keyword arguments as Locust's request event)."""


@dataclass(frozen=True)
class ClientSettings:
    """How one connection behaves; the User fills it from its options."""

    connect_timeout_s: float = 10.0
    hello_timeout_s: float = 10.0
    call_timeout_s: float = 10.0
    max_message_bytes: int = 16 * 1024 * 1024
    ping_interval_s: float = 0.0
    ping_timeout_s: float = 10.0
    headers: Sequence[str] = ()
    subprotocols: Sequence[str] = ()
    sslopt: dict[str, Any] = field(default_factory=dict)
    dialect: Dialect = DEFAULT_DIALECT
    request_type: str = "WS"


@dataclass(frozen=True, slots=True)
class CallOutcome:
    """What a blocking `call` returns: the result, or the failure it was reported as."""

    ok: bool
    result: Any
    failure: WsFailure | None
    latency_ms: float


class ToolClient:
    """One WebSocket connection speaking hello / call_tool, firing a request event per outcome.

    Writes happen in the caller's greenlet, batched into one `sendall` per
    batch of calls; a reader greenlet receives in large chunks, decodes all
    complete frames and settles calls by request_id.
    """

    def __init__(self, url: str, *, fire: RequestHook, counters: WsCounters, settings: ClientSettings) -> None:
        self.url = url
        self.settings = settings
        self.counters = counters
        self.hello_info: HelloOk | None = None
        self.close_code: int | None = None
        self.close_reason = ""
        self._fire = fire
        self._pending = PendingCalls(counters.calls)
        self._ids = itertools.count(1)
        self._names: dict[str, str] = {}
        self._sock: socket.socket | None = None
        self._reader: gevent.Greenlet | None = None
        self._write_lock = Semaphore()
        self._progress = Event()
        self._hello_reply: AsyncResult | None = None
        self._push_streams: dict[str, SequenceTracker] = {}
        self._ping_timer: Any = None
        self._pinger: gevent.Greenlet | None = None
        self._pong = Event()
        self._push_names: dict[str, str] = {}
        self._connected = False
        self._close_sent = False
        self._broken = False

    # ----------------------------------------------------------------- state
    @property
    def connected(self) -> bool:
        """True from a successful handshake until the connection ends."""
        return self._connected

    @property
    def in_flight(self) -> int:
        """Calls sent on this connection and not yet settled."""
        return len(self._pending)

    # ------------------------------------------------------- connect / hello
    def connect(self) -> None:
        """Open the WebSocket; fires `connect`; raises ConnectFailed."""
        s = self.settings
        start_wall = time.time()
        start = perf_counter()
        try:
            ws = websocket.create_connection(
                self.url,
                timeout=s.connect_timeout_s,
                header=list(s.headers),
                subprotocols=list(s.subprotocols) or None,
                sslopt=dict(s.sslopt),
                skip_utf8_validation=True,
                enable_multithread=False,
            )
        except (OSError, ssl.SSLError, websocket.WebSocketException) as exc:
            failure = ConnectFailed(describe_os_error(exc))
            self.counters.connect_failures += 1
            self._report("connect", perf_counter() - start, 0, failure, start_wall)
            raise failure from None
        self._sock = ws.sock  # websocket-client's WebSocket object is not kept: only its socket is used from here
        self._sock.settimeout(None)
        self._connected = True
        self.counters.connects += 1
        self.counters.connections_open += 1
        self._report("connect", perf_counter() - start, 0, None, start_wall)
        self._reader = gevent.spawn(self._read_loop, FrameDecoder(s.max_message_bytes))
        if s.ping_interval_s > 0:
            # A timer, not a greenlet parked between pings: a parked greenlet costs about 8 KB per connection.
            self._ping_timer = gevent.get_hub().loop.timer(s.ping_interval_s, s.ping_interval_s)
            self._ping_timer.start(self._ping_due)

    def hello(self, session_id: str, token: str) -> HelloOk:
        """Send hello and wait for its answer; fires `hello`; raises HelloRefused."""
        payload = build_hello(session_id, token, self.settings.dialect)
        reply = self._hello_reply = AsyncResult()
        start_wall = time.time()
        start = perf_counter()
        failure: WsFailure | None = None
        answer: Any = None
        try:
            self._write(encode_frame(payload))
            self.counters.messages_sent += 1
            self.counters.bytes_sent += len(payload)
            answer = reply.get(timeout=self.settings.hello_timeout_s)
        except gevent.Timeout:
            failure = HelloRefused("hello_timeout")
        except OSError as exc:
            failure = HelloRefused("connection_lost", describe_os_error(exc))
        elapsed = perf_counter() - start
        if failure is None:
            if isinstance(answer, HelloOk):
                self.counters.hellos_ok += 1
                self.hello_info = answer
                self._report("hello", elapsed, 0, None, start_wall)
                return answer
            if isinstance(answer, ServerError):
                failure = HelloRefused(answer.code)
            else:
                failure = HelloRefused("connection_closed", answer if isinstance(answer, str) else "")
        self.counters.hellos_refused += 1
        self._report("hello", elapsed, 0, failure, start_wall)
        self.close()
        raise failure

    # ----------------------------------------------------------------- calls
    def send_calls(
        self,
        templates: Sequence[CallTemplate],
        waiter: AsyncResult | None = None,
        intended: Sequence[float] | None = None,
    ) -> None:
        """Send one call per template in a single write; their outcomes are fired as they settle.

        `intended` (perf_counter times, one per template, oldest first) makes
        latency count from when each call should have been sent, not from when
        it was: a generator that falls behind cannot hide server stalls.
        """
        if not self._connected:
            raise ConnectionLost("not connected")
        now = perf_counter()
        payloads = []
        add = self._pending.add
        for i, template in enumerate(templates):
            request_id = str(next(self._ids))
            payload = template.encode(request_id)
            payloads.append(payload)
            add(request_id, template.tool, now if intended is None else intended[i], waiter)
        counters = self.counters
        counters.messages_sent += len(payloads)
        counters.bytes_sent += sum(map(len, payloads))
        try:
            self._write(encode_text_frames(payloads))
        except OSError as exc:
            self._abort(f"write failed: {describe_os_error(exc)}")
            raise ConnectionLost("write failed") from None

    def call(self, template: CallTemplate) -> CallOutcome:
        """Send one call and block until it settles (result, timeout or lost connection)."""
        waiter = AsyncResult()
        self._progress.clear()
        self.send_calls([template], waiter)
        deadline = perf_counter() + self.settings.call_timeout_s
        while not waiter.ready():
            remaining = deadline - perf_counter()
            if remaining <= 0:
                self.expire_overdue()
                if not waiter.ready():  # perf_counter granularity: settle at the next tick
                    gevent.sleep(0.001)
                continue
            try:
                return waiter.get(timeout=remaining)
            except gevent.Timeout:
                continue
        return waiter.get()

    def keep_in_flight(
        self, limit: int, pick: Callable[[int], list[CallTemplate]], max_wait_s: float = math.inf
    ) -> None:
        """Top up to `limit` calls in flight, then wait until one settles, the oldest call is overdue,
        or `max_wait_s` has passed."""
        self._progress.clear()
        need = limit - len(self._pending)
        if need > 0:
            self.send_calls(pick(need))
        if self._pending and self._connected:
            if max_wait_s == math.inf:
                oldest = self._pending.oldest_sent_at()
                assert oldest is not None
                SWEEPER.wait(self._progress, oldest + self.settings.call_timeout_s)  # no timer per wait
            else:
                self._progress.wait(min(max_wait_s, self._time_to_oldest_deadline()))
        self.expire_overdue()

    def drain(self, timeout_s: float | None = None) -> None:
        """Wait for every call in flight to settle, for at most `timeout_s` (default: the call timeout)."""
        deadline = perf_counter() + (self.settings.call_timeout_s if timeout_s is None else timeout_s)
        while self._pending and self._connected:
            self._progress.clear()
            remaining = deadline - perf_counter()
            if remaining <= 0:
                break
            self._progress.wait(min(remaining, self._time_to_oldest_deadline()))
            self.expire_overdue()
        if self._pending and self._connected:
            self._settle_timeouts(self._pending.expire(float("inf"), 0.0), perf_counter())

    def wait_for_progress(self, timeout_s: float) -> None:
        """Wait up to `timeout_s` for any call to settle (or the connection to end), then expire overdue calls."""
        if self._pending and self._connected:
            self._progress.clear()
            self._progress.wait(max(0.0, min(timeout_s, self._time_to_oldest_deadline())))
        self.expire_overdue()

    def drop(self, how: str) -> None:
        """End the connection at once, as a reconnect storm does: calls in flight become connection_lost."""
        if self._connected and not self._close_sent and not self._broken:
            self._close_sent = True
            try:
                self._write(encode_close(CLOSE_GOING_AWAY, how[:60]))
            except OSError:
                pass
        self._abort(how)

    def expire_overdue(self) -> None:
        """Report every call older than the call timeout as a `timeout` failure."""
        now = perf_counter()
        self._settle_timeouts(self._pending.expire(now, self.settings.call_timeout_s), now)

    def close(self) -> None:
        """Close cleanly (close frame, wait for the server's), then settle anything left as lost."""
        if self._connected and not self._close_sent and not self._broken:
            try:
                self._close_sent = True
                self._write(encode_close(CLOSE_NORMAL))
            except OSError:
                pass
            reader = self._reader
            if reader is not None and reader is not gevent.getcurrent():
                reader.join(timeout=CLOSE_WAIT_S)
        self._abort("closed by client")

    # --------------------------------------------------------------- helpers
    def _time_to_oldest_deadline(self) -> float:
        oldest = self._pending.oldest_sent_at()
        if oldest is None:
            return self.settings.call_timeout_s
        return max(0.0, oldest + self.settings.call_timeout_s - perf_counter())

    def _write(self, data: bytes) -> None:
        sock = self._sock
        if sock is None:
            raise ConnectionLost("not connected")
        with self._write_lock:
            try:
                # One send() usually takes it all; gevent's sendall() would first ask the kernel for SO_SNDBUF
                # (a getsockopt syscall per write) to size its chunks.
                sent = sock.send(data)
                if sent < len(data):
                    sock.sendall(memoryview(data)[sent:])
            except BaseException:
                # A write cut short (error or greenlet kill) leaves a torn frame: never write again.
                self._broken = True
                raise

    def _name(self, tool: str) -> str:
        name = self._names.get(tool)
        if name is None:
            name = self._names[tool] = f"call_tool:{tool}"
        return name

    def _report(self, name: str, seconds: float, length: int, failure: WsFailure | None, start_wall: float) -> None:
        self._fire(
            request_type=self.settings.request_type,
            name=name,
            response_time=seconds * 1000.0,
            response_length=length,
            exception=failure,
            context={},
            start_time=start_wall,
        )

    def _settle(self, call: PendingCall, now: float, length: int, failure: WsFailure | None, result: Any) -> None:
        seconds = now - call.sent_at
        self._fire(
            request_type=self.settings.request_type,
            name=self._name(call.tool),
            response_time=seconds * 1000.0,
            response_length=length,
            exception=failure,
            context={},
        )
        if call.waiter is not None:
            call.waiter.set(CallOutcome(failure is None, result, failure, seconds * 1000.0))

    def _settle_timeouts(self, calls: list[PendingCall], now: float) -> None:
        for call in calls:
            self._settle(call, now, 0, CallTimeout(), None)

    def _protocol_error(self, code: str) -> None:
        self.counters.protocol_errors += 1
        self._fire(
            request_type=self.settings.request_type,
            name="protocol_error",
            response_time=None,
            response_length=0,
            exception=ServerProtocolError(code),
            context={},
        )

    # ---------------------------------------------------------------- reader
    def _read_loop(self, decoder: FrameDecoder) -> None:
        sock = self._sock
        assert sock is not None
        how = "connection closed"
        try:
            while True:
                data = sock.recv(RECV_BYTES)
                if not data:
                    how = "eof"
                    return
                now = perf_counter()
                for frame in decoder.feed(data):
                    opcode = frame.opcode
                    if opcode == OP_TEXT:
                        self._on_text(frame.payload, now)
                    elif opcode == OP_PING:
                        self._write(encode_frame(frame.payload, OP_PONG))
                    elif opcode == OP_PONG:
                        self._pong.set()
                    elif opcode == OP_CLOSE:
                        self.close_code, self.close_reason = parse_close_payload(frame.payload)
                        how = f"close {self.close_code}"
                        if not self._close_sent:
                            self._close_sent = True
                            self._write(encode_close(self.close_code if self.close_code != 1005 else CLOSE_NORMAL))
                        return
                    elif opcode == OP_BINARY:
                        self.counters.messages_received += 1
                        self._protocol_error("binary_frame")
                self._progress.set()
        except FrameError as exc:
            how = f"framing error {exc.close_code}"
            if exc.close_code != CLOSE_INVALID_PAYLOAD:  # invalid UTF-8 was reported as such already
                self._protocol_error(FRAME_ERROR_CODES.get(exc.close_code, f"frame_error_{exc.close_code}"))
            if not self._close_sent and not self._broken:
                self._close_sent = True
                try:
                    self._write(encode_close(exc.close_code))
                except OSError:
                    pass
        except (OSError, ssl.SSLError) as exc:
            how = describe_os_error(exc)
        except gevent.GreenletExit:
            how = "reader stopped"
        finally:
            self._abort(how)

    def _on_text(self, payload: bytes, now: float) -> None:
        counters = self.counters
        counters.messages_received += 1
        counters.bytes_received += len(payload)
        try:
            msg = parse_server_message(payload, self.settings.dialect)
        except ProtocolViolation as exc:
            self._protocol_error(exc.code)
            if exc.code == "invalid_utf8":  # RFC 6455 8.1: fail the connection
                raise FrameError(CLOSE_INVALID_PAYLOAD, "text frame is not valid UTF-8") from None
            return
        if isinstance(msg, ToolResult):
            call = self._pending.resolve(msg.request_id, msg.ok)
            if isinstance(call, str):
                self._protocol_error(call)
                return
            self._settle(call, now, len(payload), None if msg.ok else CallFailed(msg.error_code or "error"), msg.result)
        elif isinstance(msg, PushEvent):
            self._on_push(msg, len(payload))
        elif (
            isinstance(msg, (HelloOk, ServerError)) and self._hello_reply is not None and not self._hello_reply.ready()
        ):
            self._hello_reply.set(msg)
        elif isinstance(msg, ServerError):
            self._protocol_error(f"server_error_{msg.code}")

    def _on_push(self, event: PushEvent, length: int) -> None:
        counters = self.counters
        counters.pushes_received += 1
        tracker = self._push_streams.get(event.topic)
        if tracker is None:
            tracker = self._push_streams[event.topic] = SequenceTracker()
        gaps, duplicates, reordered = tracker.gaps, tracker.duplicates, tracker.reordered
        tracker.observe(event.seq)
        counters.push_gaps += tracker.gaps - gaps
        counters.push_duplicates += tracker.duplicates - duplicates
        counters.push_reordered += tracker.reordered - reordered
        if event.sent_at_ns is None:
            return
        latency_ms = max(0.0, (time.time_ns() - event.sent_at_ns) / 1e6)
        name = self._push_names.get(event.topic)
        if name is None:
            name = self._push_names[event.topic] = f"push:{event.topic}"
        self._fire(
            request_type=self.settings.request_type,
            name=name,
            response_time=latency_ms,
            response_length=length,
            exception=None,
            context={},
        )

    def _ping_due(self) -> None:
        """Timer callback (in the hub, must not block): ping from a short-lived greenlet unless one is waiting."""
        if self._connected and (self._pinger is None or self._pinger.dead):
            self._pinger = gevent.spawn(self._ping_once, self.settings.ping_timeout_s)

    def _ping_once(self, timeout_s: float) -> None:
        """Ping; no pong within `timeout_s` means a half-open connection: abort it."""
        self._pong.clear()
        try:
            self._write(encode_frame(b"keepalive", OP_PING))
        except OSError:
            return
        if not self._pong.wait(timeout_s) and self._connected:
            self.counters.ping_timeouts += 1
            self._protocol_error("ping_timeout")
            self._abort("ping_timeout")

    def _abort(self, how: str) -> None:
        """End the connection now: settle in-flight calls as lost, close the socket, wake waiters."""
        was_connected = self._connected
        self._connected = False
        lost = self._pending.lose_all()
        if lost:
            now = perf_counter()
            for call in lost:
                self._settle(call, now, 0, ConnectionLost(how), None)
        if self._hello_reply is not None and not self._hello_reply.ready():
            self._hello_reply.set(how)
        if was_connected:
            self.counters.connections_open -= 1
            self.counters.disconnects += 1
            sock = self._sock
            if sock is not None:
                try:
                    sock.close()
                except OSError:
                    pass
        if self._ping_timer is not None:
            self._ping_timer.close()
            self._ping_timer = None
        for greenlet in (self._reader, self._pinger):
            if greenlet is not None and greenlet is not gevent.getcurrent() and not greenlet.dead:
                greenlet.kill(block=False)
        self._progress.set()
