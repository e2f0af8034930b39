"""Connection churn (--session-calls N): a session makes N calls on its connection, then closes it with 1000."""

from __future__ import annotations

from collections.abc import Callable
from time import perf_counter
from typing import TYPE_CHECKING, Any, ClassVar

import gevent
from gevent import GreenletExit
from locust.env import Environment

from users.engine.client import ClientSettings, ToolClient
from users.engine.load_control import LoadSource
from users.engine.pacer import LATE_AFTER_S
from users.integration import request_fire
from users.load.options import DEFAULTS
from users.load.tool_mix import ToolMix
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


def end_session(client: ToolClient, counters: WsCounters, fire: Callable[..., Any], request_type: str) -> None:
    """Close a finished session with 1000 (not a failure: its user connects again at once, without backoff),
    count it and report its duration, from the handshake to the close, as the request `session`."""
    client.close()
    counters.sessions += 1
    fire(
        request_type=request_type,
        name=SESSION_NAME,
        response_time=client.lived_s * 1000.0,
        response_length=0,
        exception=None,
        context={},
    )


class SessionChurn:
    """ToolCallUser's part in connection churn: the `session_calls` attribute and one slice of a session."""

    session_calls: int = DEFAULTS["session_calls"]
    """Calls per connection before it closes with 1000 and the user connects again; 0 keeps it (--session-calls)."""
    _session: SessionBudget | None = None
    # ToolCallUser's, used here
    load_plan: ClassVar[LoadSource | None]
    runtime: Runtime
    client: ToolClient | None
    in_flight: int
    mix: ToolMix
    counters: WsCounters
    environment: Environment
    settings: ClientSettings
    _zero_wait: bool
    _was_connected: bool
    open_connection: Callable[[], bool]

    def _session_rate(self) -> tuple[float, Any]:
        """The plan's sessions/s now (0 outside churn stages) and the point it comes from."""
        point = self.load_plan.point() if self.load_plan is not None else None
        return (getattr(point, "session_rate", None) or 0.0) if point is not None else 0.0, point

    def _churning(self) -> bool:
        """Connections are sessions that end after their calls: with --session-calls, or in a churn stage."""
        return bool(self.session_calls) or self._session_rate()[0] > 0

    def _churn(self, client: ToolClient, slice_s: float) -> None:
        """This slice's calls of the connection's session; a finished session closes with 1000 and the next one
        opens at once (in a churn stage, at its scheduled start): a new session, not a reconnect, no backoff."""
        budget = self._session
        if budget is None or budget.client is not client:
            budget = self._session = SessionBudget(client, self.session_calls or 1, self.mix.pick)
        if run_session(budget, self.in_flight, perf_counter() + slice_s, None if self._zero_wait else 1):
            end_session(client, self.counters, request_fire(self.environment), self.settings.request_type)
            self.client = self._session = None
            self._was_connected = False
            self._wait_for_start()
            self._open_next_session()

    def _wait_for_start(self) -> None:
        """In a churn stage, wait for the start this user claims of the process's schedule (users/load/session_clock.py);
        one more than 10 ms past it is counted late. Outside churn stages (also once the plan leaves one while
        this user waits for a start to claim), return at once."""
        while True:
            rate, point = self._session_rate()
            if rate <= 0:
                return
            now = perf_counter()
            process_rate = self.runtime.share.process_rate(rate)
            due = self.runtime.session_clock.claim(point.stage_index, process_rate, now, now + point.until_change_s)
            if due is not None:
                break
            gevent.sleep(min(point.until_change_s, WAIT_FOR_START_S) + 0.0001)  # just past the stage's end
        if due > now:
            gevent.sleep(due - now)
        if perf_counter() - due > LATE_AFTER_S:
            self.counters.sessions_late += 1

    def _open_next_session(self) -> None:
        """Open the next session in a greenlet of its own: a stop that lands meanwhile waits for it (bounded by the
        connect and hello timeouts) and closes it with 1000, so the server never counts a connection or a hello
        the client did not."""
        opener = gevent.spawn(self.open_connection)
        try:
            opener.get()
        except GreenletExit:
            opener.join(self.settings.connect_timeout_s + self.settings.hello_timeout_s)
            client, self.client = self.client, None
            if client is not None:
                client.close()
            raise
