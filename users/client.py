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
from gevent.event import AsyncResult, Event

from users.core import CLOSED, ClientCore
from users.deadlines import SWEEPER
from users.deflate import DeflateParams, ExtensionError, negotiate, offer_header
from users.errors import ConnectFailed, ConnectionLost, HelloRefused, describe_os_error
from users.frames import CLOSE_GOING_AWAY, CLOSE_NORMAL
from users.keepalive import Keepalive
from users.metrics import WsCounters
from users.protocol import CallTemplate, HelloOk
from users.reporter import CallOutcome, EventReporter, RequestHook
from users.settings import ClientSettings
from users.socket_writer import SocketWriter

__all__ = ["CallOutcome", "ClientSettings", "RequestHook", "ToolClient"]

logger = logging.getLogger(__name__)

RECV_BYTES = 256 * 1024
CLOSE_WAIT_S = 2.0


def handshake(url: str, settings: ClientSettings, headers: Sequence[str] = ()) -> tuple[Any, dict[str, str]]:
    """TCP, TLS and the WebSocket upgrade (websocket-client); the socket, blocking, for this module's greenlets,
    and the response's headers (lower-case names)."""
    subprotocols = [*settings.subprotocols, *settings.wire_protocol().subprotocols]
    ws = websocket.create_connection(
        url,
        timeout=settings.connect_timeout_s,
        header=[*settings.headers, *headers],
        subprotocols=subprotocols or None,
        sslopt=dict(settings.sslopt),
        skip_utf8_validation=True,
        enable_multithread=False,
    )
    sock = ws.sock  # websocket-client's WebSocket object is not kept: only its socket is used
    sock.settimeout(None)
    return sock, ws.getheaders() or {}


def upgrade(url: str, settings: ClientSettings, token: str | None) -> tuple[Any, DeflateParams | None]:
    """The handshake with what the protocol and the compression option add (a bearer token, the deflate offer):
    the socket and the deflate parameters the server accepted; ExtensionError (socket closed) for an answer
    that was not offered."""
    headers = settings.wire_protocol().upgrade_headers(token)
    offered = settings.compression == "deflate"
    sock, response = handshake(url, settings, [*headers, offer_header()] if offered else headers)
    try:
        return sock, negotiate(response.get("sec-websocket-extensions"), offered)
    except ExtensionError:
        sock.close()
        raise


def how_it_ended(exc: BaseException) -> str:
    """What lost calls say about a transport error: `reset` for a reset or broken pipe, else its description."""
    if isinstance(exc, (ConnectionResetError, BrokenPipeError)):
        return "reset"
    return describe_os_error(exc)


class ToolClient:
    """One WebSocket connection speaking hello / call_tool, firing a request event per outcome: writes in the
    caller's greenlet, one `send` per batch of calls (users/socket_writer.py); a reader greenlet feeds the core."""

    def __init__(self, url: str, *, fire: RequestHook, counters: WsCounters, settings: ClientSettings) -> None:
        self.url = url
        self.settings = settings
        self.counters = counters
        self.core: ClientCore | None = None
        self._reporter = EventReporter(fire, settings.request_type)
        self._writer: SocketWriter | None = None
        self._reader: gevent.Greenlet | None = None
        self._keepalive: Keepalive | None = None
        self._progress = Event()
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
        """The code of the server's close frame, if one came (its reason: `core.close_reason`)."""
        return None if self.core is None else self.core.close_code

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
    def connect(self, token: str | None = None) -> None:
        """Open the WebSocket (`token` goes in the upgrade if the protocol carries it there); fires `connect`;
        raises ConnectFailed (also when the server accepts an extension that was not offered)."""
        start_wall = time.time()
        start = perf_counter()
        try:
            sock, deflate = upgrade(self.url, self.settings, token)
        except (OSError, ssl.SSLError, websocket.WebSocketException, ExtensionError) as exc:
            failure = ConnectFailed(str(exc) if isinstance(exc, ExtensionError) else describe_os_error(exc))
            self.counters.connect_failures += 1
            self._reporter.timed("connect", perf_counter() - start, failure, start_wall)
            raise failure from None
        now = perf_counter()
        core = self.core = ClientCore(self.counters, self.settings, now, deflate)
        self._writer = SocketWriter(sock, core, self._on_write_stalled)
        self._reporter.timed("connect", now - start, None, start_wall)
        self._reader = gevent.spawn(self._read_loop, core)
        if self.settings.ping_interval_s > 0:
            self._keepalive = Keepalive(core, self.settings.ping_interval_s, lambda: self._process(core))

    def hello(self, session_id: str, token: str) -> HelloOk:
        """Send hello and wait for its answer; fires `hello`; raises HelloRefused (and then closes)."""
        core = self.core
        if core is None or core.state is CLOSED:
            raise HelloRefused("connection_closed", "not connected")
        if not core.protocol.has_hello:
            return HelloOk(None, {}, [])  # no handshake in this protocol: OPEN already
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
            self._writer.write(core.data_to_send(), now)  # type: ignore[union-attr]
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
        if self.connected and not self._writer.broken:  # type: ignore[union-attr]
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
        if self.connected and not self._writer.broken:  # type: ignore[union-attr]
            core.close(CLOSE_NORMAL)
            self._process(core)
            reader = self._reader
            if reader is not None and reader is not gevent.getcurrent() and core.state is not CLOSED:
                reader.join(timeout=CLOSE_WAIT_S)
        core.fail("closed by client", perf_counter())
        self._process(core)

    # --------------------------------------------------------------- helpers
    def _time_to_oldest_deadline(self) -> float:
        core = self.core
        oldest = None if core is None else core.pending.oldest_sent_at()
        if oldest is None:
            return self.settings.call_timeout_s
        return max(0.0, oldest + self.settings.call_timeout_s - perf_counter())

    def _on_write_stalled(self) -> None:
        """A write is still blocked at a deadline: settle what is overdue (the core may give the connection up).
        Nothing is written from here: the write lock is held by the blocked write."""
        core = self.core
        assert core is not None
        core.tick(perf_counter())
        events = core.events_received()
        if events:
            self._reporter.report(events)
        self._progress.set()
        if core.state is CLOSED:
            self._teardown()  # closing the socket fails the blocked write at once

    def _process(self, core: ClientCore) -> None:
        """Report the core's events and write what it wants written; tear down once it is closed."""
        while True:
            events = core.events_received()
            if events:
                self._reporter.report(events)
            data = core.data_to_send()
            if not data:
                break
            writer = self._writer
            if writer is None or writer.broken:
                continue
            try:
                writer.write(data, perf_counter())
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
        if self._writer is not None:
            self._writer.close()
        if self._keepalive is not None:
            self._keepalive.stop()
        reader = self._reader
        if reader is not None and reader is not gevent.getcurrent() and not reader.dead:
            reader.kill(block=False)

    # ---------------------------------------------------------------- reader
    def _read_loop(self, core: ClientCore) -> None:
        sock = self._writer.sock  # type: ignore[union-attr]
        keepalive = self._keepalive
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
                if keepalive is not None:
                    keepalive.after_read()
                self._progress.set()
        except (OSError, ssl.SSLError) as exc:
            how = how_it_ended(exc)
        except gevent.GreenletExit:
            how = "reader stopped"
        finally:
            core.receive_eof(how, perf_counter())
            self._process(core)
