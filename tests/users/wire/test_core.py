"""ClientCore without sockets or sleeping: server bytes and times in, client bytes and events out."""

from __future__ import annotations

import json
import math
import struct
import tracemalloc
from typing import Any

import pytest

from tests.support.counted_core import CountedCore
from tests.support.misbehaving_server import server_frame, take_client_frame
from users.wire.core import ClientCore, State
from users.wire.correlation import PendingCall
from users.wire.deflate import DeflateParams
from users.wire.events import ConnectionClosed, HelloAnswered, ProtocolFault, PushReceived
from users.wire.frames import OP_BINARY, OP_CLOSE, OP_PING, OP_PONG, OP_TEXT
from users.wire.metrics import WsCounters
from users.wire.protocol import CallTemplate
from users.wire.settings import ClientSettings

ECHO = CallTemplate("echo", {"x": 1})


def frames_of(data: bytes) -> list[tuple[int, bytes]]:
    """The client's (masked) frames in `data`, unmasked."""
    buf = bytearray(data)
    out = []
    while (frame := take_client_frame(buf)) is not None:
        out.append(frame)
    assert not buf, "a torn frame"
    return out


def messages_of(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(payload) for opcode, payload in frames_of(data) if opcode == OP_TEXT]


def text(message: dict[str, Any]) -> bytes:
    return server_frame(json.dumps(message).encode())


def result(request_id: Any, ok: bool = True, **extra: Any) -> bytes:
    answer: dict[str, Any] = {"op": "tool_result", "request_id": request_id, "ok": ok, **extra}
    if not ok:
        answer["error"] = {"code": "tool_failed"}
    return text(answer)


def close_frame(code: int, reason: str = "") -> bytes:
    return server_frame(struct.pack("!H", code) + reason.encode(), OP_CLOSE)


def new_core(**settings: Any) -> ClientCore:
    return CountedCore(WsCounters(), ClientSettings(**settings), now=100.0)


def open_core(**settings: Any) -> ClientCore:
    core = new_core(**settings)
    core.send_hello("s1", "tok", 100.0)
    core.data_to_send()
    core.receive_data(text({"op": "hello_ok", "session_id": "s1"}), 100.01)
    core.events_received()
    return core


def codes(events: list[Any]) -> list[str | None]:
    """Each settled call's failure as Locust shows it (None for a success)."""
    return [repr(e.failure) if e.failure else None for e in events if isinstance(e, PendingCall)]


def assert_counted_once(core: ClientCore) -> None:
    c = core.counters
    assert c.connects == c.disconnects + c.connections_open
    assert c.disconnects == c.closes_normal + c.closes_going_away + c.closes_error + c.resets
    assert c.hellos_sent == c.hellos_ok + c.hellos_refused + (1 if core.hello_pending else 0)
    assert c.calls.in_flight == len(core.pending)


# ------------------------------------------------------------------ hello: CONNECTING -> OPEN
def test_a_new_core_is_connecting_and_counted_open() -> None:
    core = new_core()
    assert core.state is State.CONNECTING and core.counters.connections_open == 1
    assert core.data_to_send() == b"" and core.events_received() == [] and core.next_deadline() == math.inf


def test_hello_ok_opens_the_connection() -> None:
    core = new_core(hello_timeout_s=5.0)
    core.send_hello("s1", "tok", 100.0)
    assert messages_of(core.data_to_send()) == [{"op": "hello", "session_id": "s1", "token": "tok"}]
    assert core.hello_pending and core.next_deadline() == 105.0
    core.receive_data(text({"op": "hello_ok", "session_id": "s1", "tools": ["echo"]}), 100.25)
    (event,) = core.events_received()
    assert isinstance(event, HelloAnswered) and event.failure is None and event.seconds == pytest.approx(0.25)
    assert core.state is State.OPEN and core.hello_info is not None and core.hello_info.tools == ["echo"]
    assert (core.counters.hellos_sent, core.counters.hellos_ok) == (1, 1)
    assert_counted_once(core)


