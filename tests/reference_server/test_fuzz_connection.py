"""Property-based fuzzing of one connection's frame and message handling, without sockets.

Hypothesis drives a real ``Connection`` with sequences of frames (whole, fragmented with
pings in between, binary, with RSV bits, stray continuations, over the size limit, CLOSE)
carrying valid, near-valid and broken messages. A small model written from PROTOCOL.md
predicts every answer and close code, frame by frame; at the end the call ledger
(calls_received = ok + errors + unanswered) must balance and nothing may have been
logged as an internal error.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from picows import WSMsgType

from reference_server.auth import hmac_verifier
from reference_server.connection import Connection, ServerContext
from reference_server.counters import Counters
from reference_server.push import Hub
from reference_server.tools import (
    MAX_COMPUTE_ROUNDS,
    MAX_PAYLOAD_BYTES,
    MAX_SLEEP_MS,
    MAX_SUBSCRIBE_COUNT,
    MAX_SUBSCRIBE_RATE,
    MAX_TOPIC_LENGTH,
    compute_digest,
    reference_tools,
)
from tests.reference_server.fuzz_support import encode, fuzz_settings, logged_errors, payloads, session_payloads, text
from tests.support.ws import mint_token

SECRET = "connection-fuzz-secret-long-enough-for-hs256-0123456789"
MAX_MESSAGE = 4096
TEXT, BINARY, CONT, PING, PONG, CLOSE = (
    WSMsgType.TEXT,
    WSMsgType.BINARY,
    WSMsgType.CONTINUATION,
    WSMsgType.PING,
    WSMsgType.PONG,
    WSMsgType.CLOSE,
)
_NOW = time.time()
LIFE_S = 6 * 3600
"""Tokens are minted once, when the module is collected: they must outlive the whole suite, however long it runs."""
#: token -> scope the model expects (None: every tool), or the refusal code.
TOKENS: dict[str, Any] = {
    mint_token(SECRET, now=_NOW, ttl_s=LIFE_S): None,
    mint_token(SECRET, now=_NOW, ttl_s=LIFE_S, scope=["echo", "payload", "broadcast", "subscribe"]): frozenset(
        {"echo", "payload", "broadcast", "subscribe"}
    ),
    mint_token(SECRET, now=_NOW, ttl_s=LIFE_S, omit=["scope"]): frozenset(),
    mint_token(SECRET, now=_NOW - 7200, ttl_s=60): "token_expired",
    mint_token("some-other-secret-that-is-long-enough-0123456789", now=_NOW): "invalid_token",
    "not.a.token": "invalid_token",
}
_CODE_RE = re.compile(r"[a-z][a-z0-9_]{0,63}")


# ---- fakes for picows' transport and frames ------------------------------------------------


class FakeRaw:
    """The TCP transport under picows' WSTransport: only what Connection uses."""

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0

    def pause_reading(self) -> None:
        raise AssertionError("never paused: nothing is buffered")

    def resume_reading(self) -> None:
        pass

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default


class FakeTransport:
    """Records what the connection sends: ("text", JSON value) or ("close", code)."""

    def __init__(self) -> None:
        self.out: list[tuple[str, Any]] = []
        self.underlying_transport = FakeRaw()
        self.disconnected = False

    def send(self, msg_type: WSMsgType, data: bytes) -> None:
        assert msg_type is TEXT, msg_type
        self.out.append(("text", orjson.loads(data)))

    def send_close(self, code: int = 1000, reason: bytes = b"") -> None:
        self.out.append(("close", int(code)))

    def disconnect(self, graceful: bool = True) -> None:
        self.disconnected = True


@dataclass
class Frame:
    """The WSFrame attributes Connection reads."""

    msg_type: WSMsgType
    payload: bytes
    fin: bool = True
    rsv1: bool = False
    rsv2: bool = False
    rsv3: bool = False

    @property
    def payload_size(self) -> int:
        return len(self.payload)

    def get_payload_as_memoryview(self) -> memoryview:
        return memoryview(self.payload)

    def get_close_code(self) -> int:
        return int.from_bytes(self.payload[:2], "big") if len(self.payload) >= 2 else 1005


# ---- the model -----------------------------------------------------------------------------


