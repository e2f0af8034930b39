"""ToolClient against misbehaving server processes on loopback: a server that stops reading, one that closes."""

from __future__ import annotations

import time

import gevent
import pytest

from tests.support.client_helpers import Recorder, assert_identity, open_client, wait_until
from tests.support.misbehaving_server import misbehaving_server
from users.wire.errors import ConnectionLost
from users.wire.protocol import CallTemplate

CALL_TIMEOUT_S = 1.0
BIG = CallTemplate("echo", {"pad": "x" * 2_000_000})


def test_calls_time_out_on_time_while_the_server_stops_reading_and_the_connection_is_given_up() -> None:
    with misbehaving_server("--mode", "stop-reading", "--after", "2") as server:
        recorder = Recorder()
        client = open_client(server, recorder, call_timeout_s=CALL_TIMEOUT_S)

        def load() -> None:
            deadline = time.monotonic() + 10 * CALL_TIMEOUT_S
            while client.connected and time.monotonic() < deadline:
                try:
                    client.keep_in_flight(10, lambda n: [BIG] * n, 0.2)
                except ConnectionLost:
                    return

        loader = gevent.spawn(load)
        wait_until(lambda: not client.connected, timeout_s=10 * CALL_TIMEOUT_S)
        loader.join(timeout=5)
        assert loader.dead
    counters = client.counters
    assert counters.write_timeouts == 1 and counters.resets == 1 and counters.connections_open == 0
    events = recorder.named("call_tool:echo")
    timeouts = [e["response_time"] for e in events if repr(e["exception"]) == "timeout"]
    assert timeouts, "calls stuck behind the blocked write time out"
    # each at its own deadline (the sweep runs every 50 ms), not when the write gives up or the run ends
    assert all(CALL_TIMEOUT_S * 1000 <= ms < CALL_TIMEOUT_S * 1000 + 700 for ms in timeouts), timeouts
    assert {repr(e["exception"]) for e in events} <= {"None", "timeout", "connection_lost: write_timeout"}
    assert_identity(client)


@pytest.mark.parametrize(
    ("code", "counter"), [(1011, "closes_error"), (1001, "closes_going_away"), (1000, "closes_normal")]
)
def test_a_server_close_names_its_code_and_reason_and_is_counted_by_class(code: int, counter: str) -> None:
    with misbehaving_server("--mode", "close", "--after", "3", "--code", str(code), "--reason", "overloaded") as server:
        recorder = Recorder()
        client = open_client(server, recorder)
        client.send_calls([CallTemplate("echo", {"i": i}) for i in range(5)])
        client.drain(5.0)
        wait_until(lambda: not client.connected)
    assert recorder.codes("call_tool:echo") == [None] * 3 + [f"connection_lost: close {code} overloaded"] * 2
    assert client.core is not None and (client.close_code, client.core.close_reason) == (code, "overloaded")
    counters = client.counters
    assert getattr(counters, counter) == 1 and counters.disconnects == 1 and counters.connections_open == 0
    assert_identity(client)


def test_a_user_stopped_while_its_write_is_blocked_gives_the_connection_up_as_write_stalled_and_counts_it() -> None:
    with misbehaving_server("--mode", "stop-reading", "--after", "2") as server:
        recorder = Recorder()
        client = open_client(server, recorder, call_timeout_s=60.0, ping_interval_s=0.2)

        def load() -> None:
            while client.connected:
                client.keep_in_flight(10, lambda n: [BIG] * n, 0.2)

        loader = gevent.spawn(load)
        core = client.core
        assert core is not None
        wait_until(lambda: core.writing_since > 0, timeout_s=10)  # the server stopped reading: a write blocks
        started = time.monotonic()
        loader.kill()  # as Locust stops a user at the end of a run, long before the write timeout
        assert not client.connected and time.monotonic() - started < 5
        client.drain()
        client.close()
    counters = client.counters
    assert counters.write_stalls == 1 and counters.write_timeouts == 0 and counters.resets == 1
    lost = [code for code in recorder.codes("call_tool:echo") if code is not None]
    assert lost and set(lost) == {"connection_lost: write_stalled"}, set(lost)
    assert counters.calls.lost == len(lost)
    assert_identity(client)
