"""A hostile WebSocket server process, one behaviour per `--mode`: `python -m tests.support.hostile_frames_server`.

It speaks raw RFC 6455 (asyncio streams, no WebSocket library), answers hello (toolcall) and echoes calls
(toolcall or `--protocol jsonrpc`), then per `--mode`:
`huge-seq` pushes seq 2**53 then seq 1 of topic `x` after hello; `unique-topics` pushes `--count` events of
distinct topics after hello; `bad-after` holds `--after` answers and writes them and one bad frame (`--bad`) in one
write, then answers nothing; `close-after` does the same with a close frame of payload `--close-hex`;
`fragments` streams `--total-mb` of one text message in 1 MiB fragments after hello; `rpc-both` answers each
JSON-RPC call with both `result` and `error`; `rpc-batch` answers JSON-RPC calls `--after` at a time in one
JSON array. It prints `port N`, then `session N` per session, `client-close CODE` for each close frame a
client sends, and `end answered A pushed P misbehaved M` (M: 1 when `bad-after`/`close-after` wrote its frame)
when a session ends.
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
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.misbehaving_server import GUID, server_frame
from tests.support.server_process import port_printing_server

MODES = ["huge-seq", "unique-topics", "bad-after", "close-after", "fragments", "rpc-both", "rpc-batch"]
HUGE_SEQ = 2**53
BAD_FRAMES = {
    "rsv": bytes([0x80 | 0x40 | 0x1, 1]) + b"{",  # RSV1 without a negotiated extension
    "masked": bytes([0x81, 0x81, 0, 0, 0, 0]) + b"{",
    "length-2-63": bytes([0x81, 127]) + struct.pack("!Q", 2**63),
    "control-126": bytes([0x89, 126]) + struct.pack("!H", 126) + b"p" * 126,
    "fragmented-ping": bytes([0x09, 1]) + b"p",
    "reserved-opcode": bytes([0x83, 0]),
    "reserved-control": bytes([0x8B, 0]),
    "continuation-first": bytes([0x80, 1]) + b"x",
    "bad-utf8": server_frame(b'{"op":"event","topic":"\xff"}'),
    "too-big": bytes([0x81, 127]) + struct.pack("!Q", 2**40),
    "bad-deflate": bytes([0xC1, 4]) + b"\xff\xff\xff\xff",  # needs --compression deflate
}


@dataclass
class Totals:
    answered: int = 0
    pushed: int = 0
    misbehaved: int = 0


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """(first byte, unmasked payload) of the client's next frame."""
    first, second = await reader.readexactly(2)
    length = second & 0x7F
    if length == 126:
        length = struct.unpack("!H", await reader.readexactly(2))[0]
    elif length == 127:
        length = struct.unpack("!Q", await reader.readexactly(8))[0]
    key = await reader.readexactly(4)
    data = await reader.readexactly(length)
    stream = (key * (length // 4 + 1))[:length]
    return first, (int.from_bytes(data, "big") ^ int.from_bytes(stream, "big")).to_bytes(length, "big")


async def upgrade(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, deflate: bool) -> None:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in head.split("\r\n")[1:])}
    accept = base64.b64encode(hashlib.sha1(headers["sec-websocket-key"].encode() + GUID).digest()).decode()
    lines = ["HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade"]
    lines.append(f"Sec-WebSocket-Accept: {accept}")
    if deflate and "permessage-deflate" in headers.get("sec-websocket-extensions", ""):
        lines.append("Sec-WebSocket-Extensions: permessage-deflate")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())


