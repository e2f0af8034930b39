"""Echo clients for Autobahn|Testsuite's fuzzingserver: `python -m tests.support.autobahn_echo --impl core|wsclient
--url ws://127.0.0.1:PORT --agent NAME` runs every case the server has, then asks it to write its reports.

`core` is the load users' own client: the upgrade of users/engine/client.py (deflate offered), then users/wire/core.py's
ClientCore fed the bytes as they come (its FrameDecoder, pings, close handshake, UTF-8 check, permessage-deflate),
speaking an echo protocol: every text message goes back as a Reply. The core treats binary messages as a protocol
error by design (PROTOCOL.md), so this harness echoes them itself, from the decoder's frames, compressed the way the
core compresses text. `wsclient` is websocket-client's usual echo loop, the yardstick.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import websocket

from users.engine.client import upgrade
from users.wire.core import CLOSED, ClientCore
from users.wire.deflate import DeflateFrames
from users.wire.frames import COMPRESSED, OP_BINARY, Frame, FrameDecoder, encode_frame
from users.wire.protocol import ProtocolViolation, Reply, ServerMessage
from users.wire.protocols.base import Protocol
from users.wire.settings import ClientSettings

CASE_TIMEOUT_S = 60.0
MAX_MESSAGE_BYTES = 64 * 1024 * 1024


class Echo(Protocol):
    """Every text message is answered with itself; text that is not UTF-8 fails the connection (1007)."""

    name = "echo"
    has_hello = False

    def parser(self) -> Callable[[bytes], ServerMessage]:
        return self.parse

    @staticmethod
    def parse(payload: bytes) -> ServerMessage:
        try:
            payload.decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolViolation("invalid_utf8", "text message is not UTF-8") from None
        return Reply(payload)


class BinaryEcho(FrameDecoder):
    """The core's decoder, also queueing an echo of each binary message (compressed when deflate was agreed)."""

    def __init__(self, core: ClientCore, deflate: DeflateFrames | None) -> None:
        old = core.decoder
        super().__init__(old.max_message_bytes, old.inflate)
        self.core, self.deflate = core, deflate

    def feed(self, data: bytes) -> list[Frame]:
        frames = super().feed(data)
        for frame in frames:
            if frame.opcode == OP_BINARY and self.core.live:
                if self.deflate is None:
                    self.core.outgoing.append(encode_frame(frame.payload, OP_BINARY))
                else:
                    compressed = self.deflate.codec.compress(frame.payload)
                    self.core.outgoing.append(encode_frame(compressed, OP_BINARY | COMPRESSED))
        return frames


def core_case(url: str) -> None:
    """One case with the users' client core."""
    settings = ClientSettings(protocol=Echo(), compression="deflate", max_message_bytes=MAX_MESSAGE_BYTES)
    upgraded, params = upgrade(url, settings, None)
    sock = upgraded.sock
    core = ClientCore(settings, time.monotonic(), params)
    text_frame = core._text_frame
    deflate = text_frame.__self__ if isinstance(getattr(text_frame, "__self__", None), DeflateFrames) else None
    core.decoder = BinaryEcho(core, deflate)
    if upgraded.rest:  # frames that came with the 101
        core.receive_data(upgraded.rest, time.monotonic())
    deadline = time.monotonic() + CASE_TIMEOUT_S
    try:
        while core.state is not CLOSED and time.monotonic() < deadline:
            out = core.data_to_send()
            if out:
                sock.sendall(out)
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = sock.recv(65536)
            except OSError as exc:
                core.receive_eof(f"reset: {exc}", time.monotonic())
                break
            if not data:
                core.receive_eof("eof", time.monotonic())
                break
            core.receive_data(data, time.monotonic())
        out = core.data_to_send()
        if out:
            sock.sendall(out)
        _await_eof(sock)
    finally:
        sock.close()


def _await_eof(sock: socket.socket, wait_s: float = 2.0) -> None:
    """Let the server close TCP first (RFC 6455 7.1.1), for at most `wait_s`."""
    deadline = time.monotonic() + wait_s
    try:
        while time.monotonic() < deadline:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            if not sock.recv(65536):
                return
    except OSError:
        return


def wsclient_case(url: str) -> None:
    """One case with websocket-client's echo loop (as its own compliance test does)."""
    status = websocket.STATUS_NORMAL
    ws = websocket.create_connection(url, timeout=CASE_TIMEOUT_S)
    try:
        while True:
            opcode, msg = ws.recv_data()
            if opcode == websocket.ABNF.OPCODE_TEXT:
                msg.decode("utf-8")
            if opcode in (websocket.ABNF.OPCODE_TEXT, websocket.ABNF.OPCODE_BINARY):
                ws.send(msg, opcode)
    except UnicodeDecodeError:
        status = websocket.STATUS_INVALID_PAYLOAD
    except websocket.WebSocketProtocolException:
        status = websocket.STATUS_PROTOCOL_ERROR
    except (websocket.WebSocketException, OSError):
        pass
    finally:
        ws.close(status)


def case_count(base: str) -> int:
    ws = websocket.create_connection(f"{base}/getCaseCount", timeout=10)
    try:
        return int(json.loads(ws.recv()))
    finally:
        ws.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--impl", choices=("core", "wsclient"), required=True)
    parser.add_argument("--url", required=True, help="the fuzzingserver, ws://127.0.0.1:PORT")
    parser.add_argument("--agent", required=True)
    args = parser.parse_args(argv)
    run: Any = core_case if args.impl == "core" else wsclient_case
    agent = urllib.parse.quote(args.agent)
    count = case_count(args.url)
    for case in range(1, count + 1):
        try:
            run(f"{args.url}/runCase?case={case}&agent={agent}")
        except Exception as exc:  # one case's crash is that case's result (the server records it)
            print(f"case {case}: {type(exc).__name__}: {exc}", file=sys.stderr)
    websocket.create_connection(f"{args.url}/updateReports?agent={agent}", timeout=60).close()
    print(f"ran {count} cases", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
