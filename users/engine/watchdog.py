"""Notices a starved gevent hub from an OS thread: says which connection was being read, and shuts that one down.

A hub timer beats every `BEAT_S`; an OS thread (not a greenlet: it runs while the hub is stuck) checks the
beat. Reads mark the connection they read (`CURRENT`, `reading`), so when one read has held the hub for
`STARVED_AFTER_S` the thread names it on stderr and shuts its socket down: the read that never yields then fails, the hub runs
again, and -t, SIGTERM and Ctrl+C are honoured.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from gevent import monkey

from users.engine.hub import Ticker

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


Mark = tuple[str, Any]
"""(label, socket) of a connection: made once per connection, so marking a read is one store, no clock read."""
CURRENT: list[Mark | None] = [None]
"""The connection whose read runs now, in the hub or a greenlet (one at a time); set and cleared by the reader."""


@contextmanager
def reading(label: str, sock: Any) -> Iterator[None]:
    """Mark `sock` (named `label`: an origin, never a path or query) as the connection being read; only around
    work that does not yield (a greenlet waiting inside would be blamed for what others do meanwhile)."""
    previous = CURRENT[0]
    CURRENT[0] = (label, sock)
    try:
        yield
    finally:
        CURRENT[0] = previous


class HolderCheck:
    """Pure: fed what is marked at each look, with the hub's last beat and the time; returns the mark once it
    has stayed marked, with no beat of the hub, for over `limit_s`: that read holds the hub (a hub reads each
    connection at most once per loop, and beats once per loop)."""

    def __init__(self, limit_s: float = STARVED_AFTER_S) -> None:
        self.limit_s = limit_s
        self._seen: Mark | None = None
        self._since = 0.0
        self._beat: float | None = None

    def look(self, current: Mark | None, last_beat: float | None, now: float) -> Mark | None:
        """The holding mark (once), or None."""
        if current is None or current is not self._seen or last_beat != self._beat:
            self._seen, self._since, self._beat = current, now, last_beat
            return None
        if now - self._since < self.limit_s:
            return None
        self._seen = None  # said once; a new sighting starts over
        return current


def shut_down(held: Mark, late_s: float) -> str:
    """Shut the holding read's connection down (the read then fails and the hub runs again); what to say."""
    label, sock = held
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except (OSError, AttributeError):
        pass
    return f"WARNING watchdog: a read of {label} has held the gevent hub for {late_s:.1f} s; connection shut down\n"


_started: list[Any] = []
"""The running beat timer, once started (kept referenced)."""


def start_watchdog(limit_s: float = STARVED_AFTER_S) -> None:
    """Start the hub's beat and the watching OS thread, once per process."""
    if _started:
        return
    check = StarvationCheck(limit_s)
    holders = HolderCheck(limit_s)
    check.beat(time.monotonic())
    beat = Ticker(BEAT_S, lambda: check.beat(time.monotonic()), ref=False)  # never keeps the process alive
    beat.start()
    _started.append(beat)
    start_thread = monkey.get_original("_thread", "start_new_thread")
    sleep = monkey.get_original("time", "sleep")

    def watch() -> None:
        while True:
            sleep(BEAT_S)
            now = time.monotonic()
            late = check.look(now)
            if late is not None:
                os.write(2, f"WARNING watchdog: the gevent hub has not run for {late:.1f} s\n".encode())
            held = holders.look(CURRENT[0], check.last_beat, now)
            if held is not None:
                os.write(2, shut_down(held, now - (check.last_beat or now)).encode())

    start_thread(watch, ())
