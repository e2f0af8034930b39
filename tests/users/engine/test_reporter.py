"""EventReporter: each core event becomes exactly one Locust request event with Locust's keyword arguments."""

from __future__ import annotations

from gevent.event import AsyncResult

from tests.support.client_helpers import Recorder
from users.engine.reporter import CallOutcome, EventReporter
from users.wire.correlation import PendingCall
from users.wire.errors import CallTimeout, HelloRefused
from users.wire.events import ConnectionClosed, HelloAnswered, ProtocolFault, PushReceived
from users.wire.protocol import HelloOk, PushEvent


def settled(tool: str, sent_at: float, at: float, failure: object = None, waiter: object = None) -> PendingCall:
    call = PendingCall("1", tool, sent_at, waiter)
    call.settled_at, call.length, call.failure, call.result = at, 12, failure, {"r": 1}
    return call


def test_calls_are_named_per_tool_with_latency_from_send_and_wake_their_waiter() -> None:
    recorder = Recorder()
    waiter = AsyncResult()
    EventReporter(recorder, "WS").report(
        [settled("echo", 1.0, 1.25, waiter=waiter), settled("echo", 2.0, 12.0, CallTimeout())]
    )
    ok, timeout = recorder.events
    assert ok == {
        "request_type": "WS", "name": "call_tool:echo", "response_time": 250.0,
        "response_length": 12, "exception": None, "context": {},
    }  # fmt: skip
    assert timeout["response_time"] == 10_000.0 and repr(timeout["exception"]) == "timeout"
    assert waiter.get(timeout=0) == CallOutcome(True, {"r": 1}, None, 250.0)


def test_hello_push_and_fault_each_fire_once_and_a_close_fires_nothing() -> None:
    recorder = Recorder()
    EventReporter(recorder, "WS").report(
        [
            HelloAnswered(HelloOk("s", {}, []), None, 0.5),
            HelloAnswered(None, HelloRefused("token_expired"), 0.25),
            PushReceived(PushEvent("ticks", 1, 0), 30),
            PushReceived(PushEvent("ticks", 3, None), 30, "gap", 1),  # sequenced, untimed: counted, not reported
            PushReceived(PushEvent("note", None, None), 8, "unsequenced"),  # a notification: reported untimed
            ProtocolFault("late_result"),
            ConnectionClosed(1011, "overloaded", "close 1011 overloaded"),
        ]
    )
    assert [e["name"] for e in recorder.events] == ["hello", "hello", "push:ticks", "push:note", "protocol_error"]
    assert recorder.codes("hello") == [None, "token_expired"] and recorder.named("hello")[0]["response_time"] == 500.0
    assert (
        recorder.codes("protocol_error") == ["late_result"]
        and recorder.named("protocol_error")[0]["response_time"] is None
    )
