"""Pure client connection core (sans-I/O): fed bytes and time, it returns bytes to send and typed events.

Like python-websockets' `Protocol` and wsproto's `Connection`: no socket, no clock, no greenlet, no process-wide
counter. It owns the frame decoder, the calls in flight, the push trackers, the hello and ping state and the close
handshake, and knows every deadline (`next_deadline()`); `tick(now)` settles whatever is overdue. Its outputs are
bytes to write, events (a settled call, hello answered, every push with what tracking found, a protocol fault, the
close) and its traffic counts (it is a `Traffic` record: messages, bytes and calls sent and received since they
were last folded; fields of the core itself, no object of their own).
users/engine/connection.py moves the bytes; users/wire/tally.py counts the events and folds the traffic into the
process counters; users/engine/reporter.py turns the events into Locust request events.
"""

from __future__ import annotations

import enum
import itertools
import math
from collections.abc import Sequence
from typing import Any

from users.wire.correlation import BAD_ID_LIMIT, PendingCall, PendingCalls
from users.wire.deflate import DeflateParams, framers
from users.wire.errors import CallFailed, CallTimeout, ConnectionLost, HelloRefused, WsFailure
from users.wire.events import (
    PING_TIMEOUT,
    WRITE_TIMEOUT,
    ConnectionClosed,
    CoreEvent,
    HelloAnswered,
    ProtocolFault,
    PushReceived,
)
from users.wire.frames import (
    CLOSE_INVALID_PAYLOAD,
    CLOSE_NO_STATUS,
    CLOSE_NORMAL,
    CLOSE_PROTOCOL_ERROR,
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
    parse_close_payload,
)
from users.wire.protocol import (
    HelloOk,
    ProtocolViolation,
    PushEvent,
    Reply,
    ServerError,
    Several,
    ToolResult,
    shared_hello,
)
from users.wire.push_tracking import PushStreams
from users.wire.settings import ClientSettings
from users.wire.traffic import MoreTraffic, Traffic

REASON_CHARS = 60
"""A close reason is cut to this many characters in failure messages (Locust groups failures by message)."""
BAD_REQUEST_IDS = "bad_request_ids"
"""How calls in flight are lost when the server answered BAD_ID_LIMIT request ids that match no call."""


class BadRequestIds(FrameError):
    """Too many answers matched no call sent: the server is broken, the connection is failed with 1002."""


class State(enum.Enum):
    """Where a connection is; it only moves forward (CONNECTING may skip OPEN, anything may jump to CLOSED)."""

    CONNECTING = "connecting"
    """The WebSocket is open; hello not answered yet (calls may already be sent)."""
    OPEN = "open"
    """Hello answered ok."""
    CLOSING = "closing"
    """A close frame was sent; waiting for the server's."""
    CLOSED = "closed"
    """Ended: every call settled, one ConnectionClosed event."""


CONNECTING, OPEN, CLOSING, CLOSED = State.CONNECTING, State.OPEN, State.CLOSING, State.CLOSED


CORE_SLOTS = (
    "protocol", "state", "live", "settings", "opened_at", "close_code", "close_reason", "hello_info",
    "closed", "closed_at", "hello_answer", "writing_since", "pending", "_text_frame", "_text_frames", "decoder",
    "_parse", "_call_timeout_s", "_ids", "outgoing", "_events", "_hello_sent_at", "_ping_sent_at", "_close_sent",
    "_streams",
)  # fmt: skip
"""ClientCore's attributes: one core per connection, no __dict__."""