@dataclass
class Model:
    """What PROTOCOL.md says the server answers, for one connection."""

    ready: bool = False
    closed: bool = False
    scope: frozenset[str] | None = frozenset()
    frag: bytearray | None = None
    frag_text: bool = False
    pending: set[str] = field(default_factory=set)
    topics: set[str] = field(default_factory=set)
    seqs: dict[str, int] = field(default_factory=dict)

    def frame(self, frame: Frame) -> list[tuple[str, Any]]:
        """Expected outputs for one frame (as ("close", code) / ("error", code) / ... tuples)."""
        if frame.msg_type is CLOSE:
            if self.closed:
                return []
            self.closed = True
            code = frame.get_close_code()
            if len(frame.payload) < 2:
                return [("close", 1000)]
            valid = code in (1000, 1001, 1002, 1003, *range(1007, 1015)) or 3000 <= code < 5000
            return [("close", code if valid else 1002)]
        if self.closed:
            return []
        if frame.rsv1 or frame.rsv2 or frame.rsv3:
            return self.close(1002)
        if frame.msg_type in (PING, PONG):
            return []
        if frame.msg_type is CONT:
            if self.frag is None:
                return self.close(1002)
            if len(self.frag) + len(frame.payload) > MAX_MESSAGE:
                return self.close(1009)
            self.frag += frame.payload
            if not frame.fin:
                return []
            data, self.frag = bytes(self.frag), None
            return self.message(data) if self.frag_text else self.binary()
        if self.frag is not None:
            return self.close(1002)
        if not frame.fin:
            self.frag, self.frag_text = bytearray(frame.payload), frame.msg_type is TEXT
            return []
        return self.message(frame.payload) if frame.msg_type is TEXT else self.binary()

    def close(self, code: int) -> list[tuple[str, Any]]:
        self.closed = True
        return [("close", code)]

    def refuse(self, code: str) -> list[tuple[str, Any]]:
        return [("error", code), *self.close(1008)]

    def binary(self) -> list[tuple[str, Any]]:
        return [("error", "bad_message")] if self.ready else self.refuse("hello_required")

    def message(self, data: bytes) -> list[tuple[str, Any]]:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return self.close(1007)
        try:
            msg = orjson.loads(data)
        except orjson.JSONDecodeError:
            return [("error", "bad_message")] if self.ready else self.refuse("hello_required")
        op = msg.get("op") if type(msg) is dict else None
        if not self.ready:
            return self.hello(msg) if op == "hello" else self.refuse("hello_required")
        if op == "list_tools":
            rid = msg.get("request_id")
            return [("tools", rid)] if type(rid) is str else [("error", "bad_message")]
        if op != "call_tool":
            return [("error", "bad_message")]
        return self.call(msg)

    def hello(self, msg: dict[str, Any]) -> list[tuple[str, Any]]:
        session_id, token = msg.get("session_id"), msg.get("token")
        if type(session_id) is not str or type(token) is not str:
            return self.refuse("bad_message")
        grant = TOKENS.get(token, "invalid_token")
        if isinstance(grant, str):
            return self.refuse(grant)
        self.ready, self.scope = True, grant
        return [("hello_ok", session_id)]

    def call(self, msg: dict[str, Any]) -> list[tuple[str, Any]]:
        rid = msg.get("request_id")
        if type(rid) is not str:
            return [("error", "bad_message")]
        name, args = msg.get("name"), msg.get("arguments", {})
        if type(name) is not str or type(args) is not dict:
            return [("result", rid, "bad_message")]
        if rid in self.pending:
            return [("result", rid, "duplicate_request_id")]
        if name not in TOOLS:
            return [("result", rid, "unknown_tool")]
        if self.scope is not None and name not in self.scope:
            return [("result", rid, "forbidden")]
        return TOOLS[name](self, rid, args)

    # tools, as documented (reference_server.tools)

    def echo(self, rid: str, args: dict[str, Any]) -> list[tuple[str, Any]]:
        return [("result", rid, None, orjson.loads(orjson.dumps(args)))]

    def payload(self, rid: str, args: dict[str, Any]) -> list[tuple[str, Any]]:
        n = args.get("bytes")
        if type(n) is not int or not 0 <= n <= MAX_PAYLOAD_BYTES:
            return [("result", rid, "invalid_arguments")]
        return [("result", rid, None, "x" * n)]

    def compute(self, rid: str, args: dict[str, Any]) -> list[tuple[str, Any]]:
        n = args.get("rounds")
        if type(n) is not int or not 0 <= n <= MAX_COMPUTE_ROUNDS:
            return [("result", rid, "invalid_arguments")]
        if n > 2000:  # runs as a task: answered later
            self.pending.add(rid)
            return []
        return [("result", rid, None, compute_digest(n))]

    def sleep(self, rid: str, args: dict[str, Any]) -> list[tuple[str, Any]]:
        ms = args.get("ms")
        if type(ms) not in (int, float) or not math.isfinite(ms) or not 0 <= ms <= MAX_SLEEP_MS:
            return [("result", rid, "invalid_arguments")]
        self.pending.add(rid)  # answered by a timer, later
        return []

    def fail(self, rid: str, args: dict[str, Any]) -> list[tuple[str, Any]]:
        code, message = args.get("code", "tool_failed"), args.get("message", "failed on request")
        if type(code) is not str or not _CODE_RE.fullmatch(code) or type(message) is not str:
            return [("result", rid, "invalid_arguments")]
        return [("result", rid, code)]

    def subscribe(self, rid: str, args: dict[str, Any]) -> list[tuple[str, Any]]:
        topic, rate, count = args.get("topic"), args.get("rate"), args.get("count")
        if (
            not valid_topic(topic)
            or type(rate) not in (int, float)
            or not math.isfinite(rate)
            or not 0 <= rate <= MAX_SUBSCRIBE_RATE
            or type(count) is not int
            or not 0 <= count <= MAX_SUBSCRIBE_COUNT
            or (rate <= 0 and count > 0)
        ):
            return [("result", rid, "invalid_arguments")]
        self.topics.add(topic)
        return [("result", rid, None, {"topic": topic, "rate": rate, "count": count})]

    def broadcast(self, rid: str, args: dict[str, Any]) -> list[tuple[str, Any]]:
        topic = args.get("topic")
        if not valid_topic(topic):
            return [("result", rid, "invalid_arguments")]
        if topic not in self.topics:
            return [("result", rid, None, {"delivered": 0})]
        self.seqs[topic] = self.seqs.get(topic, 0) + 1  # pushed to itself before the answer
        return [("event", topic, self.seqs[topic]), ("result", rid, None, {"delivered": 1})]


