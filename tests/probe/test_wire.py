"""Pure wire parts of the probe: frames (broken ones too), the upgrade's request and answer, URLs, answers of each
protocol, and the tokens (no sockets)."""

from __future__ import annotations

import jwt
import pytest

from probe.context import Tokens
from probe.handshake import PROBE_KEY, accept_for, parse_answer, split_head, upgrade_request
from probe.speakers import read_answer
from probe.target import TargetError, parse_target
from probe.tokens import tokens_for
from probe.wire import CLOSE, PING, TEXT, build_frame, close_code, close_payload, describe, parse_frame
from tests.probe.test_cli_options import options_for

SECRET = "probe-test-secret-0123456789abcdef0123"
NO_TIME_CHECKS = {"verify_exp": False, "verify_iat": False, "verify_nbf": False}
"""The tokens are minted at a fixed `now`: only their claims and signatures are checked here."""


def test_rfc_6455_sample_accept() -> None:
    assert accept_for(PROBE_KEY) == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="  # RFC 6455 section 1.3


def test_rfc_6455_masked_hello_frame() -> None:
    # RFC 6455 section 5.7: a single-frame masked text message "Hello"
    assert build_frame(TEXT, b"Hello", key=b"\x37\xfa\x21\x3d") == bytes.fromhex("818537fa213d7f9f4d5158")


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536])
def test_frames_round_trip_at_every_length_form(size: int) -> None:
    data = build_frame(TEXT, b"x" * size, fin=False, rsv=5) + b"rest"
    parsed = parse_frame(data)
    assert parsed is not None
    frame, used = parsed
    assert (frame.fin, frame.rsv, frame.opcode, frame.masked, frame.payload) == (False, 5, TEXT, True, b"x" * size)
    assert data[used:] == b"rest"
    assert parse_frame(data[: used - 1]) is None


def test_an_unmasked_frame_is_built_unmasked() -> None:
    data = build_frame(PING, b"abc", masked=False)
    assert data == b"\x89\x03abc"
    parsed = parse_frame(data)
    assert parsed is not None and parsed[0].masked is False and parsed[0].payload == b"abc"


def test_close_payloads() -> None:
    assert close_code(close_payload(1002, b"why")) == 1002
    assert close_code(b"\x03") is None
    frame, _ = parse_frame(b"\x88\x01\x03")  # type: ignore[misc]
    assert describe(frame) == "close without code (1 bytes)" and frame.opcode == CLOSE


def test_a_huge_announced_frame_is_refused() -> None:
    with pytest.raises(ValueError):
        parse_frame(b"\x81\x7f" + (1 << 40).to_bytes(8, "big"), limit=1 << 20)


def test_upgrade_request_can_leave_the_key_out_and_ask_another_version() -> None:
    text = upgrade_request("h:1", "/ws?x=1", key=None, version="12", extra=["A: b"]).decode()
    assert text.startswith("GET /ws?x=1 HTTP/1.1\r\nHost: h:1\r\n") and text.endswith("A: b\r\n\r\n")
    assert "Sec-WebSocket-Key" not in text and "Sec-WebSocket-Version: 12\r\n" in text


def test_an_answer_is_parsed() -> None:
    parts = split_head(b"HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\nX: 1\r\nx: 2\r\n\r\nbody")
    assert parts is not None and parts[1] == b"body"
    answer = parse_answer(parts[0])
    assert (answer.status, answer.reason, answer.header("SEC-WEBSOCKET-VERSION"), answer.header("x")) == (
        426,
        "Upgrade Required",
        "13",
        "1, 2",
    )
    assert split_head(b"HTTP/1.1 101 ...\r\n") is None
    with pytest.raises(ValueError):
        parse_answer(b"SSH-2.0-OpenSSH")


def test_urls() -> None:
    target = parse_target("wss://[::1]/path?token=SECRET")
    assert (target.host, target.port, target.path, target.tls) == ("::1", 443, "/path?token=SECRET", True)
    assert target.shown == "wss://[::1]/path" and "SECRET" not in target.shown
    assert parse_target("ws://h:8079").host_header == "h:8079"
    for bad in ("http://h/", "ws:///nohost", "ws://h:99999/"):
        with pytest.raises(TargetError):
            parse_target(bad)


@pytest.mark.parametrize(
    ("protocol", "payload", "kind", "request_id", "ok", "code", "rpc"),
    [
        ("toolcall", b'{"op":"hello_ok","tools":["echo",{"name":"sleep"}]}', "hello_ok", None, True, None, None),
        ("toolcall", b'{"op":"error","code":"token_expired"}', "error", None, True, "token_expired", None),
        ("toolcall", b'{"op":"tool_result","request_id":"7","ok":false,"error":{"code":"unknown_tool"}}', "result",
         "7", False, "unknown_tool", None),
        ("jsonrpc", b'{"jsonrpc":"2.0","id":7,"error":{"code":-32601,"message":"x","data":{"code":"unknown_tool"}}}',
         "result", "7", False, "unknown_tool", -32601),
        ("jsonrpc", b'{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse"}}', "error", None, False,
         "-32700", -32700),
        ("mcp", b'{"jsonrpc":"2.0","id":"hello","result":{"protocolVersion":"x"}}', "hello_ok", "hello", True, None,
         None),
        ("mcp", b'{"jsonrpc":"2.0","id":3,"result":{"isError":true}}', "result", "3", False, "tool_error", None),
        ("toolcall", b"not json", "other", None, True, None, None),
        ("mcp", b"[1]", "other", None, True, None, None),
    ],
)  # fmt: skip
def test_answers_of_each_protocol(
    protocol: str, payload: bytes, kind: str, request_id: str | None, ok: bool, code: str | None, rpc: int | None
) -> None:
    answer = read_answer(protocol, payload)
    assert (answer.kind, answer.request_id, answer.ok, answer.code, answer.rpc) == (kind, request_id, ok, code, rpc)


def test_hello_ok_lists_tools() -> None:
    assert read_answer("toolcall", b'{"op":"hello_ok","tools":["echo",{"name":"sleep"}]}').tools == ("echo", "sleep")
    assert read_answer("toolcall", b'{"op":"hello_ok"}').tools is None


def test_tokens_from_a_secret_good_expired_and_badly_signed() -> None:
    now = 1_800_000_000.0
    tokens = tokens_for(options_for(jwt_secret=SECRET), now)
    assert tokens.good and tokens.expired and tokens.bad_signature
    claims = jwt.decode(tokens.good, SECRET, algorithms=["HS256"], options=NO_TIME_CHECKS)
    assert claims["exp"] > now
    expired = jwt.decode(tokens.expired, SECRET, algorithms=["HS256"], options=NO_TIME_CHECKS)
    assert expired["exp"] < now - 3000
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(tokens.bad_signature, SECRET, algorithms=["HS256"], options=NO_TIME_CHECKS)
    assert "eyJ" not in repr(tokens)


def test_a_ready_token_cannot_make_an_expired_one() -> None:
    tokens = tokens_for(options_for(token="a.b.c"), 0.0)
    assert tokens == Tokens("a.b.c", None, "a.b.A", why_no_expired="--token gives no key to mint an expired token")
