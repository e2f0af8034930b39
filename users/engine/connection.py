"""The I/O of one open connection: its reader, writer, keepalive, waits and send policy, and what a read settles.

Made by `ToolClient.connect` (users/engine/client.py) around the pure `ClientCore`. While a user stays on its
connection, a send policy runs in the hub after each read: `ClosedLoop` keeps n calls in flight (each answer read
sends the next, no greenlet switch per call), `Quiet` lets the process's pacer (users/engine/pacer.py) send.
Reads of a plain socket run in the hub (users/engine/sockets.py), where nothing may block: what they settle is
reported there while only Locust's own listener listens, and the waiting user is switched to directly; anything
that might block (other listeners, writes the core wants) goes to a short greenlet, and reading pauses until it is
done: order kept, and a server that floods a client busy writing meets TCP's flow control.
"""

from __future__ import annotations

import _socket
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from time import perf_counter
from typing import Any, Protocol

import gevent
from gevent import ssl as gssl
from gevent.event import AsyncResult, Event

from users.engine.hub import PING_CLOCK, Ping, Progress
from users.engine.reporter import EventReporter
from users.engine.sockets import WRITE_STALLED, GreenletReader, HubReader, SocketReader, SocketWriter, how_it_ended
from users.engine.watchdog import CURRENT
from users.wire.core import CLOSED, ClientCore
from users.wire.errors import ConnectionLost
from users.wire.events import CoreEvent
from users.wire.protocol import CallTemplate
from users.wire.tally import Tally

Pick = Callable[[int], list[CallTemplate]]
"""The next n calls to send (a tool mix's pick)."""
UNLIMITED = 1 << 30
"""No cap on the calls in flight."""


class SendPolicy(Protocol):
    """How a connection sends while its user stays on it: `after_read` runs in the hub after each read (False
    wakes the user); `top_up` in the user's greenlet sends what the hub could not (a write in progress
    elsewhere)."""

    def after_read(self, io: ConnectionIO) -> bool: ...

    def top_up(self, io: ConnectionIO) -> None: ...


@dataclass(slots=True)
class ClosedLoop:
    """Closed loop of `limit` calls in flight until perf_counter() reaches `until`: the read that settles a call
    sends the next from the hub, like a native event-loop client."""

    limit: int
    pick: Pick
    until: float

    def after_read(self, io: ConnectionIO) -> bool:
        need = self.limit - len(io.core.pending)
        return need <= 0 or (perf_counter() < self.until and io.send_from_hub(self.pick(need), None, UNLIMITED))

    def top_up(self, io: ConnectionIO) -> None:
        need = self.limit - len(io.core.pending)
        if need > 0:
            io.send(self.pick(need))


class Quiet:
    """Nothing sent by this policy (the process's pacer sends from its tick): reads settle, the user sleeps on."""

    __slots__ = ()

    def after_read(self, io: ConnectionIO) -> bool:
        return io.core.live

    def top_up(self, io: ConnectionIO) -> None:
        """Nothing to send."""


def is_tls(sock: Any) -> bool:
    """Whether `sock` is a TLS socket (gevent's or the standard library's)."""
    return isinstance(sock, (gssl.SSLSocket, ssl.SSLSocket))


def detached(sock: Any) -> Any:
    """The plain socket `sock` as the standard library's non-blocking socket (gevent's wrapper let go): read
    from the hub, written without gevent's per-call layers."""
    raw = _socket.socket(fileno=sock.detach())
    raw.setblocking(False)
    return raw


