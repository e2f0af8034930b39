"""Keepalive pings for one connection: a hub timer every interval, and a short-lived greenlet per ping that
waits for the pong until the core's deadline (no pong in time: the core ends the half-open connection)."""

from __future__ import annotations

from collections.abc import Callable
from time import perf_counter

import gevent
from gevent.event import Event

from users.wire.core import CLOSED, ClientCore


class Keepalive:
    """Pings on `core` every `interval_s`; `flush` reports the core's events and writes its bytes."""

    __slots__ = ("_core", "_flush", "_pinger", "_pong", "_timer")

    def __init__(self, core: ClientCore, interval_s: float, flush: Callable[[], None]) -> None:
        self._core = core
        self._flush = flush
        self._pinger: gevent.Greenlet | None = None
        self._pong: Event | None = None  # made by the first ping: an idle connection may never need it
        # A timer, not a greenlet parked between pings: a parked greenlet costs about 8 KB per connection.
        self._timer = gevent.get_hub().loop.timer(interval_s, interval_s)
        self._timer.start(self._due)

    def after_read(self) -> None:
        """Called after each read: wake the waiting pinger once its pong has come."""
        if self._pinger is not None and self._pong is not None and not self._core.ping_pending:
            self._pong.set()

    def stop(self) -> None:
        """No more pings; a waiting pinger is stopped."""
        self._timer.close()
        pinger = self._pinger
        if pinger is not None and pinger is not gevent.getcurrent() and not pinger.dead:
            pinger.kill(block=False)

    def _due(self) -> None:
        """Timer callback (in the hub, must not block): ping from a short-lived greenlet unless one is waiting."""
        if self._core.live and (self._pinger is None or self._pinger.dead):
            self._pinger = gevent.spawn(self._ping_once)

    def _ping_once(self) -> None:
        core = self._core
        pong = self._pong
        if pong is None:
            pong = self._pong = Event()
        pong.clear()
        if core.send_ping(perf_counter()):
            self._flush()
        while core.ping_pending and core.state is not CLOSED:
            remaining = core.next_deadline() - perf_counter()
            if remaining > 0:
                pong.wait(remaining)
            elif core.tick(perf_counter()) or core.state is CLOSED:
                self._flush()
