"""Server push over real sockets: subscribe streams (seq 1..count, no gaps) and broadcast."""

from __future__ import annotations

import time

import websocket

from reference_server.launcher import RunningServer
from tests.reference_server.assertions import assert_ok, assert_tool_error
from tests.reference_server.conftest import Mint
from tests.support.ws import call, call_tool, connect, hello, recv_json


def events(ws: websocket.WebSocket, n: int) -> list[dict]:
    out = [recv_json(ws) for _ in range(n)]
    assert all(e["op"] == "event" for e in out), out
    return out


def test_subscribe_answers_then_streams_count_events(session: websocket.WebSocket) -> None:
    started_ns = time.time_ns()
    assert assert_ok(call(session, "subscribe", {"topic": "ticks", "rate": 200, "count": 40}, "sub"), "sub") == {
        "topic": "ticks",
        "rate": 200,
        "count": 40,
    }
    got = events(session, 40)
    assert [e["seq"] for e in got] == list(range(1, 41))
    assert [e["data"]["index"] for e in got] == list(range(1, 41))
    assert all(e["topic"] == "ticks" for e in got)
    stamps = [e["sent_at_ns"] for e in got]
    assert stamps == sorted(stamps) and started_ns <= stamps[0] <= time.time_ns()
    assert (stamps[-1] - stamps[0]) / 1e9 >= 39 / 200 * 0.9  # paced at the requested rate
    # Nothing more arrives: the next message is the answer to a fresh call.
    assert_ok(call(session, "echo", {}, "after"), "after")


def test_two_topics_have_independent_sequences(session: websocket.WebSocket) -> None:
    call_tool(session, "a", "subscribe", {"topic": "A", "rate": 1000, "count": 5})
    call_tool(session, "b", "subscribe", {"topic": "B", "rate": 1000, "count": 5})
    messages = [recv_json(session) for _ in range(12)]
    for topic in "AB":
        assert [m["seq"] for m in messages if m.get("topic") == topic] == [1, 2, 3, 4, 5]


def test_broadcast_reaches_every_subscriber_and_continues_the_sequence(server: RunningServer, mint: Mint) -> None:
    subscribers = []
    for i in range(3):
        ws = connect(server.url)
        assert hello(ws, mint())["op"] == "hello_ok"
        assert_ok(call(ws, "subscribe", {"topic": "room-1", "rate": 100, "count": 2 if i == 0 else 0}, "s"), "s")
        subscribers.append(ws)
    assert [e["seq"] for e in events(subscribers[0], 2)] == [1, 2]
    sender = connect(server.url)
    assert hello(sender, mint())["op"] == "hello_ok"
    assert assert_ok(call(sender, "broadcast", {"topic": "room-1", "data": {"msg": "hi"}}, "bc"), "bc") == {
        "delivered": 3
    }
    for i, ws in enumerate(subscribers):
        (event,) = events(ws, 1)
        assert event["topic"] == "room-1" and event["data"] == {"msg": "hi"}
        assert event["seq"] == (3 if i == 0 else 1)
    assert assert_ok(call(sender, "broadcast", {"topic": "empty-room", "data": 1}, "bc2"), "bc2") == {"delivered": 0}
    subscribers[1].close()
    deadline = time.monotonic() + 5
    while assert_ok(call(sender, "broadcast", {"topic": "room-1"}, "bc3"), "bc3")["delivered"] != 2:
        assert time.monotonic() < deadline
    for ws in (sender, subscribers[0], subscribers[2]):
        ws.close()


def test_subscribe_with_bad_arguments(session: websocket.WebSocket) -> None:
    assert_tool_error(call(session, "subscribe", {"topic": "t", "rate": -1, "count": 1}, "x"), "x", "invalid_arguments")


def test_subscribe_without_a_count_streams_until_the_connection_ends(session: websocket.WebSocket) -> None:
    answer = call(session, "subscribe", {"topic": "ticks", "rate": 500}, "sub")
    assert assert_ok(answer, "sub") == {"topic": "ticks", "rate": 500, "count": None}
    got = events(session, 300)  # well past any count the old server needed
    assert [e["seq"] for e in got] == list(range(1, 301)) and all(e["data"]["count"] is None for e in got)
    session.close()  # the stream ends with its connection (the server cancels it: see test_supervision)


def test_a_connection_runs_a_bounded_number_of_streams(session: websocket.WebSocket) -> None:
    from reference_server.tools import MAX_STREAMS_PER_CONNECTION

    def results(n: int) -> list[dict]:
        out: list[dict] = []
        for _ in range(n + 2 * MAX_STREAMS_PER_CONNECTION):  # each stream's first event comes at once: skip them
            message = recv_json(session)
            if message["op"] == "tool_result":
                out.append(message)
                if len(out) == n:
                    break
        return out

    for n in range(MAX_STREAMS_PER_CONNECTION):
        call_tool(session, f"s{n}", "subscribe", {"topic": f"t{n}", "rate": 0.01})
    answers = results(MAX_STREAMS_PER_CONNECTION)
    assert len(answers) == MAX_STREAMS_PER_CONNECTION and all(a["ok"] for a in answers)
    call_tool(session, "over", "subscribe", {"topic": "x", "rate": 1})
    (over,) = results(1)
    assert over["request_id"] == "over" and over["ok"] is False and over["error"]["code"] == "invalid_arguments", over
