"""Connection churn (--session-calls N, churn stages): a session's calls, and when the next session may start."""

from __future__ import annotations

from collections.abc import Callable
from time import perf_counter
from typing import TYPE_CHECKING

import gevent

from users.engine.client import ToolClient
from users.engine.load_control import LoadPoint, LoadSource
from users.engine.pacer import LATE_AFTER_S
from users.wire.metrics import WsCounters
from users.wire.protocol import CallTemplate

if TYPE_CHECKING:
    from users.load.runtime import Runtime

WAIT_FOR_START_S = 1.0
"""Longest a user waiting for a start to claim goes without looking at the plan again."""
SESSION_NAME = "session"
"""The request name a finished session is reported as; its response time is the session's duration."""


class SessionBudget:
    """The calls one connection may still send: N in all, counted as they are picked."""

    __slots__ = ("client", "calls", "sent", "_pick")

    def __init__(self, client: ToolClient, calls: int, pick: Callable[[int], list[CallTemplate]]) -> None:
        self.client = client
        self.calls = calls
        self.sent = 0
        self._pick = pick

    def pick(self, count: int) -> list[CallTemplate]:
        """Up to `count` calls of the mix, never more than the session has left; counted as sent."""
        templates = self._pick(min(count, self.calls - self.sent))
        self.sent += len(templates)
        return templates

    def limit(self, in_flight: int) -> int:
        """The in-flight limit that sends no call past the session's N: what is in flight plus what may go now."""
        pending = self.client.in_flight
        return pending + max(0, min(in_flight - pending, self.calls - self.sent))

    @property
    def finished(self) -> bool:
        """Every call of the session was sent and has settled."""
        return self.sent >= self.calls and self.client.in_flight == 0


def run_session(budget: SessionBudget, in_flight: int, until: float, rounds: int | None = None) -> bool:
    """Keep up to `in_flight` of the session's calls outstanding until `until` (or `rounds` waits, for a user
    with a think time); True once the session has made all its calls and they settled."""
    client = budget.client
    while not budget.finished:
        if not client.connected or perf_counter() >= until or rounds == 0:
            return False
        client.keep_in_flight(budget.limit(in_flight), budget.pick, max(0.0, until - perf_counter()))
        rounds = None if rounds is None else rounds - 1
    return True


def session_rate(plan: LoadSource | None) -> tuple[float, LoadPoint | None]:
    """The plan's sessions/s now (0 outside churn stages) and the point it comes from."""
    point = plan.point() if plan is not None else None
    return (getattr(point, "session_rate", None) or 0.0) if point is not None else 0.0, point


def wait_for_start(plan: LoadSource | None, runtime: Runtime, counters: WsCounters) -> None:
    """In a churn stage, wait for the start this user claims of the process's schedule (users/load/session_clock.py);
    one more than 10 ms past it is counted late. Outside churn stages (also once the plan leaves one while this
    user waits for a start to claim), return at once."""
    while True:
        rate, point = session_rate(plan)
        if rate <= 0 or point is None:
            return
        now = perf_counter()
        process_rate = runtime.share.process_rate(rate)
        due = runtime.session_clock.claim(point.stage_index, process_rate, now, now + point.until_change_s)
        if due is not None:
            break
        gevent.sleep(min(point.until_change_s, WAIT_FOR_START_S) + 0.0001)  # just past the stage's end
    if due > now:
        gevent.sleep(due - now)
    if perf_counter() - due > LATE_AFTER_S:
        counters.sessions_late += 1