class ConnectionIO:
    """Moves one open connection's bytes between its socket and its core, counts (`tally`) and reports what
    settles, wakes waiters. The core's events are counted where they are taken, before anything can switch
    greenlets, even when their reporting is deferred: a sample sees the counters as the core is."""

    __slots__ = ("core", "progress", "policy", "_reporter", "_tally", "_deferred", "_torn_down", "writer", "_keepalive",
                 "_mark", "_reader")  # fmt: skip  # one per connection: no __dict__

    def __init__(
        self,
        sock: Any,
        core: ClientCore,
        reporter: EventReporter,
        tally: Tally,
        ping_interval_s: float,
        label: str = "",
    ) -> None:
        self.core = core
        self.progress = Progress()
        """Where users of this connection wait; woken by reads, the end, and deadlines."""
        self.policy: SendPolicy | None = None
        """Set while the user stays on the connection (ToolClient.stay): the hub runs it after each read."""
        self._reporter = reporter
        self._tally = tally
        self._deferred: list[CoreEvent] | None = None
        """Events of reads in the hub waiting for a greenlet to settle them (None: none pending)."""
        self._torn_down = False
        plain = not is_tls(sock)
        if plain:
            sock = detached(sock)
        self.writer = SocketWriter(
            sock, core, self._on_write_stalled, plain, self._on_write_failed, self._on_write_cut_short
        )
        self._keepalive = Keepalive(core, ping_interval_s, self.process) if ping_interval_s > 0 else None
        reader = HubReader if plain else GreenletReader
        self._mark = (label, sock)
        """What the watchdog names this connection by (`label`: its origin, never a path or query)."""
        self._reader: SocketReader = reader(sock, self._on_data, self._on_end)

    @property
    def settling(self) -> bool:
        """A read's events wait for a greenlet to report them (its end is notified on `progress`)."""
        return self._deferred is not None

    def early_data(self, data: bytes) -> None:
        """Bytes the handshake read past the server's 101 header: the first frames, fed before any read."""
        self._on_data(data, False)

    def send(
        self,
        templates: Sequence[CallTemplate],
        waiter: AsyncResult | None = None,
        intended: Sequence[float] | None = None,
    ) -> None:
        """Send one call per template in a single write from a greenlet (it may wait while the socket is full);
        ConnectionLost when the connection is not open or the write fails (its calls are settled as lost)."""
        core = self.core
        if not core.live:
            raise ConnectionLost("not connected")
        now = perf_counter()
        core.send_calls(templates, now, intended, waiter)
        self._tally.fold(core)  # the core's traffic: counted sent before the write (it may switch greenlets)
        try:
            self.writer.write(core.data_to_send(), now)
        except OSError as exc:
            core.fail(f"write failed: {how_it_ended(exc)}", perf_counter())
            self.process()
            raise ConnectionLost("write failed") from None

    def send_from_hub(self, templates: list[CallTemplate], intended: list[float] | None, room_below: int) -> bool:
        """Send calls from a hub callback, without blocking; False (nothing sent) when the connection is not
        open, a write is in progress elsewhere, or `room_below` calls are in flight already."""
        core = self.core
        writer = self.writer
        if not core.live or writer.busy or writer.broken or len(core.pending) >= room_below:
            return False
        now = perf_counter()
        core.send_calls(templates, now, intended)
        self._tally.fold(core)
        try:
            writer.write_from_hub(core.data_to_send(), now)
        except OSError as exc:
            core.fail(f"write failed: {how_it_ended(exc)}", perf_counter())
            self._settle(True)  # reports the lost calls and tears down, from a greenlet
        return True

    def process(self) -> None:
        """Report the core's events and write what it wants written; tear down once it is closed."""
        core = self.core
        tally = self._tally
        while True:
            events = core.events_received()
            tally.count(events, core)
            if events:
                self._reporter.report(events)
            data = core.data_to_send()
            if not data:
                break
            writer = self.writer
            if writer.broken:
                continue
            try:
                writer.write(data, perf_counter())
            except OSError as exc:
                core.fail(f"write failed: {how_it_ended(exc)}", perf_counter())
            except ConnectionLost as exc:  # the writer was broken by a write cut short
                core.fail(exc.how, perf_counter())
        if core.state is CLOSED:
            self.teardown()

    def teardown(self) -> None:
        """The core is closed: stop reading, close the socket, stop the timers, wake every waiter."""
        self.progress.notify()
        if self._torn_down:
            return
        self._torn_down = True
        self._reader.stop()  # before the socket closes
        self.writer.close()
        if self._keepalive is not None:
            self._keepalive.stop()

    # ---------------------------------------------------------------- reads
    def _on_data(self, data: bytes, in_hub: bool) -> bool:
        """Bytes read (in the hub for plain sockets): feed the core, report, wake the waiters; False once closed."""
        core = self.core
        CURRENT[0] = self._mark  # the watchdog names this connection if the hub gets stuck here
        try:
            core.receive_data(data, perf_counter())
            self._settle(in_hub)
        finally:
            CURRENT[0] = None
        return core.state is not CLOSED

    def _on_end(self, how: str, in_hub: bool) -> None:
        """The transport ended by itself (`eof`, `reset`, an error)."""
        self.core.receive_eof(how, perf_counter())
        self._settle(in_hub)

    def _settle(self, in_hub: bool) -> None:
        """After a read: report what it settled, then wake the waiters. In the hub nothing may block, so what
        might (listeners other than Locust's, writes the core wants: a pong, the close echo, a protocol's
        reply) goes to a short greenlet, and reading pauses until it is done: order is kept."""
        core = self.core
        events = core.events_received()
        self._tally.count(events, core)
        inline_safe = self._reporter.inline_safe() if events else True
        if in_hub and (self._deferred is not None or core.outgoing or core.state is CLOSED or not inline_safe):
            if self._deferred is None:
                self._deferred = []
                self._reader.pause()  # no more reads until this one is settled: order kept, memory bounded
                gevent.spawn(self._settle_deferred)
            self._deferred.extend(events)
            return
        wrote = self._apply(events, inline_safe)
        policy = self.policy
        if not wrote and in_hub and policy is not None and policy.after_read(self):
            return  # the hub drives the connection: its user sleeps on
        self.progress.notify(in_hub)

    def _settle_deferred(self) -> None:
        """`_settle`'s work for reads made in the hub, in this greenlet, until no read waits for it."""
        while True:
            events, self._deferred = self._deferred, []
            self._apply(events)
            if not self._deferred:
                break
        self._deferred = None
        if not self._torn_down:
            self._reader.resume()
        self.progress.notify()

    def _apply(self, events: list[CoreEvent], inline_safe: bool | None = None) -> bool:
        """A read's work: report its events, tell keepalive, write what the core wants (tearing down once it is
        closed); True when there was writing or tearing down to do."""
        if events:
            self._reporter.report(events, inline_safe)
        if self._keepalive is not None:
            self._keepalive.after_read()
        core = self.core
        if core.outgoing or core.state is CLOSED:
            self.process()
            return True
        return False

    # --------------------------------------------------------------- writes
    def _on_write_stalled(self) -> None:
        """A write is still blocked at a deadline: settle what is overdue (the core may give the connection up).
        Nothing is written from here: the write lock is held by the blocked write."""
        core = self.core
        core.tick(perf_counter())
        events = core.events_received()
        self._tally.count(events, core)
        if events:
            self._reporter.report(events)
        self.progress.notify()
        if core.state is CLOSED:
            self.teardown()  # closing the socket fails the blocked write at once

    def _on_write_cut_short(self) -> None:
        """A blocked write was cut short (its user stopped while the server was not reading): the connection is
        given up now, calls in flight lost as `write_stalled` and counted in `write_stalls`; it cannot carry
        another frame, not even a close frame."""
        core = self.core
        if core.state is CLOSED:
            return
        self._tally.write_stalled()
        core.fail(WRITE_STALLED, perf_counter())
        self.process()

    def _on_write_failed(self, exc: OSError) -> None:
        """A write the hub started failed in the greenlet finishing it."""
        self.core.fail(f"write failed: {how_it_ended(exc)}", perf_counter())
        self.process()


