"""ToolClient against a misbehaving reference server: every fault is a counted, named failure, and nothing is lost."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator

import psutil
import pytest

from reference_server.launcher import RunningServer, start_reference_server
from tests.support.client_helpers import Recorder, assert_identity, open_client, wait_until
from users.wire.protocol import CallTemplate


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    with start_reference_server() as running:
        yield running


@pytest.fixture
def faults(server: RunningServer) -> Iterator[None]:
    server.control("/control/faults/reset", {})
    yield
    server.control("/control/faults/reset", {})


# kind -> (protocol_error code, whether the connection survives, how the call settles)
GARBAGE = {
    "not_json": ("bad_json", True, "timeout"),
    "not_object": ("not_an_object", True, "timeout"),
    "missing_request_id": ("missing_request_id", True, "timeout"),
    "unknown_request_id": ("unknown_request_id", True, "timeout"),
    "duplicate_result": ("duplicate_result", True, None),
    "binary_frame": ("binary_frame", True, "timeout"),
    "invalid_utf8": ("invalid_utf8", False, "connection_lost: framing error 1007"),
    "oversize": ("oversize_message", False, "connection_lost: framing error 1009"),
}


@pytest.mark.parametrize("kind", sorted(GARBAGE))
def test_each_malformed_answer_has_its_own_code_and_policy(server: RunningServer, faults: None, kind: str) -> None:
    code, stays_open, settles_as = GARBAGE[kind]
    server.control("/control/faults", {"garbage_fraction": 1.0, "garbage_kind": kind})
    recorder = Recorder()
    client = open_client(server, recorder, call_timeout_s=0.5, max_message_bytes=1024 * 1024)
    outcome = client.call(CallTemplate("echo", {"k": kind}))
    wait_until(lambda: bool(recorder.named("protocol_error")))
    assert recorder.codes("protocol_error")[0] == code
    assert client.connected is stays_open
    if settles_as is None:
        assert outcome.ok  # the first copy answered the call; the second is the protocol error
    else:
        assert outcome.failure is not None and repr(outcome.failure) == settles_as
    if not stays_open:
        assert client.close_code is None or client.close_code in (1007, 1009)
    client.close()
    assert_identity(client)


@pytest.mark.parametrize("mode", ["close", "reset"])
def test_server_dropping_mid_call_loses_exactly_the_calls_in_flight(
    server: RunningServer, faults: None, mode: str
) -> None:
    recorder = Recorder()
    client = open_client(server, recorder)
    client.send_calls([CallTemplate("sleep", {"ms": 3000})] * 5)
    wait_until(lambda: server.stats()["calls_received"] >= 5)
    assert server.control("/control/drop", {"fraction": 1.0, "mode": mode, "code": 1012})["dropped"] >= 1
    client.drain(5.0)
    how = "close 1012 dropped by fault injection" if mode == "close" else "reset"
    assert recorder.codes("call_tool:sleep") == [f"connection_lost: {how}"] * 5
    counters = client.counters
    if mode == "close":
        assert (
            client.core is not None
            and client.close_code == 1012
            and client.core.close_reason == "dropped by fault injection"
        )
        assert (counters.closes_error, counters.resets) == (1, 0)
    else:
        assert (counters.closes_error, counters.resets) == (0, 1)
    assert counters.disconnects == 1 and counters.connections_open == 0
    assert_identity(client)


def test_half_open_connection_is_found_by_ping_timeout() -> None:
    with start_reference_server() as server:
        recorder = Recorder()
        client = open_client(server, recorder, ping_interval_s=0.3, ping_timeout_s=0.3)
        client.send_calls([CallTemplate("echo", {})] * 3)
        client.drain(2.0)
        tree = [psutil.Process(server.process.pid), *psutil.Process(server.process.pid).children(recursive=True)]
        for process in tree:
            process.send_signal(signal.SIGSTOP)  # the peer stops answering anything, even pings
        try:
            client.send_calls([CallTemplate("echo", {})] * 4)
            start = time.monotonic()
            wait_until(lambda: not client.connected, timeout_s=5.0)
            assert time.monotonic() - start < 2.0
        finally:
            for process in tree:
                process.send_signal(signal.SIGCONT)
    assert recorder.codes("protocol_error") == ["ping_timeout"]
    assert recorder.codes("call_tool:echo") == [None] * 3 + ["connection_lost: ping_timeout"] * 4
    assert client.counters.ping_timeouts == 1
    assert_identity(client)


def test_stalled_server_times_calls_out_and_keeps_memory_bounded(server: RunningServer, faults: None) -> None:
    server.control("/control/faults", {"stall": True})
    recorder = Recorder()
    client = open_client(server, recorder, call_timeout_s=0.3)
    for _ in range(5):
        client.keep_in_flight(20, lambda n: [CallTemplate("echo", {})] * n)
        assert client.in_flight <= 20
    client.drain(1.0)
    assert set(recorder.codes("call_tool:echo")) == {"timeout"}
    assert client.counters.calls.timeout == client.counters.calls.sent >= 20
    assert client.core is not None
    assert len(client.core.pending.timed_out) < 2 * client.core.pending.timed_out.capacity
    client.close()
    assert_identity(client)
