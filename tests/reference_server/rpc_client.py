"""A websocket-client JSON-RPC 2.0 / MCP client for the protocol tests (bearer token at the upgrade)."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import websocket

from reference_server.launcher import RunningServer
from tests.support.ws import DEFAULT_TIMEOUT_S, mint_token, recv_json, send_json


def token_for(server: RunningServer, **claims: Any) -> str:
    """An HS256 token for ``server`` issued now."""
    return mint_token(server.jwt_secret, now=time.time(), **claims)


def open_rpc(
    server: RunningServer, token: str | None, subprotocols: Sequence[str] | None = None
) -> websocket.WebSocket:
    """Upgrade with ``Authorization: Bearer token`` (none if ``token`` is None)."""
    header = [] if token is None else [f"Authorization: Bearer {token}"]
    return websocket.create_connection(
        server.url, timeout=DEFAULT_TIMEOUT_S, header=header, subprotocols=list(subprotocols) if subprotocols else None
    )


@contextmanager
def rpc_session(server: RunningServer, subprotocols: Sequence[str] | None = None) -> Iterator[websocket.WebSocket]:
    """A connection with a tools:* token, closed at the end."""
    ws = open_rpc(server, token_for(server), subprotocols)
    try:
        yield ws
    finally:
        ws.close()


def request(ws: websocket.WebSocket, request_id: Any, method: str, params: Any = None) -> dict[str, Any]:
    """Send one request and return the next message (expected to be its response)."""
    msg: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params is not None:
        msg["params"] = params
    send_json(ws, msg)
    reply = recv_json(ws)
    assert reply.get("jsonrpc") == "2.0", reply
    return reply


def notify(ws: websocket.WebSocket, method: str, params: Any = None) -> None:
    """Send one notification (no id)."""
    msg: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        msg["params"] = params
    send_json(ws, msg)


def rpc_error(reply: dict[str, Any], request_id: Any, rpc_code: int, code: str | None = None) -> str:
    """``reply`` is an error response with ``rpc_code`` (and data.code ``code``); return its message."""
    assert reply["id"] == request_id and "result" not in reply, reply
    assert reply["error"]["code"] == rpc_code, reply
    if code is not None:
        assert reply["error"]["data"] == {"code": code}, reply
    assert isinstance(reply["error"]["message"], str)
    return reply["error"]["message"]