def valid_topic(topic: Any) -> bool:
    return type(topic) is str and 0 < len(topic) <= MAX_TOPIC_LENGTH


TOOLS = {name: getattr(Model, name) for name in reference_tools()}


def matches(actual: tuple[str, Any], expected: tuple[str, Any]) -> bool:
    """Does one recorded output match one model expectation?"""
    kind = expected[0]
    if kind == "close":
        return actual == expected
    if actual[0] != "text":
        return False
    msg = actual[1]
    if kind == "error":
        return msg["op"] == "error" and msg["code"] == expected[1] and isinstance(msg["message"], str)
    if kind == "hello_ok":
        return msg["op"] == "hello_ok" and msg["session_id"] == expected[1] and msg["tools"] == list(TOOLS)
    if kind == "tools":
        return msg["op"] == "tools" and msg["request_id"] == expected[1] and len(msg["tools"]) == len(TOOLS)
    if kind == "event":
        return msg["op"] == "event" and (msg["topic"], msg["seq"]) == expected[1:]
    _, rid, code, *result = expected
    if msg["op"] != "tool_result" or msg["request_id"] != rid or msg["ok"] is not (code is None):
        return False
    return msg["result"] == result[0] if code is None else msg["error"]["code"] == code


# ---- frame plans ---------------------------------------------------------------------------

GOOD_TOKENS = sorted(token for token, grant in TOKENS.items() if not isinstance(grant, str))
hello_frames = st.builds(
    lambda token, sid: [Frame(TEXT, encode({"op": "hello", "session_id": sid, "token": token}))],
    st.sampled_from(GOOD_TOKENS * 3 + sorted(TOKENS)),
    text(max_size=5),
)


@st.composite
def fragmented(draw: st.DrawFn, payload: bytes, msg_type: WSMsgType) -> list[Frame]:
    """``payload`` as a fragmented message, pings and pongs between the fragments."""
    cuts = sorted(draw(st.lists(st.integers(min_value=0, max_value=len(payload)), min_size=1, max_size=3)))
    parts = [payload[a:b] for a, b in zip([0, *cuts], [*cuts, len(payload)], strict=True)]
    frames: list[Frame] = []
    for i, part in enumerate(parts):
        frames.append(Frame(msg_type if i == 0 else CONT, part, fin=i == len(parts) - 1))
        if i < len(parts) - 1 and draw(st.booleans()):
            frames.append(Frame(draw(st.sampled_from([PING, PONG])), draw(st.binary(max_size=8))))
    return frames


@st.composite
def message_groups(draw: st.DrawFn) -> list[Frame]:
    """One message that leaves the connection open when it has said hello, as the frames that carry it."""
    kind = draw(st.sampled_from(["text"] * 8 + ["fragmented", "fragmented", "binary", "broken"]))
    if kind == "text":
        return [Frame(TEXT, draw(session_payloads))]
    if kind == "fragmented":
        return draw(fragmented(draw(session_payloads), draw(st.sampled_from([TEXT, TEXT, BINARY]))))
    if kind == "binary":
        return [Frame(BINARY, draw(st.binary(max_size=16)))]
    return [Frame(TEXT, draw(payloads))]  # anything, invalid UTF-8 included (1007)


