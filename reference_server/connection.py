"""One WebSocket connection as picows sees it: frames and reassembly, close, drop; Busy for surplus ones."""

from __future__ import annotations

import asyncio
import logging
import socket
import struct

from picows import WSCloseCode, WSFrame, WSListener, WSMsgType, WSTransport

from .backpressure import FlowControl
from .context import MAX_HIGH_WATER, ServerContext
from .work import CLOSED, OPEN

__all__ = ["CLOSE_REPLY_TIMEOUT_S", "MAX_HIGH_WATER", "Busy", "Connection", "ServerContext"]

log = logging.getLogger("reference_server")

TEXT = WSMsgType.TEXT
BINARY = WSMsgType.BINARY
CONTINUATION = WSMsgType.CONTINUATION
CLOSE = WSMsgType.CLOSE
#: How long to wait for the peer's CLOSE after sending ours before dropping the socket.
CLOSE_REPLY_TIMEOUT_S = 1.0
#: Close codes a peer may send (RFC 6455 7.4; 1012-1014 registered since) below the 3000-4999 range of
#: libraries and applications; any other code in a close frame is a protocol error, answered with 1002.
_VALID_CLOSE_CODES = frozenset({1000, 1001, 1002, 1003, *range(1007, 1015)})


def close_reply(payload_size: int, code: int) -> int:
    """The code to answer a peer's close with: its own code echoed, 1000 for a close without one, 1002 for a
    code no endpoint may send (0, 999, 1004-1006, 1015, 5000+: picows passes some of them on)."""
    if payload_size < 2:
        return WSCloseCode.OK
    if code in _VALID_CLOSE_CODES or 3000 <= code < 5000:
        return code
    return WSCloseCode.PROTOCOL_ERROR


class Connection(FlowControl):
    """Per-connection protocol state; picows calls ``on_ws_*`` for every event.

    The layers: ``session.Session`` (hello, dispatch, answers, pushes; no I/O) with its
    fault policy (``answer_faults``), ``backpressure.FlowControl`` (sending, pausing,
    held messages), and this class (frames, fragments, the closing handshake, drops).
    """

    __slots__ = ("_frag", "_frag_text", "_close_timer")

    def __init__(self, ctx: ServerContext) -> None:
        super().__init__(ctx)
        self._frag: bytearray | None = None
        self._frag_text = False
        self._close_timer: asyncio.TimerHandle | None = None

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
            self._start_session()
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
                and self._state is not CLOSED
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
        self._state = CLOSED
        if self._close_timer is not None:
            self._close_timer.cancel()
            self._close_timer = None
        try:
            self._stop_work()
        except Exception:
            log.exception("internal error while cleaning up a connection")

    # ---- frames -------------------------------------------------------------------------

    def _on_other_frame(self, frame: WSFrame) -> None:
        mtype = frame.msg_type
        if mtype is CLOSE:
            self._on_close_frame(frame)
            return
        if self._state is CLOSED:
            return
        if frame.rsv1 or frame.rsv2 or frame.rsv3:
            self.close(WSCloseCode.PROTOCOL_ERROR, "no extension was negotiated")
            return
        if mtype is CONTINUATION:
            self._on_continuation(frame)
        elif mtype is TEXT or mtype is BINARY:
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

    def _on_continuation(self, frame: WSFrame) -> None:
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

    def _on_close_frame(self, frame: WSFrame) -> None:
        transport = self._transport
        assert transport is not None
        if self._state is not CLOSED:
            self._state = CLOSED
            self._stop_work()
            code = frame.get_close_code()
            reply = close_reply(frame.payload_size, int(code))
            transport.send_close(code if reply == int(code) else reply)
        transport.disconnect()
        if self._close_timer is None and self._raw is not None and self._raw.get_write_buffer_size():
            # A graceful disconnect waits for the buffer to drain: bound that wait too.
            self._close_timer = self._loop.call_later(CLOSE_REPLY_TIMEOUT_S, self._finish_close)

    # ---- closing and dropping -------------------------------------------------------------

    @property
    def droppable(self) -> bool:
        """Open and past hello: a candidate for the drop fault."""
        return self._state is OPEN and self._transport is not None

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
        self._state = CLOSED
        self._stop_work()
        sock = transport.underlying_transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        transport.disconnect(graceful=False)

    def close(self, code: WSCloseCode, reason: str) -> None:
        """Drop pending work, send CLOSE, and disconnect once the peer answers (or soon)."""
        transport = self._transport
        if self._state is CLOSED or transport is None:
            return
        self._state = CLOSED
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
