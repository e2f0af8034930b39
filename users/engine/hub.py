"""The engine's hub timers, all of them: waits on connections, call deadlines, blocked writes, keepalive pings
and the pacer's tick (sockets' io watchers are users/engine/sockets.py; nothing else in users/ makes either).

A closed-loop user waits once per call for its answer, bounded by the
deadline of its oldest call in flight. gevent's `Event.wait(timeout)` builds a
`Timeout` (an exception object and a loop timer) for every wait, and its
`set()` wakes the waiter through a hub callback. Here a wait is a bare gevent
`Waiter` on the connection's `Progress`: the connection's read callback (in
the hub) switches straight into it, and one clock per process (`CLOCK`: a hub
ticker running only while something is due) wakes those whose deadline has
passed every RESOLUTION_S. A deadline is therefore noticed up to 50 ms late (a
call timing out at 10 s is reported at 10.00-10.05 s). Blocked writes and every
connection's keepalive pings are parts of the same clock, not a timer each.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Callable
from time import perf_counter
from typing import Any, Protocol

import gevent
from gevent.hub import Waiter, get_hub

RESOLUTION_S = 0.05
"""How often the process's clock (HubClock) looks at call deadlines, blocked writes and pings."""


class Ticker:
    """A repeating hub timer that runs only between `start` and `stop` (its callback runs in the hub: it must not
    block or raise); `ref` False never keeps the process alive."""

    __slots__ = ("interval_s", "_callback", "_timer", "_ref")

    def __init__(self, interval_s: float, callback: Callable[[], None], ref: bool = True) -> None:
        self.interval_s = interval_s
        self._callback = callback
        self._timer: Any = None
        self._ref = ref

    @property
    def running(self) -> bool:
        return self._timer is not None

    def start(self) -> None:
        """Run every `interval_s` from now (already running: nothing changes)."""
        if self._timer is None:
            self._timer = get_hub().loop.timer(self.interval_s, self.interval_s, ref=self._ref)
            self._timer.start(self._callback)

    def stop(self) -> None:
        """No more callbacks until `start`."""
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.close()


def wake(waiter: Waiter) -> None:
    """Resume `waiter`'s greenlet: at once from the hub (a read or timer callback), else at the hub's next turn.
    A waiter already resumed, or not yet waiting, only keeps the value (gevent's `Waiter`), so waking twice is
    harmless."""
    hub = get_hub()
    if gevent.getcurrent() is hub:
        waiter.switch(None)
    else:
        hub.loop.run_callback(waiter.switch, None)


class HubClock:
    """One hub ticker every `resolution_s` for the engine's coarse deadlines: call and wait deadlines, blocked
    writes and keepalive pings are parts of it, each looked at on every tick; it runs only while a part has work
    (a part's `tick(now)` says whether it still has)."""

    def __init__(self, resolution_s: float = RESOLUTION_S) -> None:
        self.resolution_s = resolution_s
        self._parts: list[Callable[[float], bool]] = []
        self._ticker = Ticker(resolution_s, self._tick)

    @property
    def running(self) -> bool:
        return self._ticker.running

    def attach(self, part: Callable[[float], bool]) -> None:
        """Look at `part` on every tick from now on."""
        self._parts.append(part)

    def start(self) -> None:
        """A part has work: tick (already ticking: nothing changes)."""
        self._ticker.start()

    def stop(self) -> None:
        """No ticks until the next `start`."""
        self._ticker.stop()

    def _tick(self) -> None:
        now = perf_counter()
        busy = False
        for part in self._parts:
            busy = part(now) or busy
        if not busy:
            self._ticker.stop()


CLOCK = HubClock()
"""The process's clock for coarse deadlines (the sweeper, the write watch and the ping clock share it)."""


class DeadlineSweeper:
    """Deadlines of waits in progress; the clock (ticking only while there are any) wakes those that passed."""

    def __init__(self, clock: HubClock | None = None) -> None:
        self.clock = clock if clock is not None else HubClock()
        self._waiting: dict[Waiter, float] = {}
        self.clock.attach(self._check)

    @property
    def waiting(self) -> int:
        """Waits with a deadline in progress."""
        return len(self._waiting)

    def add(self, deadline: float, waiter: Waiter) -> None:
        """Wake `waiter` once perf_counter() passes `deadline` (until `discard`)."""
        self._waiting[waiter] = deadline
        self.clock.start()

    def discard(self, waiter: Waiter) -> None:
        """Forget a wait (it ended)."""
        self._waiting.pop(waiter, None)

    def wake_due(self, now: float) -> int:
        """Wake (and forget) every wait whose deadline is at or before `now`; how many."""
        waiting = self._waiting
        due = [waiter for waiter, deadline in waiting.items() if deadline <= now]
        for waiter in due:
            del waiting[waiter]
            wake(waiter)
        return len(due)

    def _check(self, now: float) -> bool:
        """Clock part (in the hub): wake the due waits; whether any wait is left."""
        if self._waiting:
            self.wake_due(now)
        return bool(self._waiting)


SWEEPER = DeadlineSweeper(CLOCK)
"""The process's sweeper (connections share it)."""


