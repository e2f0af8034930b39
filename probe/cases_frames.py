"""Cases 2.x-5.x: ping/pong, reserved bits and opcodes, masking, fragmentation, UTF-8 (RFC 6455 sections 5-8)."""

from __future__ import annotations

from probe.case import Case
from probe.client import RawClient
from probe.context import Context
from probe.results import FAILED, OK, Outcome
from probe.session import close_expected, ended, fail, next_answer, ready
from probe.wire import BINARY, CONT, PING, TEXT, build_frame

PING_PAYLOAD = b"probe-ping\x00\x01\xfe\xff"
"""A ping payload with bytes that are not text: the pong must carry them back unchanged."""


def _call(ctx: Context, request_id: int) -> bytes:
    return ctx.speaker.call(request_id, ctx.tool, {"probe": "fragmented", "n": request_id})


def _result_for(ctx: Context, client: RawClient, request_id: int) -> str:
    """'' when the call `request_id` was answered; else what went wrong."""
    answer = next_answer(ctx, client, lambda a: a.kind in ("result", "error"))
    if answer is None:
        return f"connection ended ({ended(client)}) instead of an answer"
    if answer.kind == "error" or answer.request_id != str(request_id) or not answer.ok:
        return f"answered {answer.text!r}"
    return ""


def ping(ctx: Context) -> Outcome:
    """A ping with a 14-byte payload is answered by a pong with the same payload."""
    client = ready(ctx)
    try:
        client.send(build_frame(PING, PING_PAYLOAD))
        pong = client.pong()
        if pong is None:
            return Outcome(FAILED, f"no pong: the connection ended ({ended(client)})")
        if pong.payload != PING_PAYLOAD:
            return Outcome(FAILED, f"pong payload {pong.payload[:20]!r}, expected {PING_PAYLOAD!r}")
        return Outcome(OK, f"pong with the same {len(PING_PAYLOAD)}-byte payload")
    finally:
        client.close()


def fragmented(ctx: Context) -> Outcome:
    """A call sent as three fragments (text, continuation, continuation) is answered."""
    client = ready(ctx)
    try:
        data = _call(ctx, 41)
        a, b = len(data) // 3, 2 * len(data) // 3
        client.send(build_frame(TEXT, data[:a], fin=False) + build_frame(CONT, data[a:b], fin=False)
                    + build_frame(CONT, data[b:]))  # fmt: skip
        problem = _result_for(ctx, client, 41)
        return Outcome(FAILED, f"3-fragment call: {problem}") if problem else Outcome(OK, "3-fragment call answered")
    finally:
        client.close()


def interleaved_ping(ctx: Context) -> Outcome:
    """A ping between two fragments of a call is answered at once, and the call afterwards."""
    client = ready(ctx)
    try:
        data = _call(ctx, 42)
        half = len(data) // 2
        client.send(build_frame(TEXT, data[:half], fin=False) + build_frame(PING, b"mid"))
        pong = client.pong()
        if pong is None or pong.payload != b"mid":
            raise fail(f"no pong 'mid' for the ping inside a fragmented message ({ended(client)})")
        client.send(build_frame(CONT, data[half:]))
        problem = _result_for(ctx, client, 42)
        return Outcome(FAILED, f"after the ping: {problem}") if problem else Outcome(OK, "pong, then the call answered")
    finally:
        client.close()


def bad_ping(ctx: Context) -> Outcome:
    return close_expected(ctx, build_frame(PING, b"p" * 126), 1002)


def reserved_bits(ctx: Context) -> Outcome:
    return close_expected(ctx, build_frame(TEXT, _call(ctx, 43), rsv=2), 1002)


def reserved_opcode(ctx: Context) -> Outcome:
    return close_expected(ctx, build_frame(0x3, b"probe"), 1002)


def unmasked(ctx: Context) -> Outcome:
    return close_expected(ctx, build_frame(TEXT, _call(ctx, 44), masked=False), 1002)


def lone_continuation(ctx: Context) -> Outcome:
    return close_expected(ctx, build_frame(CONT, _call(ctx, 45)), 1002)


def invalid_utf8(ctx: Context) -> Outcome:
    data = ctx.speaker.call(46, ctx.tool, {"s": "PROBE-MARK"}).replace(b"PROBE-MARK", b"\xce\xba\xff\xfe")
    return close_expected(ctx, build_frame(TEXT, data), 1007)


def binary_mixed(ctx: Context) -> Outcome:
    """A text message started inside a fragmented binary one is a protocol error."""
    return close_expected(ctx, build_frame(BINARY, b"\x00", fin=False) + build_frame(TEXT, _call(ctx, 47)), 1002)


CASES = (
    Case("2.1", "ping with payload answered by an equal pong", ping),
    Case("2.2", "ping with a 126-byte payload (control frames hold at most 125) closed 1002", bad_ping),
    Case("3.1", "RSV2 set without an extension closed 1002", reserved_bits),
    Case("3.2", "reserved opcode 0x3 closed 1002", reserved_opcode),
    Case("3.3", "unmasked client frame closed 1002", unmasked),
    Case("4.1", "fragmented text message", fragmented),
    Case("4.2", "ping between the fragments of a message", interleaved_ping),
    Case("4.3", "continuation frame without a message closed 1002", lone_continuation),
    Case("4.4", "new message inside a fragmented one closed 1002", binary_mixed),
    Case("5.1", "invalid UTF-8 in a text frame closed 1007", invalid_utf8),
)
