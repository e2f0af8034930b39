"""Backpressure of one connection: stop reading a client that does not read, hold its messages, send with limits."""

from __future__ import annotations

import asyncio
import collections
import enum
import logging
from typing import Any

from picows import WSCloseCode, WSMsgType, WSTransport

from .context import ServerContext
from .session import Session
from .work import CLOSED

log = logging.getLogger("reference_server")

TEXT = WSMsgType.TEXT
BINARY = WSMsgType.BINARY


class Flow(enum.Enum):
    """Whether a connection's outgoing buffer lets it read and handle its client's messages."""

    #: Messages are handled as they arrive.
    FLOWING = 1
    #: The outgoing buffer is over its high-water mark: the socket is not read, messages are held.
    PAUSED = 2
    #: The buffer drained: held messages are being handled; the socket is read again once none is left.
    RELEASING = 3


FLOWING, PAUSED, RELEASING = Flow.FLOWING, Flow.PAUSED, Flow.RELEASING


class FlowControl(Session):
    """A Session that sends through a picows transport, with backpressure.

    When the outgoing buffer crosses the high-water mark (the client reads slower than it
    asks), the connection stops reading from the socket and holds the messages already read
    (in order) until the buffer drains to the low-water mark, so a client that does not read
    cannot make the server run (and buffer) more of its calls. It is closed with 1008 if
    writes stay paused for ``send_timeout_s``, or if a message is due while more than
    ``max_send_buffer_bytes`` are buffered.
    """

    __slots__ = ("_transport", "_raw", "_flow", "_held", "_send_timer")

    def __init__(self, ctx: ServerContext) -> None:
        super().__init__(ctx)
        self._transport: WSTransport | None = None
        self._raw: Any = None  # the TCP transport under picows' WSTransport
        self._flow = FLOWING
        # Messages held back (bytes, or None for a binary message); made on the first pause.
        self._held: collections.deque[bytes | None] | None = None
        self._send_timer: asyncio.TimerHandle | None = None

    # ---- picows write-flow callbacks ----------------------------------------------------------

    def pause_writing(self) -> None:
        """The outgoing buffer crossed the high-water mark: stop reading this client."""
        if self._flow is PAUSED:
            return
        self._flow = PAUSED
        if self._held is None:
            self._held = collections.deque()
        self._counters.writes_paused += 1
        if self._state is CLOSED:
            return
        try:
            self._raw.pause_reading()
            self._send_timer = self._loop.call_later(self._ctx.send_timeout_s, self._on_send_timeout)
        except Exception:
            log.exception("internal error while pausing a connection; closing it with 1011")
            self.close(WSCloseCode.INTERNAL_ERROR, "internal error")

    def resume_writing(self) -> None:
        """The outgoing buffer drained to the low-water mark: handle held messages, read again."""
        if self._flow is not PAUSED:
            return
        self._flow = RELEASING
        if self._send_timer is not None:
            self._send_timer.cancel()
            self._send_timer = None
        if self._state is not CLOSED:
            # Not from inside the transport's write callback: on the next loop iteration.
            self._loop.call_soon(self._release_held)

    # ---- incoming messages --------------------------------------------------------------------

    def _on_text(self, data: memoryview | bytearray) -> None:
        if self._flow is not FLOWING:
            self._held.append(bytes(data))  # type: ignore[union-attr]  # made on the first pause
            return
        self._handle_text(data)

    def _on_binary(self) -> None:
        if self._flow is not FLOWING:
            self._held.append(None)  # type: ignore[union-attr]
            return
        self._handle_binary()

    def _release_held(self) -> None:
        """Handle held messages in order while writes flow; read the socket again once none is left."""
        held = self._held
        assert held is not None
        while held and self._flow is RELEASING and self._state is not CLOSED:
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
        if held or self._flow is not RELEASING or self._state is CLOSED:
            return
        self._flow = FLOWING
        try:
            self._raw.resume_reading()
        except Exception:
            log.exception("internal error while resuming a connection; closing it with 1011")
            self.close(WSCloseCode.INTERNAL_ERROR, "internal error")

    # ---- sending ------------------------------------------------------------------------------

    def _send(self, data: bytes) -> bool:
        """Send one text message; False if it was not sent (closing, or the client is too slow)."""
        transport = self._transport
        if transport is None or self._state is CLOSED or (self._flow is PAUSED and self._over_send_limit()):
            return False
        transport.send(TEXT, data)
        self._counters.bytes_out += len(data)
        return True

    def _send_frames(self, frames: list[tuple[bool, bytes]]) -> bool:
        transport = self._transport
        if transport is None or self._state is CLOSED or (self._flow is PAUSED and self._over_send_limit()):
            return False
        for binary, payload in frames:
            if binary:
                transport.send(BINARY, payload)
            else:
                transport.send(TEXT, payload)
                self._counters.bytes_out += len(payload)
        return True

    def _over_send_limit(self) -> bool:
        """While paused: True (and the connection closing) if more than the limit is buffered."""
        if self._raw.get_write_buffer_size() <= self._ctx.max_send_buffer_bytes:
            return False
        self._close_slow("send_buffer_limit", "not reading: send buffer over its limit")
        return True

    def _on_send_timeout(self) -> None:
        self._send_timer = None
        if self._flow is PAUSED and self._state is not CLOSED:
            self._close_slow("send_timeout", f"not reading: writes paused for {self._ctx.send_timeout_s:g} s")

    def _close_slow(self, reason: str, message: str) -> None:
        self._counters.bump(self._counters.slow_clients_closed, reason)
        self.close(WSCloseCode.POLICY_VIOLATION, message)

    def _stop_work(self) -> None:
        if self._held:
            self._held.clear()
        if self._send_timer is not None:
            self._send_timer.cancel()
            self._send_timer = None
        super()._stop_work()
