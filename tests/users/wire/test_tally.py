"""The one metrics consumer without sockets or sleeping: each event kind and the traffic -> the counters they move,
and the call ledger's identity after sends, answers, timeouts and the close, step by step as the engine counts."""

from __future__ import annotations

import random
from typing import Any

import pytest

from tests.users.wire.test_core import ECHO, close_frame, result, text
from users.wire.core import ClientCore, State
from users.wire.correlation import PendingCall
from users.wire.errors import CallFailed, CallTimeout, ConnectionLost, HelloRefused
from users.wire.events import ConnectionClosed, CoreEvent, HelloAnswered, ProtocolFault, PushReceived
from users.wire.metrics import WsCounters
from users.wire.protocol import HelloOk, PushEvent
from users.wire.settings import ClientSettings
from users.wire.tally import Tally
from users.wire.traffic import MoreTraffic, Traffic


def settled(failure: Any) -> PendingCall:
    call = PendingCall("1", "echo", 1.0)
    call.settled_at, call.length, call.failure, call.result = 2.0, 10, failure, None
    return call


def push(finding: str, gaps: int = 0, seq: int | None = 1) -> PushReceived:
    return PushReceived(PushEvent("t", seq, None), 12, finding, gaps)


def moved(events: list[CoreEvent], traffic: Traffic | None = None) -> dict[str, int]:
    """The counters `events` (and `traffic`) move from zero, in_flight aside (it follows sent and settled)."""
    counters = WsCounters()
    Tally(counters).count(events, traffic or Traffic())
    return {k: v for k, v in counters.snapshot().items() if v and k != "calls_in_flight"}


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (settled(None), {"calls_ok": 1}),
        (settled(CallFailed("tool_failed")), {"calls_failed": 1}),
        (settled(CallTimeout()), {"calls_timeout": 1}),
        (settled(ConnectionLost("reset")), {"calls_lost": 1}),
        (HelloAnswered(HelloOk("s1", {}, []), None, 0.1), {"hellos_ok": 1}),
        (HelloAnswered(None, HelloRefused("bad_token"), 0.1), {"hellos_refused": 1}),
        (HelloAnswered(None, HelloRefused("hello_timeout"), 5.0), {"hellos_refused": 1}),
        (push("ok"), {"pushes_received": 1}),
        (push("gap", 7), {"pushes_received": 1, "push_gaps": 7}),
        (push("reordered", -1), {"pushes_received": 1, "push_reordered": 1, "push_gaps": -1}),
        (push("duplicate"), {"pushes_received": 1, "push_duplicates": 1}),
        (push("untracked"), {"pushes_received": 1, "pushes_untracked": 1}),
        (push("unsequenced", seq=None), {"pushes_received": 1}),
        (ProtocolFault("bad_json"), {"protocol_errors": 1}),
        (ProtocolFault("late_result"), {"protocol_errors": 1, "calls_late_results": 1}),
        (ProtocolFault("duplicate_result"), {"protocol_errors": 1, "calls_duplicate_results": 1}),
        (ProtocolFault("unknown_request_id"), {"protocol_errors": 1, "calls_unknown_results": 1}),
        (ConnectionClosed(1000, "", "close 1000"), {"disconnects": 1, "closes_normal": 1, "connections_open": -1}),
        (ConnectionClosed(1001, "", "close 1001"), {"disconnects": 1, "closes_going_away": 1, "connections_open": -1}),
        (ConnectionClosed(1011, "x", "close 1011 x"), {"disconnects": 1, "closes_error": 1, "connections_open": -1}),
        (ConnectionClosed(None, "", "reset"), {"disconnects": 1, "resets": 1, "connections_open": -1}),
        (
            ConnectionClosed(None, "", "ping_timeout"),
            {"disconnects": 1, "resets": 1, "connections_open": -1, "ping_timeouts": 1},
        ),
        (
            ConnectionClosed(None, "", "write_timeout"),
            {"disconnects": 1, "resets": 1, "connections_open": -1, "write_timeouts": 1},
        ),
    ],
)
def test_each_event_moves_its_counters(event: CoreEvent, expected: dict[str, int]) -> None:
    assert moved([event]) == expected
    assert moved([event, event]) == {k: 2 * v for k, v in expected.items()}


def test_traffic_is_folded_as_a_delta() -> None:
    counters = WsCounters()
    tally = Tally(counters)
    traffic = Traffic()
    traffic.calls_sent, traffic.messages_sent, traffic.bytes_sent = 3, 4, 400
    traffic.messages_received, traffic.bytes_received = 2, 90
    tally.fold(traffic)
    tally.fold(traffic)  # nothing new: nothing counted twice
    traffic.messages_received, traffic.bytes_received = 1, 10
    tally.count([], traffic)
    got = {k: v for k, v in counters.snapshot().items() if v}
    assert got == {
        "calls_sent": 3,
        "calls_in_flight": 3,
        "messages_sent": 4,
        "bytes_sent": 400,
        "messages_received": 3,
        "bytes_received": 100,
    }
    assert (traffic.messages_sent, traffic.calls_sent, traffic.messages_received, traffic.more) == (0, 0, 0, None)


