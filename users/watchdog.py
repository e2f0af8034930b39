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
        self.last_beat: float | None = None
        self._reported = False

    def beat(self, now: float) -> None:
        """The hub ran its timer at `now`."""
        self.last_beat = now
        self._reported = False

    def look(self, now: float) -> float | None:
        """Seconds since the last beat when over the limit and not yet reported for this stretch; else None."""
        if self.last_beat is None or self._reported:
            return None
        late = now - self.last_beat
        if late <= self.limit_s:
            return None
        self._reported = True
        return late


_current: list[tuple[str, Any, float] | None] = [None]
"""The (label, socket, monotonic start) of the read running now, in the hub or a greenlet (one at a time)."""


@contextmanager
def reading(label: str, sock: Any) -> Iterator[None]:
    """Mark `sock` (named `label`: an origin, never a path or query) as the connection being read; only around
    work that does not yield (a greenlet waiting inside would be blamed for what others do meanwhile)."""
    previous = _current[0]
    _current[0] = (label, sock, time.monotonic())
    try:
        yield
    finally:
        _current[0] = previous


def mark(label: str, sock: Any) -> None:
    """Mark a read that starts (cheaper than `reading` for the hot path); `unmark` when it ends."""
    _current[0] = (label, sock, time.monotonic())


def unmark() -> None:
    """The read marked by `mark` has ended."""
    _current[0] = None


def current_read() -> tuple[str, Any, float] | None:
    """The (label, socket, monotonic start) of the read marked now, if any."""
    return _current[0]


def holder(now: float, last_beat: float | None, limit_s: float) -> tuple[str, Any, float] | None:
    """The marked read when it has run for over `limit_s` with no beat of the hub since it began: it holds the
    hub (not merely the one running now of many short ones, nor a read the hub ran beside); else None."""
    current = _current[0]
    if current is None or last_beat is None or current[2] < last_beat:
        return None
    return current if now - current[2] > limit_s else None


def shut_down(held: tuple[str, Any, float], now: float) -> str:
    """Shut the holding read's connection down (the read then fails and the hub runs again); what to say."""
    label, sock, since = held
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except (OSError, AttributeError):
        pass
    return (
        f"WARNING watchdog: a read of {label} has held the gevent hub for {now - since:.1f} s; connection shut down\n"
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
        dropped: tuple[str, Any, float] | None = None
        while True:
            sleep(BEAT_S)
            now = time.monotonic()
            late = check.look(now)
            if late is not None:
                os.write(2, f"WARNING watchdog: the gevent hub has not run for {late:.1f} s\n".encode())
            held = holder(now, check.last_beat, limit_s)
            if held is not None and held is not dropped:
                dropped = held
                os.write(2, shut_down(held, now).encode())

    start_thread(watch, ())
