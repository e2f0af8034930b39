"""One connection as users see it: handshake (users/engine/dial.py), hello, calls, waits, closing.

Everything the connection decides lives in the pure `ClientCore` (users/wire/core.py); its I/O (reads, writes,
keepalive, what a read settles, the send policy the hub runs) is users/engine/connection.py, and its events go to the one `EventReporter`
(users/engine/reporter.py).
"""

from __future__ import annotations

import logging
import math
import ssl
import time
from collections.abc import Callable, Sequence
from time import perf_counter

import gevent
from gevent.event import AsyncResult

from users.engine.connection import ClosedLoop, ConnectionIO, Quiet, SendPolicy
from users.engine.dial import Upgraded, dial
from users.engine.reporter import CallOutcome, EventReporter, RequestHook
from users.wire.core import CLOSED, ClientCore
from users.wire.deflate import DeflateParams, ExtensionError, negotiate, offer_header
from users.wire.errors import ConnectFailed, ConnectionLost, HelloRefused, connect_hint, describe_os_error
from users.wire.frames import CLOSE_GOING_AWAY, CLOSE_NORMAL
from users.wire.metrics import WsCounters
from users.wire.protocol import CallTemplate, HelloOk
from users.wire.redirects import retry_after_s
from users.wire.settings import ClientSettings
from users.wire.tally import Tally
from users.wire.upgrade import HandshakeError, target_of

__all__ = ["CallOutcome", "ClientSettings", "RequestHook", "ToolClient"]

logger = logging.getLogger(__name__)

CLOSE_WAIT_S = 2.0


def upgrade(url: str, settings: ClientSettings, token: str | None) -> tuple[Upgraded, DeflateParams | None]:
    """The handshake (users/engine/dial.py) with what the protocol and the compression option add (a bearer token, the
    deflate offer): the upgraded connection and the deflate parameters the server accepted; ExtensionError
    (socket closed) for an answer that was not offered."""
    headers = settings.wire_protocol().upgrade_headers(token)
    offered = settings.compression == "deflate"
    upgraded = dial(url, settings, [*headers, offer_header()] if offered else headers)
    try:
        return upgraded, negotiate(upgraded.headers.get("sec-websocket-extensions"), offered)
    except ExtensionError:
        upgraded.sock.close()
        raise


def connect_failure(exc: BaseException) -> ConnectFailed:
    """The ConnectFailed a failed upgrade is reported as (a 429/503's Retry-After kept for the backoff)."""
    if isinstance(exc, HandshakeError):
        return ConnectFailed(str(exc), retry_after_s(exc.retry_after, time.time()))
    return ConnectFailed(str(exc) if isinstance(exc, ExtensionError) else describe_os_error(exc))


