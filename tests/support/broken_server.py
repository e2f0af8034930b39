"""A toolcall server that breaks one RFC 6455 or protocol rule on purpose, run as `python -m tests.support.broken_server
--mode MODE`: the probe's tests check that `python -m probe` finds each broken rule (and only it).

Mode `none` keeps every rule the probe checks; each other mode breaks one (MODES). Plain asyncio and hand-written
RFC 6455, independent of the probe's own frame code, so the probe is not checked against itself. The HS256 secret
comes from BROKEN_SERVER_JWT_SECRET; the server prints `port N` once listening on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import struct
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import jwt

from tests.support.server_process import port_printing_server

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
SECRET_ENV = "BROKEN_SERVER_JWT_SECRET"
LIMIT = 1024 * 1024
TOOLS = ("echo", "sleep")
VALID_CLOSE = frozenset({1000, 1001, 1002, 1003, *range(1007, 1015), *range(3000, 5000)})
MODES = {
    "none": "keeps every rule",
    "bad-accept": "answers the upgrade with a wrong Sec-WebSocket-Accept",
    "any-version": "upgrades a request for WebSocket version 12",
    "echo-close-codes": "echoes any close code, even invalid ones, and never checks a close payload",
    "accept-invalid-utf8": "answers invalid UTF-8 with bad_message instead of closing 1007",
    "accept-expired": "accepts expired tokens",
    "ignore-ping": "never answers a ping",
    "wrong-pong": "answers a ping with an empty pong",
    "accept-unmasked": "takes unmasked client frames",
    "no-size-limit": "takes messages of any size",
}


def frame(opcode: int, payload: bytes = b"") -> bytes:
    """One unmasked server frame."""
    n = len(payload)
    head = struct.pack("!BB", 0x80 | opcode, n) if n < 126 else None
    if head is None:
        head = struct.pack("!BBH", 0x80 | opcode, 126, n) if n < 0x10000 else struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return head + payload


def take(buf: bytearray) -> tuple[int, int, bool, bytes] | None:
    """(first byte, opcode, masked, payload) of the first whole client frame of `buf`, removed from it."""
    if len(buf) < 2:
        return None
    length, pos = buf[1] & 0x7F, 2
    if length in (126, 127):
        size = 2 if length == 126 else 8
        if len(buf) < 2 + size:
            return None
        length, pos = int.from_bytes(buf[2 : 2 + size], "big"), 2 + size
    masked = bool(buf[1] & 0x80)
    key_len = 4 if masked else 0
    if len(buf) < pos + key_len + length:
        return None
    key, data = bytes(buf[pos : pos + key_len]), bytes(buf[pos + key_len : pos + key_len + length])
    first = buf[0]
    del buf[: pos + key_len + length]
    if masked:
        data = bytes(b ^ key[i % 4] for i, b in enumerate(data))
    return first, first & 0x0F, masked, data


class Session(asyncio.Protocol):
    """One connection: the upgrade, then frames, then the toolcall protocol."""

    def __init__(self, mode: str, secret: str) -> None:
        self.mode, self.secret = mode, secret
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None
        self.upgraded = self.ready = self.closing = False
        self.frag: bytearray | None = None
        self.inflight: set[str] = set()
        self.text = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.upgraded and not self.upgrade():
            return
        while self.transport is not None and (got := take(self.buf)) is not None:
            self.on_frame(*got)

    # ---- upgrade ----------------------------------------------------------------------------
    def upgrade(self) -> bool:
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return False
        lines = bytes(self.buf[:end]).decode("latin-1").split("\r\n")
        del self.buf[: end + 4]
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        key = headers.get("sec-websocket-key")
        if headers.get("sec-websocket-version") != "13" and self.mode != "any-version":
            return self.refuse("426 Upgrade Required", "Sec-WebSocket-Version: 13\r\n")
        if not key:
            return self.refuse("400 Bad Request", "")
        accept = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
        if self.mode == "bad-accept":
            accept = base64.b64encode(hashlib.sha1(key.encode()).digest()).decode()
        self.send(f"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Accept: {accept}\r\nServer: broken-server/{self.mode}\r\n\r\n".encode())  # fmt: skip
        self.upgraded = True
        return True

    def refuse(self, status: str, extra: str) -> bool:
        self.send(f"HTTP/1.1 {status}\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n".encode())
        self.end()
        return False

    # ---- frames -------------------------------------------------------------------------------
    def on_frame(self, first: int, opcode: int, masked: bool, payload: bytes) -> None:
        if self.closing:
            if opcode == 0x8:
                self.end()
            return
        if first & 0x70 or opcode in (3, 4, 5, 6, 7) or opcode > 0xA:
            return self.close(1002)
        if not masked and self.mode != "accept-unmasked":
            return self.close(1002)
        if opcode >= 0x8:
            return self.on_control(first, opcode, payload)
        if (opcode == 0x0) == (self.frag is None):
            return self.close(1002)  # a continuation without a message, or a new message inside one
        if opcode != 0x0:
            self.frag, self.text = bytearray(), opcode == 0x1
        assert self.frag is not None
        self.frag += payload
        if len(self.frag) > LIMIT and self.mode != "no-size-limit":
            return self.close(1009)
        if first & 0x80:
            message, self.frag = bytes(self.frag), None
            self.on_message(message) if self.text else self.send_json({"op": "error", "code": "bad_message"})

    def on_control(self, first: int, opcode: int, payload: bytes) -> None:
        if not first & 0x80 or len(payload) > 125:
            return self.close(1002)
        if opcode == 0x9 and self.mode != "ignore-ping":
            self.send(frame(0xA, b"" if self.mode == "wrong-pong" else payload))
        elif opcode == 0x8:
            self.on_close(payload)

    def on_close(self, payload: bytes) -> None:
        code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
        if self.mode == "echo-close-codes":
            reply = code or 1000
        elif len(payload) == 1 or (code is not None and code not in VALID_CLOSE):
            reply = 1002
        else:
            try:
                payload[2:].decode("utf-8")
                reply = code or 1000
            except UnicodeDecodeError:
                reply = 1007
        self.send(frame(0x8, struct.pack("!H", reply)))
        self.end()

    def close(self, code: int) -> None:
        self.send(frame(0x8, struct.pack("!H", code)))
        self.closing = True
        asyncio.get_running_loop().call_later(1.0, self.end)

    # ---- protocol -----------------------------------------------------------------------------
    def on_message(self, data: bytes) -> None:
        try:
            msg = json.loads(data.decode("utf-8"))
        except UnicodeDecodeError:
            if self.mode != "accept-invalid-utf8":
                return self.close(1007)
            msg = None
        except ValueError:
            msg = None
        if not self.ready:
            return self.on_hello(msg)
        if type(msg) is not dict or msg.get("op") != "call_tool" or type(msg.get("request_id")) is not str:
            return self.send_json({"op": "error", "code": "bad_message", "message": "not a call"})
        self.on_call(msg["request_id"], msg.get("name"), msg.get("arguments") or {})

    def on_hello(self, msg: Any) -> None:
        if type(msg) is not dict or msg.get("op") != "hello":
            return self.refuse_hello("hello_required")
        options = {"verify_exp": self.mode != "accept-expired"}
        try:
            jwt.decode(str(msg.get("token")), self.secret, algorithms=["HS256"], options=options)
        except jwt.ExpiredSignatureError:
            return self.refuse_hello("token_expired")
        except jwt.InvalidTokenError:
            return self.refuse_hello("invalid_token")
        self.ready = True
        self.send_json({"op": "hello_ok", "session_id": msg.get("session_id"), "tools": list(TOOLS)})

    def refuse_hello(self, code: str) -> None:
        self.send_json({"op": "error", "code": code, "message": "hello refused"})
        self.close(1008)

    def on_call(self, request_id: str, name: Any, arguments: Any) -> None:
        if name not in TOOLS:
            return self.result(request_id, {"code": "unknown_tool"})
        if request_id in self.inflight:
            return self.result(request_id, {"code": "duplicate_request_id"})
        if name == "echo":
            return self.result(request_id, None, arguments)
        self.inflight.add(request_id)
        delay = float(arguments.get("ms", 0)) / 1000 if type(arguments) is dict else 0.0

        def done() -> None:
            self.inflight.discard(request_id)
            self.result(request_id, None, {"slept_ms": delay * 1000})

        asyncio.get_running_loop().call_later(delay, done)

    def result(self, request_id: str, error: dict[str, str] | None, value: Any = None) -> None:
        answer = {"op": "tool_result", "request_id": request_id, "ok": error is None}
        answer.update({"error": error} if error else {"result": value})
        self.send_json(answer)

    # ---- I/O ----------------------------------------------------------------------------------
    def send_json(self, msg: Any) -> None:
        self.send(frame(0x1, json.dumps(msg).encode()))

    def send(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def end(self) -> None:
        if self.transport is not None:
            self.transport.close()
            self.transport = None


async def serve(mode: str, secret: str) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Session(mode, secret), "127.0.0.1", 0)
    print(f"port {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


@contextmanager
def broken_server(mode: str, secret: str, timeout_s: float = 10.0) -> Iterator[str]:
    """Start the server in `mode` on a free loopback port with `secret`; its URL until the block ends."""
    with port_printing_server(
        "tests.support.broken_server", ("--mode", mode), env={SECRET_ENV: secret}, timeout_s=timeout_s
    ) as (port, _):
        yield f"ws://127.0.0.1:{port}/"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mode", choices=sorted(MODES), required=True)
    args = parser.parse_args()
    try:
        asyncio.run(serve(args.mode, os.environ[SECRET_ENV]))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