def test_hellos_and_compressed_bytes_are_folded_from_more() -> None:
    counters = WsCounters()
    tally = Tally(counters)
    plain = Traffic()
    plain.count_hello()
    tally.count([], plain)
    assert counters.hellos_sent == 1 and plain.more is None  # dropped once counted: later folds skip it
    deflated = Traffic(MoreTraffic(kept=True))
    assert deflated.more is not None
    deflated.more.bytes_sent_compressed, deflated.more.bytes_received_compressed = 30, 20
    tally.fold(deflated)
    deflated.more.bytes_received_compressed = 5
    tally.fold(deflated)
    assert (counters.bytes_sent_compressed, counters.bytes_received_compressed) == (30, 25)
    assert deflated.more is not None and deflated.more.bytes_received_compressed == 0  # kept: its framers count in it


def test_engine_facts_move_their_counters() -> None:
    counters = WsCounters()
    tally = Tally(counters)
    tally.opened()
    tally.opened()
    tally.connect_failed()
    tally.write_stalled()
    assert (counters.connects, counters.connections_open, counters.connect_failures) == (2, 2, 1)
    assert counters.write_stalls == 1


def assert_ledger_exact(counters: WsCounters, cores: list[ClientCore]) -> None:
    ledger = counters.calls
    assert ledger.in_flight == sum(len(core.pending) for core in cores) >= 0
    assert ledger.sent == ledger.ok + ledger.failed + ledger.timeout + ledger.lost + ledger.in_flight
    assert counters.connects == counters.connections_open + counters.disconnects


def test_the_ledger_is_exact_after_every_step_of_a_random_run() -> None:
    """Two connections, as ConnectionIO counts them: the traffic folded after queueing calls (before the write),
    the events counted where they are taken. Sends, answers (ok, failed, late, duplicate, unknown), timeouts and
    each connection's close, in a seeded random order."""
    rng = random.Random(7)
    counters = WsCounters()
    tally = Tally(counters)
    cores = []
    for _ in range(2):
        core = ClientCore(ClientSettings(call_timeout_s=2.0), now=0.0)
        tally.opened()
        cores.append(core)
    now, sent_ids = 0.0, [[], []]
    for step in range(400):
        i = rng.randrange(2)
        core = cores[i]
        now += rng.random() * 0.1
        action = rng.choice(["send", "send", "answer", "answer", "tick"] if step < 380 else ["close"])
        if core.state is State.CLOSED:
            continue
        if action == "send":
            n = rng.randint(1, 4)
            first = len(sent_ids[i]) + 1
            core.send_calls([ECHO] * n, now)
            tally.fold(core)
            assert counters.calls.sent >= sum(len(c.pending) for c in cores)  # counted before the write
            core.data_to_send()
            sent_ids[i].extend(str(k) for k in range(first, first + n))
        elif action == "answer" and sent_ids[i]:
            recent = sent_ids[i][-6:] if rng.random() < 0.9 else [*sent_ids[i], "nope"]
            request_id = rng.choice(recent)  # answered, late, duplicate or unknown
            core.receive_data(result(request_id, ok=rng.random() < 0.8), now)
        elif action == "tick":
            core.tick(now)
        elif action == "close":
            core.receive_data(close_frame(1000), now)
        tally.count(core.events_received(), core)
        assert_ledger_exact(counters, cores)
    ledger = counters.calls
    assert ledger.in_flight == 0 and counters.connections_open == 0 and counters.disconnects == 2
    assert min(ledger.ok, ledger.failed, ledger.timeout, ledger.lost, ledger.late_results) > 0  # each path was taken
    assert ledger.sent == sum(len(ids) for ids in sent_ids)
    assert counters.messages_sent == ledger.sent and counters.messages_received > 0


def test_a_read_that_answers_calls_not_yet_folded_never_shows_a_negative_in_flight() -> None:
    """count() folds the sent side before counting what settled: a read handled before the send's fold is exact."""
    counters = WsCounters()
    tally = Tally(counters)
    core = ClientCore(ClientSettings(), now=0.0)
    core.send_calls([ECHO, ECHO], 0.0)
    core.receive_data(result("1") + text({"op": "hello_ok", "session_id": "s"}), 0.1)
    tally.count(core.events_received(), core)
    assert (counters.calls.sent, counters.calls.ok, counters.calls.in_flight) == (2, 1, 1)
