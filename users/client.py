"""The one module that touches sockets: handshake (websocket-client), the reader greenlet, writes, timers.

Everything the connection decides lives in the pure `ClientCore` (users/core.py); this shell feeds it bytes
and time, writes what it returns, and hands its events to the one `EventReporter` (users/reporter.py).
"""

from __future__ import annotations

import logging
import math
import ssl
import time
from collections.abc import Callable, Sequence
from time import perf_counter
from typing import Any

import gevent
import websocket
from gevent import socket as gsocket
from gevent import ssl as gssl
from gevent.event import AsyncResult, Event
from gevent.lock import Semaphore

from users.core import CLOSED, ClientCore
from users.deadlines import SWEEPER, WRITE_WATCH
from users.errors import ConnectFailed, ConnectionLost, HelloRefused, describe_os_error
from users.frames import CLOSE_GOING_AWAY, CLOSE_NORMAL
from users.metrics import WsCounters
from users.protocol import CallTemplate, HelloOk
from users.reporter import CallOutcome, EventReporter, RequestHook
from users.settings import ClientSettings

__all__ = ["CallOutcome", "ClientSettings", "RequestHook", "ToolClient"]

logger = logging.getLogger(__name__)

RECV_BYTES = 256 * 1024
CLOSE_WAIT_S = 2.0


def how_it_ended(exc: BaseException) -> str:
    """What lost calls say about a transport error: `reset` for a reset or broken pipe, else its description."""
    if isinstance(exc, (ConnectionResetError, BrokenPipeError)):
        return "reset"
    return describe_os_error(exc)


