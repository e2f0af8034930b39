"""websocket-client helpers for talking to the reference server in tests, plus JWT minting.

All waits are bounded (``timeout`` seconds). Works under gevent monkey patching.
"""

from __future__ import annotations

import errno
import json
import ssl
import struct
from collections.abc import Iterable, Sequence
from typing import Any

import jwt
import websocket
from websocket import ABNF

DEFAULT_TIMEOUT_S = 5.0
#: Close code reported when the server drops the TCP connection without a CLOSE frame.
ABNORMAL_CLOSURE = 1006


#: recv_end outcomes besides a close code.
RESET = "reset"
EOF = "eof"


def connect(
    url: str,
    *,
    timeout: float = DEFAULT_TIMEOUT_S,
    ca_file: str | None = None,
    skip_utf8_validation: bool = False,
    sockopt: Sequence[tuple[int, int, int]] = (),
) -> websocket.WebSocket:
    """Open a WebSocket (``ca_file`` to trust a test CA for wss://).

    ``skip_utf8_validation=True`` lets text frames with invalid UTF-8 through (to inspect them).
    ``sockopt`` are ``setsockopt`` triples applied before connecting, e.g. a small ``SO_RCVBUF``.
    """
    sslopt = {"cert_reqs": ssl.CERT_REQUIRED, "ca_certs": ca_file} if ca_file else None
    return websocket.create_connection(
        url,
        timeout=timeout,
        sslopt=sslopt,
        enable_multithread=False,
        skip_utf8_validation=skip_utf8_validation,
        sockopt=tuple(sockopt),
    )


def recv_frame(ws: websocket.WebSocket, timeout: float = DEFAULT_TIMEOUT_S) -> tuple[int, bytes]:
    """The next data message as (opcode, payload bytes), whatever it holds; close frames included."""
    ws.settimeout(timeout)
    opcode, data = ws.recv_data()
    return opcode, data if isinstance(data, bytes) else data.encode()


def recv_end(ws: websocket.WebSocket, timeout: float = DEFAULT_TIMEOUT_S) -> int | str:
    """Skip messages until the connection ends: the CLOSE code, ``RESET`` (TCP RST) or ``EOF``."""
    ws.settimeout(timeout)
    try:
        while True:
            opcode, frame = ws.recv_data_frame(control_frame=True)
            if opcode == ABNF.OPCODE_CLOSE:
                return close_code_of(frame.data)
    except ConnectionResetError:
        return RESET
    except OSError as exc:
        if exc.errno == errno.ECONNRESET:
            return RESET
        raise
    except websocket.WebSocketConnectionClosedException:
        return EOF


def is_silent(ws: websocket.WebSocket, seconds: float) -> bool:
    """True if nothing at all arrives on ``ws`` for ``seconds`` (the connection stays open)."""
    ws.settimeout(seconds)
    try:
        ws.recv_data_frame(control_frame=True)
    except (TimeoutError, websocket.WebSocketTimeoutException):
        return True
    return False


def send_json(ws: websocket.WebSocket, message: Any) -> None:
    """Send one JSON text message."""
    ws.send(json.dumps(message))


def recv_json(ws: websocket.WebSocket, timeout: float = DEFAULT_TIMEOUT_S) -> dict[str, Any]:
    """Receive the next text message as JSON; AssertionError on a binary or close frame."""
    ws.settimeout(timeout)
    opcode, data = ws.recv_data()
    if opcode == ABNF.OPCODE_CLOSE:
        raise AssertionError(f"expected a message, got close {close_code_of(data)}")
    assert opcode == ABNF.OPCODE_TEXT, f"expected a text frame, got opcode {opcode}"
    return json.loads(data)


def recv_close(ws: websocket.WebSocket, timeout: float = DEFAULT_TIMEOUT_S) -> int:
    """Skip messages until the server's CLOSE; return its code (1006 if the socket just ends)."""
    try:
        end = recv_end(ws, timeout)
    except ConnectionError:
        return ABNORMAL_CLOSURE
    return end if isinstance(end, int) else ABNORMAL_CLOSURE


def close_code_of(payload: bytes) -> int:
    """The status code in a CLOSE frame payload (1005 when it has none)."""
    return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005


def hello(
    ws: websocket.WebSocket, token: str, session_id: str = "test-session", timeout: float = DEFAULT_TIMEOUT_S
) -> dict[str, Any]:
    """Send hello and return the server's answer (hello_ok or error)."""
    send_json(ws, {"op": "hello", "session_id": session_id, "token": token})
    return recv_json(ws, timeout)


def call_tool(ws: websocket.WebSocket, request_id: str, name: str, arguments: Any = None) -> None:
    """Send one call_tool (``arguments`` defaults to {})."""
    send_json(
        ws,
        {
            "op": "call_tool",
            "request_id": request_id,
            "name": name,
            "arguments": {} if arguments is None else arguments,
        },
    )


def call(
    ws: websocket.WebSocket,
    name: str,
    arguments: Any = None,
    request_id: str = "r1",
    timeout: float = DEFAULT_TIMEOUT_S,
) -> dict[str, Any]:
    """call_tool and return the next message (expected to be its tool_result)."""
    call_tool(ws, request_id, name, arguments)
    reply = recv_json(ws, timeout)
    assert reply.get("request_id") == request_id, reply
    return reply


def send_fragments(ws: websocket.WebSocket, parts: Sequence[bytes], opcode: int = ABNF.OPCODE_TEXT) -> None:
    """Send one message split into frames: ``opcode`` first, then continuation frames."""
    for i, part in enumerate(parts):
        frame = ABNF.create_frame(part, opcode if i == 0 else ABNF.OPCODE_CONT, fin=int(i == len(parts) - 1))
        ws.send_frame(frame)


def mint_token(
    key: Any,
    *,
    now: float,
    sub: str = "tester",
    scope: Any = ("tools:*",),
    ttl_s: float = 600,
    algorithm: str = "HS256",
    omit: Iterable[str] = (),
    **claims: Any,
) -> str:
    """A JWT with sub, iat=now, exp=now+ttl_s and scope (a list, or any value as given).

    ``claims`` add or override claims (e.g. ``nbf=``, ``aud=``); ``omit`` drops claims.
    """
    body: dict[str, Any] = {
        "sub": sub,
        "iat": int(now),
        "exp": int(now + ttl_s),
        "scope": list(scope) if isinstance(scope, tuple) else scope,
    }
    body.update(claims)
    for name in omit:
        body.pop(name, None)
    return jwt.encode(body, key, algorithm=algorithm)
