"""Property-based fuzzing of the jsonrpc and mcp connections without sockets.

Hypothesis feeds a real jsonrpc / mcp Connection near-valid and broken JSON-RPC
messages through the same fake transport as test_fuzz_connection. Whatever arrives: every
answer is a JSON-RPC 2.0 response (result or error) whose id is null or one the client
sent, nothing is logged as an internal error, and the call ledger balances
(calls_received = ok + errors + unanswered) once the connection is gone.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reference_server.auth import hmac_verifier
from reference_server.connection import Connection
from reference_server.counters import Counters
from tests.reference_server.fuzz_support import (
    encode,
    fuzz_settings,
    json_values,
    logged_errors,
    mutated,
    valid_arguments,
    weighted,
)
from tests.reference_server.test_fuzz_connection import BINARY, TEXT, FakeTransport, Frame, fuzz_context

SECRET = "rpc-fuzz-secret-long-enough-for-hs256-0123456789"
ids = weighted((4, st.integers(0, 3)), (2, st.sampled_from(["a", "b"])), (1, json_values))


@st.composite
def tool_requests(draw: st.DrawFn, mcp: bool) -> dict[str, Any]:
    """A request for a tool (jsonrpc: the method; mcp: tools/call), maybe with one field broken."""
    name = draw(st.sampled_from(sorted(valid_arguments)))
    arguments = draw(valid_arguments[name])
    if mcp:
        msg: dict[str, Any] = {"jsonrpc": "2.0", "id": draw(ids), "method": "tools/call"}
        msg["params"] = {"name": name, "arguments": arguments}
    else:
        msg = {"jsonrpc": "2.0", "id": draw(ids), "method": name, "params": arguments}
    if draw(st.integers(0, 4)) == 0:
        key = draw(st.sampled_from(["jsonrpc", "id", "method", "params"]))
        if draw(st.booleans()):
            msg.pop(key)
        else:
            msg[key] = draw(json_values)
    return msg


def others(mcp: bool) -> st.SearchStrategy[Any]:
    methods = st.sampled_from(["initialize", "ping", "tools/list", "notifications/initialized", "x"])
    return st.builds(
        lambda rid, method, params: {"jsonrpc": "2.0", "id": rid, "method": method, "params": params},
        ids,
        methods,
        st.just({"protocolVersion": "2025-06-18"}) | json_values,
    ) | st.lists(json_values, max_size=2)


def frames(mcp: bool) -> st.SearchStrategy[list[Frame]]:
    messages = weighted((6, tool_requests(mcp)), (1, others(mcp)), (1, json_values))
    payloads = weighted((8, messages.map(encode)), (1, mutated(messages.map(encode))))
    frame = weighted(
        (12, payloads.map(lambda p: Frame(TEXT, p))), (1, st.binary(max_size=8).map(lambda b: Frame(BINARY, b)))
    )
    return st.lists(frame, min_size=1, max_size=20)


def sent_ids(plan: list[Frame]) -> list[Any]:
    """The ids of the requests in ``plan`` (and of the initialize the harness sends)."""
    found: list[Any] = ["init"]
    for frame in plan:
        try:
            msg = orjson.loads(frame.payload)
        except orjson.JSONDecodeError:
            continue
        if type(msg) is dict and "id" in msg:
            found.append(msg["id"])
    return found


@pytest.fixture(scope="module")
def loop() -> asyncio.AbstractEventLoop:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def run(loop: asyncio.AbstractEventLoop, protocol: str, plan: list[Frame]) -> None:
    counters = Counters()
    ctx = fuzz_context(loop, counters, hmac_verifier(SECRET.encode()), "fuzz")
    ctx.protocol = protocol
    conn, transport = Connection(ctx, None), FakeTransport()
    init = {"jsonrpc": "2.0", "id": "init", "method": "initialize", "params": {"protocolVersion": "2025-06-18"}}
    with logged_errors() as errors:
        conn.on_ws_connected(transport)  # type: ignore[arg-type]
        for frame in ([Frame(TEXT, encode(init))] if protocol == "mcp" else []) + plan:
            conn.on_ws_frame(transport, frame)  # type: ignore[arg-type]
        loop.run_until_complete(asyncio.sleep(0))
        conn.on_ws_disconnected(transport)  # type: ignore[arg-type]
        loop.run_until_complete(asyncio.sleep(0))
    sent = sent_ids(plan)
    for kind, msg in transport.out:
        if kind == "text" and "method" not in msg:
            assert msg["jsonrpc"] == "2.0" and ("result" in msg) != ("error" in msg), msg
            assert msg["id"] is None or msg["id"] in sent, (msg, sent)
    answered = counters.results_ok + sum(counters.results_error.values()) + counters.calls_unanswered
    assert counters.calls_received == answered, counters.to_dict()
    assert not errors, [r.getMessage() for r in errors]


@fuzz_settings(150)
@given(frames(mcp=False))
def test_jsonrpc_connection_survives_anything(loop: asyncio.AbstractEventLoop, plan: list[Frame]) -> None:
    run(loop, "jsonrpc", plan)


@fuzz_settings(150)
@given(frames(mcp=True))
def test_mcp_connection_survives_anything(loop: asyncio.AbstractEventLoop, plan: list[Frame]) -> None:
    run(loop, "mcp", plan)