def test_connections_of_one_server_keep_one_copy_of_its_hello_ok_server_and_tools() -> None:
    infos = []
    for session, tools in (("s1", ["echo", "sleep"]), ("s2", ["echo", "sleep"]), ("s3", ["echo"])):
        core = new_core()
        core.send_hello(session, "tok", 100.0)
        hello_ok = {"op": "hello_ok", "session_id": session, "server": {"name": "ref"}, "tools": tools}
        core.receive_data(text(hello_ok), 100.1)
        infos.append(core.hello_info)
    first, second, other = infos
    assert [i.session_id for i in infos] == ["s1", "s2", "s3"]
    assert second.tools is first.tools and second.server is first.server  # kept once, not per connection
    assert other.tools == ["echo"] and other.server == {"name": "ref"}


def test_a_hello_ok_nested_past_the_recursion_limit_is_kept_as_it_came() -> None:
    deep = b"[" * 1000 + b"]" * 1000  # equal lists that == cannot compare within Python's recursion limit
    infos = []
    for session in ("s1", "s2"):
        core = new_core()
        core.send_hello(session, "tok", 100.0)
        core.receive_data(server_frame(b'{"op":"hello_ok","session_id":"%s","tools":%s}' % (session.encode(), deep)), 1)
        infos.append(core.hello_info)
    assert all(i is not None and i.session_id == s for i, s in zip(infos, ("s1", "s2"), strict=True))
    assert core.state is State.OPEN


def test_hello_refused_keeps_it_connecting_with_the_servers_code() -> None:
    core = new_core()
    core.send_hello("s1", "tok", 100.0)
    core.receive_data(text({"op": "error", "code": "token_expired", "message": "no"}), 100.1)
    (event,) = core.events_received()
    assert isinstance(event, HelloAnswered) and repr(event.failure) == "token_expired"
    assert core.state is State.CONNECTING and core.counters.hellos_refused == 1
    assert_counted_once(core)


def test_hello_times_out_at_its_deadline_and_not_before() -> None:
    core = new_core(hello_timeout_s=2.0)
    core.send_hello("s1", "tok", 100.0)
    assert not core.tick(101.999) and core.hello_pending
    assert core.tick(102.0)
    (event,) = core.events_received()
    assert isinstance(event, HelloAnswered) and repr(event.failure) == "hello_timeout"
    assert not core.hello_pending and core.next_deadline() == math.inf


# ------------------------------------------------------------------ calls while OPEN
def test_calls_settle_by_request_id_in_any_order_and_split_anywhere() -> None:
    core = open_core()
    core.send_calls([ECHO, CallTemplate("sleep", {"ms": 5})], 200.0)
    sent = messages_of(core.data_to_send())
    assert [(m["op"], m["request_id"], m["name"]) for m in sent] == [
        ("call_tool", "1", "echo"),
        ("call_tool", "2", "sleep"),
    ]
    data = result("2", result={"slept": 5}) + result("1", ok=False)
    for i in range(len(data)):  # one byte at a time: frames are reassembled across reads
        core.receive_data(data[i : i + 1], 200.5)
    first, second = core.events_received()
    assert (first.tool, first.failure, first.result, first.settled_at) == ("sleep", None, {"slept": 5}, 200.5)
    assert first.length > 0 and repr(second.failure) == "tool_failed"
    assert core.counters.calls.as_dict()["ok"] == 1 and core.counters.calls.failed == 1
    assert_counted_once(core)


def test_intended_times_count_latency_from_when_calls_were_due() -> None:
    core = open_core()
    core.send_calls([ECHO, ECHO], 200.0, intended=[199.0, 199.5])
    assert core.next_deadline() == 199.0 + 10.0
    core.receive_data(result("1") + result("2"), 200.1)
    assert [e.settled_at - e.sent_at for e in core.events_received()] == pytest.approx([1.1, 0.6])


