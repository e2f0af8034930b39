"""Pure RFC 6455 frames for the probe: any frame built (even broken ones), server frames parsed as they come."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from users.wire.frames import mask

CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
PROBE_KEY = b"\x5a\x17\xc3\x9e"
"""The probe's masking key: fixed, so that a run is reproducible byte for byte."""


@dataclass(frozen=True)
class RawFrame:
    """One frame as it came off the wire (payload unmasked when it was masked)."""

    fin: bool
    rsv: int
    opcode: int
    masked: bool
    payload: bytes


def build_frame(
    opcode: int, payload: bytes = b"", *, fin: bool = True, rsv: int = 0, masked: bool = True, key: bytes = PROBE_KEY
) -> bytes:
    """One client frame; `rsv` (0-7) and `masked=False` break RFC 6455 on purpose when asked."""
    first = (0x80 if fin else 0) | (rsv & 7) << 4 | (opcode & 0xF)
    bit = 0x80 if masked else 0
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", first, bit | n)
    elif n < 0x10000:
        header = struct.pack("!BBH", first, bit | 126, n)
    else:
        header = struct.pack("!BBQ", first, bit | 127, n)
    return header + (key + mask(payload, key) if masked else payload)


def close_payload(code: int, reason: bytes = b"") -> bytes:
    """A close frame's payload: the 2-byte code, then the reason."""
    return struct.pack("!H", code) + reason


def parse_frame(buf: bytes | bytearray, limit: int = 1 << 26) -> tuple[RawFrame, int] | None:
    """(the first whole frame of `buf`, bytes it took), or None while incomplete; ValueError above `limit`."""
    if len(buf) < 2:
        return None
    first, second = buf[0], buf[1]
    length, pos = second & 0x7F, 2
    if length == 126:
        if len(buf) < 4:
            return None
        length, pos = struct.unpack_from("!H", buf, 2)[0], 4
    elif length == 127:
        if len(buf) < 10:
            return None
        length, pos = struct.unpack_from("!Q", buf, 2)[0], 10
    if length > limit:
        raise ValueError(f"server frame of {length} bytes")
    masked = bool(second & 0x80)
    key = bytes(buf[pos : pos + 4]) if masked else b""
    pos += 4 if masked else 0
    if len(buf) < pos + length:
        return None
    payload = bytes(buf[pos : pos + length])
    if masked:
        payload = mask(payload, key)
    frame = RawFrame(bool(first & 0x80), (first >> 4) & 7, first & 0xF, masked, payload)
    return frame, pos + length


def close_code(payload: bytes) -> int | None:
    """The code of a close frame's payload (None when it carries none)."""
    return struct.unpack_from("!H", payload)[0] if len(payload) >= 2 else None


def describe(frame: RawFrame) -> str:
    """A short human description of a received frame (for a case's detail)."""
    names = {CONT: "continuation", TEXT: "text", BINARY: "binary", CLOSE: "close", PING: "ping", PONG: "pong"}
    name = names.get(frame.opcode, f"opcode {frame.opcode:#x}")
    if frame.opcode == CLOSE:
        code = close_code(frame.payload)
        return f"close {code}" if code is not None else f"close without code ({len(frame.payload)} bytes)"
    if frame.opcode == TEXT:
        return f"text {frame.payload[:80].decode('utf-8', 'replace')!r}"
    return f"{name} of {len(frame.payload)} bytes"
