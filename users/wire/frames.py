"""Pure RFC 6455 frame codec for the client hot path: masked encoding, buffered decoding."""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from dataclasses import dataclass

try:
    from websockets.speedups import apply_mask
except ImportError:  # a platform without the C extension's wheel: the library's own pure-Python masking
    from websockets.utils import apply_mask

OP_CONTINUATION = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA
FIN_TEXT = 0x81
"""A frame's first byte for a whole text message, no extension bits."""
COMPRESSED = 0x40
"""RSV1 (permessage-deflate: a compressed message) when added to an opcode in a frame's first byte."""

CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_PROTOCOL_ERROR = 1002
CLOSE_NO_STATUS = 1005
CLOSE_INVALID_PAYLOAD = 1007
CLOSE_MESSAGE_TOO_BIG = 1009

FRAME_ERROR_CODES = {
    CLOSE_PROTOCOL_ERROR: "bad_frame",
    CLOSE_INVALID_PAYLOAD: "invalid_utf8",
    CLOSE_MESSAGE_TOO_BIG: "oversize_message",
}
"""Failure codes reported for framing errors, by the close code they end the connection with."""

_PACK_SHORT = struct.Struct("!BBH").pack
_PACK_LONG = struct.Struct("!BBQ").pack
_UNPACK_SHORT = struct.Struct("!H").unpack_from
_UNPACK_LONG = struct.Struct("!Q").unpack_from


class FrameError(Exception):
    """The peer broke RFC 6455 framing; `close_code` is the code to close with. `frames`: the frames the same
    `FrameDecoder.feed` decoded before the bad one (the server sent them: they are still delivered)."""

    def __init__(self, close_code: int, reason: str) -> None:
        super().__init__(reason)
        self.close_code = close_code
        self.reason = reason
        self.frames: list[Frame] = []


def mask(payload: bytes, key: bytes) -> bytes:
    """XOR `payload` with the repeating 4-byte `key` (RFC 6455 section 5.3), in C: the websockets library's
    `apply_mask` (docs/performance.md has what it saves per call)."""
    return apply_mask(payload, key)


class MaskKeys:
    """Masking keys from the OS's random source, read `batch` keys at a time: one `getrandom` system call per
    call would cost a closed loop more than the masking itself. Every key is still unpredictable (RFC 6455
    10.3): each comes from the OS's CSPRNG and is used once."""

    __slots__ = ("_pool", "_next", "_batch")

    def __init__(self, batch: int = 1024) -> None:
        self._batch = batch
        self._pool = b""
        self._next = 0

    def take(self, count: int = 1) -> bytes:
        """`count` fresh keys, 4 bytes each, joined."""
        start = self._next
        end = start + 4 * count
        if end > len(self._pool):
            self._pool = os.urandom(4 * max(self._batch, count))
            start, end = 0, 4 * count
        self._next = end
        return self._pool[start:end]


MASK_KEYS = MaskKeys()
"""The process's masking keys (greenlets share it; `take` never yields)."""


_TEXT_HEADERS = [bytes((FIN_TEXT, 0x80 | n)) for n in range(126)]
"""The first two bytes of a masked whole text frame, by payload length (a call's every frame)."""


def encode_frame(payload: bytes, opcode: int = OP_TEXT, *, fin: bool = True, key: bytes | None = None) -> bytes:
    """One client frame (always masked, as RFC 6455 requires of clients)."""
    n = len(payload)
    if key is None:
        key = MASK_KEYS.take()
    if n < 126 and opcode == OP_TEXT and fin:
        return _TEXT_HEADERS[n] + key + apply_mask(payload, key)
    first = (0x80 if fin else 0) | opcode
    if n < 126:
        header = bytes((first, 0x80 | n))
    elif n < 0x10000:
        header = _PACK_SHORT(first, 0x80 | 126, n)
    else:
        header = _PACK_LONG(first, 0x80 | 127, n)
    return header + key + apply_mask(payload, key)


def encode_text_frames(payloads: list[bytes]) -> bytes:
    """Many text frames joined for one write."""
    if len(payloads) == 1:  # a closed loop's every write
        return encode_frame(payloads[0])
    keys = MASK_KEYS.take(len(payloads))
    return b"".join(encode_frame(p, OP_TEXT, key=keys[4 * i : 4 * i + 4]) for i, p in enumerate(payloads))