def test_overdue_calls_time_out_and_a_late_answer_is_a_fault_not_a_second_outcome() -> None:
    core = open_core(call_timeout_s=1.0)
    core.send_calls([ECHO], 200.0)
    core.send_calls([ECHO], 200.5)
    assert core.next_deadline() == 201.0
    assert not core.tick(200.99)
    assert core.tick(201.0) and codes(core.events_received()) == ["timeout"]
    assert core.next_deadline() == 201.5
    core.receive_data(result("1"), 201.2)
    (fault,) = core.events_received()
    assert fault == ProtocolFault("late_result") and core.counters.protocol_errors == 1
    assert_counted_once(core)


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        (b'{"op":"tool_result","request_id":7,"ok":true}', "bad_request_id_type"),
        (b'{"op":"tool_result","ok":true}', "missing_request_id"),
        (b'{"op":"tool_result","request_id":"99","ok":true}', "unknown_request_id"),
        (b"not json", "bad_json"),
        (b'{"op":"error","code":"bad_message"}', "server_error_bad_message"),
    ],
)
def test_each_bad_answer_is_its_own_fault_and_the_connection_stays_open(answer: bytes, code: str) -> None:
    core = open_core()
    core.receive_data(server_frame(answer), 200.0)
    assert core.events_received() == [ProtocolFault(code)] and core.state is State.OPEN


def test_binary_frames_are_faults() -> None:
    core = open_core()
    core.receive_data(server_frame(b"\x00", OP_BINARY), 200.0)
    assert core.events_received() == [ProtocolFault("binary_frame")] and core.state is State.OPEN


def test_pushes_are_tracked_per_topic() -> None:
    core = open_core()
    for seq in (1, 3, 2, 3):
        core.receive_data(text({"op": "event", "topic": "t", "seq": seq, "sent_at_ns": 5}), 200.0)
    events = core.events_received()
    assert all(isinstance(e, PushReceived) and e.length > 0 for e in events) and len(events) == 4
    c = core.counters
    assert (c.pushes_received, c.push_gaps, c.push_reordered, c.push_duplicates) == (4, 0, 1, 1)


def test_a_push_with_a_huge_seq_is_counted_as_its_gap_at_once_and_calls_still_settle() -> None:
    core = open_core()
    core.send_calls([ECHO], 200.0)
    core.data_to_send()
    huge = 9007199254740992
    push = text({"op": "event", "topic": "x", "seq": huge, "sent_at_ns": 5})
    core.receive_data(push + push + result("1"), 200.1)
    c = core.counters
    assert (c.pushes_received, c.push_gaps, c.push_duplicates, c.pushes_untracked) == (2, huge - 1, 1, 0)
    assert codes(core.events_received()) == [None] and core.state is State.OPEN


# ------------------------------------------------------------------ pings
def test_server_pings_are_answered_with_the_same_payload() -> None:
    core = open_core()
    core.receive_data(server_frame(b"abc", OP_PING), 200.0)
    assert frames_of(core.data_to_send()) == [(OP_PONG, b"abc")]


def test_a_pong_answers_our_ping_and_one_ping_is_outstanding_at_most() -> None:
    core = open_core(ping_timeout_s=3.0)
    assert core.send_ping(200.0) and not core.send_ping(200.1)
    assert frames_of(core.data_to_send()) == [(OP_PING, b"keepalive")]
    assert core.next_deadline() == 203.0
    core.receive_data(server_frame(b"keepalive", OP_PONG), 200.2)
    assert not core.ping_pending and core.next_deadline() == math.inf


def test_no_pong_in_time_ends_a_half_open_connection() -> None:
    core = open_core(ping_timeout_s=3.0)
    core.send_calls([ECHO], 200.0)
    core.send_ping(200.0)
    core.tick(203.0)
    events = core.events_received()
    assert events[0] == ProtocolFault("ping_timeout") and codes(events) == ["connection_lost: ping_timeout"]
    assert events[-1] == ConnectionClosed(None, "", "ping_timeout")
    assert core.state is State.CLOSED and core.counters.ping_timeouts == 1 and core.counters.resets == 1
    assert_counted_once(core)


