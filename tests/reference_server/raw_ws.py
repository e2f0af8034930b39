"""A raw WebSocket client for fuzzing: builds any frame (even broken ones) and reads what the server sends.

websocket-client refuses to send malformed frames and validates what it receives; this
speaks RFC 6455 by hand on a plain socket instead. Every wait is bounded.
"""

from __future__ import annotations

import socket
import struct
import time

from tests.reference_server.slow_clients import UPGRADE_REQUEST

CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
#: A fixed mask key: the fuzzing must be reproducible.
MASK_KEY = b"\x37\xfa\x21\x3d"


def mask(payload: bytes, key: bytes = MASK_KEY) -> bytes:
    """``payload`` XOR-ed with the repeated 4-byte ``key``."""
    if not payload:
        return b""
    repeated = (key * (len(payload) // 4 + 1))[: len(payload)]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(len(payload), "big")


def frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    masked: bool = True,
    short_16bit_length: bool = False,
) -> bytes:
    """One client frame. ``rsv`` sets the RSV bits (0-7); ``masked=False`` and
    ``short_16bit_length=True`` (a length < 126 in the 16-bit form) break RFC 6455 on purpose."""
    first = (0x80 if fin else 0) | (rsv & 7) << 4 | (opcode & 0xF)
    mask_bit = 0x80 if masked else 0
    n = len(payload)
    if n < 126 and not short_16bit_length:
        header = struct.pack("!BB", first, mask_bit | n)
    elif n < 65536:
        header = struct.pack("!BBH", first, mask_bit | 126, n)
    else:
        header = struct.pack("!BBQ", first, mask_bit | 127, n)
    return header + (MASK_KEY + mask(payload) if masked else payload)


class RawClient:
    """One TCP connection that has done the WebSocket upgrade; raw bytes in and out."""

    def __init__(self, port: int, timeout: float = 2.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self._buf = b""
        self.sock.sendall(UPGRADE_REQUEST)
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self._buf:
            chunk = self._recv(deadline)
            if not chunk:
                raise ConnectionError("server closed during the upgrade")
            self._buf += chunk
        head, self._buf = self._buf.split(b"\r\n\r\n", 1)
        if not head.startswith(b"HTTP/1.1 101"):
            raise ConnectionError(f"upgrade refused: {head[:40]!r}")

    def send(self, data: bytes) -> bool:
        """Send ``data``; False if the server has already closed the connection."""
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            return False
        return True

    def shutdown_write(self) -> None:
        """Half-close: the server reads EOF (and must then end the connection)."""
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def read_frame(self, deadline: float) -> tuple[int, bytes] | None:
        """The next server frame as (opcode, payload); None at EOF or reset; TimeoutError at ``deadline``."""
        while True:
            parsed = self._parse()
            if parsed is not None:
                return parsed
            chunk = self._recv(deadline)
            if not chunk:
                return None
            self._buf += chunk

    def close(self) -> None:
        self.sock.close()

    def _recv(self, deadline: float) -> bytes:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no frame before the deadline")
        self.sock.settimeout(remaining)
        try:
            return self.sock.recv(65536)
        except ConnectionResetError:
            return b""
        except TimeoutError:
            raise TimeoutError("no frame before the deadline") from None

    def _parse(self) -> tuple[int, bytes] | None:
        buf = self._buf
        if len(buf) < 2:
            return None
        first, second = buf[0], buf[1]
        assert not second & 0x80, "the server masked a frame"
        assert first & 0x80, "the server fragmented a message"
        assert not first & 0x70, "the server set RSV bits"
        n, offset = second & 0x7F, 2
        if n == 126:
            if len(buf) < 4:
                return None
            n, offset = struct.unpack("!H", buf[2:4])[0], 4
        elif n == 127:
            if len(buf) < 10:
                return None
            n, offset = struct.unpack("!Q", buf[2:10])[0], 10
        if len(buf) < offset + n:
            return None
        self._buf = buf[offset + n :]
        return first & 0x0F, buf[offset : offset + n]
