"""Accepting TCP connections: a per-worker cap on pending WebSocket handshakes and a handshake timeout.

picows reads the HTTP upgrade request itself and only calls our listener factory once
the whole request has arrived, so a client that sends its request a byte at a time (or
never finishes it) is invisible to the rest of the server. ``GatedProtocol`` wraps
picows' protocol to see those connections: at most ``max_pending`` per worker may be
in their upgrade at once (more are closed as soon as they are accepted, counted in
``handshakes_rejected_busy``), and each must complete its upgrade request within
``timeout_s`` of being accepted (else it is aborted, counted in ``handshakes_timed_out``).

With TLS the TCP connection becomes a protocol connection only after the TLS handshake;
that phase is bounded by the same timeout (``ssl_handshake_timeout``) but not counted.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import Callable
from typing import Any

from picows import WSAutoPingStrategy, WSListener, WSUpgradeRequest, WSUpgradeResponseWithListener
from picows.picows import WSProtocol

from .counters import Counters

try:  # picows serves through aiofastnet when it is installed (it is a dependency of picows 2.x)
    import aiofastnet
except ImportError:  # pragma: no cover - depends on the installed picows
    aiofastnet = None

ListenerFactory = Callable[[WSUpgradeRequest], "WSListener | WSUpgradeResponseWithListener | None"]
#: picows' default initial read buffer.
_READ_BUFFER_INIT_SIZE = 16 * 1024


class HandshakeGate:
    """Counts the connections of one worker that are still in their HTTP upgrade."""

    __slots__ = ("loop", "counters", "max_pending", "timeout_s", "pending", "tls")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        counters: Counters,
        max_pending: int,
        timeout_s: float,
        tls: bool = False,
    ) -> None:
        self.loop = loop
        self.counters = counters
        self.max_pending = max_pending
        self.timeout_s = timeout_s
        self.pending = 0
        self.tls = tls
        """wss://: count the accepted connections whose TLS handshake resumed a session."""


class GatedProtocol(WSProtocol):
    """picows' server protocol, admitted by a HandshakeGate and timed out by it.

    picows' own handshake timeout is off: the gate's timer aborts the connection
    (no graceful close: a slowloris client gets nothing more).
    """

    __slots__ = ("_gate", "_gate_factory", "_gate_transport", "_gate_timer", "_gate_state")

    # _gate_state: "new" -> "pending" (admitted) -> "upgraded" | "done"; or "new" -> "rejected".

    def __init__(self, gate: HandshakeGate, factory: ListenerFactory, logger: logging.Logger, max_frame_size: int):
        self._gate = gate
        self._gate_factory = factory
        self._gate_transport: asyncio.BaseTransport | None = None
        self._gate_timer: asyncio.TimerHandle | None = None
        self._gate_state = "new"
        super().__init__(
            None,  # host_port (client side only)
            None,  # ws_path (client side only)
            False,  # is_client_side
            self._on_upgrade_request,
            logger,
            True,  # disconnect_on_exception
            None,  # websocket_handshake_timeout: the gate's own timer instead
            False,  # enable_auto_ping
            20.0,  # auto_ping_idle_timeout (unused)
            20.0,  # auto_ping_reply_timeout (unused)
            WSAutoPingStrategy.PING_WHEN_IDLE,
            True,  # enable_auto_pong
            max_frame_size,
            None,  # extra_headers
            _READ_BUFFER_INIT_SIZE,
        )

    def connection_made(self, transport: Any) -> None:
        gate = self._gate
        if gate.pending >= gate.max_pending:
            self._gate_state = "rejected"
            gate.counters.handshakes_rejected_busy += 1
            transport.abort()
            return
        gate.pending += 1
        self._gate_state = "pending"
        if gate.tls and transport.get_extra_info("ssl_object").session_reused:  # the TLS handshake is over by now
            gate.counters.tls_sessions_resumed += 1
        self._gate_transport = transport
        self._gate_timer = gate.loop.call_later(gate.timeout_s, self._on_handshake_timeout)
        super().connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._gate_state == "rejected":
            return  # picows never saw this connection
        self._leave("done")
        self._gate_transport = None
        super().connection_lost(exc)

    def _on_upgrade_request(self, request: WSUpgradeRequest) -> WSListener | WSUpgradeResponseWithListener | None:
        """The whole upgrade request has arrived: no longer pending; picows asks the real factory."""
        self._leave("upgraded")
        return self._gate_factory(request)

    def _on_handshake_timeout(self) -> None:
        self._gate_timer = None
        if self._gate_state != "pending":
            return
        self._gate.counters.handshakes_timed_out += 1
        self._leave("done")
        if self._gate_transport is not None:
            self._gate_transport.abort()

    def _leave(self, state: str) -> None:
        if self._gate_state == "pending":
            self._gate.pending -= 1
            if self._gate_timer is not None:
                self._gate_timer.cancel()
                self._gate_timer = None
        if self._gate_state in ("new", "pending"):
            self._gate_state = state


async def create_gated_server(
    factory: ListenerFactory,
    gate: HandshakeGate,
    *,
    sock: socket.socket,
    tls: ssl.SSLContext | None,
    backlog: int,
    max_frame_size: int,
    logger_name: str,
) -> asyncio.AbstractServer:
    """Serve WebSocket connections on ``sock`` like ``picows.ws_create_server``, through ``gate``."""
    loop = asyncio.get_running_loop()
    logger = logging.getLogger(f"picows.{logger_name}")

    def protocol_factory() -> GatedProtocol:
        return GatedProtocol(gate, factory, logger, max_frame_size)

    kwargs: dict[str, Any] = {"sock": sock, "backlog": backlog, "ssl": tls}
    if tls is not None:
        kwargs["ssl_handshake_timeout"] = gate.timeout_s
    if aiofastnet is not None:
        return await aiofastnet.create_server(loop, protocol_factory, **kwargs)
    return await loop.create_server(protocol_factory, **kwargs)  # pragma: no cover