class Progress:
    """Greenlets waiting for something to change on one connection: woken all at once by `notify`, each also
    at its own deadline."""

    __slots__ = ("_waiters", "_sweeper")

    def __init__(self, sweeper: DeadlineSweeper = SWEEPER) -> None:
        self._waiters: list[Waiter] = []
        self._sweeper = sweeper

    def __len__(self) -> int:
        return len(self._waiters)

    def wait(self, deadline: float = math.inf, exact: bool = False) -> None:
        """Block this greenlet until `notify()`, or until perf_counter() passes `deadline` (inf: no deadline):
        within the sweeper's resolution, or `exact`ly (a timer of its own: for waits that are not per call).
        Callers look again at what they wait for: a wake says only that something may have changed."""
        waiter = Waiter()
        waiters = self._waiters
        waiters.append(waiter)
        timer: Any = None
        timed = deadline != math.inf
        if timed:
            if exact:
                loop = get_hub().loop
                loop.update_now()  # libev counts a timer from the loop's cached time, which may be behind
                timer = loop.timer(max(0.0, deadline - perf_counter()))
                timer.start(waiter.switch, None)
            else:
                self._sweeper.add(deadline, waiter)
        try:
            waiter.get()
        finally:
            if timer is not None:
                timer.close()
            elif timed:
                self._sweeper.discard(waiter)
            if waiters is self._waiters and waiter in waiters:  # not woken by notify (which takes the list)
                waiters.remove(waiter)

    def notify(self, in_hub: bool = False) -> None:
        """Wake every greenlet waiting now (`in_hub`: the caller is a hub callback, so each is switched to at
        once)."""
        waiters = self._waiters
        if waiters:
            self._waiters = []
            for waiter in waiters:
                if in_hub:
                    waiter.switch(None)
                else:
                    wake(waiter)


class Stalled(Protocol):
    """A connection whose write may be blocked: `write_deadline()` is when it must be looked at (inf: not now)."""

    def write_deadline(self) -> float: ...

    def on_write_stalled(self) -> None: ...


class WriteWatch:
    """Connections with a write in progress that could not finish at once, looked at on every tick of the clock
    (ticking only while there are any): a blocked write must not hold back call deadlines."""

    def __init__(self, clock: HubClock | None = None) -> None:
        self.clock = clock if clock is not None else HubClock()
        self._writers: set[Stalled] = set()
        self.clock.attach(self._check)

    def __len__(self) -> int:
        return len(self._writers)

    def add(self, writer: Stalled) -> None:
        """Watch `writer` until `discard`."""
        self._writers.add(writer)
        self.clock.start()

    def discard(self, writer: Stalled) -> None:
        """Stop watching `writer`."""
        self._writers.discard(writer)

    def due(self, now: float) -> list[Stalled]:
        """The watched writers whose deadline has come."""
        return [writer for writer in self._writers if writer.write_deadline() <= now]

    def _check(self, now: float) -> bool:
        """Clock part (in the hub, must not block): hand each due writer to a short greenlet; whether any writer
        is still watched (one handed over adds itself back if it is still blocked)."""
        for writer in self.due(now):
            self._writers.discard(writer)
            gevent.spawn(writer.on_write_stalled)
        return bool(self._writers)


WRITE_WATCH = WriteWatch(CLOCK)
"""The process's watch over blocked writes."""


class Ping:
    """One connection's place on the ping clock: `callback` runs every `interval_s` until `cancel`."""

    __slots__ = ("interval_s", "callback", "cancelled", "_on_cancel")

    def __init__(self, interval_s: float, callback: Callable[[], None], on_cancel: Callable[[], None]) -> None:
        self.interval_s = interval_s
        self.callback = callback
        self.cancelled = False
        self._on_cancel = on_cancel

    def cancel(self) -> None:
        """No more calls: the clock drops it at its turn, or sooner when cancelled places fill half its heap."""
        if not self.cancelled:
            self.cancelled = True
            self._on_cancel()


class PingClock:
    """Every connection's keepalive on the process's clock (not a timer per connection): a heap of (due, order,
    Ping), each callback run within the clock's resolution of its time, then due again one interval on (a clock
    that fell behind runs each callback once, not once per interval missed)."""

    def __init__(self, clock: HubClock | None = None) -> None:
        self.clock = clock if clock is not None else HubClock()
        self._heap: list[tuple[float, int, Ping]] = []
        self._order = itertools.count()
        self._cancelled = 0
        """Cancelled places still in the heap: more than half of it, and the heap is rebuilt without them (a
        churning run would otherwise hold up to churn rate x interval stale places, and keep the clock ticking)."""
        self.clock.attach(self._check)

    def __len__(self) -> int:
        return len(self._heap)

    def every(self, interval_s: float, callback: Callable[[], None], now: float) -> Ping:
        """Run `callback` (in the hub: it must not block) every `interval_s` from `now` on, until cancelled."""
        ping = Ping(interval_s, callback, self._forget)
        heapq.heappush(self._heap, (now + interval_s, next(self._order), ping))
        self.clock.start()
        return ping

    def run_due(self, now: float) -> int:
        """Run every callback due at `now` and set its next time; cancelled ones are dropped. How many ran."""
        heap = self._heap
        ran = 0
        while heap and heap[0][0] <= now:
            due, _, ping = heapq.heappop(heap)
            if ping.cancelled:
                self._cancelled -= 1
                continue
            following = due + ping.interval_s
            heapq.heappush(heap, (following if following > now else now + ping.interval_s, next(self._order), ping))
            ping.callback()
            ran += 1
        return ran

    def _forget(self) -> None:
        """A place was cancelled: once cancelled places are more than half the heap, rebuild it without them."""
        self._cancelled += 1
        heap = self._heap
        if self._cancelled * 2 > len(heap):
            heap[:] = [entry for entry in heap if not entry[2].cancelled]
            heapq.heapify(heap)
            self._cancelled = 0

    def _check(self, now: float) -> bool:
        """Clock part: run what is due; whether any ping is left."""
        self.run_due(now)
        return bool(self._heap)


PING_CLOCK = PingClock(CLOCK)
"""The process's keepalive clock (connections share it)."""
