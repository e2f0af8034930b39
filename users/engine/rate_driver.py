"""The open model's one pacer per process: a hub timer sends every call due, round robin over the connections
of the users pacing now (k6's arrival-rate executors treat their VUs as such a pool)."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from time import perf_counter
from typing import Any, Protocol

from gevent.hub import get_hub

from users.engine.paced_sender import LATE_AFTER_S, PacedSender
from users.wire.metrics import WsCounters

logger = logging.getLogger(__name__)

PACE_TICK_S = 0.001
"""How often the driver looks for calls due (libev's epoll timers are no finer)."""
RATE_LOOK_S = 0.01
"""How often the driver asks the plan for the rate (a ramp moves on in steps this long)."""


class PacedConnection(Protocol):
    """What the driver needs of a connection (users/engine/client.py ToolClient)."""

    def send_from_hub(self, templates: list[Any], intended: list[float] | None, room_below: int) -> bool: ...


@dataclass(slots=True)
class Member:
    """One pacing user: its connection, its tool mix, how many calls its connection may hold, and its slot
    (counted among the users sending when a call goes out on it)."""

    client: PacedConnection
    pick: Callable[[int], list[Any]]
    max_in_flight: int
    slot: int = -1


class RateDriver:
    """Paces this process's share of a plan's rate over its members' connections.

    `tick(now)` is pure apart from the sends: it takes the calls due from one schedule (users/engine/paced_sender.py),
    gives each to the next member whose connection has room, and puts back what no connection could take (it
    stays due, its latency still counted from its intended time, and is skipped once hopelessly late). A hub
    timer ticks every PACE_TICK_S while there are members; with none, the schedule pauses: no backlog.
    """

    def __init__(self, max_backlog_s: float = 10.0) -> None:
        self.schedule = PacedSender(max_backlog_s)
        self._members: dict[int, Member] = {}
        self._order: list[Member] = []
        self._turn = 0
        self._rate: Callable[[], float] = lambda: 0.0
        self._rate_now = 0.0
        self._rate_looked_at = -math.inf
        self._counters = WsCounters()
        self._timer: Any = None

    def __len__(self) -> int:
        return len(self._members)

    def join(
        self,
        slot: int,
        member: Member,
        rate: Callable[[], float],
        counters: WsCounters,
        max_backlog_s: float = 10.0,
        start: bool = True,
    ) -> None:
        """`slot` paces on `member` from now on; `rate` gives this process's calls/s (looked at every
        RATE_LOOK_S; the same for every member: the last one given is used); calls more than `max_backlog_s`
        behind are skipped; `start` runs the hub timer."""
        self._rate = rate
        self._counters = counters
        self.schedule.pacer.max_backlog_s = max_backlog_s
        if self._members.get(slot) is not member:
            self._members[slot] = member
            self._order = list(self._members.values())
        if start and self._timer is None:
            self._timer = get_hub().loop.timer(PACE_TICK_S, PACE_TICK_S)
            self._timer.start(self._on_timer)

    def leave(self, slot: int) -> None:
        """`slot` no longer paces (idle, disconnected or stopped); the last one out pauses the schedule."""
        if self._members.pop(slot, None) is None:
            return
        self._order = list(self._members.values())
        if not self._members:
            self.stop()

    def stop(self) -> None:
        """No members, the schedule paused, the timer stopped."""
        self._members.clear()
        self._order = []
        self.schedule.pause()
        if self._timer is not None:
            self._timer.close()
            self._timer = None

    def tick(self, now: float) -> int:
        """Send the calls due at `now`; how many were sent."""
        order = self._order
        if not order:
            return 0
        counters = self._counters
        if now >= self._rate_looked_at + RATE_LOOK_S:
            self._rate_now = self._rate()
            self._rate_looked_at = now
        due = self.schedule.take(now, self._rate_now, len(order) * order[0].max_in_flight, counters)
        if not due:
            return 0
        members = len(order)
        turn = self._turn
        sending = counters.sending
        sent = late = 0
        for intended in due:
            for _ in range(members):
                member = order[turn % members]
                turn += 1
                if member.client.send_from_hub(member.pick(1), [intended], member.max_in_flight):
                    break
            else:
                break  # no connection has room now: the rest stays due
            sending.add(member.slot)
            sent += 1
            if now - intended > LATE_AFTER_S:
                late += 1
        self._turn = turn % members
        self.schedule.give_back(due[sent:])
        PacedSender.sent(now, due[0], sent, late, counters)
        return sent

    def _on_timer(self) -> None:
        """Hub timer callback: must not block or raise."""
        try:
            self.tick(perf_counter())
        except Exception:  # a bug must not repeat a thousand times a second: users join again on their next look
            logger.exception("the open-model pacer failed; pacing stops")
            self.stop()
