"""The I/O shell of one connection: handshake (websocket-client), reads (users/socket_reader.py), writes
(users/socket_writer.py), waits (users/deadlines.py `Progress`), keepalive timers.

Everything the connection decides lives in the pure `ClientCore` (users/core.py); this shell feeds it bytes
and time, writes what it returns, and hands its events to the one `EventReporter` (users/reporter.py).
"""

from __future__ import annotations

import _socket
import logging
import math
import ssl
import time
from collections.abc import Callable, Sequence
from time import perf_counter
from typing import Any

import gevent
import websocket
from gevent import ssl as gssl
from gevent.event import AsyncResult

from users.core import CLOSED, ClientCore
from users.deadlines import Progress
from users.deflate import DeflateParams, ExtensionError, negotiate, offer_header
from users.errors import ConnectFailed, ConnectionLost, HelloRefused, describe_os_error
from users.events import CoreEvent
from users.frames import CLOSE_GOING_AWAY, CLOSE_NORMAL
from users.keepalive import Keepalive
from users.metrics import WsCounters
from users.protocol import CallTemplate, HelloOk
from users.reporter import CallOutcome, EventReporter, RequestHook
from users.settings import ClientSettings
from users.socket_reader import GreenletReader, HubReader, SocketReader, how_it_ended
from users.socket_writer import SocketWriter

__all__ = ["CallOutcome", "ClientSettings", "RequestHook", "ToolClient"]

logger = logging.getLogger(__name__)

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


def is_tls(sock: Any) -> bool:
    """Whether `sock` is a TLS socket (gevent's or the standard library's)."""
    return isinstance(sock, (gssl.SSLSocket, ssl.SSLSocket))


def detached(sock: Any) -> Any:
    """The plain socket `sock` as the standard library's non-blocking socket (gevent's wrapper let go): read
    from the hub, written without gevent's per-call layers."""
    raw = _socket.socket(fileno=sock.detach())
    raw.setblocking(False)
    return raw


