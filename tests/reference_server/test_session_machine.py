"""The session state machine without sockets or a loop: a fake port records what it sends, time is passed in."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from reference_server.auth import hmac_verifier
from reference_server.context import ServerContext
from reference_server.counters import Counters
from reference_server.faults import Faults
from reference_server.jsonrpc import JsonRpcCodec
from reference_server.mcp import McpCodec
from reference_server.push import Hub
from reference_server.session import AWAITING_HELLO, CLOSED, HELLO_STALLED, OPEN, Session
from reference_server.toolcall import ToolcallCodec
from reference_server.tools import reference_tools
from tests.support.ws import mint_token

SECRET = "session-machine-secret-long-enough-for-hs256-0123456789"


class Timer:
    def __init__(self, due: float, callback: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.due, self.callback, self.args, self.cancelled = due, callback, args, False

    def cancel(self) -> None:
        self.cancelled = True


class FakePort:
    """The shell as the machine sees it: sends recorded as JSON, close recorded, timers fired by ``advance``."""

    def __init__(self) -> None:
        self.sent: list[Any] = []
        self.closed: tuple[int, str] | None = None
        self.clock = 1000.0
        self.timers: list[Timer] = []
        self.session: Session | None = None

    def send(self, data: bytes) -> bool:
        if self.closed is not None:
            return False
        self.sent.append(orjson.loads(data))
        return True

    def send_frames(self, frames: list[tuple[bool, bytes]]) -> bool:
        raise AssertionError("no garbage faults here")

    def close(self, code: Any, reason: str) -> None:
        if self.closed is None:
            self.closed = (int(code), reason)
            assert self.session is not None
            self.session.stop()

    def later(self, delay_s: float, callback: Callable[..., Any], *args: Any) -> Timer:
        timer = Timer(self.clock + delay_s, callback, args)
        self.timers.append(timer)
        return timer

    def spawn(self, work: Any) -> Any:
        raise AssertionError("no async tools here")

    def now(self) -> float:
        return self.clock

    def stream(self, *args: Any) -> Any:
        raise AssertionError("no streams here")

    def advance(self, seconds: float) -> None:
        """Move the clock on, firing due timers in order."""
        end = self.clock + seconds
        while True:
            due = sorted((t for t in self.timers if not t.cancelled and t.due <= end), key=lambda t: t.due)
            if not due:
                break
            timer = due[0]
            self.timers.remove(timer)
            self.clock = timer.due
            timer.callback(*timer.args)
        self.clock = end

    def take(self) -> list[Any]:
        sent, self.sent = self.sent, []
        return sent


def machine(codec: str = "toolcall", grant: frozenset[str] | None = None, **settings: Any) -> tuple[Session, FakePort]:
    ctx = ServerContext(
        loop=None,  # type: ignore[arg-type]  # the machine never touches a loop: the port does
        counters=Counters(),
        verifier=hmac_verifier(SECRET.encode()),
        tools=reference_tools(),
        hub=Hub(),
        server_info={"name": "machine", "version": "0"},
        hello_timeout_s=5.0,
        max_message_bytes=4096,
        **settings,
    )
    codecs = {
        "toolcall": ToolcallCodec(ctx.server_info, ctx.tool_names, ctx.tool_descriptions),
        "jsonrpc": JsonRpcCodec(),
        "mcp": McpCodec(ctx.server_info, ctx.tool_descriptions),
    }
    port = FakePort()
    session = Session(ctx, codecs[codec], port, grant)
    port.session = session
    session.start()
    return session, port


def text(value: Any) -> bytes:
    return orjson.dumps(value)


def hello(session: Session, **claims: Any) -> None:
    token = mint_token(SECRET, now=time.time(), **claims)
    session.on_text(text({"op": "hello", "session_id": "s1", "token": token}))


def call(session: Session, request_id: str, name: str, **arguments: Any) -> None:
    session.on_text(text({"op": "call_tool", "request_id": request_id, "name": name, "arguments": arguments}))


def test_hello_then_calls_are_answered_and_counted() -> None:
    session, port = machine()
    assert session.state is AWAITING_HELLO
    hello(session)
    assert session.state is OPEN and port.take()[0]["op"] == "hello_ok"
    call(session, "r1", "echo", x=1)
    assert port.take() == [{"op": "tool_result", "request_id": "r1", "ok": True, "result": {"x": 1}}]
    counters = session._counters
    assert (counters.hello_ok, counters.calls_received, counters.results_ok) == (1, 1, 1)


def test_the_hello_timer_refuses_a_silent_client_at_its_time() -> None:
    session, port = machine()
    port.advance(4.9)
    assert port.sent == [] and port.closed is None
    port.advance(0.2)
    assert port.take() == [{"op": "error", "code": "hello_required", "message": "no hello within 5 s"}]
    assert port.closed == (1008, "hello_required") and session.state is CLOSED
    assert session._counters.hello_refused == {"hello_required": 1}


def test_a_hello_cancels_its_timer_and_a_bad_token_is_refused() -> None:
    session, port = machine()
    hello(session)
    port.advance(60)
    assert port.closed is None and len(port.take()) == 1
    refused, port2 = machine()
    refused.on_text(text({"op": "hello", "session_id": "s", "token": "not.a.token"}))
    assert port2.take()[0]["code"] == "invalid_token" and port2.closed == (1008, "invalid_token")


def test_stall_hello_swallows_the_hello_and_everything_after_it() -> None:
    session, port = machine()
    session._ctx.set_faults(Faults(stall_hello=True))
    hello(session)
    call(session, "r1", "echo")
    session.on_binary()
    port.advance(60)
    assert session.state is HELLO_STALLED and port.sent == [] and port.closed is None
    assert session._counters.hellos_unanswered == 1


def test_a_later_answer_comes_at_its_time_and_busy_follows_it() -> None:
    session, port = machine()
    hello(session)
    port.take()
    call(session, "r1", "sleep", ms=50)
    assert port.sent == [] and session.busy
    call(session, "r1", "echo")
    assert port.take()[0]["error"]["code"] == "duplicate_request_id"
    port.advance(0.049)
    assert port.sent == []
    port.advance(0.002)
    assert port.take() == [{"op": "tool_result", "request_id": "r1", "ok": True, "result": {"slept_ms": 50}}]
    assert not session.busy


def test_the_tool_timeout_answers_at_the_timeout() -> None:
    session, port = machine(tool_timeout_s=0.01)
    hello(session)
    port.take()
    call(session, "r1", "sleep", ms=50)
    port.advance(0.011)
    answer = port.take()[0]
    assert answer["error"] == {"code": "timeout", "message": "tool ran longer than 0.01 s"}
    port.advance(1)
    assert port.sent == []


def test_the_rate_limit_refills_with_the_time_passed_in() -> None:
    session, port = machine(rate_limit=2.0)
    hello(session)
    port.take()
    for i in range(3):
        call(session, f"r{i}", "echo")
    assert [a["ok"] for a in port.take()] == [True, True, False]
    port.advance(0.5)
    call(session, "r3", "echo")
    call(session, "r4", "echo")
    answers = port.take()
    assert answers[0]["ok"] is True and answers[1]["error"]["code"] == "rate_limited"


def test_closing_counts_pending_calls_unanswered_and_cancels_their_timers() -> None:
    session, port = machine()
    hello(session)
    call(session, "r1", "sleep", ms=100)
    call(session, "r2", "sleep", ms=100)
    port.close(1000, "bye")
    assert session._counters.calls_unanswered == 2 and session.state is CLOSED
    port.advance(1)
    assert port.take()[-1]["op"] == "hello_ok"  # nothing after the close


def test_the_delay_fault_holds_answers_on_the_ports_timers() -> None:
    session, port = machine()
    hello(session)
    port.take()
    session._ctx.set_faults(Faults(delay_ms=100))
    call(session, "r1", "echo")
    assert port.sent == [] and session.busy
    port.advance(0.1)
    assert port.take()[0]["request_id"] == "r1" and session._counters.results_ok == 1


def test_jsonrpc_is_open_at_once_with_the_upgrades_grant() -> None:
    session, port = machine("jsonrpc", grant=frozenset({"echo"}))
    assert session.state is OPEN and session._counters.hello_ok == 1
    session.on_text(text({"jsonrpc": "2.0", "id": 1, "method": "echo", "params": {"a": 1}}))
    session.on_text(text({"jsonrpc": "2.0", "id": 2, "method": "sleep", "params": {"ms": 1}}))
    first, second = port.take()
    assert first == {"jsonrpc": "2.0", "id": 1, "result": {"a": 1}}
    assert second["error"]["data"]["code"] == "forbidden"
    port.advance(60)
    assert port.closed is None


@pytest.mark.parametrize("interval", [None, 1.0])
def test_mcp_pings_on_the_ports_timer_only_when_asked(interval: float | None) -> None:
    session, port = machine("mcp", grant=None, ping_interval_s=interval)
    assert session.state is AWAITING_HELLO
    init = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": "2025-06-18"}}
    session.on_text(text(init))
    assert session.state is OPEN and port.take()[0]["id"] == 0
    port.advance(2.5)
    pings = [m["id"] for m in port.take()]
    assert pings == ([] if interval is None else ["server-ping-1", "server-ping-2"])
    port.close(1000, "bye")
    port.advance(5)
    assert port.sent == []