class ClientCore(Traffic):
    """One connection's protocol state. Inputs: `send_hello`, `send_calls`, `send_ping`, `close`, `receive_data`,
    `receive_eof`, `fail`, `tick`, `writing` (a write that cannot finish within the call
    timeout ends the connection: `write_timeout`); outputs: `data_to_send()`, `events_received()` and the
    Traffic counts it inherits (users/wire/tally.py folds them into the process counters and zeroes them)."""

    __slots__ = CORE_SLOTS

    def __init__(self, settings: ClientSettings, now: float, deflate: DeflateParams | None = None) -> None:
        self.protocol = settings.wire_protocol()
        self.state = CONNECTING if self.protocol.has_hello else OPEN  # no handshake: OPEN from the start
        self.live = True  # CONNECTING or OPEN: calls may be sent (a plain attribute: read once per call)
        Traffic.__init__(self, None if deflate is None else MoreTraffic(kept=True))  # counts not yet folded
        self.settings = settings
        self.opened_at = now
        self.close_code: int | None = None
        self.close_reason = ""
        self.hello_info: HelloOk | None = None
        self.closed: ConnectionClosed | None = None
        self.closed_at = math.nan
        self.hello_answer: HelloAnswered | None = None
        self.writing_since = 0.0
        self.pending = PendingCalls()
        self._text_frame, self._text_frames, inflate = framers(deflate, self.more, settings.max_message_bytes)
        self.decoder = FrameDecoder(settings.max_message_bytes, inflate)  # holds at most max_message_bytes
        self._parse = self.protocol.parser()
        self._call_timeout_s = settings.call_timeout_s
        self._ids = itertools.count(1)
        self.outgoing: list[bytes] = []
        """Frames queued and not yet taken by `data_to_send()` (read-only for the I/O layer)."""
        self._events: list[CoreEvent] = []
        self._hello_sent_at: float | None = None
        self._ping_sent_at: float | None = None
        self._close_sent: int | None = None
        self._streams: PushStreams | None = None  # made by the first push: most connections get none

    # ------------------------------------------------------------------ output
    def data_to_send(self) -> bytes:
        """Bytes to write now, in order (b"" when nothing)."""
        out = self.outgoing
        if not out:
            return b""
        self.outgoing = []
        return out[0] if len(out) == 1 else b"".join(out)

    def events_received(self) -> list[CoreEvent]:
        """Events since the last call, in order."""
        events = self._events
        self._events = []
        return events

    @property
    def hello_pending(self) -> bool:
        """A hello was sent and not yet answered."""
        return self._hello_sent_at is not None

    @property
    def ping_pending(self) -> bool:
        """A ping was sent and its pong not yet received."""
        return self._ping_sent_at is not None

    def next_deadline(self) -> float:
        """The earliest time `tick` has something to do (math.inf when nothing is waiting)."""
        deadline = math.inf
        oldest = self.pending.oldest_sent_at()
        if oldest is not None:
            deadline = oldest + self._call_timeout_s
        if self._hello_sent_at is not None:
            deadline = min(deadline, self._hello_sent_at + self.settings.hello_timeout_s)
        if self._ping_sent_at is not None:
            deadline = min(deadline, self._ping_sent_at + self.settings.ping_timeout_s)
        if self.writing_since:
            deadline = min(deadline, self.writing_since + self._call_timeout_s)
        return deadline

    # ------------------------------------------------------------------- input
    def writing(self, since: float) -> None:
        """A write blocked `since` then (0.0: it ended): a deadline until it ends."""
        self.writing_since = since

    def send_hello(self, session_id: str, token: str, now: float) -> None:
        """Queue the hello; its answer (or its timeout, or the connection's end) becomes a HelloAnswered."""
        self._send_text(self.protocol.hello(session_id, token))
        self.count_hello()
        self._hello_sent_at = now

    def send_calls(
        self, templates: Sequence[Any], now: float, intended: Sequence[float] | None = None, waiter: Any = None
    ) -> None:
        """Queue one call per template (CallTemplate), in one write; raise ConnectionLost once closing."""
        if not self.live:
            raise ConnectionLost("not connected")
        ids = self._ids
        add = self.pending.add
        payloads = []
        size = 0
        for i, template in enumerate(templates):
            request_id = str(next(ids))
            payload = template.encode(request_id)
            add(request_id, template.tool, now if intended is None else intended[i], waiter)
            size += len(payload)
            payloads.append(payload)
        self.bytes_sent += size
        self.messages_sent += len(payloads)
        self.calls_sent += len(payloads)
        # one call (a closed loop's and the open model's every write): its frame directly
        self.outgoing.append(self._text_frame(payloads[0]) if len(payloads) == 1 else self._text_frames(payloads))

    def send_ping(self, now: float) -> bool:
        """Queue a keepalive ping unless one is unanswered or the connection is ending; True when queued."""
        if self._ping_sent_at is not None or not self.live:
            return False
        self.outgoing.append(encode_frame(b"keepalive", OP_PING))
        self._ping_sent_at = now
        return True

    def close(self, code: int = CLOSE_NORMAL, reason: str = "") -> None:
        """Start the closing handshake: queue a close frame; the connection ends when the server answers."""
        if self.state is CLOSED or self._close_sent is not None:
            return
        self.outgoing.append(encode_close(code, reason[:REASON_CHARS]))
        self._close_sent = code
        self.state = CLOSING
        self.live = False

    def fail(self, how: str, now: float) -> None:
        """End the connection now (the transport is gone or given up): calls in flight are lost with `how`."""
        self._finish(how, now)

    def receive_eof(self, how: str, now: float) -> None:
        """The transport ended (`how`: `eof`, `reset`, or an error's description)."""
        self._finish(how, now)

    def receive_data(self, data: bytes, now: float) -> None:
        """Bytes read from the server at `now`; frames before a framing error in them are still delivered."""
        if self.state is CLOSED:
            return
        try:
            whole = self.decoder.whole_text(data)
            if whole is not None:  # most reads: one whole text message, no frame object needed
                self._on_text(whole, now)
                return
            try:
                frames, error = self.decoder.feed(data), None
            except FrameError as exc:  # the frames the server sent before the bad one are answers all the same
                frames, error = exc.frames, exc
            for frame in frames:
                opcode = frame.opcode
                if opcode == OP_TEXT:
                    self._on_text(frame.payload, now)
                elif opcode == OP_PING:
                    if self._close_sent is None:
                        self.outgoing.append(encode_frame(frame.payload, OP_PONG))
                elif opcode == OP_PONG:
                    self._ping_sent_at = None
                elif opcode == OP_CLOSE:
                    self._on_close_frame(frame.payload, now)
                    return
                elif opcode == OP_BINARY:
                    self.messages_received += 1
                    self._fault("binary_frame")
            if error is not None:
                raise error
        except FrameError as exc:
            bad_ids = exc.__class__ is BadRequestIds
            if not bad_ids:  # the bad ids were reported one by one already
                self._fault(FRAME_ERROR_CODES.get(exc.close_code, f"frame_error_{exc.close_code}"))
            self.close(exc.close_code)
            self._finish(BAD_REQUEST_IDS if bad_ids else f"framing error {exc.close_code}", now)

    def tick(self, now: float) -> bool:
        """Settle what is overdue at `now`: calls (timeout), the hello, an unanswered ping, a blocked write;
        True when that made events."""
        if self.state is CLOSED:
            return bool(self._events)
        hello_at = self._hello_sent_at
        if hello_at is not None and now >= hello_at + self.settings.hello_timeout_s:
            self._hello_failed(HelloRefused("hello_timeout"), now)
        expired = self.pending.expire(now, self._call_timeout_s)
        if expired:
            self._events.extend(settled_failed(expired, CallTimeout(), now))
        if self._ping_sent_at is not None and now >= self._ping_sent_at + self.settings.ping_timeout_s:
            self._fault(PING_TIMEOUT)
            self._finish(PING_TIMEOUT, now)
        elif self.writing_since and now >= self.writing_since + self._call_timeout_s:
            self._finish(WRITE_TIMEOUT, now)
        return bool(self._events)

    def give_up_calls(self, now: float) -> None:
        """Settle every call in flight as timed out now (a user that stops waiting before their deadline)."""
        self._events.extend(settled_failed(self.pending.expire(math.inf, 0.0), CallTimeout(), now))

    # --------------------------------------------------------------- internals
    def _send_text(self, payload: bytes) -> None:  # a text message that is not a call (hello, a reply)
        self.messages_sent += 1
        self.bytes_sent += len(payload)
        self.outgoing.append(self._text_frame(payload))

    def _on_text(self, payload: bytes, now: float) -> None:
        self.messages_received += 1
        self.bytes_received += len(payload)
        try:
            msg = self._parse(payload)
        except ProtocolViolation as exc:
            if exc.code == "invalid_utf8":  # RFC 6455 8.1: fail the connection (counted as a fault there)
                raise FrameError(CLOSE_INVALID_PAYLOAD, "text frame is not valid UTF-8") from None
            self._fault(exc.code)
            return
        self._on_message(msg, len(payload), now)

    def _on_message(self, msg: Any, length: int, now: float) -> None:
        kind = msg.__class__
        if kind is ToolResult:
            call = self.pending.resolve(msg.request_id)
            if call.__class__ is str:
                self._fault(call)  # type: ignore[arg-type]
                if self.pending.bad_ids >= BAD_ID_LIMIT:  # a server whose ids are garbage: fail the connection
                    raise BadRequestIds(CLOSE_PROTOCOL_ERROR, "answers to request ids never sent")
                return
            call.settled_at = now  # type: ignore[union-attr]
            call.length = length  # type: ignore[union-attr]
            call.failure = None if msg.ok else CallFailed(msg.error_code or "error")  # type: ignore[union-attr]
            call.result = msg.result  # type: ignore[union-attr]
            self._events.append(call)
        elif kind is PushEvent:
            self._on_push(msg, length)
        elif (kind is HelloOk or kind is ServerError) and self._hello_sent_at is not None:
            self._on_hello_answer(msg, now)  # type: ignore[arg-type]
        elif kind is ServerError:
            self._fault(f"server_error_{msg.code}")  # type: ignore[union-attr]
        elif kind is Reply and self._close_sent is None:  # a server request (MCP's ping), answered unless closing
            self._send_text(msg.payload)  # type: ignore[union-attr]
        elif kind is Several:  # a JSON-RPC batch: each part in turn (its calls' lengths: the whole message's)
            for part in msg.messages:
                self._fault(part.code) if part.__class__ is ProtocolViolation else self._on_message(part, length, now)

    def _on_hello_answer(self, msg: HelloOk | ServerError, now: float) -> None:
        if isinstance(msg, ServerError):
            self._hello_failed(HelloRefused(msg.code), now)
            return
        seconds = now - (self._hello_sent_at or now)
        self._hello_sent_at = None
        msg = shared_hello(msg)
        self.hello_info = msg
        if self.state is CONNECTING:
            self.state = OPEN
        self.hello_answer = HelloAnswered(msg, None, seconds)
        self._events.append(self.hello_answer)
        for payload in self.protocol.after_hello():
            self._send_text(payload)

    def _hello_failed(self, failure: HelloRefused, now: float) -> None:
        seconds = now - (self._hello_sent_at or now)
        self._hello_sent_at = None
        self.hello_answer = HelloAnswered(None, failure, seconds)
        self._events.append(self.hello_answer)

    def _on_push(self, event: PushEvent, length: int) -> None:
        if self._streams is None:
            self._streams = PushStreams()
        finding, gaps = self._streams.observe(event.topic, event.seq)
        self._events.append(PushReceived(event, length, finding, gaps))

    def _on_close_frame(self, payload: bytes, now: float) -> None:
        code, reason = parse_close_payload(payload)
        self.close_code, self.close_reason = code, reason
        self.close(code if code != CLOSE_NO_STATUS else CLOSE_NORMAL)  # echo it, unless we started the close
        how = f"close {code} {reason[:REASON_CHARS]}" if reason else f"close {code}"
        self._finish(how, now)

    def _fault(self, code: str) -> None:
        self._events.append(ProtocolFault(code))

    def _finish(self, how: str, now: float) -> None:
        """CLOSED, once: the hello and every call in flight settled, then a ConnectionClosed (its code and how)."""
        if self.state is CLOSED:
            return
        self.state = CLOSED
        self.live = False
        self.closed_at = now
        self.decoder.release()
        self._ping_sent_at = None
        self.writing_since = 0.0
        code = self.close_code if self.close_code is not None else self._close_sent
        if self._hello_sent_at is not None:
            self._hello_failed(HelloRefused("connection_closed", how), now)
        lost = self.pending.lose_all()
        if lost:
            self._events.extend(settled_failed(lost, ConnectionLost(how), now))
        self.closed = ConnectionClosed(code, self.close_reason, how)
        self._events.append(self.closed)


def settled_failed(calls: list[PendingCall], failure: WsFailure, now: float) -> list[PendingCall]:
    """`calls`, each settled at `now` with `failure` and no result."""
    for call in calls:
        call.settled_at, call.length, call.failure, call.result = now, 0, failure, None
    return calls