class ToolClient:
    """One WebSocket connection speaking hello / call_tool, firing a request event per outcome: writes in the
    caller's greenlet, one `send` per batch of calls (users/socket_writer.py); reads feed the core as they come
    (users/socket_reader.py) and wake whoever waits on the connection."""

    def __init__(self, url: str, *, fire: RequestHook, counters: WsCounters, settings: ClientSettings) -> None:
        self.url = url
        self.settings = settings
        self.counters = counters
        self.core: ClientCore | None = None
        self._reporter = EventReporter(fire, settings.request_type)
        self._writer: SocketWriter | None = None
        self._reader: SocketReader | None = None
        self._keepalive: Keepalive | None = None
        self._progress = Progress()
        self._driven: Callable[[ClientCore], bool] | None = None
        """While the hub drives this connection (`keep_calling`, `hold`): called after each read settled in the
        hub; False wakes the user waiting on the connection (else it sleeps on: one wake per slice, not per call)."""
        self._deferred: list[CoreEvent] | None = None
        """Events of reads in the hub waiting for a greenlet to settle them (None: none pending)."""
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
        plain = not is_tls(sock)
        if plain:
            sock = detached(sock)
        self._writer = SocketWriter(sock, core, self._on_write_stalled, plain, self._on_write_failed)
        self._reporter.timed("connect", now - start, None, start_wall)
        if self.settings.ping_interval_s > 0:
            self._keepalive = Keepalive(core, self.settings.ping_interval_s, lambda: self._process(core))
        reader = HubReader if plain else GreenletReader
        self._reader = reader(sock, self._on_data, self._on_end)

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
            self._progress.wait(core.next_deadline())
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
        core = self.core
        if core is None:
            raise ConnectionLost("not connected")
        need = limit - len(core.pending)
        if need > 0:
            self.send_calls(pick(need))
        pending = core.pending
        if not pending or core.state is CLOSED:
            self.expire_overdue()
            return
        deadline = pending.oldest_sent_at() + self.settings.call_timeout_s  # type: ignore[operator]
        if max_wait_s != math.inf:
            deadline = min(deadline, perf_counter() + max_wait_s)
        self._progress.wait(deadline)
        if perf_counter() >= deadline:  # woken before it, nothing can be overdue: no call is older
            self.expire_overdue()

    def keep_calling(self, limit: int, pick: Callable[[int], list[CallTemplate]], until: float) -> None:
        """Closed loop until perf_counter() reaches `until` or the connection ends: keep `limit` calls in flight.

        The read that settles a call sends the next one from where it reads (the hub, for plain sockets), like
        a native event-loop client: no greenlet switch per call. This greenlet tops up what the hub could not
        (a write in progress elsewhere) and expires overdue calls at their deadline.
        """

        def refill(core: ClientCore) -> bool:
            need = limit - len(core.pending)
            return need <= 0 or (perf_counter() < until and self.send_from_hub(pick(need)))

        self._hold(until, refill, limit, pick)

    def hold(self, until: float) -> None:
        """Stay on this connection until `until` or its end while something else sends on it from the hub (the
        process's open-model pacer, users/rate_driver.py), settling overdue calls; no wake per answer."""
        self._hold(until, _stay_quiet, 0, None)

    def _hold(
        self,
        until: float,
        driven: Callable[[ClientCore], bool],
        limit: int,
        pick: Callable[[int], list[CallTemplate]] | None,
    ) -> None:
        core = self.core
        if core is None:
            raise ConnectionLost("not connected")
        timeout = self.settings.call_timeout_s
        self._driven = driven
        try:
            while core.live:
                need = limit - len(core.pending)
                if need > 0 and pick is not None:
                    self.send_calls(pick(need))
                if perf_counter() >= until:
                    break
                oldest = core.pending.oldest_sent_at()
                deadline = until if oldest is None else min(until, oldest + timeout)
                self._progress.wait(deadline, exact=True)  # once per slice: the plan's changes are on time
                if perf_counter() >= deadline:
                    self.expire_overdue()
        finally:
            self._driven = None

    def send_from_hub(
        self, templates: list[CallTemplate], intended: list[float] | None = None, room_below: int = 1 << 30
    ) -> bool:
        """Send calls from a hub callback, without blocking; False (nothing sent) when the connection is not
        open, a write is in progress elsewhere, or `room_below` calls are in flight already."""
        core = self.core
        writer = self._writer
        if core is None or not core.live or writer is None or writer.busy or writer.broken:
            return False
        if len(core.pending) >= room_below:
            return False
        now = perf_counter()
        core.send_calls(templates, now, intended)
        try:
            writer.write_from_hub(core.data_to_send(), now)
        except OSError as exc:
            core.fail(f"write failed: {how_it_ended(exc)}", perf_counter())
            self._settle(core, True)  # reports the lost calls and tears down, from a greenlet
        return True

    def drain(self, timeout_s: float | None = None) -> None:
        """Wait for every call in flight to settle, for at most `timeout_s` (default: the call timeout)."""
        core = self.core
        if core is None:
            return
        deadline = perf_counter() + (self.settings.call_timeout_s if timeout_s is None else timeout_s)
        while core.pending and self.connected:
            if perf_counter() >= deadline:
                break
            self._progress.wait(min(deadline, self._oldest_deadline()))
            self.expire_overdue()
        if core.pending and self.connected:
            core.give_up_calls(perf_counter())
            self._process(core)

    def wait_for_progress(self, timeout_s: float) -> None:
        """Wait up to `timeout_s` for any call to settle (or the connection to end), then expire overdue calls."""
        core = self.core
        if core is not None and core.pending and self.connected:
            self._progress.wait(min(perf_counter() + max(0.0, timeout_s), self._oldest_deadline()))
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
            deadline = perf_counter() + CLOSE_WAIT_S
            while core.state is not CLOSED and perf_counter() < deadline:
                self._progress.wait(deadline)
        core.fail("closed by client", perf_counter())
        self._process(core)

    # --------------------------------------------------------------- helpers
    def _oldest_deadline(self) -> float:
        core = self.core
        oldest = None if core is None else core.pending.oldest_sent_at()
        return (
            perf_counter() + self.settings.call_timeout_s if oldest is None else oldest + self.settings.call_timeout_s
        )

    def _on_write_stalled(self) -> None:
        """A write is still blocked at a deadline: settle what is overdue (the core may give the connection up).
        Nothing is written from here: the write lock is held by the blocked write."""
        core = self.core
        assert core is not None
        core.tick(perf_counter())
        events = core.events_received()
        if events:
            self._reporter.report(events)
        self._progress.notify()
        if core.state is CLOSED:
            self._teardown()  # closing the socket fails the blocked write at once

    def _on_data(self, data: bytes, in_hub: bool) -> bool:
        """Bytes read (in the hub for plain sockets): feed the core, report, wake the waiters; False once closed."""
        core = self.core
        assert core is not None
        core.receive_data(data, perf_counter())
        self._settle(core, in_hub)
        return core.state is not CLOSED

    def _on_end(self, how: str, in_hub: bool) -> None:
        """The transport ended by itself (`eof`, `reset`, an error)."""
        core = self.core
        assert core is not None
        core.receive_eof(how, perf_counter())
        self._settle(core, in_hub)

    def _settle(self, core: ClientCore, in_hub: bool) -> None:
        """After a read: report what it settled, then wake the waiters. In the hub nothing may block, so what
        might (listeners other than Locust's, writes the core wants: a pong, the close echo, a protocol's
        reply) goes to a short greenlet, and so does every later read until it is done: order is kept."""
        events = core.events_received()
        inline_safe = self._reporter.inline_safe() if events else True
        if in_hub and (self._deferred is not None or core.outgoing or core.state is CLOSED or not inline_safe):
            if self._deferred is None:
                self._deferred = []
                gevent.spawn(self._settle_deferred, core)
            self._deferred.extend(events)
            return
        if events:
            self._reporter.report(events, inline_safe)
        if self._keepalive is not None:
            self._keepalive.after_read()
        if core.outgoing or core.state is CLOSED:
            self._process(core)
        elif in_hub and self._driven is not None and self._driven(core):
            return  # the hub drives the connection: its user sleeps on
        self._progress.notify(in_hub)

    def _on_write_failed(self, exc: OSError) -> None:
        """A write the hub started failed in the greenlet finishing it."""
        core = self.core
        assert core is not None
        core.fail(f"write failed: {how_it_ended(exc)}", perf_counter())
        self._process(core)

    def _settle_deferred(self, core: ClientCore) -> None:
        """`_settle`'s work for reads made in the hub, in this greenlet, until no read waits for it."""
        while True:
            events, self._deferred = self._deferred, []
            if events:
                self._reporter.report(events)
            if self._keepalive is not None:
                self._keepalive.after_read()
            if core.outgoing or core.state is CLOSED:
                self._process(core)
            if not self._deferred:
                break
        self._deferred = None
        self._progress.notify()

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
        """The core is closed: stop reading, close the socket, stop the timers, wake every waiter."""
        self._progress.notify()
        if self._torn_down:
            return
        self._torn_down = True
        if self._reader is not None:
            self._reader.stop()  # before the socket closes
        if self._writer is not None:
            self._writer.close()
        if self._keepalive is not None:
            self._keepalive.stop()


def _stay_quiet(core: ClientCore) -> bool:
    return core.live
