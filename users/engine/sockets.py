"""Each connection's socket, read and written; the only module of users/ that makes io watchers.

Reads: a plain socket is read where libev reports it readable, in the hub: one `recv` per readiness, no greenlet
per connection, no switch, no `EAGAIN` round trip; each chunk goes to `on_data`, the end to `on_end`, and what
the data settles wakes the waiting user directly (users/engine/hub.py `Progress`). A TLS socket can hold
decrypted bytes that the descriptor does not signal, so it keeps gevent's reading greenlet.

Writes: a send that never waits on the fast path; a write that blocks is watched (users/engine/hub.py
`WRITE_WATCH`), so call deadlines hold and a server that stops reading is given up.
"""

from __future__ import annotations

import errno
import logging
import ssl
from collections.abc import Callable
from typing import Any, Protocol

import gevent
from gevent.hub import get_hub
from gevent.lock import Semaphore

from users.engine.hub import WRITE_WATCH
from users.wire.core import CLOSED, ClientCore
from users.wire.errors import ConnectionLost, describe_os_error

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


WRITE_EVENT = 2
"""libev's EV_WRITE."""
WRITE_STALLED = "write_stalled"
"""How calls are lost when a blocked write is given up before its timeout (a user stopped mid-write), and what
a write asked of a writer broken that way raises."""


class SocketWriter:
    """Serialised writes of whole batches of frames; after a write cut short it never writes again. A write cut
    short by anything but a socket error (its greenlet killed: a user stopped mid-write) calls `on_cut_short`.

    `plain` sockets are the standard library's, non-blocking (users/engine/connection.py detaches them from gevent): a
    send that does not fit waits for the descriptor to be writable. Other (TLS) sockets are gevent's and write
    with its cooperative `sendall`, always watched.
    """

    __slots__ = (
        "sock", "broken", "busy", "_core", "_lock", "_plain", "_on_stalled", "_on_failed", "_on_cut_short",
        "_waiting_io",
    )  # fmt: skip

    def __init__(
        self,
        sock: Any,
        core: ClientCore,
        on_stalled: Callable[[], None],
        plain: bool,
        on_failed: Callable[[OSError], None] = lambda exc: None,
        on_cut_short: Callable[[], None] = lambda: None,
    ) -> None:
        self.sock = sock
        self.broken = False
        self.busy = False
        """A write holds the lock or waits for it: new data waits its turn. Whenever the hub runs, False means
        the lock is free (it is set, without a yield, as soon as a write takes the lock)."""
        self._core = core
        self._lock = Semaphore()
        self._plain = plain
        self._on_stalled = on_stalled
        self._on_failed = on_failed
        self._on_cut_short = on_cut_short
        self._waiting_io: Any = None

    def write(self, data: bytes, now: float) -> None:
        """Write `data` (asked for at `now`); OSError when the socket fails, ConnectionLost once broken."""
        if self.broken:
            raise ConnectionLost(WRITE_STALLED)
        sent = 0
        if self._plain and not self.busy:  # nobody is mid-write: a send that cannot wait keeps the order
            sent = self._send_now(data)
            if sent == len(data):
                return
        self.busy = True
        try:
            with self._lock:
                self.busy = True  # again: a write that held the lock before may have cleared it on release
                self._write_watched(memoryview(data)[sent:], now)
        except BaseException as exc:
            # A write cut short (error or greenlet kill) leaves a torn frame: never write again.
            self.broken = True
            if not isinstance(exc, (OSError, ConnectionLost)):
                self._on_cut_short()
            raise
        finally:
            self.busy = self._lock.locked()  # another write may be waiting its turn

    def write_from_hub(self, data: bytes, now: float) -> None:
        """Write `data` from a hub callback, which must not block and must only call this when not `busy`: what
        does not fit now is written by a short greenlet holding the lock (its failure goes to `on_failed`).
        OSError when the socket fails at once."""
        sent = 0
        if self._plain:
            sent = self._send_now(data)
            if sent == len(data):
                return
        self._lock.acquire(blocking=False)
        self.busy = True
        gevent.spawn(self._finish_write, memoryview(data)[sent:], now)

    def _send_now(self, data: bytes | memoryview) -> int:
        """Bytes of `data` the plain socket takes now, without waiting (0 while its buffer is full); a send
        that fails leaves the writer broken: a torn frame must never be followed by another."""
        try:
            return self.sock.send(data)  # type: ignore[no-any-return]
        except BlockingIOError:
            return 0
        except BaseException:
            self.broken = True
            raise

    def _finish_write(self, view: memoryview, now: float) -> None:
        try:
            self._write_watched(view, now)
        except OSError as exc:
            self.broken = True
            self._on_failed(exc)
        except BaseException:
            self.broken = True
            self._on_cut_short()
            raise
        finally:
            self._lock.release()
            self.busy = self._lock.locked()

    def _write_watched(self, view: memoryview, now: float) -> None:
        core = self._core
        core.writing(now)
        WRITE_WATCH.add(self)
        try:
            if self._plain:
                self._send_waiting(view)
            else:
                self.sock.sendall(view)
        finally:
            core.writing(0.0)
            WRITE_WATCH.discard(self)

    def _send_waiting(self, view: memoryview) -> None:
        """Send all of `view` on the non-blocking socket, waiting for writability in between."""
        sock = self.sock
        hub = get_hub()
        while view:
            if self.broken:
                raise ConnectionLost(WRITE_STALLED)
            view = view[self._send_now(view) :]
            if view:
                io = self._waiting_io = hub.loop.io(sock.fileno(), WRITE_EVENT)
                try:
                    hub.wait(io)
                finally:
                    self._waiting_io = None
                    io.close()

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
        """Close the socket; a write blocked in another greenlet fails at once."""
        WRITE_WATCH.discard(self)
        io = self._waiting_io
        if io is not None:
            self.broken = True
            get_hub().cancel_wait(io, OSError(errno.EBADF, "socket closed while writing"))
        try:
            self.sock.close()
        except OSError:
            pass