# ------------------------------------------------------------------ closing: OPEN -> CLOSING -> CLOSED
def test_client_close_waits_for_the_servers_close_and_counts_a_normal_close() -> None:
    core = open_core()
    core.close()
    assert core.state is State.CLOSING and frames_of(core.data_to_send()) == [(OP_CLOSE, b"\x03\xe8")]
    with pytest.raises(Exception, match="connection_lost"):
        core.send_calls([ECHO], 200.0)
    core.receive_data(close_frame(1000), 200.1)
    assert core.state is State.CLOSED and core.data_to_send() == b""  # no second close frame
    assert core.events_received() == [ConnectionClosed(1000, "", "close 1000")]
    assert core.counters.closes_normal == 1
    assert_counted_once(core)


@pytest.mark.parametrize(
    ("code", "reason", "counter", "how"),
    [
        (1011, "overloaded", "closes_error", "close 1011 overloaded"),
        (1001, "", "closes_going_away", "close 1001"),
        (1000, "bye", "closes_normal", "close 1000 bye"),
        (1012, "x" * 100, "closes_error", "close 1012 " + "x" * 60),
    ],
)
def test_server_close_is_echoed_and_lost_calls_carry_its_code_and_reason(
    code: int, reason: str, counter: str, how: str
) -> None:
    core = open_core()
    core.send_calls([ECHO, ECHO], 200.0)
    core.data_to_send()
    core.receive_data(result("1") + close_frame(code, reason) + result("2"), 200.1)
    assert frames_of(core.data_to_send()) == [(OP_CLOSE, struct.pack("!H", code))]
    events = core.events_received()
    assert codes(events) == [None, f"connection_lost: {how}"]  # nothing after the close frame is read
    assert events[-1] == ConnectionClosed(code, reason, how)
    assert (core.close_code, core.close_reason) == (code, reason)
    assert getattr(core.counters, counter) == 1 and core.counters.disconnects == 1
    assert_counted_once(core)


def test_a_close_without_a_code_is_answered_with_1000() -> None:
    core = open_core()
    core.receive_data(server_frame(b"", OP_CLOSE), 200.0)
    assert frames_of(core.data_to_send()) == [(OP_CLOSE, b"\x03\xe8")] and core.close_code == 1005
    assert core.counters.closes_error == 1  # 1005: the server gave no code


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        *((c.to_bytes(2, "big") + b"bye", 1002) for c in (999, 1004, 1005, 1006, 1016, 1100, 2000, 2999, 5000)),
        (b"\x03", 1002),  # a one-byte payload
        (b"\x03\xe8\xff\xfe", 1007),  # a reason that is not UTF-8
    ],
)
def test_an_invalid_close_frame_fails_the_connection_instead_of_being_echoed(payload: bytes, code: int) -> None:
    core = open_core()
    core.send_calls([ECHO, ECHO], 200.0)
    core.data_to_send()
    core.receive_data(result("1") + server_frame(payload, OP_CLOSE), 200.1)
    assert frames_of(core.data_to_send()) == [(OP_CLOSE, struct.pack("!H", code))]
    events = core.events_received()
    fault = "bad_frame" if code == 1002 else "invalid_utf8"
    assert codes(events) == [None, f"connection_lost: framing error {code}"] and ProtocolFault(fault) in events
    assert events[-1] == ConnectionClosed(code, "", f"framing error {code}") and core.close_code is None
    assert core.counters.closes_error == 1 and core.counters.protocol_errors == 1
    assert_counted_once(core)


@pytest.mark.parametrize("how", ["reset", "eof"])
def test_the_transport_ending_loses_calls_with_how_it_ended(how: str) -> None:
    core = open_core()
    core.send_calls([ECHO], 200.0)
    core.receive_eof(how, 200.2)
    events = core.events_received()
    assert codes(events) == [f"connection_lost: {how}"] and events[-1] == ConnectionClosed(None, "", how)
    assert core.state is State.CLOSED and core.counters.resets == 1 and core.counters.calls.lost == 1
    assert_counted_once(core)


