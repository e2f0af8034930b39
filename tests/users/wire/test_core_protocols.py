"""ClientCore speaking jsonrpc, mcp and permessage-deflate, without sockets: server bytes in, bytes and events out."""

from __future__ import annotations

import json
import zlib
from typing import Any

from tests.support.counted_core import CountedCore
from tests.support.misbehaving_server import server_frame, take_client_frame
from users.wire.core import ClientCore, State
from users.wire.correlation import PendingCall
from users.wire.deflate import DeflateParams
from users.wire.events import HelloAnswered, ProtocolFault, PushReceived
from users.wire.frames import OP_CLOSE, OP_TEXT
from users.wire.metrics import WsCounters
from users.wire.protocols import JsonRpc, Mcp
from users.wire.settings import ClientSettings


def new_core(deflate: DeflateParams | None = None, **settings: Any) -> ClientCore:
    return CountedCore(WsCounters(), ClientSettings(**settings), now=100.0, deflate=deflate)


def sent(core: ClientCore) -> list[tuple[int, bool, bytes]]:
    """(opcode, RSV1 set, payload) of each frame the core wants written."""
    buf = bytearray(core.data_to_send())
    out = []
    while buf:
        rsv1 = bool(buf[0] & 0x40)
        frame = take_client_frame(buf)
        assert frame is not None, "a torn frame"
        out.append((frame[0], rsv1, frame[1]))
    return out


def sent_json(core: ClientCore) -> list[Any]:
    return [json.loads(payload) for opcode, _, payload in sent(core) if opcode == OP_TEXT]


def rpc(message: dict[str, Any]) -> bytes:
    return server_frame(json.dumps({"jsonrpc": "2.0", **message}).encode())


def failures(events: list[Any]) -> list[str | None]:
    return [repr(e.failure) if e.failure else None for e in events if isinstance(e, PendingCall)]


# ------------------------------------------------------------------ jsonrpc
def test_jsonrpc_has_no_handshake_and_calls_go_out_with_integer_ids() -> None:
    core = new_core(protocol=JsonRpc())
    assert core.state is State.OPEN and core.data_to_send() == b"" and core.counters.hellos_sent == 0
    protocol = JsonRpc()
    core.send_calls([protocol.template("echo", {"i": 1}), protocol.template("fail", {})], 100.0)
    assert sent_json(core) == [
        {"jsonrpc": "2.0", "id": 1, "method": "echo", "params": {"i": 1}},
        {"jsonrpc": "2.0", "id": 2, "method": "fail", "params": {}},
    ]
    core.receive_data(rpc({"id": 2, "error": {"code": -32000, "message": "boom"}}) + rpc({"id": 1, "result": 7}), 100.5)
    events = core.events_received()
    assert failures(events) == ["jsonrpc_error:-32000 boom", None]
    assert [e.tool for e in events] == ["fail", "echo"] and events[1].result == 7
    ledger = core.counters.calls
    assert (ledger.sent, ledger.ok, ledger.failed, ledger.in_flight) == (2, 1, 1, 0)


def test_jsonrpc_notifications_are_pushes_and_pings_are_answered() -> None:
    core = new_core(protocol=JsonRpc())
    note = rpc({"method": "eth_subscription", "params": {"subscription": "0x1", "result": "0xab"}})
    event = {"topic": "ticks", "seq": 1, "sent_at_ns": 5, "data": None}
    sub = rpc({"method": "subscription", "params": {"subscription": "ticks", "result": event}})
    core.receive_data(note + sub + rpc({"id": "p1", "method": "ping"}), 101.0)
    pushes = [e for e in core.events_received() if isinstance(e, PushReceived)]
    assert [(p.event.topic, p.event.seq) for p in pushes] == [("eth_subscription", None), ("ticks", 1)]
    assert core.counters.pushes_received == 2 and core.counters.push_gaps == 0
    assert sent_json(core) == [{"jsonrpc": "2.0", "id": "p1", "result": {}}]
    assert core.counters.protocol_errors == 0


def test_jsonrpc_unknown_and_mistyped_ids_are_protocol_faults() -> None:
    core = new_core(protocol=JsonRpc())
    core.receive_data(rpc({"id": 99, "result": 1}) + rpc({"id": "1", "result": 1}), 100.1)
    faults = [e.code for e in core.events_received() if isinstance(e, ProtocolFault)]
    assert faults == ["unknown_request_id", "bad_request_id_type"]


