"""Fault injection inside one worker: applies fault states, drops connections, refuses handshakes.

The supervisor validates and fans commands out (``control``); the per-answer faults
(delay, stall, garbage) live in ``connection``; this module does the rest.
"""

from __future__ import annotations

import asyncio
import logging
from http import HTTPStatus
from typing import Any

from picows import WSUpgradeRequest, WSUpgradeResponse, WSUpgradeResponseWithListener

from . import control
from .connection import Busy, Connection, ServerContext
from .context import LiveConnection
from .faults import DEFAULT_DROP_CODE, FaultError, Faults
from .upgrade import accept_rpc, version_refusal

log = logging.getLogger("reference_server")


class Injector:
    """The fault-injection side of one worker process (``workers`` share ``drop_rate``)."""

    def __init__(self, ctx: ServerContext, workers: int) -> None:
        self._ctx = ctx
        self._workers = max(1, workers)
        self._drop_timer: asyncio.TimerHandle | None = None
        self._interval_s = 0.0

    def accept(self, request: WSUpgradeRequest) -> Connection | Busy | WSUpgradeResponseWithListener:
        """picows' listener factory: 426 for a WebSocket version other than 13, a Connection, the refusal
        the handshake_status fault asks for, a Busy listener (close 1013) when ``--max-connections`` are
        open, or (jsonrpc, mcp) the bearer-checked connection or its refusal (``upgrade``)."""
        ctx = self._ctx
        refused = version_refusal(request)
        if refused is not None:
            return refused
        status = ctx.faults.handshake_status
        if not status:
            if ctx.max_connections is not None and len(ctx.connections) >= ctx.max_connections:
                return Busy(ctx)
            if ctx.protocol == "toolcall":
                return Connection(ctx)
            return accept_rpc(ctx, request)
        counters = self._ctx.counters
        counters.bump(counters.handshakes_refused, str(status))
        phrase = HTTPStatus(status).phrase
        response = WSUpgradeResponse.create_error_response(
            status, f"{status} {phrase} (fault injection)\n".encode(), {"Content-Type": "text/plain"}
        )
        return WSUpgradeResponseWithListener(response, None)

    def apply(self, faults: Faults) -> None:
        """Make ``faults`` current; (re)start or stop the drop_rate timer."""
        self._ctx.set_faults(faults)
        interval = self._workers / faults.drop_rate if faults.drop_rate > 0 else 0.0
        if interval != self._interval_s:
            self._interval_s = interval
            self._cancel_timer()
            if interval:
                self._drop_timer = self._ctx.loop.call_later(interval, self._drop_tick)

    def stop(self) -> None:
        """No more scheduled drops (shutdown)."""
        self._interval_s = 0.0
        self._cancel_timer()

    def droppable(self) -> list[LiveConnection]:
        """Connections open and past hello, right now."""
        return [conn for conn in self._ctx.connections if conn.droppable]

    def drop(self, count: int | None, mode: str, code: int) -> int:
        """Drop ``count`` random droppable connections (None: all of them); return how many."""
        victims = self.droppable()
        if count is not None and count < len(victims):
            victims = self._ctx.rng.sample(victims, max(0, count))
        for conn in victims:
            conn.drop(mode, code)
        return len(victims)

    def command(self, name: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Answer one control command (see ``control``)."""
        try:
            if name == control.CMD_FAULTS:
                self.apply(Faults.from_dict(payload))
                return {}
            if name == control.CMD_COUNT:
                return {"droppable": len(self.droppable())}
            if name == control.CMD_DROP:
                count = payload.get("count")
                mode = payload.get("mode", "close")
                code = payload.get("code", DEFAULT_DROP_CODE)
                return {"dropped": self.drop(count, mode, code)}
        except (FaultError, TypeError, ValueError) as exc:
            return {"error": str(exc)}
        return {"error": f"unknown command {name}"}

    def _drop_tick(self) -> None:
        self._drop_timer = None
        if self._ctx.shutting_down or not self._interval_s:
            return
        try:
            self.drop(1, "close", DEFAULT_DROP_CODE)
        except Exception:
            log.exception("drop_rate fault failed to drop a connection")
        self._drop_timer = self._ctx.loop.call_later(self._interval_s, self._drop_tick)

    def _cancel_timer(self) -> None:
        if self._drop_timer is not None:
            self._drop_timer.cancel()
            self._drop_timer = None