@pytest.mark.parametrize(
    ("data", "fault", "code"),
    [
        (bytes([0x81, 0x81, 0, 0, 0, 0, 0x41]), "bad_frame", 1002),  # a masked server frame
        (server_frame(b'{"op":"tool_result","request_id":"\xff"}'), "invalid_utf8", 1007),
        (server_frame(b"x" * 2000), "oversize_message", 1009),
    ],
)
def test_framing_errors_close_with_their_code(data: bytes, fault: str, code: int) -> None:
    core = open_core(max_message_bytes=1024)
    core.send_calls([ECHO], 200.0)
    core.data_to_send()
    core.receive_data(data, 200.1)
    events = core.events_received()
    assert events[0] == ProtocolFault(fault) and codes(events) == [f"connection_lost: framing error {code}"]
    assert frames_of(core.data_to_send()) == [(OP_CLOSE, struct.pack("!H", code))]
    assert core.state is State.CLOSED and core.counters.closes_error == 1
    assert_counted_once(core)


@pytest.mark.parametrize(
    ("bad", "fault", "code"),
    [
        (bytes([0xC1, 0x00]), "bad_frame", 1002),  # RSV1 unasked
        (bytes([0x81, 0x81, 0, 0, 0, 0, 0x41]), "bad_frame", 1002),  # masked
        (bytes([0x81, 127]) + (1 << 63).to_bytes(8, "big"), "bad_frame", 1002),
        (bytes([0x89, 126, 0, 126]) + b"x" * 126, "bad_frame", 1002),  # control frame over 125 bytes
        (bytes([0x09, 0x00]), "bad_frame", 1002),  # fragmented ping
        (bytes([0x83, 0x00]), "bad_frame", 1002),  # reserved opcode
        (bytes([0x80, 0x01]) + b"x", "bad_frame", 1002),  # continuation first
        (server_frame(b'{"op":"event","topic":"\xff"}'), "invalid_utf8", 1007),
        (server_frame(b"x" * 2000), "oversize_message", 1009),
    ],
)
def test_answers_read_together_with_a_bad_frame_settle_ok_before_the_connection_fails(
    bad: bytes, fault: str, code: int
) -> None:
    core = open_core(max_message_bytes=1024)
    core.send_calls([ECHO, ECHO, ECHO], 200.0)
    core.data_to_send()
    core.receive_data(result("1") + result("2") + bad + result("3"), 200.1)
    events = core.events_received()
    assert codes(events) == [None, None, f"connection_lost: framing error {code}"]
    assert ProtocolFault(fault) in events and core.counters.protocol_errors == 1
    assert frames_of(core.data_to_send()) == [(OP_CLOSE, struct.pack("!H", code))]
    assert core.counters.calls.ok == 2 and core.counters.calls.lost == 1 and core.state is State.CLOSED
    assert_counted_once(core)


def test_answers_before_a_compressed_frame_that_does_not_inflate_settle_ok() -> None:
    core = CountedCore(WsCounters(), ClientSettings(), now=100.0, deflate=DeflateParams())
    core.send_hello("s1", "tok", 100.0)
    core.receive_data(text({"op": "hello_ok", "session_id": "s1"}), 100.01)
    core.send_calls([ECHO, ECHO], 200.0)
    core.data_to_send()
    core.receive_data(result("1") + bytes([0xC1, 4]) + b"\xff" * 4, 200.1)
    assert codes(core.events_received()) == [None, "connection_lost: framing error 1002"]
    assert core.counters.calls.ok == 1 and core.counters.closes_error == 1


def test_a_connection_holds_at_most_its_message_limit_and_nothing_once_closed() -> None:
    core = open_core(max_message_bytes=4096)
    core.send_calls([ECHO], 200.0)
    core.data_to_send()
    first = bytes([0x01, 126]) + struct.pack("!H", 3000) + b"a" * 3000  # a text message begun, not finished
    core.receive_data(first, 200.1)
    assert core.decoder.held == 3000
    core.receive_data(bytes([0x00, 126]) + struct.pack("!H", 2000), 200.2)  # 1009 at the header: 5000 > 4096
    assert core.decoder.held == 0 and core.counters.protocol_errors == 1
    assert codes(core.events_received()) == ["connection_lost: framing error 1009"] and core.state is State.CLOSED
    eof = open_core()
    eof.receive_data(first[:2000], 200.0)
    assert eof.decoder.held == 2000
    eof.receive_eof("eof", 200.1)
    assert eof.decoder.held == 0  # released at once, not when a reference cycle is collected