class ToolClient:
    """One WebSocket connection speaking hello / call_tool, firing a request event per outcome.

    Writes happen in the caller's greenlet, batched into one `send` per batch of calls; a write that cannot
    finish at once is watched (users/deadlines.py), so call deadlines hold and a server that stops reading
    is given up after the call timeout. A reader greenlet receives in large chunks and feeds the core.
    """

    def __init__(self, url: str, *, fire: RequestHook, counters: WsCounters, settings: ClientSettings) -> None:
        self.url = url
        self.settings = settings
        self.counters = counters
        self.core: ClientCore | None = None
        self._reporter = EventReporter(fire, settings.request_type)
        self._sock: Any = None
        self._plain = False
        self._reader: gevent.Greenlet | None = None
        self._write_lock = Semaphore()
        self._progress = Event()
        self._ping_timer: Any = None
        self._pinger: gevent.Greenlet | None = None
        self._pong = Event()
        self._broken = False
        self._torn_down = False

    # ----------------------------------------------------------------- state
    @property
    def connected(self) -> bool:
        """True from a successful handshake until the connection starts closing or ends."""
        core = self.core
        return core is not None and core.live

    @property
    def in_flight(self) -> int:
        """Calls sent on this connection and not yet settled."""
        core = self.core
        return 0 if core is None else len(core.pending)

    @property
    def hello_info(self) -> HelloOk | None:
        """The server's hello_ok, once received."""
        return None if self.core is None else self.core.hello_info

    @property
    def close_code(self) -> int | None:
        """The code of the server's close frame, if one came."""
        return None if self.core is None else self.core.close_code

    @property
    def close_reason(self) -> str:
        """The reason of the server's close frame."""
        return "" if self.core is None else self.core.close_reason

    @property
    def lived_s(self) -> float:
        """Seconds from the handshake to the end (NaN while open or never opened)."""
        core = self.core
        return math.nan if core is None else core.closed_at - core.opened_at

    @property
    def ended_cleanly(self) -> bool:
        """The connection ended with a 1000 close."""
        core = self.core
        return core is not None and core.closed is not None and core.closed.clean

    # ------------------------------------------------------- connect / hello
    def connect(self) -> None:
        """Open the WebSocket; fires `connect`; raises ConnectFailed."""
        s = self.settings
        start_wall = time.time()
        start = perf_counter()
        try:
            ws = websocket.create_connection(
                self.url,
                timeout=s.connect_timeout_s,
                header=list(s.headers),
                subprotocols=list(s.subprotocols) or None,
                sslopt=dict(s.sslopt),
                skip_utf8_validation=True,
                enable_multithread=False,
            )
        except (OSError, ssl.SSLError, websocket.WebSocketException) as exc:
            failure = ConnectFailed(describe_os_error(exc))
            self.counters.connect_failures += 1
            self._reporter.timed("connect", perf_counter() - start, failure, start_wall)
            raise failure from None
        sock = self._sock = ws.sock  # websocket-client's WebSocket object is not kept: only its socket is used
        sock.settimeout(None)
        self._plain = isinstance(sock, gsocket.socket) and not isinstance(sock, gssl.SSLSocket)
        now = perf_counter()
        self.core = ClientCore(self.counters, s, now)
        self._reporter.timed("connect", now - start, None, start_wall)
        self._reader = gevent.spawn(self._read_loop, self.core)
        if s.ping_interval_s > 0:
            # A timer, not a greenlet parked between pings: a parked greenlet costs about 8 KB per connection.
            self._ping_timer = gevent.get_hub().loop.timer(s.ping_interval_s, s.ping_interval_s)
            self._ping_timer.start(self._ping_due)

    def hello(self, session_id: str, token: str) -> HelloOk:
        """Send hello and wait for its answer; fires `hello`; raises HelloRefused (and then closes)."""
        core = self._open_core()
        core.send_hello(session_id, token, perf_counter())
        self._process(core)
        while core.hello_pending:
            self._progress.clear()
            remaining = core.next_deadline() - perf_counter()
            if remaining > 0:
                self._progress.wait(remaining)
            if core.tick(perf_counter()) or core.state is CLOSED:
                self._process(core)
        answer = core.hello_answer
        assert answer is not None
        if answer.info is not None:
            return answer.info
        self.close()
        assert answer.failure is not None
        raise answer.failure

    # ----------------------------------------------------------------- calls
    def send_calls(
        self,
        templates: Sequence[CallTemplate],
        waiter: AsyncResult | None = None,
        intended: Sequence[float] | None = None,
    ) -> None:
        """Send one call per template in a single write; their outcomes are fired as they settle.

        `intended` (perf_counter times, one per template, oldest first) makes
        latency count from when each call should have been sent, not from when
        it was: a generator that falls behind cannot hide server stalls.
        """
        core = self.core
        if core is None or not core.live:
            raise ConnectionLost("not connected")
        now = perf_counter()
        core.send_calls(templates, now, intended, waiter)
        try:
            self._write(core.data_to_send(), now)
        except OSError as exc:
            core.fail(f"write failed: {how_it_ended(exc)}", perf_counter())
            self._process(core)
            raise ConnectionLost("write failed") from None

    def call(self, template: CallTemplate) -> CallOutcome:
        """Send one call and block until it settles (result, timeout or lost connection)."""
        waiter = AsyncResult()
        self._progress.clear()
        self.send_calls([template], waiter)
        deadline = perf_counter() + self.settings.call_timeout_s
        while not waiter.ready():
            remaining = deadline - perf_counter()
            if remaining <= 0:
                self.expire_overdue()
                if not waiter.ready():  # perf_counter granularity: settle at the next tick
                    gevent.sleep(0.001)
                continue
            try:
                return waiter.get(timeout=remaining)
            except gevent.Timeout:
                continue
        return waiter.get()

    def keep_in_flight(
        self, limit: int, pick: Callable[[int], list[CallTemplate]], max_wait_s: float = math.inf
    ) -> None:
        """Top up to `limit` calls in flight, then wait until one settles, the oldest call is overdue,
        or `max_wait_s` has passed."""
        self._progress.clear()
        core = self.core
        if core is None:
            raise ConnectionLost("not connected")
        need = limit - len(core.pending)
        if need > 0:
            self.send_calls(pick(need))
        if core.pending and core.state is not CLOSED:
            if max_wait_s == math.inf:
                oldest = core.pending.oldest_sent_at()
                assert oldest is not None
                SWEEPER.wait(self._progress, oldest + self.settings.call_timeout_s)  # no timer per wait
            else:
                self._progress.wait(min(max_wait_s, self._time_to_oldest_deadline()))
        self.expire_overdue()

    def drain(self, timeout_s: float | None = None) -> None:
        """Wait for every call in flight to settle, for at most `timeout_s` (default: the call timeout)."""
        core = self.core
        if core is None:
            return
        deadline = perf_counter() + (self.settings.call_timeout_s if timeout_s is None else timeout_s)
        while core.pending and self.connected:
            self._progress.clear()
            remaining = deadline - perf_counter()
            if remaining <= 0:
                break
            self._progress.wait(min(remaining, self._time_to_oldest_deadline()))
            self.expire_overdue()
        if core.pending and self.connected:
            core.give_up_calls(perf_counter())
            self._process(core)

    def wait_for_progress(self, timeout_s: float) -> None:
        """Wait up to `timeout_s` for any call to settle (or the connection to end), then expire overdue calls."""
        core = self.core
        if core is not None and core.pending and self.connected:
            self._progress.clear()
            self._progress.wait(max(0.0, min(timeout_s, self._time_to_oldest_deadline())))
        self.expire_overdue()

    def drop(self, how: str) -> None:
        """End the connection at once, as a reconnect storm does: calls in flight become connection_lost."""
        core = self.core
        if core is None:
            return
        if self.connected and not self._broken:
            core.close(CLOSE_GOING_AWAY, how)
        core.fail(how, perf_counter())
        self._process(core)

    def expire_overdue(self) -> None:
        """Settle whatever is overdue: calls (as `timeout` failures), an unanswered hello or ping."""
        core = self.core
        if core is not None and core.tick(perf_counter()):
            self._process(core)

    def close(self) -> None:
        """Close cleanly (close frame, wait for the server's), then settle anything left as lost."""
        core = self.core
        if core is None:
            return
        if self.connected and not self._broken:
            core.close(CLOSE_NORMAL)
            self._process(core)
            reader = self._reader
            if reader is not None and reader is not gevent.getcurrent() and core.state is not CLOSED:
                reader.join(timeout=CLOSE_WAIT_S)
        core.fail("closed by client", perf_counter())
        self._process(core)

    # ----------------------------------------------------------- write watch
    def write_deadline(self) -> float:
        """When a blocked write must be looked at: the core's next deadline."""
        core = self.core
        return math.inf if core is None else core.next_deadline()

    def on_write_stalled(self) -> None:
        """A write is still blocked at a deadline (own greenlet): settle what is overdue; given up, tear down."""
        core = self.core
        if core is None:
            return
        core.tick(perf_counter())
        self._process(core)
        if core.writing_since and core.state is not CLOSED:
            WRITE_WATCH.add(self)

    # --------------------------------------------------------------- helpers
    def _open_core(self) -> ClientCore:
        core = self.core
        if core is None or core.state is CLOSED:
            raise HelloRefused("connection_closed", "not connected")
        return core

    def _time_to_oldest_deadline(self) -> float:
        core = self.core
        oldest = None if core is None else core.pending.oldest_sent_at()
        if oldest is None:
            return self.settings.call_timeout_s
        return max(0.0, oldest + self.settings.call_timeout_s - perf_counter())

    def _write(self, data: bytes, now: float) -> None:
        sock = self._sock
        if sock is None or self._broken:
            raise ConnectionLost("not connected")
        with self._write_lock:
            try:
                sent = 0
                if self._plain:
                    try:
                        sent = sock.send(data, 0, 0.0)  # never waits: a full buffer goes to the watched path
                    except BlockingIOError:
                        sent = 0
                    if sent == len(data):
                        return
                self._write_watched(sock, memoryview(data)[sent:], now)
            except BaseException:
                # A write cut short (error or greenlet kill) leaves a torn frame: never write again.
                self._broken = True
                raise

    def _write_watched(self, sock: Any, view: memoryview, now: float) -> None:
        """Write the rest, however long it blocks, while the write watch keeps the deadlines."""
        core = self.core
        assert core is not None
        core.writing_since = now
        WRITE_WATCH.add(self)
        try:
            sock.sendall(view)
        finally:
            core.writing_since = 0.0
            WRITE_WATCH.discard(self)

    def _process(self, core: ClientCore) -> None:
        """Report the core's events and write what it wants written; tear down once it is closed."""
        while True:
            events = core.events_received()
            if events:
                self._reporter.report(events)
            data = core.data_to_send()
            if not data:
                break
            if self._broken or self._sock is None:
                continue
            try:
                self._write(data, perf_counter())
            except (OSError, ConnectionLost) as exc:
                core.fail(how_it_ended(exc), perf_counter())
        if core.state is CLOSED:
            self._teardown()

    def _teardown(self) -> None:
        """The core is closed: close the socket, stop the timers and greenlets, wake every waiter."""
        self._progress.set()
        if self._torn_down:
            return
        self._torn_down = True
        WRITE_WATCH.discard(self)
        sock = self._sock
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass
        if self._ping_timer is not None:
            self._ping_timer.close()
            self._ping_timer = None
        for greenlet in (self._reader, self._pinger):
            if greenlet is not None and greenlet is not gevent.getcurrent() and not greenlet.dead:
                greenlet.kill(block=False)

    # ---------------------------------------------------------------- reader
    def _read_loop(self, core: ClientCore) -> None:
        sock = self._sock
        receive, take_events, report = core.receive_data, core.events_received, self._reporter.report
        how = "eof"
        try:
            while core.state is not CLOSED:
                data = sock.recv(RECV_BYTES)
                if not data:
                    break
                receive(data, perf_counter())
                events = take_events()
                if events:
                    report(events)
                if core.outgoing or core.state is CLOSED:
                    self._process(core)
                if self._pinger is not None and not core.ping_pending:
                    self._pong.set()
                self._progress.set()
        except (OSError, ssl.SSLError) as exc:
            how = how_it_ended(exc)
        except gevent.GreenletExit:
            how = "reader stopped"
        finally:
            core.receive_eof(how, perf_counter())
            self._process(core)

    # ------------------------------------------------------------------ pings
    def _ping_due(self) -> None:
        """Timer callback (in the hub, must not block): ping from a short-lived greenlet unless one is waiting."""
        if self.connected and (self._pinger is None or self._pinger.dead):
            self._pinger = gevent.spawn(self._ping_once)

    def _ping_once(self) -> None:
        """Ping, and wait for the pong until the core's deadline; none in time means a half-open connection."""
        core = self.core
        if core is None:
            return
        self._pong.clear()
        if core.send_ping(perf_counter()):
            self._process(core)
        while core.ping_pending and core.state is not CLOSED:
            remaining = core.next_deadline() - perf_counter()
            if remaining > 0:
                self._pong.wait(remaining)
            elif core.tick(perf_counter()) or core.state is CLOSED:
                self._process(core)
