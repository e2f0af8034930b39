"""Cases 6.x-7.x: the closing handshake and close codes, and the message size limit (RFC 6455 sections 5.5.1, 7)."""

from __future__ import annotations

from probe.case import Case
from probe.context import Context
from probe.results import CLOSE_OK, FAILED, NON_STRICT, OK, UNCLEAN, WRONG_CODE, Outcome, close_behavior
from probe.session import close_expected, ready, seen, skip
from probe.wire import CLOSE, CONT, TEXT, build_frame, close_payload

FRAGMENT = 64 * 1024
INVALID_CODES = (0, 999, 1004, 1005, 1006, 1015, 5000)
"""Close codes no endpoint may send (RFC 6455 7.4): unassigned, reserved, or never put on the wire."""


def normal_close(ctx: Context) -> Outcome:
    """A close 1000 is answered with a close (1000 echoed) and the server ends TCP."""
    client = ready(ctx)
    try:
        client.send(build_frame(CLOSE, close_payload(1000, b"probe done")))
        frames = client.until_end()
        code = client.close_code
        behavior_close = close_behavior(1000, client.got_close, code, client.clean)
        if not client.got_close:
            return Outcome(FAILED, f"no close frame in answer ({client.end or 'still open'})", behavior_close)
        if code != 1000:
            detail = f"answered close {code}, the normal answer echoes 1000"
            return Outcome(NON_STRICT, detail, behavior_close, code)
        if not client.clean:
            return Outcome(NON_STRICT, "close 1000 echoed, but the server kept TCP open", behavior_close, code)
        other = seen(frames)
        return Outcome(
            OK, "close 1000 echoed, TCP closed" + (f" (after {other})" if other else ""), behavior_close, code
        )
    finally:
        client.close()


def invalid_code(case_id: str, code: int) -> Case:
    """A close with a code no endpoint may send is answered with 1002."""

    def run(ctx: Context) -> Outcome:
        return close_expected(ctx, build_frame(CLOSE, close_payload(code)), 1002)

    return Case(case_id, f"close with invalid code {code} answered 1002", run)


def empty_close(ctx: Context) -> Outcome:
    """A close without a payload is answered with a close (1000 or none) and the server ends TCP."""
    client = ready(ctx)
    try:
        client.send(build_frame(CLOSE))
        client.until_end()
        code = client.close_code
        if not client.got_close:
            return Outcome(FAILED, f"no close frame in answer ({client.end or 'still open'})", UNCLEAN)
        if code not in (None, 1000):
            return Outcome(NON_STRICT, f"answered close {code}, expected 1000 or no code", WRONG_CODE, code)
        if not client.clean:
            return Outcome(NON_STRICT, "close answered, but the server kept TCP open", UNCLEAN, code)
        return Outcome(OK, f"close {'without a code' if code is None else code} answered, TCP closed", CLOSE_OK, code)
    finally:
        client.close()


def one_byte_close(ctx: Context) -> Outcome:
    return close_expected(ctx, build_frame(CLOSE, b"\x03"), 1002)


def bad_reason(ctx: Context) -> Outcome:
    return close_expected(ctx, build_frame(CLOSE, close_payload(1000, b"bye \xff\xfe")), 1007)


def _limit(ctx: Context) -> int:
    if not ctx.max_message_bytes:
        raise skip("the server's message size limit is unknown (--max-message-bytes 0)")
    return ctx.max_message_bytes


def _big_message(ctx: Context, size: int) -> bytes:
    """A call of exactly `size` bytes (its padding makes up the size)."""
    head = ctx.speaker.call(48, ctx.tool, {"pad": "PROBE-PAD"})
    return head.replace(b"PROBE-PAD", b"x" * max(0, size - len(head) + len(b"PROBE-PAD")))


def oversize_frame(ctx: Context) -> Outcome:
    """One text frame a byte over the limit: closed with 1009."""
    size = _limit(ctx) + 1
    return close_expected(ctx, build_frame(TEXT, _big_message(ctx, size)), 1009)


def oversize_fragments(ctx: Context) -> Outcome:
    """A message a byte over the limit in 64 KiB fragments, each under the limit: closed with 1009."""
    data = _big_message(ctx, _limit(ctx) + 1)
    pieces = [data[i : i + FRAGMENT] for i in range(0, len(data), FRAGMENT)]
    frames = [build_frame(TEXT if i == 0 else CONT, p, fin=i == len(pieces) - 1) for i, p in enumerate(pieces)]
    return close_expected(ctx, b"".join(frames), 1009)


CASES = (
    Case("6.1", "close 1000 echoed", normal_close),
    *(invalid_code(f"6.{i}", code) for i, code in enumerate(INVALID_CODES, start=2)),
    Case("6.9", "close with a 1-byte payload answered 1002", one_byte_close),
    Case("6.10", "close reason with invalid UTF-8 answered 1007", bad_reason),
    Case("6.11", "close without a payload answered", empty_close),
    Case("7.1", "message over the size limit in one frame closed 1009", oversize_frame),
    Case("7.2", "message over the size limit in fragments closed 1009", oversize_fragments),
)
