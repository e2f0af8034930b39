"""A raw-socket WebSocket client for the probe: sends any bytes, reads frames, every wait bounded by a deadline."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable

from probe.handshake import UpgradeAnswer, parse_answer, split_head
from probe.target import Target
from probe.wire import CLOSE, PONG, RawFrame, build_frame, close_code, close_payload, parse_frame

CHUNK = 64 * 1024
SENDABLE_CLOSE = frozenset({1000, 1001, 1002, 1003, *range(1007, 1015), *range(3000, 5000)})


class ProbeTimeout(Exception):
    """The case's deadline passed while waiting."""


class RawClient:
    """One TCP (+TLS) connection to the target; raw bytes out, frames in; `end` says how the server ended it."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock = sock
        self.deadline = deadline
        self.buf = bytearray()
        self.end = ""
        """'' while open; 'eof', 'reset' once the server ended the TCP connection."""
        self.close_code: int | None = None
        """The code of the server's close frame (None: none yet, or it carried no code)."""
        self.got_close = False
        self.sent_close = False
        self.clean = False
        """The closing handshake completed: a close frame each way, then the server closed TCP."""
        self.inflate: Callable[[bytes], bytes] | None = None
        """With permessage-deflate accepted: inflates a compressed message's payload."""

    @classmethod
    def connect(cls, target: Target, deadline: float, context: ssl.SSLContext | None = None) -> RawClient:
        """A TCP connection to the target (TLS for wss://); OSError when it cannot be opened in time."""
        sock = socket.create_connection((target.host, target.port), timeout=max(0.01, deadline - time.monotonic()))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if target.tls:
            sock = (context or ssl.create_default_context()).wrap_socket(sock, server_hostname=target.host)
        return cls(sock, deadline)

    # ------------------------------------------------------------------ reading
    def _recv(self) -> bool:
        """Read what arrives before the deadline into the buffer; False once the server ended TCP."""
        if self.end:
            return False
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise ProbeTimeout
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(CHUNK)
        except TimeoutError:
            raise ProbeTimeout from None
        except OSError:
            self.end = "reset"
            return False
        if not data:
            self.end = "eof"
            return False
        self.buf += data
        return True

    def upgrade(self, request: bytes) -> UpgradeAnswer:
        """Send `request` and read the answer's head (ValueError when it is not HTTP; ProbeTimeout)."""
        self.send(request)
        while (parts := split_head(bytes(self.buf))) is None:
            if not self._recv():
                raise ValueError(f"the server ended the connection ({self.end}) before answering the upgrade")
        head, rest = parts
        self.buf = bytearray(rest)
        return parse_answer(head)

    def frame(self) -> RawFrame | None:
        """The next server frame; None once TCP ended; ProbeTimeout at the deadline. A close frame is answered."""
        while (found := parse_frame(self.buf)) is None:
            if not self._recv():
                return None
        frame, used = found
        del self.buf[:used]
        if frame.opcode == CLOSE and not self.got_close:
            self.got_close = True
            self.close_code = close_code(frame.payload)
            if not self.sent_close:
                reply = self.close_code if self.close_code in SENDABLE_CLOSE else 1000
                self.send(build_frame(CLOSE, close_payload(reply)))
        return frame

    def until_end(self) -> list[RawFrame]:
        """Every frame until the server ends TCP or the deadline; `clean` tells whether it closed properly."""
        frames: list[RawFrame] = []
        try:
            while (frame := self.frame()) is not None:
                frames.append(frame)
        except ProbeTimeout:
            pass
        self.clean = self.got_close and bool(self.end)
        return frames

    def pong(self) -> RawFrame | None:
        """The next pong (other frames skipped); None when the connection ended first."""
        while (frame := self.frame()) is not None:
            if frame.opcode == PONG:
                return frame
            if frame.opcode == CLOSE:
                return None
        return None

    # ------------------------------------------------------------------ writing
    def send(self, data: bytes) -> bool:
        """Write `data` in chunks until done, the deadline, or the server ending the connection (False)."""
        if data[:1] and data[0] & 0x0F == CLOSE and data[0] & 0x80:
            self.sent_close = True
        view = memoryview(data)
        try:
            for start in range(0, len(view), CHUNK):
                left = self.deadline - time.monotonic()
                if left <= 0:
                    return False
                self.sock.settimeout(left)
                self.sock.sendall(view[start : start + CHUNK])
        except (TimeoutError, OSError):
            return False
        return True

    def close(self) -> None:
        """Say goodbye if still open (close 1000), then drop the socket."""
        if not self.end and not self.got_close and not self.sent_close:
            try:
                self.sock.settimeout(0.2)
                self.sock.sendall(build_frame(CLOSE, close_payload(1000)))
            except OSError:
                pass
        self.sock.close()
