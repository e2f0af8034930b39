"""Backpressure of one connection: stop reading a client that does not read, hold its messages, send with limits."""

from __future__ import annotations

import collections
import enum
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from picows import WSCloseCode

if TYPE_CHECKING:
    from .context import ServerContext

log = logging.getLogger("reference_server")


class Flow(enum.Enum):
    """Whether a connection's outgoing buffer lets it read and handle its client's messages."""

    #: Messages are handled as they arrive.
    FLOWING = 1
    #: The outgoing buffer is over its high-water mark: the socket is not read, messages are held.
    PAUSED = 2
    #: The buffer drained: held messages are being handled; the socket is read again once none is left.
    RELEASING = 3


FLOWING, PAUSED, RELEASING = Flow.FLOWING, Flow.PAUSED, Flow.RELEASING


class HeldMessages(Protocol):
    """Where held messages go once writes flow again (the connection's session)."""

    def on_text(self, data: Any) -> None: ...

    def on_binary(self) -> None: ...


class FlowHost(Protocol):
    """What the flow control needs of the connection holding it (connection.Connection)."""

    @property
    def closed(self) -> bool: ...

    @property
    def raw(self) -> Any: ...

    @property
    def session(self) -> HeldMessages: ...

    def later(self, delay_s: float, callback: Callable[..., Any], *args: Any) -> Any: ...

    def soon(self, callback: Callable[..., Any]) -> Any: ...

    def close(self, code: WSCloseCode, reason: str) -> None: ...


class Backpressure:
    """The flow control of one connection (``connection.Connection`` holds one and calls it).

    When the outgoing buffer crosses the high-water mark (the client reads slower than it
    asks), the connection stops reading from the socket and holds the messages already read
    (in order) until the buffer drains to the low-water mark, so a client that does not read
    cannot make the server run (and buffer) more of its calls. It is closed with 1008 if
    writes stay paused for ``send_timeout_s``, or if a message is due while more than
    ``max_send_buffer_bytes`` are buffered. Its timers are the connection's.
    """

    __slots__ = ("_conn", "_ctx", "_counters", "state", "paused", "_held", "_send_timer")

    def __init__(self, conn: FlowHost, ctx: ServerContext) -> None:
        self._conn = conn
        self._ctx = ctx
        self._counters = ctx.counters
        self.state = FLOWING
        #: state is PAUSED (a bool for the per-send check).
        self.paused = False
        # Messages held back (bytes, or None for a binary message); made on the first pause.
        self._held: collections.deque[bytes | None] | None = None
        self._send_timer: Any = None

    def pause(self) -> None:
        """The outgoing buffer crossed the high-water mark: stop reading this client."""
        if self.state is PAUSED:
            return
        self.state = PAUSED
        self.paused = True
        if self._held is None:
            self._held = collections.deque()
        self._counters.writes_paused += 1
        conn = self._conn
        if conn.closed:
            return
        try:
            conn.raw.pause_reading()
            self._send_timer = conn.later(self._ctx.send_timeout_s, self._on_send_timeout)
        except Exception:
            log.exception("internal error while pausing a connection; closing it with 1011")
            conn.close(WSCloseCode.INTERNAL_ERROR, "internal error")

    def resume(self) -> None:
        """The outgoing buffer drained to the low-water mark: handle held messages, read again."""
        if self.state is not PAUSED:
            return
        self.state = RELEASING
        self.paused = False
        if self._send_timer is not None:
            self._send_timer.cancel()
            self._send_timer = None
        if not self._conn.closed:
            # Not from inside the transport's write callback: on the next loop iteration.
            self._conn.soon(self._release_held)

    def hold(self, data: bytes | None) -> None:
        """Keep a message (None: a binary one) read while not flowing, to handle after the release."""
        self._held.append(data)  # type: ignore[union-attr]  # made on the first pause

    def _release_held(self) -> None:
        """Handle held messages in order while writes flow; read the socket again once none is left."""
        held = self._held
        conn = self._conn
        session = conn.session
        assert held is not None
        while held and self.state is RELEASING and not conn.closed:
            data = held.popleft()
            try:
                if data is None:
                    session.on_binary()
                else:
                    session.on_text(data)
            except Exception:
                log.exception("internal error while handling a held message; closing the connection with 1011")
                conn.close(WSCloseCode.INTERNAL_ERROR, "internal error")
                return
        if held or self.state is not RELEASING or conn.closed:
            return
        self.state = FLOWING
        try:
            conn.raw.resume_reading()
        except Exception:
            log.exception("internal error while resuming a connection; closing it with 1011")
            conn.close(WSCloseCode.INTERNAL_ERROR, "internal error")

    def over_send_limit(self) -> bool:
        """While paused: True (and the connection closing) if more than the limit is buffered."""
        if self._conn.raw.get_write_buffer_size() <= self._ctx.max_send_buffer_bytes:
            return False
        self._close_slow("send_buffer_limit", "not reading: send buffer over its limit")
        return True

    def _on_send_timeout(self) -> None:
        self._send_timer = None
        if self.state is PAUSED and not self._conn.closed:
            self._close_slow("send_timeout", f"not reading: writes paused for {self._ctx.send_timeout_s:g} s")

    def _close_slow(self, reason: str, message: str) -> None:
        self._counters.bump(self._counters.slow_clients_closed, reason)
        self._conn.close(WSCloseCode.POLICY_VIOLATION, message)

    def stop(self) -> None:
        """The connection closed: drop held messages and the send timer."""
        if self._held:
            self._held.clear()
        if self._send_timer is not None:
            self._send_timer.cancel()
            self._send_timer = None
