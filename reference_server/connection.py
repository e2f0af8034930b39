"""The picows shell of one connection: frames and reassembly, flow control, timers, close, drop; Busy for surplus ones.

The protocol is not here: the shell hands whole messages to the session machine
(``session.Session``), which decodes them with its protocol's codec and answers through
this shell's ``send``. Every timer and task of a connection is made here (``later``,
``spawn``, ``stream``), and so is the backpressure (``backpressure.Backpressure``).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
from collections.abc import Callable, Coroutine
from typing import Any

from picows import WSCloseCode, WSFrame, WSListener, WSMsgType, WSTransport

from .backpressure import FLOWING, Backpressure
from .codec import Codec
from .context import MAX_HIGH_WATER, ServerContext
from .jsonrpc import JsonRpcCodec
from .mcp import McpCodec
from .push import Stream, Subscriber
from .session import OPEN, Session
from .toolcall import ToolcallCodec

__all__ = ["CLOSE_REPLY_TIMEOUT_S", "MAX_HIGH_WATER", "Busy", "Connection", "ServerContext", "make_codec"]

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


def make_codec(ctx: ServerContext) -> Codec:
    """The codec of the server's ``--protocol``."""
    if ctx.protocol == "jsonrpc":
        return JsonRpcCodec()
    if ctx.protocol == "mcp":
        return McpCodec(ctx.server_info, ctx.tool_descriptions)
    return ToolcallCodec(ctx.server_info, ctx.tool_names, ctx.tool_descriptions)