# ------------------------------------------------------------------ mcp
def test_jsonrpc_a_batch_answer_settles_each_call_it_holds() -> None:
    core = new_core(protocol=JsonRpc())
    protocol = JsonRpc()
    core.send_calls([protocol.template("echo", {})] * 4, 100.0)
    core.data_to_send()
    batch = [
        {"jsonrpc": "2.0", "id": 3, "result": 3},
        {"jsonrpc": "2.0", "id": 1, "error": {"code": -32000, "message": "no"}},
        {"jsonrpc": "2.0", "id": 2, "result": {}, "error": {"code": 1, "message": "x"}},
        "junk",
    ]
    core.receive_data(server_frame(json.dumps(batch).encode()), 100.5)
    events = core.events_received()
    assert failures(events) == [None, "jsonrpc_error:-32000 no", "jsonrpc:invalid_response"]
    assert [e for e in events if isinstance(e, ProtocolFault)] == [
        ProtocolFault("invalid_response"), ProtocolFault("not_an_object"),
    ]  # fmt: skip
    c = core.counters
    assert (c.calls.ok, c.calls.failed, c.calls.in_flight, c.protocol_errors, c.messages_received) == (1, 2, 1, 2, 1)
    assert core.state is State.OPEN


def test_mcp_initialize_then_initialized_timed_together_as_hello() -> None:
    core = new_core(protocol=Mcp("2025-03-26"))
    assert core.state is State.CONNECTING
    core.send_hello("s", "t", 100.0)
    (initialize,) = sent_json(core)
    assert initialize["method"] == "initialize" and initialize["params"]["protocolVersion"] == "2025-03-26"
    answer = {"protocolVersion": "2025-03-26", "capabilities": {}, "serverInfo": {"name": "x"}}
    core.receive_data(rpc({"id": initialize["id"], "result": answer}), 100.25)
    (hello,) = core.events_received()
    assert isinstance(hello, HelloAnswered) and hello.failure is None and hello.seconds == 0.25
    assert core.state is State.OPEN
    assert sent_json(core) == [{"jsonrpc": "2.0", "method": "notifications/initialized"}]
    assert core.counters.hellos_ok == 1 and core.counters.messages_sent == 2


def test_mcp_refused_initialize_is_a_refused_hello_with_the_jsonrpc_code() -> None:
    core = new_core(protocol=Mcp())
    core.send_hello("s", "t", 100.0)
    core.data_to_send()
    core.receive_data(rpc({"id": None, "error": {"code": -32600, "message": "initialize first"}}), 100.1)
    (hello,) = core.events_received()
    assert isinstance(hello, HelloAnswered) and repr(hello.failure) == "jsonrpc_error:-32600 initialize first"
    assert core.counters.hellos_refused == 1 and sent(core) == []


def test_mcp_is_error_results_fail_as_tool_error_and_progress_is_counted_not_failed() -> None:
    core = new_core(protocol=Mcp())
    core.send_hello("s", "t", 100.0)
    core.receive_data(rpc({"id": "hello", "result": {"protocolVersion": "2025-06-18"}}), 100.1)
    core.data_to_send()
    core.events_received()
    mcp = Mcp()
    core.send_calls([mcp.template("echo", {}), mcp.template("fail", {})], 100.2)
    core.data_to_send()
    progress = rpc({"method": "notifications/progress", "params": {"progressToken": 1, "progress": 1}})
    failed = {"content": [{"type": "text", "text": "tool_failed: x"}], "isError": True}
    ok = {"content": [{"type": "text", "text": "{}"}], "isError": False}
    ping = rpc({"id": "server-ping-1", "method": "ping"})
    core.receive_data(progress + rpc({"id": 2, "result": failed}) + ping + rpc({"id": 1, "result": ok}), 100.3)
    events = core.events_received()
    assert failures(events) == ["tool_error", None]
    assert [e.event.topic for e in events if isinstance(e, PushReceived)] == ["notifications/progress"]
    assert sent_json(core) == [{"jsonrpc": "2.0", "id": "server-ping-1", "result": {}}]
    assert core.counters.pushes_received == 1 and core.counters.protocol_errors == 0


# ------------------------------------------------------------------ permessage-deflate
def compressed_server_frames(payloads: list[bytes], context_takeover: bool = True) -> bytes:
    """Server text frames with RSV1 set, compressed as RFC 7692 says (sync flush, tail removed)."""
    out = b""
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    for payload in payloads:
        if not context_takeover:
            compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
        data = compressor.compress(payload) + compressor.flush(zlib.Z_SYNC_FLUSH)
        assert data.endswith(b"\x00\x00\xff\xff")
        frame = bytearray(server_frame(data[:-4]))
        frame[0] |= 0x40
        out += bytes(frame)
    return out