class Keepalive:
    """Pings on `core` every `interval_s` from the process's ping clock (users/engine/hub.py), each from a
    short-lived greenlet that waits for the pong until the core's deadline (none in time: the core ends the
    half-open connection); `flush` reports the core's events and writes its bytes."""

    __slots__ = ("_core", "_flush", "_pinger", "_pong", "_ping")

    def __init__(self, core: ClientCore, interval_s: float, flush: Callable[[], None]) -> None:
        self._core = core
        self._flush = flush
        self._pinger: gevent.Greenlet | None = None
        self._pong: Event | None = None
        self._ping: Ping = PING_CLOCK.every(interval_s, self._due, perf_counter())

    def after_read(self) -> None:
        """Called after each read: wake the waiting pinger once its pong has come."""
        if self._pinger is not None and self._pong is not None and not self._core.ping_pending:
            self._pong.set()

    def stop(self) -> None:
        """No more pings; a waiting pinger is stopped."""
        self._ping.cancel()
        pinger = self._pinger
        if pinger is not None and pinger is not gevent.getcurrent() and not pinger.dead:
            pinger.kill(block=False)

    def _due(self) -> None:
        """Clock callback (in the hub, must not block): ping from a short-lived greenlet unless one is waiting."""
        if self._core.live and (self._pinger is None or self._pinger.dead):
            self._pinger = gevent.spawn(self._ping_once)

    def _ping_once(self) -> None:
        core = self._core
        pong = self._pong = Event()
        if core.send_ping(perf_counter()):
            self._flush()
        while core.ping_pending and core.state is not CLOSED:
            remaining = core.next_deadline() - perf_counter()
            if remaining > 0:
                pong.wait(remaining)
            elif core.tick(perf_counter()) or core.state is CLOSED:
                self._flush()
