"""Writes to one connection's socket: a send that never waits on the fast path; a write that blocks is watched
(users/deadlines.py `WRITE_WATCH`), so call deadlines hold and a server that stops reading is given up."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gevent import socket as gsocket
from gevent import ssl as gssl
from gevent.lock import Semaphore

from users.core import CLOSED, ClientCore
from users.deadlines import WRITE_WATCH
from users.errors import ConnectionLost


class SocketWriter:
    """Serialised writes of whole batches of frames; after a write cut short it never writes again."""

    __slots__ = ("sock", "broken", "_core", "_lock", "_plain", "_on_stalled")

    def __init__(self, sock: Any, core: ClientCore, on_stalled: Callable[[], None]) -> None:
        self.sock = sock
        self.broken = False
        self._core = core
        self._lock = Semaphore()
        # gevent's plain socket can send without waiting (timeout 0.0); its SSL socket cannot: always watched
        self._plain = isinstance(sock, gsocket.socket) and not isinstance(sock, gssl.SSLSocket)
        self._on_stalled = on_stalled

    def write(self, data: bytes, now: float) -> None:
        """Write `data` (asked for at `now`); OSError when the socket fails, ConnectionLost once broken."""
        if self.broken:
            raise ConnectionLost("not connected")
        sock = self.sock
        with self._lock:
            try:
                sent = 0
                if self._plain:
                    try:
                        sent = sock.send(data, 0, 0.0)  # never waits: a full buffer goes to the watched path
                    except BlockingIOError:
                        sent = 0
                    if sent == len(data):
                        return
                self._write_watched(memoryview(data)[sent:], now)
            except BaseException:
                # A write cut short (error or greenlet kill) leaves a torn frame: never write again.
                self.broken = True
                raise

    def _write_watched(self, view: memoryview, now: float) -> None:
        core = self._core
        core.writing_since = now
        WRITE_WATCH.add(self)
        try:
            self.sock.sendall(view)
        finally:
            core.writing_since = 0.0
            WRITE_WATCH.discard(self)

    def write_deadline(self) -> float:
        """When a blocked write must be looked at: the core's next deadline."""
        return self._core.next_deadline()

    def on_write_stalled(self) -> None:
        """Still blocked at a deadline (own greenlet): let the client settle what is due; watch on if needed."""
        self._on_stalled()
        core = self._core
        if core.writing_since and core.state is not CLOSED:
            WRITE_WATCH.add(self)

    def close(self) -> None:
        """Close the socket (a write blocked in another greenlet fails at once)."""
        WRITE_WATCH.discard(self)
        try:
            self.sock.close()
        except OSError:
            pass
