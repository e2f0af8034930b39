"""Cases 9.x: the protocol (shared/PROTOCOL.md, JSON-RPC 2.0, MCP): handshake, tokens, unknown tool, duplicate
request id, invalid JSON, a call before the handshake."""

from __future__ import annotations

from secrets import token_hex

from probe.case import Case
from probe.client import RawClient
from probe.context import Context
from probe.results import FAILED, NON_STRICT, OK, Outcome
from probe.session import connect, ended, fail, hello, next_answer, ready, skip, upgrade
from probe.speakers import PARSE_ERROR, UNKNOWN_TOOL_RPC, Answer
from probe.wire import TEXT, build_frame

EXPECTED_REFUSAL = {"expired": "token_expired", "bad_signature": "invalid_token"}


def _answer_to(ctx: Context, client: RawClient, request_id: int | str) -> Answer | None:
    return next_answer(ctx, client, lambda a: a.request_id == str(request_id) or a.kind == "error")


def _still_open(ctx: Context, client: RawClient) -> str:
    """'' when a call on `client` is still answered; else what happened instead."""
    client.send(build_frame(TEXT, ctx.speaker.call(99, ctx.tool, {"probe": "still open"})))
    answer = next_answer(ctx, client, lambda a: a.request_id == "99")
    return "" if answer is not None and answer.ok else f"the next call was not answered ({ended(client)})"


def protocol_handshake(ctx: Context) -> Outcome:
    """toolcall: hello -> hello_ok; mcp: initialize -> result, then tools/list; jsonrpc: a call answered."""
    client = ready(ctx)
    try:
        name = ctx.speaker.name
        if name == "mcp":
            client.send(build_frame(TEXT, ctx.speaker.rpc_request("probe-tools", "tools/list", {})))
            listed = next_answer(ctx, client, lambda a: a.request_id == "probe-tools")
            if listed is None or not listed.ok:
                return Outcome(FAILED, f"initialize ok, tools/list answered {listed.text if listed else ended(client)}")
            return Outcome(OK, "initialize answered, initialized sent, tools/list answered")
        problem = _still_open(ctx, client)
        if problem:
            return Outcome(FAILED, f"handshake ok, then {problem}")
        said = "hello answered hello_ok" if name == "toolcall" else "no handshake (token in the upgrade)"
        if ctx.speaker.protocol.has_hello and name == "jsonrpc":
            said = "--rpc-hello answered"
        return Outcome(OK, f"{said}; a call of {ctx.tool} answered")
    finally:
        client.close()


def _refused_at_upgrade(ctx: Context, token: str, expected: str) -> Outcome:
    """jsonrpc / mcp: a bad bearer token is refused at the upgrade with 401."""
    client = connect(ctx)
    try:
        answer = upgrade(ctx, client, token)
        said = next((c for c in EXPECTED_REFUSAL.values() if c.encode() in client.buf), "")
        if answer.status == 401:
            return Outcome(OK, f"upgrade refused 401{' (' + said + ')' if said else ''}")
        if 400 <= answer.status < 500:
            return Outcome(NON_STRICT, f"upgrade refused {answer.status}, expected 401")
        if answer.status != 101:
            return Outcome(FAILED, f"upgrade answered {answer.status}, expected 401")
        reply = hello(ctx, client, token)
        if reply is not None and reply.kind == "error":
            return Outcome(NON_STRICT, f"upgraded (101), then the handshake refused it: {reply.code}")
        return Outcome(FAILED, f"upgraded (101) with a token that should be refused as {expected}")
    finally:
        client.close()


def _refused_at_hello(ctx: Context, token: str, expected: str) -> Outcome:
    """toolcall: hello with a bad token answered `{"op":"error","code":expected}` and close 1008."""
    client = connect(ctx)
    try:
        answer = upgrade(ctx, client)
        if answer.status != 101:
            raise fail(f"upgrade answered {answer.status} {answer.reason}, expected 101")
        reply = hello(ctx, client, token)
        if reply is None or reply.kind == "hello_ok":
            return Outcome(FAILED, f"hello was {'accepted' if reply else 'not answered: ' + ended(client)}")
        client.until_end()
        closed = client.close_code
        if reply.code == expected and closed == 1008:
            return Outcome(OK, f"error {expected}, close 1008", remote_close_code=closed)
        return Outcome(NON_STRICT, f"error {reply.code}, {ended(client)}; expected {expected} and close 1008",
                       remote_close_code=closed)  # fmt: skip
    finally:
        client.close()


def token_case(case_id: str, kind: str) -> Case:
    """The handshake with an expired token, or one whose signature is broken, is refused with the protocol's code."""
    expected = EXPECTED_REFUSAL[kind]

    def run(ctx: Context) -> Outcome:
        token = getattr(ctx.tokens, kind)
        if token is None:
            raise skip(ctx.tokens.why_no_expired if kind == "expired" else "no token to corrupt: give a credential")
        if ctx.speaker.token_in_upgrade:
            return _refused_at_upgrade(ctx, token, expected)
        return _refused_at_hello(ctx, token, expected)

    return Case(case_id, f"handshake with a{'n expired' if kind == 'expired' else ' bad-signature'} token", run)


