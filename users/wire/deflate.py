"""Pure permessage-deflate (RFC 7692): the offer, the check of the server's answer, and the zlib codec."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

from users.wire.frames import (
    CLOSE_MESSAGE_TOO_BIG,
    CLOSE_PROTOCOL_ERROR,
    COMPRESSED,
    OP_TEXT,
    FrameError,
    encode_frame,
    encode_text_frames,
)
from users.wire.traffic import MoreTraffic

OFFER = "permessage-deflate; client_max_window_bits"
"""What the client offers: the extension with default parameters, letting the server limit our window."""
TAIL = b"\x00\x00\xff\xff"
"""The empty stored block a sync flush ends with; RFC 7692 7.2.1 removes it from every message."""
SPLIT_TAIL_BYTES = 64 * 1024
"""Compressed messages this large get the tail inflated by a second zlib call rather than copied onto them."""


class ExtensionError(ValueError):
    """The server's Sec-WebSocket-Extensions answer is not something the client offered."""


@dataclass(frozen=True)
class DeflateParams:
    """What the server accepted (RFC 7692 section 7.1)."""

    server_no_context_takeover: bool = False
    client_no_context_takeover: bool = False
    server_max_window_bits: int = 15
    client_max_window_bits: int = 15


def offer_header() -> str:
    """The upgrade header offering permessage-deflate."""
    return f"Sec-WebSocket-Extensions: {OFFER}"


def negotiate(answer: str | None, offered: bool) -> DeflateParams | None:
    """The parameters of the server's answer (None: no extension, messages stay uncompressed).

    ExtensionError when the server answers with anything not offered: an extension at all when none was
    offered, another extension, two of them, an unknown or repeated parameter, a value out of range.
    """
    if answer is None or not answer.strip():
        return None
    if not offered:
        raise ExtensionError(f"server accepted extensions that were not offered: {answer.strip()[:60]}")
    extensions = [e.strip() for e in answer.split(",")]
    if len(extensions) != 1:
        raise ExtensionError("server accepted more than one extension")
    name, *params = [p.strip() for p in extensions[0].split(";")]
    if name != "permessage-deflate":
        raise ExtensionError(f"server accepted an extension that was not offered: {name[:40]}")
    seen: dict[str, str | None] = {}
    for param in params:
        key, _, value = param.partition("=")
        key, value = key.strip(), value.strip().strip('"')
        if key in seen:
            raise ExtensionError(f"permessage-deflate parameter {key} given twice")
        seen[key] = value or None
    return _params(seen)


def _params(seen: dict[str, str | None]) -> DeflateParams:
    known = {"server_no_context_takeover", "client_no_context_takeover", "server_max_window_bits"}
    known.add("client_max_window_bits")
    unknown = set(seen) - known
    if unknown:
        raise ExtensionError(f"permessage-deflate parameter not offered: {sorted(unknown)[0][:40]}")
    for flag in ("server_no_context_takeover", "client_no_context_takeover"):
        if flag in seen and seen[flag] is not None:
            raise ExtensionError(f"permessage-deflate {flag} takes no value")
    bits = {}
    for key in ("server_max_window_bits", "client_max_window_bits"):
        if key in seen:
            value = seen[key]
            if value is None or not value.isdigit() or not 8 <= int(value) <= 15:
                raise ExtensionError(f"permessage-deflate {key} must be 8 to 15")
            bits[key] = int(value)
    return DeflateParams(
        server_no_context_takeover="server_no_context_takeover" in seen,
        client_no_context_takeover="client_no_context_takeover" in seen,
        **bits,
    )


class DeflateCodec:
    """Compresses the client's messages and decompresses the server's, as negotiated."""

    __slots__ = ("params", "_compressor", "_decompressor", "_compress_bits")

    def __init__(self, params: DeflateParams) -> None:
        self.params = params
        # zlib cannot make a raw deflate stream with an 8-bit window (it uses 9); 9 is what other clients send too
        self._compress_bits = max(9, params.client_max_window_bits)
        self._compressor = self._new_compressor()
        self._decompressor = zlib.decompressobj(-15)  # a larger window than the server's always inflates

    def _new_compressor(self) -> zlib._Compress:
        return zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -self._compress_bits)

    def compress(self, payload: bytes) -> bytes:
        """One message's compressed payload (RFC 7692 7.2.1: sync flush, tail removed)."""
        if self.params.client_no_context_takeover:
            self._compressor = self._new_compressor()
        data = self._compressor.compress(payload) + self._compressor.flush(zlib.Z_SYNC_FLUSH)
        return data[:-4] if data.endswith(TAIL) else data

    def decompress(self, data: bytes, max_bytes: int) -> bytes:
        """One message's payload; ValueError when it is not valid deflate data or inflates beyond `max_bytes`."""
        if self.params.server_no_context_takeover:
            self._decompressor = zlib.decompressobj(-15)
        decompressor = self._decompressor
        try:
            if len(data) < SPLIT_TAIL_BYTES:  # most messages: one zlib call
                payload = decompressor.decompress(data + TAIL, max_bytes + 1)
            else:  # the tail inflated on its own: `data + TAIL` would copy a large message once more
                payload = decompressor.decompress(data, max_bytes + 1)
                if len(payload) <= max_bytes and not decompressor.unconsumed_tail:
                    payload += decompressor.decompress(TAIL, max_bytes + 1 - len(payload))
        except zlib.error as exc:
            raise ValueError(f"bad deflate data: {exc}") from None
        if len(payload) > max_bytes or decompressor.unconsumed_tail:
            raise OverflowError(f"message inflates beyond the {max_bytes}-byte limit")
        return payload


class DeflateFrames:
    """A connection's compressed frames: text frames out (RSV1 set), messages in; their compressed size goes in
    the connection's `counts` (its MoreTraffic: users/wire/traffic.py)."""

    __slots__ = ("codec", "_counts", "_max_bytes")

    def __init__(self, params: DeflateParams, counts: MoreTraffic, max_bytes: int) -> None:
        self.codec = DeflateCodec(params)
        self._counts = counts
        self._max_bytes = max_bytes

    def text_frame(self, payload: bytes) -> bytes:
        """One compressed text frame carrying `payload`."""
        data = self.codec.compress(payload)
        self._counts.bytes_sent_compressed += len(data)
        return encode_frame(data, OP_TEXT | COMPRESSED)

    def frames(self, payloads: list[bytes]) -> bytes:
        """Compressed text frames carrying `payloads`, joined for one write."""
        return b"".join(map(self.text_frame, payloads))

    def inflate(self, data: bytes) -> bytes:
        """A compressed message's payload; FrameError (1009 too big, 1002 not deflate) ends the connection."""
        self._counts.bytes_received_compressed += len(data)
        try:
            return self.codec.decompress(data, self._max_bytes)
        except OverflowError as exc:
            raise FrameError(CLOSE_MESSAGE_TOO_BIG, str(exc)) from None
        except ValueError as exc:
            raise FrameError(CLOSE_PROTOCOL_ERROR, str(exc)) from None


def framers(params: DeflateParams | None, counts: MoreTraffic | None, max_bytes: int) -> tuple[Any, Any, Any]:
    """A connection's (text frame encoder, batch encoder, inflater): plain framing and no inflater without
    permessage-deflate, compressed framing and its inflater with it (their compressed bytes counted in `counts`)."""
    if params is None:
        return encode_frame, encode_text_frames, None
    deflate = DeflateFrames(params, MoreTraffic(kept=True) if counts is None else counts, max_bytes)
    return deflate.text_frame, deflate.frames, deflate.inflate
