"""Reads one connection's socket: from a hub callback for plain sockets (no greenlet per connection), from a
greenlet for TLS ones; either way each chunk goes to `on_data` and the end to `on_end`.

A plain socket is read where libev reports it readable, in the hub: one `recv` per readiness, no greenlet
switch, no `EAGAIN` round trip. What the data settles wakes the waiting user directly (users/engine/deadlines.py
`Progress`). A TLS socket can hold decrypted bytes that the descriptor does not signal, so it keeps gevent's
reading greenlet.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable
from typing import Any, Protocol

import gevent
from gevent.hub import get_hub

from users.wire.errors import describe_os_error

logger = logging.getLogger(__name__)

RECV_BYTES = 64 * 1024
"""Bytes asked of one recv: a bigger buffer crosses glibc's mmap threshold (128 KiB) and costs an mmap and munmap
per read (bench/recv_size.py)."""
READ_EVENT = 1
"""libev's EV_READ."""

OnData = Callable[[bytes, bool], bool]
"""Called with each chunk read and whether it runs in the hub; False stops reading."""
OnEnd = Callable[[str, bool], None]
"""Called once when reading ends by itself (`eof`, `reset` or an error's description) and whether in the hub."""


def how_it_ended(exc: BaseException) -> str:
    """What lost calls say about a transport error: `reset` for a reset or broken pipe, else its description."""
    if isinstance(exc, (ConnectionResetError, BrokenPipeError)):
        return "reset"
    return describe_os_error(exc)


class SocketReader(Protocol):
    """What the client needs of a reader: stop it (no more `on_data` or `on_end`), pause and resume it."""

    def stop(self) -> None: ...

    def pause(self) -> None: ...

    def resume(self) -> None: ...


class HubReader:
    """A plain non-blocking socket read by an io watcher's callback in the hub."""

    __slots__ = ("_recv", "_io", "_on_data", "_on_end")

    def __init__(self, sock: Any, on_data: OnData, on_end: OnEnd) -> None:
        self._recv = sock.recv
        self._on_data = on_data
        self._on_end = on_end
        self._io: Any = get_hub().loop.io(sock.fileno(), READ_EVENT)
        self._io.start(self._readable)

    def stop(self) -> None:
        """No more callbacks (before the socket is closed: libev must not watch a closed descriptor)."""
        io = self._io
        if io is not None:
            self._io = None
            io.stop()
            io.close()

    def pause(self) -> None:
        """No reads until `resume`: what came stays in the kernel's buffer, so a server sending faster than the
        client can settle meets TCP's flow control, not a growing queue here."""
        if self._io is not None:
            self._io.stop()

    def resume(self) -> None:
        """Read again (at once if data waits: libev reports readiness level-triggered)."""
        if self._io is not None:
            self._io.start(self._readable)

    def _readable(self) -> None:
        try:
            data = self._recv(RECV_BYTES)
        except BlockingIOError:
            return  # readiness without data (it happens): wait for the next
        except OSError as exc:
            self._end(how_it_ended(exc))
            return
        if not data:
            self._end("eof")
            return
        try:
            if not self._on_data(data, True):
                self.stop()
        except Exception:  # a bug must not spin in the hub: end this connection, say why once
            logger.exception("reading a WebSocket connection failed")
            self._end("reader failed")

    def _end(self, how: str) -> None:
        self.stop()
        self._on_end(how, True)


class GreenletReader:
    """A (TLS) socket read by its own greenlet with gevent's blocking `recv`."""

    __slots__ = ("_greenlet",)

    def __init__(self, sock: Any, on_data: OnData, on_end: OnEnd) -> None:
        self._greenlet = gevent.spawn(self._run, sock, on_data, on_end)

    def stop(self) -> None:
        """Stop the greenlet unless it is the caller."""
        greenlet = self._greenlet
        if greenlet is not gevent.getcurrent() and not greenlet.dead:
            greenlet.kill(block=False)

    def pause(self) -> None:
        """Nothing to do: the greenlet settles each read before it reads again."""

    def resume(self) -> None:
        """Nothing to do (see `pause`)."""

    @staticmethod
    def _run(sock: Any, on_data: OnData, on_end: OnEnd) -> None:
        how = "eof"
        try:
            while True:
                data = sock.recv(RECV_BYTES)
                if not data:
                    break
                if not on_data(data, False):
                    return
        except (OSError, ssl.SSLError) as exc:
            how = how_it_ended(exc)
        except gevent.GreenletExit:
            return
        on_end(how, False)
