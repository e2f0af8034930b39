"""A small WebSocket server that misbehaves on purpose, run as its own process: `python -m tests.support.misbehaving_server`.

It answers hello with hello_ok and echoes calls (`tool_result` with the arguments), then, per `--mode`:
`stop-reading` stops reading after `--after` calls (the client's writes back up); `close` closes every
session with `--code`/`--reason` after `--after` calls (a flapping server); `mute-hello` never answers hello.
Servers that choose a new string each time (each string also carries a newline and is longer than a name may be):
`unique-pushes` sends `--burst` pushes per call, each of a new topic (toolcall) or notification method
(jsonrpc); `unique-errors` fails every call with a new error code (toolcall) or error message (jsonrpc);
`unique-close` closes every session after `--after` calls with a new reason; `unknown-ids` answers each call and
`--burst` request ids never sent. Calls may be toolcall or jsonrpc (told by their `jsonrpc` key). It prints `port N`
once listening and `session N` for each WebSocket session it accepts, so a test can count the attempts it saw.
Plain asyncio and hand-written RFC 6455: no third-party WebSocket library needed.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import struct
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.server_process import port_printing_server

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MODES = ["stop-reading", "close", "mute-hello", "unique-pushes", "unique-errors", "unique-close", "unknown-ids"]
HOSTILE_TAIL = "\r\nX-Injected: " + "x" * 100
"""Added to every unique string: a header-like line break and more characters than a Locust name keeps."""


def unique(prefix: str) -> str:
    """A string never sent before by this process."""
    Session.strings += 1
    return f"{prefix}{Session.strings}{HOSTILE_TAIL}"


def server_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """One unmasked server frame."""
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", 0x80 | opcode, n)
    elif n < 0x10000:
        header = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return header + payload


def take_client_frame(buf: bytearray) -> tuple[int, bytes] | None:
    """(opcode, unmasked payload) of the first whole masked client frame in `buf`, removed from it; None if
    incomplete."""
    if len(buf) < 2:
        return None
    length, pos = buf[1] & 0x7F, 2
    if length == 126:
        if len(buf) < 4:
            return None
        length, pos = struct.unpack_from("!H", buf, 2)[0], 4
    elif length == 127:
        if len(buf) < 10:
            return None
        length, pos = struct.unpack_from("!Q", buf, 2)[0], 10
    if len(buf) < pos + 4 + length:
        return None
    key = bytes(buf[pos : pos + 4])
    data = bytes(buf[pos + 4 : pos + 4 + length])
    opcode = buf[0] & 0x0F
    del buf[: pos + 4 + length]
    stream = (key * (length // 4 + 1))[:length]
    return opcode, (int.from_bytes(data, "big") ^ int.from_bytes(stream, "big")).to_bytes(length, "big")


class Session(asyncio.Protocol):
    """One connection: the upgrade, then frames."""

    sessions = 0
    strings = 0

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.buf = bytearray()
        self.upgraded = False
        self.calls = 0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None  # the client is gone: nothing more to send (asyncio would warn per write)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.upgraded:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buf[:end]).decode("latin-1")
            del self.buf[: end + 4]
            key = next(
                line.split(":", 1)[1].strip()
                for line in head.split("\r\n")
                if line.lower().startswith("sec-websocket-key:")
            )
            accept = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
            self.send(
                f"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n".encode()
            )
            self.upgraded = True
            Session.sessions += 1
            print(f"session {Session.sessions}", flush=True)
        while self.transport is not None and (frame := take_client_frame(self.buf)) is not None:
            self.on_frame(*frame)

    def on_frame(self, opcode: int, payload: bytes) -> None:
        if opcode == 0x8:
            self.send(server_frame(payload[:2], 0x8))
            self.end()
            return
        if opcode == 0x9:
            self.send(server_frame(payload, 0xA))
            return
        if opcode != 0x1:
            return
        message = json.loads(payload)
        rpc = "jsonrpc" in message
        if not rpc and message.get("op") == "hello":
            if self.args.mode == "mute-hello":
                return
            self.send(server_frame(json.dumps({"op": "hello_ok", "session_id": message.get("session_id")}).encode()))
            return
        if rpc and "id" not in message:
            return  # a notification
        self.calls += 1
        request_id = message.get("id") if rpc else message.get("request_id")
        self.send(server_frame(json.dumps(self.answer(request_id, rpc)).encode()))
        for k in range(self.args.burst if self.args.mode in ("unique-pushes", "unknown-ids") else 0):
            extra = (
                self.push(rpc) if self.args.mode == "unique-pushes" else self.answer(10**9 + self.calls * 1000 + k, rpc)
            )
            self.send(server_frame(json.dumps(extra).encode()))
        if self.calls >= self.args.after:
            if self.args.mode == "stop-reading" and self.transport is not None:
                self.transport.pause_reading()
            elif self.args.mode in ("close", "unique-close"):
                reason = self.args.reason if self.args.mode == "close" else unique("r")[:100]
                self.send(server_frame(struct.pack("!H", self.args.code) + reason.encode(), 0x8))
                self.end()

    def answer(self, request_id: object, rpc: bool) -> dict[str, object]:
        """The answer to a call: its result, or (unique-errors) a failure naming a new error."""
        failing = self.args.mode == "unique-errors"
        if rpc:
            if failing:
                return {"jsonrpc": "2.0", "id": request_id, "error": {"code": -32000, "message": unique("boom ")}}
            return {"jsonrpc": "2.0", "id": request_id, "result": {"n": self.calls}}
        if isinstance(request_id, int):  # an id never sent, in toolcall's form
            request_id = str(request_id)
        if failing:
            return {"op": "tool_result", "request_id": request_id, "ok": False, "error": {"code": unique("E")}}
        return {"op": "tool_result", "request_id": request_id, "ok": True, "result": {"n": self.calls}}

    def push(self, rpc: bool) -> dict[str, object]:
        """A push of a new topic (toolcall event) or a notification of a new method (jsonrpc)."""
        if rpc:
            return {"jsonrpc": "2.0", "method": unique("m"), "params": {"n": self.calls}}
        return {"op": "event", "topic": unique("t"), "seq": 1, "sent_at_ns": time.time_ns()}

    def send(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():  # asyncio warns per write after a loss
            self.transport.write(data)

    def end(self) -> None:
        if self.transport is not None:
            self.transport.close()
            self.transport = None


async def serve(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Session(args), "127.0.0.1", 0)
    print(f"port {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


@dataclass
class Misbehaving:
    """A running misbehaving server: its URL, and what it printed."""

    url: str
    log: Path
    jwt_secret: str = "misbehaving-server-accepts-any-token"

    def sessions(self) -> int:
        """WebSocket sessions accepted so far."""
        return sum(1 for line in self.log.read_text().splitlines() if line.startswith("session "))


@contextmanager
def misbehaving_server(*args: str, timeout_s: float = 10.0) -> Iterator[Misbehaving]:
    """Start `python -m tests.support.misbehaving_server ARGS` on a free loopback port; stopped on exit."""
    with port_printing_server("tests.support.misbehaving_server", args, timeout_s=timeout_s) as (port, log):
        yield Misbehaving(f"ws://127.0.0.1:{port}/", log)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mode", choices=MODES, required=True)
    parser.add_argument("--burst", type=int, default=1, help="pushes or unknown ids per call")
    parser.add_argument("--after", type=int, default=5, help="calls answered before misbehaving")
    parser.add_argument("--code", type=int, default=1011, help="close code (mode close)")
    parser.add_argument("--reason", default="overloaded", help="close reason (mode close)")
    args = parser.parse_args()
    try:
        asyncio.run(serve(args))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
