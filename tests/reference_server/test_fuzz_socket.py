"""Socket-level fuzzing against one real server process.

Each example opens a raw connection (usually says hello) and sends a Hypothesis-made
stream of frames: text with valid, near-valid and broken JSON, binary, fragmented
messages with pings and pongs between the fragments, invalid UTF-8, oversize frames and
messages, framing errors (reserved opcodes, RSV bits, unmasked or fragmented control
frames, stray continuations), raw random bytes, CLOSE. Then a ``list_tools`` sentinel.
Everything the server sends must be documented: JSON objects with a known op and code,
pongs, and a close code from PROTOCOL.md (1002, 1007, 1008, 1009, or the echo of the
client's own CLOSE). After every example the server process is alive, ``/stats``
answers, and a well-behaved connection opened before the fuzzing still gets its echo.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
import websocket
from hypothesis import given
from hypothesis import strategies as st

from reference_server.launcher import RunningServer, start_reference_server
from tests.reference_server.assertions import assert_ok
from tests.reference_server.fault_support import ready_client
from tests.reference_server.fuzz_support import (
    DOCUMENTED_CODES,
    SERVER_OPS,
    encode,
    fuzz_settings,
    mutated,
    payloads,
    session_messages,
    text,
    weighted,
)
from tests.reference_server.raw_ws import BINARY, CLOSE, CONT, PING, PONG, TEXT, RawClient, frame
from tests.support.ws import call, mint_token

MAX_MESSAGE = 4096
#: Close codes the server itself may send (PROTOCOL.md): protocol error, invalid UTF-8, policy, too big.
SERVER_CLOSE_CODES = frozenset({1002, 1007, 1008, 1009})
#: How long to wait for the sentinel's answer before half-closing (a partial frame may be pending).
SENTINEL_WAIT_S = 0.25
SENTINEL = orjson.dumps({"op": "list_tools", "request_id": "sentinel"})
#: How the examples ended ("sentinel", "close 1002", "eof", ...), for the coverage check at the end.
ENDINGS: collections.Counter[str] = collections.Counter()


@dataclass
class Wire:
    """Frames for one example, and the close codes the server may echo back."""

    data: list[bytes] = field(default_factory=list)
    echo_codes: set[int] = field(default_factory=set)


def control_frame(draw: st.DrawFn) -> bytes:
    return frame(draw(st.sampled_from([PING, PONG])), draw(st.binary(max_size=125)))


#: Text payloads that keep the connection open: (near-)valid messages, sometimes mangled.
open_payloads = weighted(
    (12, session_messages.map(encode)),
    (1, mutated(session_messages.map(encode)).map(lambda b: b.decode("utf-8", "ignore").encode())),
)


@st.composite
def open_items(draw: st.DrawFn) -> bytes:
    """An item after which a connection that has said hello stays open (bad_message at worst)."""
    kind = draw(st.sampled_from(["text"] * 8 + ["fragmented"] * 3 + ["binary", "ping"]))
    if kind == "text":
        return frame(TEXT, draw(open_payloads))
    if kind == "fragmented":
        data = draw(open_payloads)
        cuts = sorted(draw(st.lists(st.integers(min_value=0, max_value=len(data)), min_size=1, max_size=3)))
        parts = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
        out = b""
        opcode = draw(st.sampled_from([TEXT, TEXT, BINARY]))
        for i, part in enumerate(parts):
            out += frame(opcode if i == 0 else CONT, part, fin=i == len(parts) - 1)
            if i < len(parts) - 1 and draw(st.booleans()):
                out += control_frame(draw)
        return out
    if kind == "binary":
        return frame(BINARY, draw(st.binary(max_size=64)))
    return control_frame(draw)


@st.composite
def ending_items(draw: st.DrawFn) -> tuple[bytes, int | None]:
    """An item that ends the connection, or not: (bytes, close code the client sent or None)."""
    kind = draw(
        st.sampled_from(
            # Hypothesis leans towards the first choices: the ones that keep the stream going come first.
            ["open", "open", "close", "framing", "oversize", "oversize_fragmented", "raw", "any_text", "invalid_utf8"]
        )
    )
    if kind == "invalid_utf8":
        good = draw(open_payloads)
        where = draw(st.integers(min_value=0, max_value=len(good)))
        return frame(
            TEXT, good[:where] + draw(st.sampled_from([b"\xff", b"\xc3(", b"\xed\xa0\x80"])) + good[where:]
        ), None
    if kind == "any_text":
        return frame(TEXT, draw(payloads)), None
    if kind == "oversize":
        return frame(draw(st.sampled_from([TEXT, BINARY])), b"x" * draw(st.integers(MAX_MESSAGE + 1, 70_000))), None
    if kind == "oversize_fragmented":
        half = b"y" * (MAX_MESSAGE // 2 + 1)
        return frame(TEXT, half, fin=False) + control_frame(draw) + frame(CONT, half, fin=True), None
    if kind == "framing":
        return draw(framing_errors), None
    if kind == "raw":
        return draw(st.binary(min_size=1, max_size=32)), None
    if kind == "close":
        code = draw(st.sampled_from([1000, 1001, 3000, 4999]))
        reason = draw(weighted((3, text(max_size=8).map(str.encode)), (1, st.binary(max_size=8))))  # 1007 unless UTF-8
        return frame(CLOSE, code.to_bytes(2, "big") + reason), code
    return draw(open_items()), None


framing_errors = st.one_of(
    st.builds(
        lambda op, p: frame(op, p), st.sampled_from([3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF]), st.binary(max_size=8)
    ),
    st.builds(lambda op, p: frame(op, p, fin=False), st.sampled_from([PING, PONG, CLOSE]), st.binary(max_size=8)),
    st.builds(lambda p: frame(PING, p), st.binary(min_size=126, max_size=200)),
    st.builds(
        lambda op, p, rsv: frame(op, p, rsv=rsv),
        st.sampled_from([TEXT, BINARY, PING]),
        payloads,
        st.integers(min_value=1, max_value=7),
    ),
    st.builds(lambda p: frame(TEXT, p, masked=False), payloads),
    st.builds(lambda p: frame(CONT, p), payloads),
    st.builds(lambda p: frame(TEXT, p[:100], short_16bit_length=True), payloads),
)


@st.composite
def wires(draw: st.DrawFn) -> tuple[bool, Wire]:
    """(say hello first?, the stream: items that keep the connection open, then one that may end it)."""
    hello = draw(weighted((9, st.just(True)), (1, st.just(False))))
    wire = Wire(data=draw(st.lists(open_items(), max_size=8)))
    ending, code = draw(ending_items())
    wire.data.append(ending)
    if code is not None:
        wire.echo_codes.add(code)
    return hello, wire


@pytest.fixture(scope="module")
def fuzz_server() -> Iterator[RunningServer]:
    with start_reference_server("--max-message-bytes", str(MAX_MESSAGE), "--hello-timeout", "5") as running:
        yield running
        assert running.process.poll() is None, "the server died"
        stderr = running.stderr_text()
        assert "Traceback" not in stderr and "internal error" not in stderr, stderr


@pytest.fixture(scope="module")
def steady(fuzz_server: RunningServer) -> Iterator[websocket.WebSocket]:
    """A well-behaved connection opened before the fuzzing."""
    ws = ready_client(fuzz_server)
    yield ws
    ws.close()


def check_text(payload: bytes) -> dict[str, Any]:
    """A server text message: a JSON object with a documented op and code."""
    msg = orjson.loads(payload)
    assert isinstance(msg, dict) and msg.get("op") in SERVER_OPS, msg
    if msg["op"] == "error":
        assert msg["code"] in DOCUMENTED_CODES, msg
    if msg["op"] == "tool_result" and not msg["ok"]:
        assert msg["error"]["code"] in DOCUMENTED_CODES | {"custom_code"}, msg
    return msg


def run_wire(server: RunningServer, hello: bool, wire: Wire) -> str:
    """Play one example; return how it ended: "sentinel", "close <code>" or "eof"."""
    client = RawClient(server.port)
    try:
        if hello:
            token = mint_token(server.jwt_secret, now=time.time())
            client.send(frame(TEXT, encode({"op": "hello", "session_id": "fuzz", "token": token})))
        for data in [*wire.data, frame(TEXT, SENTINEL)]:
            if not client.send(data):
                break
        deadline = time.monotonic() + SENTINEL_WAIT_S
        half_closed = False
        while True:
            try:
                got = client.read_frame(deadline)
            except TimeoutError:
                # Waiting for the rest of a frame (raw bytes announced more): on EOF it must hang up.
                assert not half_closed, "the server did not end the connection after EOF"
                client.shutdown_write()
                half_closed, deadline = True, time.monotonic() + 3.0
                continue
            if got is None:
                # The server ends a connection without a CLOSE only once the client has stopped sending.
                assert half_closed, "the server hung up without a CLOSE frame"
                return "eof after half-close"
            opcode, payload = got
            if opcode == CLOSE:
                code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
                assert code in SERVER_CLOSE_CODES | wire.echo_codes | ({1000} if wire.echo_codes else set()), code
                assert not (hello and code == 1008), "1008 is for hello refusals; this connection said hello"
                return f"close {code}"
            assert opcode in (TEXT, PONG), f"unexpected opcode {opcode:#x}"
            if opcode == TEXT:
                msg = check_text(payload)
                if msg.get("request_id") == "sentinel" and msg["op"] == "tools":
                    return "sentinel"
    finally:
        client.close()


@fuzz_settings(150)
@given(wires())
def test_fuzzed_streams_get_documented_answers_and_the_server_stays_up(
    fuzz_server: RunningServer, steady: websocket.WebSocket, case: tuple[bool, Wire]
) -> None:
    hello, wire = case
    ENDINGS[run_wire(fuzz_server, hello, wire)] += 1
    assert fuzz_server.process.poll() is None
    stats = fuzz_server.stats(timeout=5)
    assert stats["connections_opened"] >= 1
    n = stats["connections_opened"]
    assert assert_ok(call(steady, "echo", {"n": n}, f"steady-{n}"), f"steady-{n}") == {"n": n}


def test_the_fuzzing_exercised_every_ending(fuzz_server: RunningServer) -> None:
    """The examples above (run first) reached answers and each documented close code."""
    if not ENDINGS:
        pytest.skip("runs after the fuzz test")
    print(dict(ENDINGS))
    assert ENDINGS["sentinel"] >= 10, ENDINGS
    assert {"close 1002", "close 1007", "close 1009"} <= set(ENDINGS), ENDINGS
    stats = fuzz_server.stats()
    assert stats["bad_messages"] > 10 and stats["results_ok"] > 10, stats