def test_with_deflate_calls_go_out_compressed_and_inflate_to_the_same_messages() -> None:
    core = new_core(protocol=JsonRpc(), deflate=DeflateParams())
    template = JsonRpc().template("echo", {"pad": "x" * 500})
    core.send_calls([template, template], 100.0)
    frames = sent(core)
    assert [(opcode, rsv1) for opcode, rsv1, _ in frames] == [(OP_TEXT, True), (OP_TEXT, True)]
    inflater = zlib.decompressobj(-15)  # the server keeps its context: the second message refers to the first
    messages = [json.loads(inflater.decompress(p + b"\x00\x00\xff\xff")) for _, _, p in frames]
    assert [m["id"] for m in messages] == [1, 2] and messages[1]["params"]["pad"] == "x" * 500
    counters = core.counters
    assert counters.bytes_sent == 2 * len(template.encode("1"))
    assert counters.bytes_sent_compressed == sum(len(p) for _, _, p in frames) < counters.bytes_sent / 4


def test_no_context_takeover_starts_each_message_afresh() -> None:
    core = new_core(
        protocol=JsonRpc(), deflate=DeflateParams(client_no_context_takeover=True, server_no_context_takeover=True)
    )
    template = JsonRpc().template("echo", {"pad": "y" * 300})
    core.send_calls([template, template], 100.0)
    for _, _, payload in sent(core):  # each inflates alone
        assert json.loads(zlib.decompressobj(-15).decompress(payload + b"\x00\x00\xff\xff"))["method"] == "echo"
    answers = [json.dumps({"jsonrpc": "2.0", "id": i, "result": "z" * 200}).encode() for i in (1, 2)]
    core.receive_data(compressed_server_frames(answers, context_takeover=False), 100.1)
    assert failures(core.events_received()) == [None, None]


def test_compressed_server_messages_are_inflated_and_counted_both_ways() -> None:
    core = new_core(protocol=JsonRpc(), deflate=DeflateParams())
    core.send_calls([JsonRpc().template("echo", {})] * 3, 100.0)
    core.data_to_send()
    answers = [json.dumps({"jsonrpc": "2.0", "id": i, "result": "r" * 400}).encode() for i in (1, 2, 3)]
    wire = compressed_server_frames(answers)
    core.receive_data(wire[:7], 100.1)  # split anywhere: frames are reassembled before inflating
    core.receive_data(wire[7:], 100.1)
    assert failures(core.events_received()) == [None, None, None]
    counters = core.counters
    assert counters.bytes_received == sum(map(len, answers))
    assert 0 < counters.bytes_received_compressed < counters.bytes_received / 4


def test_a_compressed_message_in_fragments_is_joined_then_inflated() -> None:
    core = new_core(protocol=JsonRpc(), deflate=DeflateParams())
    core.send_calls([JsonRpc().template("echo", {})], 100.0)
    (frame,) = [f for f in [compressed_server_frames([b'{"jsonrpc":"2.0","id":1,"result":"abc"}'])]]
    data = frame[2:]  # the compressed payload (short: one length byte)
    first = bytes([0x40 | OP_TEXT, len(data[:5])]) + data[:5]  # RSV1 on the first frame only, no FIN
    last = bytes([0x80, len(data[5:])]) + data[5:]  # continuation, FIN
    core.receive_data(first + last, 100.1)
    assert failures(core.events_received()) == [None]


def test_a_message_that_inflates_past_the_limit_closes_1009_and_bad_data_closes_1002() -> None:
    core = new_core(protocol=JsonRpc(), max_message_bytes=2048, deflate=DeflateParams())
    core.receive_data(compressed_server_frames([b" " * 100_000]), 100.1)
    assert [e.code for e in core.events_received() if isinstance(e, ProtocolFault)] == ["oversize_message"]
    assert [(op, p[:2]) for op, _, p in sent(core)] == [(OP_CLOSE, b"\x03\xf1")]
    core = new_core(protocol=JsonRpc(), deflate=DeflateParams())
    core.receive_data(bytes([0xC1, 4]) + b"\xff\xff\xff\xff", 100.1)
    assert [e.code for e in core.events_received() if isinstance(e, ProtocolFault)] == ["bad_frame"]
    assert core.state is State.CLOSED


def test_rsv1_without_negotiated_deflate_is_a_framing_error() -> None:
    core = new_core(protocol=JsonRpc())
    core.receive_data(compressed_server_frames([b'{"jsonrpc":"2.0","id":1,"result":1}']), 100.1)
    assert [e.code for e in core.events_received() if isinstance(e, ProtocolFault)] == ["bad_frame"]


def test_a_server_request_after_our_close_is_not_answered() -> None:
    core = new_core(protocol=JsonRpc())
    core.close()
    core.data_to_send()
    core.receive_data(rpc({"id": "p2", "method": "ping"}), 100.1)
    assert sent(core) == [] and core.counters.messages_sent == 0
