"""Connections for the cases: upgraded (with the protocol's headers), past the handshake, and read for answers."""

from __future__ import annotations

import time
from collections.abc import Callable
from secrets import token_hex

from probe.client import RawClient
from probe.context import Context
from probe.handshake import UpgradeAnswer, upgrade_request
from probe.results import FAILED, INFORMATIONAL, Outcome, expected_close
from probe.speakers import Answer
from probe.wire import CLOSE, CONT, PING, PONG, TEXT, build_frame, describe


class CaseEnd(Exception):
    """A case ends early with `outcome` (a failed step, or a case that cannot run here)."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.detail)
        self.outcome = outcome


def fail(detail: str) -> CaseEnd:
    return CaseEnd(Outcome(FAILED, detail))


def skip(why: str) -> CaseEnd:
    return CaseEnd(Outcome(INFORMATIONAL, f"skipped: {why}"))


def connect(ctx: Context) -> RawClient:
    """A TCP connection for one case, with the case's deadline."""
    return RawClient.connect(ctx.target, time.monotonic() + ctx.timeout_s, ctx.tls)


def upgrade(ctx: Context, client: RawClient, token: str | None = None, extra: list[str] | None = None,
            **request: str | None) -> UpgradeAnswer:  # fmt: skip
    """Upgrade with the protocol's headers (`token` in the bearer header for jsonrpc/mcp) plus `extra`."""
    headers = ctx.speaker.upgrade_headers(token) + (extra or [])
    return client.upgrade(upgrade_request(ctx.target.host_header, ctx.target.path, extra=headers, **request))


def opened(ctx: Context, extra: list[str] | None = None) -> tuple[RawClient, UpgradeAnswer]:
    """An upgraded connection (101 or the case fails), the good token where the protocol wants it."""
    client = connect(ctx)
    answer = upgrade(ctx, client, ctx.tokens.good if ctx.speaker.token_in_upgrade else None, extra)
    if answer.status != 101:
        client.close()
        raise fail(f"upgrade answered {answer.status} {answer.reason}, expected 101")
    return client, answer


def hello(ctx: Context, client: RawClient, token: str | None) -> Answer | None:
    """Send the protocol's handshake with `token`; its answer (None: the protocol has no handshake)."""
    message = ctx.speaker.hello(f"probe-{token_hex(4)}", token or "")
    if message is None:
        return None
    client.send(build_frame(TEXT, message))
    return next_answer(ctx, client, lambda a: a.kind in ("hello_ok", "error"))


def ready(ctx: Context, extra: list[str] | None = None) -> RawClient:
    """A connection past the handshake (hello_ok, or MCP's initialize answered and `initialized` sent)."""
    client, _ = opened(ctx, extra)
    return handshake(ctx, client)


def handshake(ctx: Context, client: RawClient) -> RawClient:
    """`client` (upgraded) taken past the protocol's handshake with the good token; the case fails otherwise."""
    if not ctx.speaker.token_in_upgrade and not ctx.tokens.good:
        client.close()
        raise skip("no token: give --jwt-secret, --jwt-private-key or --token")
    answer = hello(ctx, client, ctx.tokens.good)
    if answer is not None and answer.kind != "hello_ok":
        client.close()
        raise fail(f"the handshake with a good token was answered {answer.text!r}")
    if answer is not None and answer.tools is not None:
        ctx.tools = list(answer.tools)
    for message in ctx.speaker.after_hello():
        client.send(build_frame(TEXT, message))
    return client


def next_answer(ctx: Context, client: RawClient, wanted: Callable[[Answer], bool]) -> Answer | None:
    """The next text message that `wanted` accepts (pings answered, others skipped); None if the connection
    ended first. The case's deadline bounds the wait (ProbeTimeout)."""
    parts: list[bytes] = []
    compressed = False
    while (frame := client.frame()) is not None:
        if frame.opcode in (TEXT, CONT):
            compressed = bool(frame.rsv & 4) if frame.opcode == TEXT else compressed
            parts.append(frame.payload)
            if not frame.fin:
                continue
            payload = b"".join(parts)
            parts = []
            if compressed and client.inflate is not None:
                payload = client.inflate(payload)
            answer = ctx.speaker.read(payload)
            if wanted(answer):
                return answer
        elif frame.opcode == PING:
            client.send(build_frame(PONG, frame.payload))
        elif frame.opcode == CLOSE:
            return None
    return None


def ended(client: RawClient) -> str:
    """How the connection ended so far, for a detail: `close 1008`, `eof`, ..."""
    if client.got_close:
        return f"close {client.close_code}"
    return client.end or "still open"


def seen(frames: list) -> str:
    """The frames of a list, described briefly (close frames left out)."""
    return ", ".join(describe(f) for f in frames[:3] if f.opcode != CLOSE)


def close_expected(ctx: Context, data: bytes, wanted: int, client: RawClient | None = None) -> Outcome:
    """Send `data` on a ready connection (or `client`) and read until the server ends it: it must close `wanted`."""
    client = client or ready(ctx)
    try:
        client.send(data)
        frames = client.until_end()
        return expected_close(wanted, client.got_close, client.close_code, client.end, client.clean, seen(frames))
    finally:
        client.close()
