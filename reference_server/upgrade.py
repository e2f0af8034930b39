"""The upgrade of the jsonrpc and mcp protocols: the bearer token (and subprotocol) checked before 101."""

from __future__ import annotations

import time
from collections.abc import Mapping

from picows import WSUpgradeRequest, WSUpgradeResponse, WSUpgradeResponseWithListener

from .auth import AuthError
from .connection import Connection
from .context import ServerContext
from .jsonrpc import JsonRpcCodec
from .mcp import McpCodec

#: --protocol -> its codec (toolcall's connections are accepted elsewhere: its hello carries the token).
RPC_PROTOCOLS: dict[str, type[JsonRpcCodec]] = {"jsonrpc": JsonRpcCodec, "mcp": McpCodec}


def bearer_token(headers: Mapping[str, str]) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    value = headers.get("Authorization")
    if value is None:
        return None
    scheme, _, token = value.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def offers(headers: WSUpgradeRequest, subprotocol: str) -> bool:
    """True if the request's Sec-WebSocket-Protocol headers list ``subprotocol``."""
    offered = headers.headers.getall("Sec-WebSocket-Protocol", [])
    return any(subprotocol == name.strip() for value in offered for name in value.split(","))


def refusal(status: int, text: str, extra: Mapping[str, str] | None = None) -> WSUpgradeResponseWithListener:
    """An HTTP error answer to the upgrade (no listener)."""
    headers = {"Content-Type": "text/plain", **(extra or {})}
    response = WSUpgradeResponse.create_error_response(status, f"{status} {text}\n".encode(), headers)
    return WSUpgradeResponseWithListener(response, None)


def version_refusal(request: WSUpgradeRequest) -> WSUpgradeResponseWithListener | None:
    """426 naming version 13 for an upgrade asking for another WebSocket version (RFC 6455 4.2.2: picows
    would answer a bare 400, without the Sec-WebSocket-Version header a client needs to retry); else None."""
    if request.headers.get("Sec-WebSocket-Version", "").strip() == "13":
        return None
    return refusal(426, "Upgrade Required: WebSocket version 13", {"Sec-WebSocket-Version": "13"})


def accept_rpc(ctx: ServerContext, request: WSUpgradeRequest) -> Connection | WSUpgradeResponseWithListener:
    """Accept a jsonrpc / mcp upgrade, or refuse it: 400 without the subprotocol, 401 without a valid token.

    The token is checked as hello's is (same verifier, same codes): accepted ones count in
    ``hello_ok`` (jsonrpc; mcp counts at initialize), refused ones in ``hello_refused``.
    """
    cls = RPC_PROTOCOLS[ctx.protocol]
    counters = ctx.counters
    if cls.SUBPROTOCOL is not None and not offers(request, cls.SUBPROTOCOL):
        counters.refuse_hello("subprotocol_required")
        return refusal(400, f"Bad Request: subprotocol {cls.SUBPROTOCOL} required")
    token = bearer_token(request.headers)
    challenge = {"WWW-Authenticate": "Bearer"}
    if token is None:
        counters.refuse_hello("invalid_token")
        return refusal(401, "Unauthorized: bearer token required", challenge)
    try:
        grant = ctx.verifier.verify(token, time.time())
    except AuthError as exc:
        counters.refuse_hello(exc.code)
        return refusal(401, f"Unauthorized: {exc.code}", challenge)
    listener = Connection(ctx, grant.scope)
    if cls.SUBPROTOCOL is None:
        return listener
    return WSUpgradeResponseWithListener(
        WSUpgradeResponse.create_101_response({"Sec-WebSocket-Protocol": cls.SUBPROTOCOL}), listener
    )