def encode_close(code: int = CLOSE_NORMAL, reason: str = "") -> bytes:
    """A client close frame carrying `code` and a short `reason`."""
    return encode_frame(struct.pack("!H", code) + reason.encode()[:123], OP_CLOSE)


RECEIVABLE_CLOSE_CODES = frozenset((1000, 1001, 1002, 1003, *range(1007, 1015), *range(3000, 5000)))
"""Close codes a peer may send (RFC 6455 7.4.1-7.4.2 and IANA's registry): 1004-1006 and 1015 are reserved and
never sent, 1016-2999 unassigned, 0-999 and 5000 up not codes at all."""


def parse_close_payload(payload: bytes) -> tuple[int, str]:
    """(code, reason) of a close frame's payload; 1005 when it carries none. FrameError 1002 for a one-byte
    payload or a code no peer may send, 1007 for a reason that is not valid UTF-8 (RFC 6455 5.5.1, 7.4)."""
    if not payload:
        return CLOSE_NO_STATUS, ""
    if len(payload) == 1:
        raise FrameError(CLOSE_PROTOCOL_ERROR, "close frame with a one-byte payload")
    code = _UNPACK_SHORT(payload)[0]
    if code not in RECEIVABLE_CLOSE_CODES:
        raise FrameError(CLOSE_PROTOCOL_ERROR, f"close frame with the invalid code {code}")
    try:
        return code, payload[2:].decode()
    except UnicodeDecodeError:
        raise FrameError(CLOSE_INVALID_PAYLOAD, "close reason is not valid UTF-8") from None


@dataclass(slots=True)  # not frozen: a frozen __init__ costs twice as much, once per message
class Frame:
    """A decoded message (text/binary, fragments joined) or a control frame."""

    opcode: int
    payload: bytes


