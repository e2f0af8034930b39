"""The one place client outcomes become Locust request events: connect, hello, calls, pushes, protocol errors."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from users.wire.correlation import PendingCall
from users.wire.errors import ServerProtocolError, WsFailure
from users.wire.events import CoreEvent, HelloAnswered, ProtocolFault, PushReceived
from users.wire.server_names import NameBudget, bounded_failure

logger = logging.getLogger(__name__)

RequestHook = Callable[..., Any]
"""Locust's `environment.events.request.fire` (keyword arguments as Locust's request event)."""


@dataclass(frozen=True, slots=True)
class CallOutcome:
    """What a blocking `call` returns: the result, or the failure it was reported as."""

    ok: bool
    result: Any
    failure: WsFailure | None
    latency_ms: float


class EventReporter:
    """Fires one request event per outcome with Locust's keyword arguments; wakes a blocking caller's waiter.
    Names and failure messages made of server strings go through the run's `budget` (users/wire/server_names.py)."""

    __slots__ = ("_fire", "_request_type", "_names", "_push_names", "_alone", "_log_request", "_budget")

    def __init__(self, fire: RequestHook, request_type: str, budget: NameBudget | None = None) -> None:
        self._fire = fire
        # The shortcut of users/integration: while Locust's listener is alone, a success is one log_request.
        self._alone: Callable[[], bool] | None = getattr(fire, "inline_safe", None)
        self._log_request: Callable[[str, str, float, int], None] | None = getattr(fire, "log_request", None)
        self._request_type = request_type
        self._names: dict[str, str] = {}
        self._budget = budget = NameBudget() if budget is None else budget
        self._push_names = budget.kind("push").known
        """The budget's own map of the push topics it took: one lookup per push."""

    def timed(self, name: str, seconds: float, failure: WsFailure | None, start_wall: float | None = None) -> None:
        """A connect or hello attempt that took `seconds`."""
        extra = {} if start_wall is None else {"start_time": start_wall}
        if failure is not None:
            failure = bounded_failure(failure, self._budget)
        self._fire(
            request_type=self._request_type,
            name=name,
            response_time=seconds * 1000.0,
            response_length=0,
            exception=failure,
            context={},
            **extra,
        )

    def inline_safe(self) -> bool:
        """Locust's own listener is alone on the request event: reporting never blocks (it may run in the hub)."""
        alone = self._alone
        return alone is not None and alone()

    def report(self, events: list[CoreEvent], inline_safe: bool | None = None) -> None:
        """Every event of the core, in order (ConnectionClosed fires nothing: its lost calls carry it);
        `inline_safe`, when the caller has just asked, saves asking again."""
        fire = self._fire
        request_type = self._request_type
        names = self._names
        if inline_safe is None:
            inline_safe = self.inline_safe()
        log_request = self._log_request if inline_safe else None
        for event in events:
            if event.__class__ is PendingCall:
                call: PendingCall = event  # type: ignore[assignment]
                name = names.get(call.tool)
                if name is None:
                    name = names[call.tool] = f"call_tool:{call.tool}"
                ms = (call.settled_at - call.sent_at) * 1000.0
                if log_request is not None and call.failure is None:
                    try:
                        log_request(request_type, name, ms, call.length)
                    except Exception:  # as Locust's EventHook.fire: logged, never raised into the connection
                        logger.exception("Uncaught exception in Locust's request statistics")
                else:
                    if call.failure is not None:
                        call.failure = bounded_failure(call.failure, self._budget)
                    fire(
                        request_type=request_type,
                        name=name,
                        response_time=ms,
                        response_length=call.length,
                        exception=call.failure,
                        context={},
                    )
                if call.waiter is not None:
                    call.waiter.set(CallOutcome(call.failure is None, call.result, call.failure, ms))
            else:
                self._report_other(event)

    def _report_other(self, event: CoreEvent) -> None:
        if isinstance(event, ProtocolFault):
            self._fire(
                request_type=self._request_type,
                name="protocol_error",
                response_time=None,
                response_length=0,
                exception=bounded_failure(ServerProtocolError(event.code), self._budget),
                context={},
            )
        elif isinstance(event, PushReceived):
            if not event.timed:  # a sequenced push without the server's send time: counted, not reported
                return
            topic = event.event.topic
            name = self._push_names.get(topic)
            if name is None:
                name = self._budget.push_name(topic)
            sent_at_ns = event.event.sent_at_ns or 0
            self._fire(
                request_type=self._request_type,
                name=name,
                response_time=max(0.0, (time.time_ns() - sent_at_ns) / 1e6),
                response_length=event.length,
                exception=None,
                context={},
            )
        elif isinstance(event, HelloAnswered):
            self.timed("hello", event.seconds, event.failure, time.time() - event.seconds)