@st.composite
def ending_groups(draw: st.DrawFn) -> list[Frame]:
    """A frame sequence that closes the connection (or an ordinary message)."""
    kind = draw(st.sampled_from(["rsv", "stray", "interleaved", "oversize", "close", "message"]))
    if kind == "rsv":
        bit = draw(st.sampled_from(["rsv1", "rsv2", "rsv3"]))
        return [Frame(draw(st.sampled_from([TEXT, BINARY, CONT])), draw(payloads), **{bit: True})]
    if kind == "stray":
        return [Frame(CONT, draw(payloads), fin=draw(st.booleans()))]
    if kind == "interleaved":  # a new message inside a fragmented one
        return [Frame(TEXT, b'{"op":', fin=False), Frame(draw(st.sampled_from([TEXT, BINARY])), b"{}")]
    if kind == "oversize":
        return draw(fragmented(b"[" + b"0," * (MAX_MESSAGE // 2) + b"0]", TEXT))
    if kind == "close":
        code = draw(st.sampled_from([1000, 1001, 1005, 3000, 4999, 0, 1006, 5000, 65535]))
        return [Frame(CLOSE, code.to_bytes(2, "big") if code != 1005 else b"")]
    return draw(message_groups())


#: A session: a hello with a token the server accepts, messages, then maybe something that ends it.
sessions = st.builds(
    lambda first, middle, last: [first, *middle, last],
    st.builds(
        lambda token, sid: [Frame(TEXT, encode({"op": "hello", "session_id": sid, "token": token}))],
        st.sampled_from(GOOD_TOKENS),
        text(max_size=5),
    ),
    st.lists(message_groups(), min_size=1, max_size=12),
    ending_groups(),
)
#: Openings: anything as the first message (refused tokens, no hello at all), then a little more.
openings = st.builds(
    lambda first, rest: [first, *rest],
    st.one_of(hello_frames, message_groups(), ending_groups()),
    st.lists(message_groups() | ending_groups(), max_size=3),
)


@pytest.fixture(scope="module")
def loop() -> asyncio.AbstractEventLoop:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@fuzz_settings(250)
@given(sessions)
def test_session_frames_get_the_documented_answers(loop: asyncio.AbstractEventLoop, plan: list[list[Frame]]) -> None:
    run_plan(loop, plan)


@fuzz_settings(100)
@given(openings)
def test_opening_frames_get_the_documented_answers(loop: asyncio.AbstractEventLoop, plan: list[list[Frame]]) -> None:
    run_plan(loop, plan)


def fuzz_context(loop: asyncio.AbstractEventLoop, counters: Counters, verifier: Any, name: str) -> ServerContext:
    """The server context both fuzz harnesses (this one and atheris_fuzz.py) drive a Connection with."""
    return ServerContext(
        loop=loop,
        counters=counters,
        verifier=verifier,
        tools=reference_tools(),
        hub=Hub(),
        server_info={"name": name, "version": "0"},
        hello_timeout_s=60.0,
        max_message_bytes=MAX_MESSAGE,
    )


def run_plan(loop: asyncio.AbstractEventLoop, plan: list[list[Frame]]) -> None:
    """Feed ``plan`` to a fresh Connection; compare with the model after every frame; check the ledger."""
    counters = Counters()
    ctx = fuzz_context(loop, counters, hmac_verifier(SECRET.encode()), "fuzz")
    conn, transport, model = Connection(ctx), FakeTransport(), Model()
    with logged_errors() as errors:
        conn.on_ws_connected(transport)  # type: ignore[arg-type]
        seen = 0
        for group in plan:
            for frame in group:
                expected = model.frame(frame)
                conn.on_ws_frame(transport, frame)  # type: ignore[arg-type]
                got = transport.out[seen:]
                seen = len(transport.out)
                assert len(got) == len(expected) and all(map(matches, got, expected)), (frame, got, expected)
        conn.on_ws_disconnected(transport)  # type: ignore[arg-type]
        loop.run_until_complete(asyncio.sleep(0))  # let cancelled tool tasks finish
    answered = counters.results_ok + sum(counters.results_error.values()) + counters.calls_unanswered
    assert counters.calls_received == answered, counters.to_dict()
    assert not errors, [r.getMessage() for r in errors]