class FrameDecoder:
    """Turns bytes read from a server into whole messages and control frames.

    Feed it whatever `recv` returned; it keeps partial frames between calls,
    joins fragmented messages and enforces the message size limit.
    """

    __slots__ = ("_buffer", "_fragments", "_fragment_opcode", "_fragment_size", "max_message_bytes", "inflate")

    def __init__(
        self, max_message_bytes: int = 16 * 1024 * 1024, inflate: Callable[[bytes], bytes] | None = None
    ) -> None:
        self._buffer = bytearray()
        self._fragments: list[bytes] = []
        self._fragment_opcode = 0
        self._fragment_size = 0
        self.max_message_bytes = max_message_bytes
        self.inflate = inflate
        """With permessage-deflate: inflates a message whose first frame has RSV1 (may raise FrameError)."""

    @property
    def buffered(self) -> int:
        """Bytes held that do not yet make a whole frame."""
        return len(self._buffer)

    @property
    def held(self) -> int:
        """Every byte held: a partial frame and the fragments of a message not yet whole."""
        return len(self._buffer) + sum(map(len, self._fragments))

    def whole_text(self, data: bytes) -> bytes | None:
        """The payload when `data` is exactly one small whole text frame and nothing is buffered or fragmented
        (most reads of a closed loop or an open model); None otherwise: then `feed` it."""
        if len(data) >= 2 and data[0] == FIN_TEXT and data[1] + 2 == len(data):
            length = data[1]  # < 126: no extended length, and the mask bit clear
            if length < 126 and length <= self.max_message_bytes and not self._buffer and not self._fragment_opcode:
                return data[2:]
        return None

    def feed(self, data: bytes) -> list[Frame]:
        """Decode every complete frame now available; on a framing violation raise FrameError carrying in
        `frames` every frame decoded before the bad one."""
        whole = self.whole_text(data)
        if whole is not None:
            return [Frame(OP_TEXT, whole)]
        out: list[Frame] = []
        try:
            return self._decode(data, out)
        except FrameError as exc:
            exc.frames = out
            self.release()  # the connection fails: what it held goes now, not when a reference cycle is collected
            raise

    def release(self) -> None:
        """Drop every byte held (partial frame, fragments): the connection is over."""
        self._buffer = bytearray()
        self._fragments = []
        self._fragment_opcode = 0
        self._fragment_size = 0

    def _decode(self, data: bytes, out: list[Frame]) -> list[Frame]:
        buf = self._buffer
        buf += data
        pos = 0
        end = len(buf)
        limit = self.max_message_bytes
        while end - pos >= 2:
            first = buf[pos]
            second = buf[pos + 1]
            rsv = first & 0x70
            if rsv and (rsv != 0x40 or self.inflate is None):
                raise FrameError(CLOSE_PROTOCOL_ERROR, "reserved bits set without a negotiated extension")
            if second & 0x80:
                raise FrameError(CLOSE_PROTOCOL_ERROR, "server frames must not be masked")
            length = second & 0x7F
            header = 2
            if length == 126:
                if end - pos < 4:
                    break
                length = _UNPACK_SHORT(buf, pos + 2)[0]
                header = 4
            elif length == 127:
                if end - pos < 10:
                    break
                length = _UNPACK_LONG(buf, pos + 2)[0]
                header = 10
                if length >> 63:
                    raise FrameError(CLOSE_PROTOCOL_ERROR, "64-bit frame length with its most significant bit set")
            if length > limit - (self._fragment_size if first & 0x0F == OP_CONTINUATION else 0):
                raise self._too_big(length)  # before a byte of it is buffered: held data stays within the limit
            stop = pos + header + length
            if stop > end:
                break
            payload = bytes(buf[pos + header : stop])
            pos = stop
            opcode = first & 0x0F
            fin = first & 0x80
            if rsv:
                out.extend(self._start_compressed(opcode, payload, fin))
            elif opcode >= 0x8:
                if opcode > OP_PONG:
                    raise FrameError(CLOSE_PROTOCOL_ERROR, f"reserved control opcode {opcode:#x}")
                if not fin or length > 125:
                    raise FrameError(CLOSE_PROTOCOL_ERROR, "control frames must be whole and at most 125 bytes")
                out.append(Frame(opcode, payload))
            elif opcode == OP_CONTINUATION:
                out.extend(self._continue(payload, fin))
            elif opcode in (OP_TEXT, OP_BINARY):
                if self._fragment_opcode:
                    raise FrameError(CLOSE_PROTOCOL_ERROR, "new message started inside a fragmented one")
                if fin:
                    out.append(Frame(opcode, payload))
                else:
                    self._fragment_opcode = opcode
                    self._fragments = [payload]
                    self._fragment_size = length
            else:
                raise FrameError(CLOSE_PROTOCOL_ERROR, f"unknown opcode {opcode:#x}")
        del buf[:pos]
        return out

    def _too_big(self, length: int) -> FrameError:
        limit = self.max_message_bytes
        if self._fragment_size:
            return FrameError(CLOSE_MESSAGE_TOO_BIG, f"fragmented message over the {limit}-byte limit")
        return FrameError(CLOSE_MESSAGE_TOO_BIG, f"frame of {length} bytes over the {limit}-byte limit")

    def _start_compressed(self, opcode: int, payload: bytes, fin: int) -> list[Frame]:
        """The first frame of a compressed message (RSV1 set); its frames are joined, then inflated."""
        if opcode not in (OP_TEXT, OP_BINARY):
            raise FrameError(CLOSE_PROTOCOL_ERROR, "RSV1 set on a control or continuation frame")
        if self._fragment_opcode:
            raise FrameError(CLOSE_PROTOCOL_ERROR, "new message started inside a fragmented one")
        if fin:
            return [Frame(opcode, self.inflate(payload))]  # type: ignore[misc]
        self._fragment_opcode = opcode | COMPRESSED
        self._fragments = [payload]
        self._fragment_size = len(payload)
        return []

    def _continue(self, payload: bytes, fin: int) -> list[Frame]:
        if not self._fragment_opcode:
            raise FrameError(CLOSE_PROTOCOL_ERROR, "continuation frame without a message to continue")
        self._fragment_size += len(payload)
        if self._fragment_size > self.max_message_bytes:
            raise FrameError(CLOSE_MESSAGE_TOO_BIG, f"fragmented message over the {self.max_message_bytes}-byte limit")
        self._fragments.append(payload)
        if not fin:
            return []
        opcode, data = self._fragment_opcode, b"".join(self._fragments)
        self._fragments = []  # before inflating: the fragments and the inflated message are never held together
        self._fragment_opcode = 0
        self._fragment_size = 0
        if opcode & COMPRESSED:
            opcode, data = opcode - COMPRESSED, self.inflate(data)  # type: ignore[misc]
        return [Frame(opcode, data)]
