"""Notices a starved gevent hub from an OS thread: says which connection was being read, and shuts that one down.

A hub timer beats every `BEAT_S`; an OS thread (not a greenlet: it runs while the hub is stuck) checks the
beat. Reads mark the connection they read (`reading`), so when the hub has not beaten for `STARVED_AFTER_S`
the thread names it on stderr and shuts its socket down: the read that never yields then fails, the hub runs
again, and -t, SIGTERM and Ctrl+C are honoured.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import gevent
from gevent import monkey

STARVED_AFTER_S = 1.0
"""A hub that has not run its timers this long is starved."""
BEAT_S = 0.25
"""How often the hub beats and the thread looks."""


class StarvationCheck:
    """Pure: fed the hub's beats and the thread's looks (times passed in); a look returns the seconds the hub
    has been starved, once per starved stretch."""

    def __init__(self, limit_s: float = STARVED_AFTER_S) -> None:
        self.limit_s = limit_s
        self._last_beat: float | None = None
        self._reported = False

    def beat(self, now: float) -> None:
        """The hub ran its timer at `now`."""
        self._last_beat = now
        self._reported = False

    def look(self, now: float) -> float | None:
        """Seconds since the last beat when over the limit and not yet reported for this stretch; else None."""
        if self._last_beat is None or self._reported:
            return None
        late = now - self._last_beat
        if late <= self.limit_s:
            return None
        self._reported = True
        return late


_current: list[tuple[str, Any] | None] = [None]
"""The (label, socket) being read now, in the hub or a greenlet (one at a time: the hub runs one thing)."""


@contextmanager
def reading(label: str, sock: Any) -> Iterator[None]:
    """Mark `sock` (named `label`: an origin, never a path or query) as the connection being read."""
    previous = _current[0]
    _current[0] = (label, sock)
    try:
        yield
    finally:
        _current[0] = previous


def mark(label: str, sock: Any) -> None:
    """Mark a read that starts (cheaper than `reading` for the hot path); `unmark` when it ends."""
    _current[0] = (label, sock)


def unmark() -> None:
    """The read marked by `mark` has ended."""
    _current[0] = None


def report(late_s: float) -> str:
    """What the thread says about a starved hub, shutting down the connection being read if one is marked."""
    current = _current[0]
    if current is None:
        return f"WARNING watchdog: the gevent hub has not run for {late_s:.1f} s (no connection was being read)\n"
    label, sock = current
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except (OSError, AttributeError):
        pass
    return (
        f"WARNING watchdog: the gevent hub has not run for {late_s:.1f} s while reading {label}; "
        "that connection was shut down\n"
    )


_started: list[Any] = []
"""The running beat timer, once started (kept referenced)."""


def start_watchdog(limit_s: float = STARVED_AFTER_S) -> None:
    """Start the hub's beat and the watching OS thread, once per process."""
    if _started:
        return
    check = StarvationCheck(limit_s)
    check.beat(time.monotonic())
    timer = gevent.get_hub().loop.timer(BEAT_S, BEAT_S, ref=False)  # never keeps the process alive
    timer.start(lambda: check.beat(time.monotonic()))
    _started.append(timer)
    start_thread = monkey.get_original("_thread", "start_new_thread")
    sleep = monkey.get_original("time", "sleep")

    def watch() -> None:
        while True:
            sleep(BEAT_S)
            late = check.look(time.monotonic())
            if late is not None:
                os.write(2, report(late).encode())

    start_thread(watch, ())
