"""Client-mode reconnect storms: at each storm moment of the plan, the selected connections drop at once."""

from __future__ import annotations

import logging
from collections.abc import Callable

import gevent

from users.engine.load_control import LoadPoint, LoadSource, selected_share

logger = logging.getLogger(__name__)

MAX_SLEEP_S = 1.0
"""Longest the dropper goes without looking at the plan again."""
PAST_EDGE_S = 0.0005
"""Sleep just past a change, so the next look sees it."""


class StormEdges:
    """Pure: tells, point after point, when a new storm epoch of a reconnect stage in one of `modes` begins.

    A stage's first epoch is its start, not a storm.
    """

    def __init__(self, modes: tuple[str, ...] = ("client",)) -> None:
        self._seen: tuple[int, int] | None = None
        self._modes = modes

    def storm_now(self, point: LoadPoint | None) -> bool:
        """True once per storm, at the first point of a new epoch in the same stage."""
        if point is None:
            self._seen = None
            return False
        key = (point.stage_index, point.storm_epoch)
        seen, self._seen = self._seen, key
        if point.storm_mode not in self._modes or point.storm_fraction <= 0:
            return False
        return seen is not None and seen[0] == key[0] and seen != key


def storm_victims(slots: list[int], point: LoadPoint) -> list[int]:
    """The slots a storm at `point` drops: `storm_fraction` of them, spread differently each epoch."""
    return [s for s in slots if selected_share(s, point.storm_epoch, point.storm_fraction)]


class StormDropper:
    """One greenlet per process: sleeps until the plan's next change and, at a storm, drops the selected users'
    connections wherever those users are (mid-call or waiting), so calls in flight become `connection_lost`,
    as in a real disconnect. Runs while users are registered."""

    def __init__(self, source: LoadSource) -> None:
        self._source = source
        self._users: dict[int, Callable[[], None]] = {}
        self._greenlet: gevent.Greenlet | None = None

    def add(self, slot: int, drop: Callable[[], None]) -> None:
        """Register the user in `slot`; `drop` ends its connection for a storm."""
        self._users[slot] = drop
        if self._greenlet is None or self._greenlet.dead:
            self._greenlet = gevent.spawn(self._run)

    def remove(self, slot: int) -> None:
        """The user in `slot` stopped."""
        self._users.pop(slot, None)

    def _run(self) -> None:
        edges = StormEdges()
        while self._users:
            point = self._source.point()
            if edges.storm_now(point):
                assert point is not None
                for slot in storm_victims(sorted(self._users), point):
                    drop = self._users.get(slot)
                    if drop is not None:
                        drop()
            wait = MAX_SLEEP_S if point is None else min(point.until_change_s, MAX_SLEEP_S)
            gevent.sleep(max(0.0, wait) + PAST_EDGE_S)
