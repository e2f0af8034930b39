"""Wake waiters at their deadlines from one greenlet per process, instead of a gevent timer per wait.

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