class Session:
    """One client connection and its mode's behaviour."""

    sessions = 0

    def __init__(self, args: argparse.Namespace, writer: asyncio.StreamWriter) -> None:
        self.args = args
        self.writer = writer
        self.totals = Totals()
        self.held: list[Any] = []
        self.inflater = zlib.decompressobj(-15)
        self.done = False
        """The mode has misbehaved: nothing more is answered."""

    def text(self, message: Any) -> bytes:
        return server_frame(json.dumps(message).encode())

    def push(self, topic: str, seq: int) -> bytes:
        self.totals.pushed += 1
        return self.text({"op": "event", "topic": topic, "seq": seq, "sent_at_ns": time.time_ns()})

    async def after_hello(self) -> None:
        args, write = self.args, self.writer.write
        if args.mode == "huge-seq":
            write(self.push("x", HUGE_SEQ) + self.push("x", 1))
        elif args.mode == "unique-topics":
            write(b"".join(self.push(f"t{i}", 1) for i in range(args.count)))
        elif args.mode == "fragments":
            chunk = b" " * (1 << 20)
            for i in range(args.total_mb):
                write(bytes([0x01 if i == 0 else 0x00, 127]) + struct.pack("!Q", len(chunk)) + chunk)
                await self.writer.drain()

    def answer(self, message: dict[str, Any]) -> Any:
        if self.args.protocol == "jsonrpc":
            if self.args.mode == "rpc-both":
                return {"jsonrpc": "2.0", "id": message["id"], "result": {}, "error": {"code": 1, "message": "x"}}
            return {"jsonrpc": "2.0", "id": message["id"], "result": message.get("params")}
        return {"op": "tool_result", "request_id": message["request_id"], "ok": True, "result": {}}

    def on_call(self, message: dict[str, Any]) -> None:
        args = self.args
        if self.done:
            return
        if args.mode in ("bad-after", "close-after", "rpc-batch"):
            self.held.append(self.answer(message))
            if len(self.held) < args.after:
                return
            self.totals.answered += len(self.held)
            if args.mode == "rpc-batch":
                self.writer.write(self.text(self.held))
                self.held = []
                return
            tail = BAD_FRAMES[args.bad] if args.mode == "bad-after" else server_frame(bytes.fromhex(args.close_hex), 8)
            self.writer.write(b"".join(map(self.text, self.held)) + tail)
            self.done = True
            return
        self.totals.answered += 1
        self.writer.write(self.text(self.answer(message)))

    async def run(self, reader: asyncio.StreamReader) -> None:
        while True:
            first, payload = await read_frame(reader)
            opcode = first & 0x0F
            if opcode == 0x8:
                print(f"client-close {struct.unpack('!H', payload[:2])[0] if len(payload) >= 2 else 1005}", flush=True)
                self.writer.write(server_frame(payload[:2], 0x8))
                return
            if opcode == 0x9:
                self.writer.write(server_frame(payload, 0xA))
                continue
            if opcode != 0x1:
                continue
            if first & 0x40:
                payload = self.inflater.decompress(payload + b"\x00\x00\xff\xff")
            message = json.loads(payload)
            if message.get("op") == "hello":
                self.writer.write(self.text({"op": "hello_ok", "session_id": message.get("session_id")}))
                await self.after_hello()
            elif "request_id" in message or "id" in message:
                self.on_call(message)


async def handle(args: argparse.Namespace, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    session = Session(args, writer)
    try:
        await upgrade(reader, writer, args.compression)
        Session.sessions += 1
        print(f"session {Session.sessions}", flush=True)
        await session.run(reader)
        await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        pass
    finally:
        totals = session.totals
        print(f"end answered {totals.answered} pushed {totals.pushed} misbehaved {int(session.done)}", flush=True)
        writer.close()


async def serve(args: argparse.Namespace) -> None:
    server = await asyncio.start_server(lambda r, w: handle(args, r, w), "127.0.0.1", 0)
    print(f"port {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


@dataclass
class Hostile:
    """A running hostile server: its URL, and what it printed."""

    url: str
    log: Path
    jwt_secret: str = "hostile-server-accepts-any-token"

    def lines(self, prefix: str) -> list[list[str]]:
        return [line.split()[1:] for line in self.log.read_text().splitlines() if line.startswith(prefix + " ")]

    def sessions(self) -> int:
        return len(self.lines("session"))

    def totals(self, timeout_s: float = 30.0) -> Totals:
        """Answers and pushes over every session, once each session has ended (waits up to `timeout_s`)."""
        deadline = time.monotonic() + timeout_s
        while len(self.lines("end")) < self.sessions() and time.monotonic() < deadline:
            time.sleep(0.05)
        ends = self.lines("end")
        assert len(ends) == self.sessions(), self.log.read_text()[-2000:]
        return Totals(*(sum(int(e[i]) for e in ends) for i in (1, 3, 5)))

    def client_closes(self) -> list[int]:
        """The close code of each close frame clients sent."""
        return [int(c[0]) for c in self.lines("client-close")]


@contextmanager
def hostile_server(*args: str, timeout_s: float = 10.0) -> Iterator[Hostile]:
    """Start `python -m tests.support.hostile_frames_server ARGS` on a free loopback port; stopped on exit."""
    with port_printing_server("tests.support.hostile_frames_server", args, timeout_s=timeout_s) as (port, log):
        yield Hostile(f"ws://127.0.0.1:{port}/", log)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mode", choices=MODES, required=True)
    parser.add_argument("--protocol", choices=["toolcall", "jsonrpc"], default="toolcall")
    parser.add_argument("--after", type=int, default=3, help="answers held, then written with the bad frame")
    parser.add_argument("--bad", choices=sorted(BAD_FRAMES), default="rsv")
    parser.add_argument("--close-hex", default="03ed", help="close-after: the close frame's payload, hex")
    parser.add_argument("--count", type=int, default=2000, help="unique-topics: pushes after hello")
    parser.add_argument("--total-mb", type=int, default=100, help="fragments: MiB of one message")
    parser.add_argument("--compression", action="store_true", help="accept permessage-deflate when offered")
    args = parser.parse_args()
    try:
        asyncio.run(serve(args))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