class ToolClient:
    """One WebSocket connection speaking hello / call_tool, firing a request event per outcome: writes in the
    caller's greenlet, one `send` per batch of calls (users/engine/sockets.py); reads feed the core as they come
    (users/engine/sockets.py) and wake whoever waits on the connection."""

    __slots__ = ("url", "settings", "counters", "core", "_reporter", "_tally", "_io", "_released")  # no __dict__

    def __init__(self, url: str, *, fire: RequestHook, counters: WsCounters, settings: ClientSettings) -> None:
        self.url = url
        self.settings = settings
        self.counters = counters
        self.core: ClientCore | None = None
        self._reporter = EventReporter(fire, settings.request_type, counters.names)
        self._tally = Tally(counters)
        """Counts what the connection does into `counters` (users/wire/tally.py)."""
        self._io: ConnectionIO | None = None
        """The open connection's I/O, from a successful handshake on."""
        self._released = False
        """`release()` was called during the current `stay`."""

    # ----------------------------------------------------------------- state
    @property
    def io(self) -> ConnectionIO | None:
        """The open connection's I/O (None before a successful handshake): the pacer sends through it."""
        return self._io

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
            upgraded, deflate = upgrade(self.url, self.settings, token)
        except (OSError, ssl.SSLError, HandshakeError, ExtensionError) as exc:
            failure = self._hinted(connect_failure(exc))
            self._tally.connect_failed()
            self._reporter.timed("connect", perf_counter() - start, failure, start_wall)
            raise failure from None
        now = perf_counter()
        core = self.core = ClientCore(self.settings, now, deflate)
        self._tally.opened()
        self._reporter.timed("connect", now - start, None, start_wall)
        label = target_of(self.url).origin
        self._io = ConnectionIO(upgraded.sock, core, self._reporter, self._tally, self.settings.ping_interval_s, label)
        if upgraded.rest:
            self._io.early_data(upgraded.rest)  # frames that came with the 101: not lost

    def _hinted(self, failure: ConnectFailed) -> ConnectFailed:
        """`failure` with its likely cause added when one is plain (users.wire.errors.connect_hint)."""
        offered = [*self.settings.subprotocols, *self.settings.wire_protocol().subprotocols]
        hint = connect_hint(self.url, failure.detail, offered)
        return ConnectFailed(f"{failure.detail}; {hint}", failure.retry_after_s) if hint else failure

    def hello(self, session_id: str, token: str) -> HelloOk:
        """Send hello and wait for its answer; fires `hello`; raises HelloRefused (and then closes)."""
        core = self.core
        if core is None or core.state is CLOSED:
            raise HelloRefused("connection_closed", "not connected")
        if not core.protocol.has_hello:
            return HelloOk(None, {}, [])  # no handshake in this protocol: OPEN already
        io = self._io
        assert io is not None
        core.send_hello(session_id, token, perf_counter())
        io.process()
        while core.hello_pending:
            io.progress.wait(core.next_deadline())
            if core.tick(perf_counter()) or core.state is CLOSED:
                io.process()
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
        io = self._io
        if io is None:
            raise ConnectionLost("not connected")
        io.send(templates, waiter, intended)

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
        core, io = self.core, self._io
        if core is None or io is None:
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
        io.progress.wait(deadline)
        if perf_counter() >= deadline:  # woken before it, nothing can be overdue: no call is older
            self.expire_overdue()

    def keep_calling(self, limit: int, pick: Callable[[int], list[CallTemplate]], until: float) -> None:
        """Closed loop until perf_counter() reaches `until` or the connection ends: keep `limit` calls in flight."""
        self.stay(ClosedLoop(limit, pick, until), until)

    def hold(self, until: float) -> None:
        """Stay on this connection until `until` or its end while something else sends on it from the hub (the
        process's open-model pacer, users/engine/pacer.py), settling overdue calls; no wake per answer."""
        self.stay(Quiet(), until)

    def stay(self, policy: SendPolicy, until: float) -> None:
        """Stay on this connection until `until` or its end while the hub runs `policy` after each read (the
        read that settles a call sends the next, no greenlet switch per call); this greenlet tops up what the
        hub could not (a write in progress elsewhere) and expires overdue calls at their deadline."""
        core, io = self.core, self._io
        if core is None or io is None:
            raise ConnectionLost("not connected")
        timeout = self.settings.call_timeout_s
        io.policy = policy
        self._released = False
        try:
            while core.live:
                policy.top_up(io)
                if perf_counter() >= until or self._released:
                    break
                oldest = core.pending.oldest_sent_at()
                deadline = until if oldest is None else min(until, oldest + timeout)
                io.progress.wait(deadline, exact=True)  # once per slice: the plan's changes are on time
                if perf_counter() >= deadline:
                    self.expire_overdue()
        finally:
            io.policy = None

    def release(self) -> None:
        """End the current `stay` (or `hold`) now, from anywhere (a hub callback too): its user looks at the plan
        and the run's options again (the pacer calls it when the rate ends, an Edit when the options change)."""
        self._released = True
        if self._io is not None:
            self._io.progress.notify()

    def drain(self, timeout_s: float | None = None) -> None:
        """Wait for every call in flight to settle, for at most `timeout_s` (default: the call timeout)."""
        core, io = self.core, self._io
        if core is None or io is None:
            return
        deadline = perf_counter() + (self.settings.call_timeout_s if timeout_s is None else timeout_s)
        while core.pending and self.connected:
            if perf_counter() >= deadline:
                break
            io.progress.wait(min(deadline, self._oldest_deadline()))
            self.expire_overdue()
        while io.settling and perf_counter() < deadline:  # what the last read settled is reported before we return
            io.progress.wait(deadline)
        if core.pending and self.connected:
            core.give_up_calls(perf_counter())
            io.process()

    def wait_for_progress(self, timeout_s: float) -> None:
        """Wait up to `timeout_s` for any call to settle (or the connection to end), then expire overdue calls."""
        core, io = self.core, self._io
        if core is not None and io is not None and core.pending and self.connected:
            io.progress.wait(min(perf_counter() + max(0.0, timeout_s), self._oldest_deadline()))
        self.expire_overdue()

    def drop(self, how: str) -> None:
        """End the connection at once, as a reconnect storm does: calls in flight become connection_lost."""
        core, io = self.core, self._io
        if core is None or io is None:
            return
        if self.connected and not io.writer.broken:
            core.close(CLOSE_GOING_AWAY, how)
        core.fail(how, perf_counter())
        io.process()

    def expire_overdue(self) -> None:
        """Settle whatever is overdue: calls (as `timeout` failures), an unanswered hello or ping."""
        core = self.core
        if core is not None and core.tick(perf_counter()):
            self._process()

    def close(self) -> None:
        """Close cleanly (close frame, wait for the server's), then settle anything left as lost."""
        core, io = self.core, self._io
        if core is None or io is None:
            return
        if self.connected and not io.writer.broken:
            core.close(CLOSE_NORMAL)
            io.process()
            deadline = perf_counter() + CLOSE_WAIT_S
            while core.state is not CLOSED and perf_counter() < deadline:
                io.progress.wait(deadline)
        core.fail("closed by client", perf_counter())
        io.process()

    # --------------------------------------------------------------- helpers
    def _oldest_deadline(self) -> float:
        core = self.core
        oldest = None if core is None else core.pending.oldest_sent_at()
        return (
            perf_counter() + self.settings.call_timeout_s if oldest is None else oldest + self.settings.call_timeout_s
        )

    def _process(self) -> None:
        if self._io is not None:
            self._io.process()