def test_closed_is_final_counted_once_and_deaf() -> None:
    core = open_core()
    core.fail("closed by client", 200.0)
    core.fail("again", 201.0)
    core.receive_eof("reset", 201.0)
    core.receive_data(result("1"), 201.0)
    assert [type(e) for e in core.events_received()] == [ConnectionClosed]
    assert not core.tick(1e9) and not core.send_ping(201.0) and core.data_to_send() == b""
    assert core.counters.disconnects == 1 and core.closed_at == 200.0
    assert_counted_once(core)


# ------------------------------------------------------------------ bug 1: a blocked write keeps deadlines
def test_a_write_blocked_past_the_call_timeout_settles_calls_then_gives_up_the_connection() -> None:
    core = open_core(call_timeout_s=3.0)
    core.send_calls([ECHO], 199.0)  # written; never answered
    core.send_calls([ECHO, ECHO], 200.0)
    core.writing(200.0)  # the I/O layer could not write these yet
    assert core.next_deadline() == 202.0
    assert core.tick(202.0) and codes(core.events_received()) == ["timeout"] and core.state is State.OPEN
    core.send_calls([ECHO], 202.5)  # queued behind the blocked write
    assert core.next_deadline() == 203.0
    core.tick(203.0)
    events = core.events_received()
    assert codes(events) == ["timeout", "timeout", "connection_lost: write_timeout"]
    assert events[-1] == ConnectionClosed(None, "", "write_timeout")
    assert core.counters.write_timeouts == 1 and core.counters.resets == 1 and core.writing_since == 0.0
    assert_counted_once(core)


def test_a_write_that_finishes_in_time_changes_nothing() -> None:
    core = open_core(call_timeout_s=3.0)
    core.send_calls([ECHO], 200.0)
    core.writing(200.0)
    core.writing(0.0)  # written after all
    core.receive_data(result("1"), 202.9)
    assert codes(core.events_received()) == [None]
    assert not core.tick(203.0) and core.state is State.OPEN and core.counters.write_timeouts == 0


# ------------------------------------------------------------------ bug 4: stopped mid-hello
def test_stopped_mid_hello_the_answer_still_arrives_and_is_counted() -> None:
    core = new_core()
    core.send_hello("s1", "tok", 100.0)
    core.data_to_send()
    core.close()  # the user is stopped while waiting
    core.receive_data(text({"op": "hello_ok"}) + close_frame(1000), 100.2)
    events = core.events_received()
    assert isinstance(events[0], HelloAnswered) and events[0].failure is None
    assert core.counters.hellos_ok == 1 and core.state is State.CLOSED
    assert_counted_once(core)


def test_stopped_mid_hello_without_an_answer_counts_the_hello_as_refused() -> None:
    core = new_core()
    core.send_hello("s1", "tok", 100.0)
    core.close()
    core.fail("closed by client", 102.0)
    events = core.events_received()
    assert isinstance(events[0], HelloAnswered) and repr(events[0].failure) == "connection_closed: closed by client"
    assert core.counters.hellos_refused == 1 and core.counters.closes_normal == 1
    assert_counted_once(core)


def test_connecting_can_close_without_ever_opening() -> None:
    core = new_core()
    core.receive_eof("eof", 100.5)
    assert core.state is State.CLOSED and core.counters.resets == 1
    assert_counted_once(core)


def test_an_idle_connections_core_is_under_a_kilobyte() -> None:
    settings = ClientSettings()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        cores = [ClientCore(settings, now=100.0) for _ in range(200)]
        per_core = (tracemalloc.get_traced_memory()[0] - before) / len(cores)
    finally:
        tracemalloc.stop()
    assert per_core < 1000, f"{per_core:.0f} B per core (slots; id sets and push trackers made when first needed)"
