"""The open model's one pacer per process: it follows the plan's rate (times this process's share), owns the one
schedule, and a hub tick sends every call due, round robin over the connections of the users pacing now (k6's
arrival-rate executors treat their VUs as such a pool)."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from time import perf_counter
from typing import Any, Protocol

from users.engine.hub import Ticker
from users.engine.load_control import LoadSource, RatePacer, RateShare
from users.wire.metrics import WsCounters

logger = logging.getLogger(__name__)

PACE_TICK_S = 0.001
"""How often the pacer looks for calls due (libev's epoll timers are no finer)."""
RATE_LOOK_S = 0.01
"""How often the pacer looks at the plan's rate (a ramp moves on in steps this long)."""
LATE_AFTER_S = 0.010
"""A paced call sent more than this after its intended time counts as sent late."""


class HubSend(Protocol):
    """How the pacer sends on a connection: users/engine/connection.py `ConnectionIO.send_from_hub` (False:
    nothing sent, the connection is not open, a write is in progress or `room_below` calls are in flight)."""

    def __call__(self, templates: list[Any], intended: list[float] | None, room_below: int) -> bool: ...


@dataclass(slots=True)
class Member:
    """One pacing user: its connection (`client`, for identity) and how to send on it, its tool mix, how many
    calls its connection may hold, its slot (counted among the users sending when a call goes out on it), and
    how to wake it (its user holds the connection while the pacer sends: `wake` ends that hold, when the rate ends
    or an Edit changes the run's options)."""

    client: object
    send: HubSend
    pick: Callable[[int], list[Any]]
    max_in_flight: int
    slot: int = -1
    wake: Callable[[], None] = lambda: None


@dataclass(frozen=True, slots=True)
class PlanRate:
    """The calls/s a process paces: its share of the plan's rate now (0 outside rate stages). The pacer reads it;
    nothing of a user is called back."""

    plan: LoadSource
    share: RateShare

    def __call__(self) -> float:
        point = self.plan.point()
        rate = point.rate if point is not None else None
        return self.share.process_rate(rate) if rate else 0.0


def no_rate() -> float:
    """The rate of a pacer that follows no plan yet."""
    return 0.0


class Pacer:
    """Paces this process's share of a plan's rate over its members' connections.

    `tick(now)` is pure apart from the sends: it takes the calls due from the schedule (a RatePacer), gives each
    to the next member whose connection has room, and puts back what no connection could take (it stays due, its
    latency still counted from its intended time, and is skipped once more than `max_backlog_s` late: a call that
    late would time out anyway). A hub ticker runs every PACE_TICK_S while there are members; with none, the
    schedule pauses: no backlog.
    """

    def __init__(self, counters: WsCounters | None = None, max_backlog_s: float = 10.0) -> None:
        self.schedule = RatePacer(max_backlog_s=max_backlog_s)
        self.counters = counters if counters is not None else WsCounters()
        self._rate: Callable[[], float] = no_rate
        self._rate_now = 0.0
        self._rate_looked_at = -math.inf
        self._members: dict[int, Member] = {}
        self._order: list[Member] = []
        self._turn = 0
        self._skipped_seen = 0
        self._ticker = Ticker(PACE_TICK_S, self._on_tick)

    def __len__(self) -> int:
        return len(self._members)

    def follow(self, rate: Callable[[], float], counters: WsCounters, max_backlog_s: float) -> None:
        """Pace what `rate` says (this process's calls/s now, e.g. PlanRate), counting into `counters`
        (a new run's); calls more than `max_backlog_s` behind are skipped."""
        self._rate = rate
        self.counters = counters
        self.schedule.max_backlog_s = max_backlog_s

    def join(self, slot: int, member: Member, start: bool = True) -> None:
        """`slot` paces on `member` from now on; `start` runs the hub ticker."""
        if self._members.get(slot) is not member:
            self._members[slot] = member
            self._order = list(self._members.values())
        if start:
            self._ticker.start()

    def leave(self, slot: int) -> None:
        """`slot` no longer paces (idle, disconnected or stopped); the last one out pauses the schedule."""
        if self._members.pop(slot, None) is None:
            return
        self._order = list(self._members.values())
        if not self._members:
            self.stop()

    def wake_all(self) -> None:
        """Wake every pacing user now (each ends its hold and looks at the plan and the options again)."""
        for member in self._order:
            member.wake()

    def stop(self) -> None:
        """No members, the schedule paused, the ticker stopped."""
        self._members.clear()
        self._order = []
        self.schedule.pause()
        self._ticker.stop()

    def next_due(self) -> float:
        """The intended time of the next call (inf when paused)."""
        return self.schedule.next_due()

    def tick(self, now: float) -> int:
        """Send the calls due at `now`; how many were sent."""
        order = self._order
        if not order:
            return 0
        due = self._take(now, len(order) * order[0].max_in_flight)
        if not due:
            return 0
        members = len(order)
        turn = self._turn
        sending = self.counters.sending
        sent = late = 0
        for intended in due:
            for _ in range(members):
                member = order[turn % members]
                turn += 1
                if member.send(member.pick(1), [intended], member.max_in_flight):
                    break
            else:
                break  # no connection has room now: the rest stays due
            sending.add(member.slot)
            sent += 1
            if now - intended > LATE_AFTER_S:
                late += 1
        self._turn = turn % members
        if sent < len(due):
            self.schedule.rewind(due[sent])
        self._count_sent(now, due[0], sent, late)
        return sent

    def _take(self, now: float, limit: int) -> list[float]:
        """Intended times of the calls due at `now` (at most `limit`), the rate looked at every RATE_LOOK_S;
        calls skipped as hopelessly late go into the counters."""
        if now >= self._rate_looked_at + RATE_LOOK_S:
            rate = self._rate()
            if not rate and self._rate_now:  # the plan left its rate stage (or was replaced): users look again now
                self.wake_all()
            self._rate_now = rate
            self._rate_looked_at = now
        schedule = self.schedule
        schedule.set_rate(self._rate_now, now)
        due = schedule.take_due(now, limit)
        if schedule.skipped != self._skipped_seen:
            self.counters.calls_skipped += schedule.skipped - self._skipped_seen
            self._skipped_seen = schedule.skipped
        return due

    def _count_sent(self, now: float, first: float, count: int, late: int) -> None:
        """`count` calls sent at `now`, the oldest intended at `first`, `late` of them more than LATE_AFTER_S
        behind: the worst lag and the late calls go into the counters."""
        if count:
            counters = self.counters
            lag_ms = (now - first) * 1000.0
            if lag_ms > counters.schedule_lag_ms:
                counters.schedule_lag_ms = lag_ms
            counters.calls_sent_late += late

    def _on_tick(self) -> None:
        """Hub ticker callback: must not block or raise."""
        try:
            self.tick(perf_counter())
        except Exception:  # a bug must not repeat a thousand times a second: users join again on their next look
            logger.exception("the open-model pacer failed; pacing stops")
            self.stop()
