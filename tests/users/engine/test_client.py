"""ToolClient against a real reference server on loopback: every outcome is one event, counted once."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from time import perf_counter
from typing import Any

import gevent
import pytest

from reference_server.launcher import start_reference_server
from tests.support.client_helpers import Recorder, assert_identity, open_client, token, wait_until
from users.engine.client import ClientSettings, ToolClient
from users.wire.errors import ConnectFailed, HelloRefused
from users.wire.metrics import WsCounters
from users.wire.protocol import CallTemplate


@pytest.fixture(scope="module")
def server() -> Iterator[Any]:
    with start_reference_server() as running:
        yield running


def test_connect_and_hello_fire_events_with_real_latency(server: Any) -> None:
    recorder = Recorder()
    client = open_client(server, recorder)
    (connect,) = recorder.named("connect")
    (hello,) = recorder.named("hello")
    assert connect["exception"] is None and hello["exception"] is None
    assert 0 < connect["response_time"] < 5000 and 0 < hello["response_time"] < 5000
    assert client.hello_info is not None and "echo" in client.hello_info.tools
    client.close()


def test_blocking_call_returns_result_and_fires_one_event(server: Any) -> None:
    recorder = Recorder()
    client = open_client(server, recorder)
    outcome = client.call(CallTemplate("echo", {"x": [1, 2]}))
    assert outcome.ok and outcome.result == {"x": [1, 2]}
    (event,) = recorder.named("call_tool:echo")
    assert event["exception"] is None and event["response_length"] > 0
    assert event["response_time"] == pytest.approx(outcome.latency_ms)
    client.close()
    assert_identity(client)


def test_pipelined_calls_answered_out_of_order_are_matched(server: Any) -> None:
    recorder = Recorder()
    client = open_client(server, recorder)
    client.send_calls([CallTemplate("sleep", {"ms": 1000}), *[CallTemplate("echo", {"i": i}) for i in range(20)]])
    client.drain(5.0)
    echo_times = [e["response_time"] for e in recorder.named("call_tool:echo")]
    (slow,) = recorder.named("call_tool:sleep")
    assert len(echo_times) == 20 and max(echo_times) < slow["response_time"]
    assert slow["response_time"] >= 1000
    client.close()
    assert_identity(client)


def test_error_result_is_a_failure_carrying_the_code(server: Any) -> None:
    recorder = Recorder()
    client = open_client(server, recorder)
    outcome = client.call(CallTemplate("fail", {"code": "tool_failed", "message": "asked to"}))
    assert not outcome.ok and outcome.failure is not None and outcome.failure.code == "tool_failed"
    assert recorder.codes("call_tool:fail") == ["tool_failed"]
    client.call(CallTemplate("no_such_tool", {}))
    assert recorder.codes("call_tool:no_such_tool") == ["unknown_tool"]
    client.close()
    assert_identity(client)


def test_timeout_then_late_result_counts_once(server: Any) -> None:
    recorder = Recorder()
    client = open_client(server, recorder, call_timeout_s=0.2)
    outcome = client.call(CallTemplate("sleep", {"ms": 500}))
    assert outcome.failure is not None and outcome.failure.code == "timeout"
    assert 200 <= recorder.named("call_tool:sleep")[0]["response_time"] < 2000
    wait_until(lambda: client.counters.calls.late_results == 1)  # the answer arrives at ~500 ms
    assert recorder.codes("protocol_error") == ["late_result"]
    assert client.counters.calls.timeout == 1 and client.counters.calls.ok == 0
    assert len(recorder.named("call_tool:sleep")) == 1, "the late answer is not a second request event"
    client.close()
    assert_identity(client)


def test_calls_in_flight_when_the_connection_drops_are_lost(server: Any) -> None:
    recorder = Recorder()
    client = open_client(server, recorder)
    client.send_calls([CallTemplate("sleep", {"ms": 2000})] * 3)
    client._io.writer.sock.shutdown(socket.SHUT_RDWR)  # the network goes away under the client
    client.drain(5.0)
    codes = recorder.codes("call_tool:sleep")
    assert len(codes) == 3 and len(set(codes)) == 1 and str(codes[0]).startswith("connection_lost: ")
    assert not client.connected
    assert_identity(client)


def test_refused_connection_is_a_connect_failure() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, never listening: connections are refused
        recorder = Recorder()
        client = ToolClient(
            f"ws://127.0.0.1:{port}/",
            fire=recorder,
            counters=WsCounters(),
            settings=ClientSettings(connect_timeout_s=2),
        )
        with pytest.raises(ConnectFailed):
            client.connect()
    (event,) = recorder.named("connect")
    assert repr(event["exception"]).startswith("connect_failed: ConnectionRefusedError")


def test_expired_token_is_a_hello_failure_without_the_token(server: Any) -> None:
    recorder = Recorder()
    client = ToolClient(server.url, fire=recorder, counters=WsCounters(), settings=ClientSettings())
    client.connect()
    expired = token(server.jwt_secret, exp_in=-3600)
    with pytest.raises(HelloRefused) as info:
        client.hello("s", expired)
    assert info.value.code == "token_expired"
    assert recorder.codes("hello") == ["token_expired"]
    assert expired not in repr(recorder.events) and server.jwt_secret not in repr(recorder.events)
    assert not client.connected


def test_connect_hints_name_a_plain_server_and_an_unaccepted_subprotocol() -> None:
    from users.wire.errors import connect_hint

    ssl_eof = "SSLEOFError: [SSL: UNEXPECTED_EOF_WHILE_READING] EOF occurred in violation of protocol (_ssl.c:1006)"
    assert connect_hint("wss://h:1/ws", ssl_eof) == "is the server plain ws://? (then -H ws://...)"
    assert connect_hint("ws://h:1/ws", ssl_eof) == ""
    unaccepted = "bad handshake: the server chose no offered subprotocol"
    assert connect_hint("ws://h:1/", unaccepted, ["mcp"]) == (
        "the server did not accept subprotocol mcp: check --protocol"
    )
    assert connect_hint("ws://h:1/", unaccepted) == ""
    assert connect_hint("ws://h:1/", "ConnectionRefusedError: Connection refused", ["mcp"]) == ""


def test_release_ends_a_hold_at_once_and_the_next_hold_runs_its_course(server: Any) -> None:
    """The pacer (rate ended) and an Edit end a pacing user's hold with `release()`: the user returns to its task
    loop at once, not at the hold's end; a release before the next hold does not cut that one short."""
    client = open_client(server, Recorder())
    started = perf_counter()
    gevent.spawn_later(0.2, client.release)
    client.hold(started + 30.0)
    assert 0.2 <= perf_counter() - started < 5.0  # released, not held to the end
    started = perf_counter()
    client.hold(started + 0.3)
    assert perf_counter() - started >= 0.3  # the earlier release is spent
    client.close()
