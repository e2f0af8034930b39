"""Keeps a steady run's long-lived objects (its connections) out of the cyclic collector's full passes, which
otherwise stall the hub for a tenth of a second or more at thousands of connections: right after each full pass,
while no connection has ended lately, what survived it is frozen (`gc.freeze()`); when connections end, the heap
is thawed and the collector runs as by default."""

from __future__ import annotations

import gc
import logging
import math
import time
from collections.abc import Callable
from typing import Any

from users.engine.hub import Ticker

logger = logging.getLogger(__name__)

CHECK_S = 1.0
"""How often the process looks at its disconnects."""
CHURN_HOLD_S = 30.0
"""After a connection ended, how long the heap stays thawed (a storm every few seconds keeps the default)."""


class HeapFreezer:
    """The policy, on a `gc`-like collector (pure apart from it; time passed in).

    `after_full_collection` freezes what the collector's full pass has just left: nothing unreachable is frozen,
    only objects that were alive, and one freed by its reference count is freed frozen or not; later full passes
    look only at what is new (the collector's own rule makes them rarer still). A connection that ends may leave
    cycles among frozen objects, which only the collector frees: `look` thaws the heap as soon as the disconnects
    move, and it stays thawed until CHURN_HOLD_S pass without one."""

    __slots__ = ("_disconnects", "_gc", "_hold_s", "_seen", "_churned_at", "frozen")

    def __init__(self, disconnects: Callable[[], int], collector: Any = gc, hold_s: float = CHURN_HOLD_S) -> None:
        self._disconnects = disconnects
        self._gc = collector
        self._hold_s = hold_s
        self._seen = disconnects()
        self._churned_at = -math.inf
        self.frozen = False

    def look(self, now: float) -> None:
        """Every CHECK_S: connections ended since the last look thaw the heap."""
        seen = self._disconnects()
        if seen != self._seen:
            self._seen = seen
            self._churned_at = now
            if self.frozen:
                self._gc.unfreeze()
                self.frozen = False

    def after_full_collection(self, now: float) -> None:
        """The collector's full pass just ended: freeze what it left, unless connections ended lately."""
        if now - self._churned_at >= self._hold_s:
            self._gc.freeze()
            self.frozen = True


_started: list[Any] = []
"""The running ticker and collector callback, once started (kept referenced)."""


def start_heap_freezer(disconnects: Callable[[], int]) -> None:
    """Run a HeapFreezer on the process's disconnect count, once per process."""
    if _started:
        return
    freezer = HeapFreezer(disconnects)

    def stop(exc: Exception) -> None:
        logger.error("the heap freezer failed (%s); the collector runs as by default", exc)
        gc.unfreeze()
        ticker.stop()
        if on_collection in gc.callbacks:
            gc.callbacks.remove(on_collection)

    def look() -> None:  # a hub callback: must not raise
        try:
            freezer.look(time.monotonic())
        except Exception as exc:
            stop(exc)

    def on_collection(phase: str, info: dict[str, int]) -> None:  # the collector's callback: must not raise
        if phase == "stop" and info.get("generation") == 2:
            try:
                freezer.after_full_collection(time.monotonic())
            except Exception as exc:
                stop(exc)

    ticker = Ticker(CHECK_S, look, ref=False)  # never keeps the process alive
    ticker.start()
    gc.callbacks.append(on_collection)
    _started.extend((ticker, on_collection))