class Connection(WSListener):
    """One connection as picows sees it; picows calls ``on_ws_*`` for every event.

    It owns the transport, the flow control and the timers, and is the session
    machine's ``Port`` (``work.Port``). ``grant`` is the upgrade's scope (jsonrpc, mcp).
    """

    __slots__ = (
        "_ctx", "_counters", "_loop", "session", "_on_text", "_transport", "_raw", "_closed", "flow",
        "_frag", "_frag_text", "_close_timer",
    )  # fmt: skip

    def __init__(self, ctx: ServerContext, grant: frozenset[str] | None = None) -> None:
        self._ctx = ctx
        self._counters = ctx.counters
        self._loop = ctx.loop
        self.session = Session(ctx, make_codec(ctx), self, grant)
        self._on_text = self.session.on_text
        self._transport: WSTransport | None = None
        self._raw: Any = None  # the TCP transport under picows' WSTransport
        self._closed = False
        self.flow = Backpressure(self, ctx)
        self._frag: bytearray | None = None
        self._frag_text = False
        self._close_timer: asyncio.TimerHandle | None = None

    @property
    def protocol(self) -> str:
        """The codec's protocol name, as ``--protocol`` spells it."""
        return self._ctx.protocol

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
            self.session.start()
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
                and not self._closed
            ):
                self._counters.bytes_in += frame.payload_size
                if self.flow.state is FLOWING:
                    self._on_text(frame.get_payload_as_memoryview())
                else:
                    self.flow.hold(bytes(frame.get_payload_as_memoryview()))
            else:
                self._on_other_frame(frame)
        except Exception:
            log.exception("internal error while handling a frame; closing the connection with 1011")
            self.close(WSCloseCode.INTERNAL_ERROR, "internal error")

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self._counters.connections_closed += 1
        self._ctx.connections.discard(self)
        self._closed = True
        if self._close_timer is not None:
            self._close_timer.cancel()
            self._close_timer = None
        try:
            self._stop()
        except Exception:
            log.exception("internal error while cleaning up a connection")

    def pause_writing(self) -> None:
        """picows: the outgoing buffer crossed the high-water mark."""
        self.flow.pause()

    def resume_writing(self) -> None:
        """picows: the outgoing buffer drained to the low-water mark."""
        self.flow.resume()

    # ---- frames -------------------------------------------------------------------------

    def _on_other_frame(self, frame: WSFrame) -> None:
        mtype = frame.msg_type
        if mtype is CLOSE:
            self._on_close_frame(frame)
            return
        if self._closed:
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
            self._message(None)
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
            self._message(buf if self._frag_text else None)

    def _message(self, data: bytearray | None) -> None:
        """A whole message reassembled from fragments (None: a binary one): to the session, or held."""
        if self.flow.state is not FLOWING:
            self.flow.hold(None if data is None else bytes(data))
        elif data is None:
            self.session.on_binary()
        else:
            self._on_text(data)

    def _on_close_frame(self, frame: WSFrame) -> None:
        transport = self._transport
        assert transport is not None
        if not self._closed:
            self._closed = True
            self._stop()
            code = frame.get_close_code()
            reply = close_reply(frame.payload_size, int(code))
            transport.send_close(code if reply == int(code) else reply)
        transport.disconnect()
        if self._close_timer is None and self._raw is not None and self._raw.get_write_buffer_size():
            # A graceful disconnect waits for the buffer to drain: bound that wait too.
            self._close_timer = self._loop.call_later(CLOSE_REPLY_TIMEOUT_S, self._finish_close)

    # ---- the session's port: sending, timers ------------------------------------------------

    def send(self, data: bytes) -> bool:
        """Send one text message; False if it was not sent (closing, or the client is too slow)."""
        transport = self._transport
        if transport is None or self._closed or (self.flow.paused and self.flow.over_send_limit()):
            return False
        transport.send(TEXT, data)
        self._counters.bytes_out += len(data)
        return True

    def send_frames(self, frames: list[tuple[bool, bytes]]) -> bool:
        """Send (is_binary, payload) frames; False if they were not sent."""
        transport = self._transport
        if transport is None or self._closed or (self.flow.paused and self.flow.over_send_limit()):
            return False
        for binary, payload in frames:
            if binary:
                transport.send(BINARY, payload)
            else:
                transport.send(TEXT, payload)
                self._counters.bytes_out += len(payload)
        return True

    def later(self, delay_s: float, callback: Callable[..., Any], *args: Any) -> asyncio.TimerHandle:
        """Call ``callback(*args)`` in ``delay_s`` seconds."""
        return self._loop.call_later(delay_s, callback, *args)

    def soon(self, callback: Callable[..., Any]) -> asyncio.Handle:
        """Call ``callback()`` on the next loop iteration."""
        return self._loop.call_soon(callback)

    def spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run ``work`` as a task."""
        return self._loop.create_task(work)

    def now(self) -> float:
        """The loop's monotonic time, in seconds."""
        return self._loop.time()

    def stream(
        self, subscriber: Subscriber, topic: str, rate: float, count: int | None, on_done: Callable[[Stream], None]
    ) -> Stream:
        """A started push stream of ``count`` events on ``topic`` at ``rate`` per second."""
        stream = Stream(self._loop, subscriber, topic, rate, count, on_done)
        stream.start()
        return stream

    # ---- closing and dropping -------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """Closing or closed: nothing more is handled or sent."""
        return self._closed

    @property
    def raw(self) -> Any:
        """The TCP transport under picows' WSTransport (None before the upgrade)."""
        return self._raw

    @property
    def droppable(self) -> bool:
        """Open and past hello: a candidate for the drop fault."""
        return self.session.state is OPEN and self._transport is not None and not self._closed

    @property
    def busy(self) -> bool:
        """True while calls on this connection are still waiting for their answer."""
        return self.session.busy

    def stop_streams(self) -> None:
        """Stop every push stream (used when the server starts shutting down)."""
        self.session.work.stop_streams()

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
        self._closed = True
        self._stop()
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
        if self._closed or transport is None:
            return
        self._closed = True
        self._stop()
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

    def _stop(self) -> None:
        """Closed: drop held messages and the flow's timer, then the session's work."""
        self.flow.stop()
        self.session.stop()


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