def unknown_tool(ctx: Context) -> Outcome:
    """A call of a tool the server lacks: toolcall unknown_tool, jsonrpc -32601, mcp -32602; the connection stays."""
    client = ready(ctx)
    try:
        client.send(build_frame(TEXT, ctx.speaker.call(91, f"probe_no_such_tool_{token_hex(3)}", {})))
        answer = _answer_to(ctx, client, 91)
        if answer is None or answer.ok or answer.request_id != "91":
            return Outcome(FAILED, f"answered {answer.text if answer else ended(client)!r}")
        name = ctx.speaker.name
        right = answer.code == "unknown_tool" if name == "toolcall" else answer.rpc == UNKNOWN_TOOL_RPC.get(name)
        problem = _still_open(ctx, client)
        if problem:
            return Outcome(FAILED, f"error {answer.code}, then {problem}")
        said = answer.code if answer.rpc is None else f"{answer.rpc} ({answer.code})"
        if not right:
            return Outcome(NON_STRICT, f"error {said}, expected {UNKNOWN_TOOL_RPC.get(name, 'unknown_tool')}")
        return Outcome(OK, f"error {said}; the connection stays open")
    finally:
        client.close()


def duplicate_id(ctx: Context) -> Outcome:
    """Two calls with the same request id, the first still running: the second is refused (duplicate_request_id)."""
    if ctx.tools is not None and ctx.slow_tool not in ctx.tools:
        raise skip(f"the server lists no {ctx.slow_tool} tool to keep a call in flight")
    client = ready(ctx)
    try:
        ms = int(ctx.timeout_s * 250)
        call = ctx.speaker.call(92, ctx.slow_tool, {"ms": ms})
        client.send(build_frame(TEXT, call) + build_frame(TEXT, call))
        first = _answer_to(ctx, client, 92)
        if first is None:
            return Outcome(FAILED, f"no answer to the duplicate ({ended(client)})")
        if first.ok:
            return Outcome(FAILED, f"both calls ran: the first answer for the id was a success after {ms} ms")
        if first.code in ("unknown_tool", str(UNKNOWN_TOOL_RPC.get(ctx.speaker.name))):
            raise skip(f"the server has no {ctx.slow_tool} tool to keep a call in flight")
        second = _answer_to(ctx, client, 92)
        tail = "; the first call answered" if second is not None and second.ok else "; the first call never answered"
        if first.code == "duplicate_request_id" or (ctx.speaker.name != "toolcall" and first.kind == "result"):
            return Outcome(OK, f"the duplicate refused ({first.code}){tail}")
        return Outcome(NON_STRICT, f"the duplicate refused with {first.code}, expected duplicate_request_id{tail}")
    finally:
        client.close()


def invalid_json(ctx: Context) -> Outcome:
    """A text message that is not JSON: toolcall error bad_message, JSON-RPC -32700 (id null); stays open."""
    client = ready(ctx)
    try:
        client.send(build_frame(TEXT, b'{"op": "call_tool", "request_id": "93", "name": '))
        answer = next_answer(ctx, client, lambda a: a.kind in ("error", "result"))
        if answer is None:
            return Outcome(FAILED, f"no error answer: the connection ended ({ended(client)})")
        toolcall = ctx.speaker.name == "toolcall"
        right = answer.code == "bad_message" if toolcall else answer.rpc == PARSE_ERROR and answer.request_id is None
        problem = _still_open(ctx, client)
        if problem:
            return Outcome(FAILED, f"error {answer.code}, then {problem}")
        if not right:
            return Outcome(NON_STRICT, f"answered {answer.text!r}, expected {'bad_message' if toolcall else -32700}")
        return Outcome(OK, f"error {answer.code if toolcall else -32700}; the connection stays open")
    finally:
        client.close()


def before_handshake(ctx: Context) -> Outcome:
    """A call before the handshake: error hello_required and close 1008 (no handshake in plain jsonrpc: skipped)."""
    if not ctx.speaker.protocol.has_hello:
        raise skip(f"{ctx.speaker.name} has no handshake before calls")
    client = connect(ctx)
    try:
        token = ctx.tokens.good if ctx.speaker.token_in_upgrade else None
        answer = upgrade(ctx, client, token)
        if answer.status != 101:
            raise fail(f"upgrade answered {answer.status} {answer.reason}, expected 101")
        client.send(build_frame(TEXT, ctx.speaker.call(94, ctx.tool, {"probe": "too early"})))
        reply = next_answer(ctx, client, lambda a: True)
        client.until_end()
        closed = client.close_code
        if reply is not None and reply.ok and reply.kind == "result":
            return Outcome(FAILED, "the call was answered before the handshake", remote_close_code=closed)
        code = reply.code if reply else None
        if code == "hello_required" and closed == 1008:
            return Outcome(OK, "error hello_required, close 1008", remote_close_code=closed)
        return Outcome(NON_STRICT, f"refused with {code}, {ended(client)}; expected hello_required and close 1008",
                       remote_close_code=closed)  # fmt: skip
    finally:
        client.close()


CASES = (
    Case("9.1", "protocol handshake with a good token", protocol_handshake),
    token_case("9.2", "expired"),
    token_case("9.3", "bad_signature"),
    Case("9.4", "call of an unknown tool", unknown_tool),
    Case("9.5", "duplicate request id while the first call runs", duplicate_id),
    Case("9.6", "invalid JSON in a text frame", invalid_json),
    Case("9.7", "call before the handshake", before_handshake),
)
