"""Cases 1.x: the opening handshake (RFC 6455 section 4): 101 with the right accept, bad version, missing key."""

from __future__ import annotations

from probe.case import Case
from probe.context import Context
from probe.handshake import PROBE_KEY, UpgradeAnswer, accept_for
from probe.results import FAILED, NON_STRICT, OK, Outcome
from probe.session import connect, upgrade


def _attempt(ctx: Context, **request: str | None) -> UpgradeAnswer | str:
    """The answer to an upgrade request (the good token where the protocol wants it), or how the server ended."""
    client = connect(ctx)
    try:
        token = ctx.tokens.good if ctx.speaker.token_in_upgrade else None
        return upgrade(ctx, client, token, **request)
    except ValueError as exc:
        return str(exc)
    finally:
        client.close()


def upgrade_ok(ctx: Context) -> Outcome:
    """101 Switching Protocols, Upgrade/Connection headers, Sec-WebSocket-Accept computed from our key."""
    answer = _attempt(ctx)
    if isinstance(answer, str):
        return Outcome(FAILED, answer)
    if answer.status != 101:
        return Outcome(FAILED, f"answered {answer.status} {answer.reason}, expected 101")
    ctx.server_agent = answer.header("server")
    expected = accept_for(PROBE_KEY)
    accept = answer.header("sec-websocket-accept")
    if accept != expected:
        return Outcome(FAILED, f"101 with Sec-WebSocket-Accept {accept[:40]!r}, expected {expected!r}")
    if answer.header("upgrade").lower() != "websocket" or "upgrade" not in answer.header("connection").lower():
        return Outcome(FAILED, "101 without 'Upgrade: websocket' and 'Connection: Upgrade'")
    offered = ctx.speaker.protocol.subprotocols
    chosen = answer.header("sec-websocket-protocol")
    if offered and chosen not in offered:
        return Outcome(FAILED, f"101 with subprotocol {chosen!r}, expected one of {', '.join(offered)}")
    if not offered and chosen:
        return Outcome(FAILED, f"101 with subprotocol {chosen!r}, none offered")
    picked = f", subprotocol {chosen}" if chosen else ""
    return Outcome(OK, f"101, Sec-WebSocket-Accept correct{picked}")


def bad_version(ctx: Context) -> Outcome:
    """Sec-WebSocket-Version 12: refused with an HTTP error naming the versions served (426 + header)."""
    answer = _attempt(ctx, version="12")
    if isinstance(answer, str):
        return Outcome(NON_STRICT, f"no HTTP answer ({answer}), expected 426 with Sec-WebSocket-Version: 13")
    versions = answer.header("sec-websocket-version")
    status = f"{answer.status} {answer.reason}".strip()
    if answer.status == 101:
        return Outcome(FAILED, "upgraded (101) a request for version 12")
    if 400 <= answer.status < 500 and "13" in versions:
        return Outcome(OK, f"{status} with Sec-WebSocket-Version: {versions}")
    if answer.status in (400, 426):
        return Outcome(NON_STRICT, f"{status} without a Sec-WebSocket-Version header listing 13")
    return Outcome(FAILED, f"answered {status}, expected 426 (or 400) with Sec-WebSocket-Version: 13")


def missing_key(ctx: Context) -> Outcome:
    """No Sec-WebSocket-Key: refused with a 4xx (400 Bad Request)."""
    answer = _attempt(ctx, key=None)
    if isinstance(answer, str):
        return Outcome(NON_STRICT, f"no HTTP answer ({answer}), expected 400")
    status = f"{answer.status} {answer.reason}".strip()
    if answer.status == 101:
        return Outcome(FAILED, "upgraded (101) a request without Sec-WebSocket-Key")
    if 400 <= answer.status < 500:
        return Outcome(OK, f"refused: {status}")
    return Outcome(FAILED, f"answered {status}, expected 400")


CASES = (
    Case("1.1", "handshake", upgrade_ok),
    Case("1.2", "handshake, bad Sec-WebSocket-Version", bad_version),
    Case("1.3", "handshake, no Sec-WebSocket-Key", missing_key),
)
