"""Deadlines kept by one greenlet or timer per process: waits woken at call deadlines, blocked writes watched.

Wake waiters at their deadlines from one greenlet per process, instead of a gevent timer per wait.

A closed-loop user waits once per call for its answer, bounded by the
deadline of its oldest call in flight. `Event.wait(timeout)` builds a gevent
`Timeout` (an exception object and a loop timer) for every wait: about a
sixth of a 200-user closed-loop worker's CPU (`python -m bench.cpu_profile
--shape 200x1`). Here a waiter registers its deadline and waits untimed; one
sweeper greenlet, alive only while someone waits, wakes those whose deadline
has passed every `resolution_s`. A deadline is therefore noticed up to
`resolution_s` late (a call timing out at 10 s is reported at 10.00-10.05 s).
"""

from __future__ import annotations

import itertools
from time import perf_counter
from typing import Any, Protocol

import gevent
from gevent.event import Event

RESOLUTION_S = 0.05
"""How often the sweeper looks at the deadlines."""


class DeadlineSweeper:
    """Untimed waits on events, each woken (set) by a shared sweeper once its deadline has passed."""

    def __init__(self, resolution_s: float = RESOLUTION_S) -> None:
        self.resolution_s = resolution_s
        self._waiting: dict[int, tuple[float, Event]] = {}
        self._keys = itertools.count()
        self._sweeper: gevent.Greenlet | None = None

    def wait(self, event: Event, deadline: float) -> None:
        """Wait until `event` is set; it is set for us once perf_counter() passes `deadline`."""
        key = next(self._keys)
        self._waiting[key] = (deadline, event)
        if self._sweeper is None:
            self._sweeper = gevent.spawn(self._sweep)
        try:
            event.wait()
        finally:
            self._waiting.pop(key, None)

    @property
    def waiting(self) -> int:
        """Waits in progress."""
        return len(self._waiting)

    def wake_due(self, now: float) -> int:
        """Set the event of every wait whose deadline is at or before `now`; how many were set."""
        due = [event for deadline, event in self._waiting.values() if deadline <= now]
        for event in due:
            event.set()
        return len(due)

    def _sweep(self) -> None:
        try:
            while self._waiting:
                gevent.sleep(self.resolution_s)
                self.wake_due(perf_counter())
        finally:
            self._sweeper = None


SWEEPER = DeadlineSweeper()
"""The process's sweeper (users share it)."""


class Stalled(Protocol):
    """A connection whose write may be blocked: `write_deadline()` is when it must be looked at (inf: not now)."""

    def write_deadline(self) -> float: ...

    def on_write_stalled(self) -> None: ...


class WriteWatch:
    """Connections with a write in progress that could not finish at once, looked at every `resolution_s` by
    one hub timer (running only while there are any): a blocked write must not hold back call deadlines."""

    def __init__(self, resolution_s: float = RESOLUTION_S) -> None:
        self.resolution_s = resolution_s
        self._writers: set[Stalled] = set()
        self._timer: Any = None

    def __len__(self) -> int:
        return len(self._writers)

    def add(self, writer: Stalled) -> None:
        """Watch `writer` until `discard`."""
        self._writers.add(writer)
        if self._timer is None:
            self._timer = gevent.get_hub().loop.timer(self.resolution_s, self.resolution_s)
            self._timer.start(self._check)

    def discard(self, writer: Stalled) -> None:
        """Stop watching `writer`."""
        self._writers.discard(writer)

    def due(self, now: float) -> list[Stalled]:
        """The watched writers whose deadline has come."""
        return [writer for writer in self._writers if writer.write_deadline() <= now]

    def _check(self) -> None:
        """Timer callback (in the hub, must not block): hand each due writer to a short greenlet."""
        if not self._writers:
            self._timer.close()
            self._timer = None
            return
        for writer in self.due(perf_counter()):
            self._writers.discard(writer)  # it adds itself back if it is still blocked
            gevent.spawn(writer.on_write_stalled)


WRITE_WATCH = WriteWatch()
"""The process's watch over blocked writes."""
