"""Case 8.1: permessage-deflate (RFC 7692) offered; a compressed call answered when the server accepts it."""

from __future__ import annotations

import zlib
from collections.abc import Callable

from probe.case import Case
from probe.context import Context
from probe.results import FAILED, OK, Outcome
from probe.session import ended, handshake, next_answer, opened
from probe.wire import TEXT, build_frame

OFFER = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"
TAIL = b"\x00\x00\xff\xff"


def deflate(data: bytes) -> bytes:
    """One message compressed as RFC 7692 sends it (raw deflate, sync flush, the empty block's tail removed)."""
    compressor = zlib.compressobj(wbits=-15)
    out = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
    return out[:-4] if out.endswith(TAIL) else out


def inflater() -> Callable[[bytes], bytes]:
    """A function inflating one compressed server message (the server may keep its window between messages)."""
    decompressor = zlib.decompressobj(wbits=-15)
    return lambda payload: decompressor.decompress(payload + TAIL)


def permessage_deflate(ctx: Context) -> Outcome:
    """Offer permessage-deflate: declined, the connection works uncompressed; accepted, a compressed call is
    answered (and compressed answers inflate)."""
    client, answer = opened(ctx, [OFFER])
    try:
        accepted = [e for e in answer.extensions() if e]
        if accepted and accepted != ["permessage-deflate"]:
            return Outcome(FAILED, f"accepted extensions {accepted}, only permessage-deflate was offered")
        if accepted:
            client.inflate = inflater()
        handshake(ctx, client)
        data = ctx.speaker.call(81, ctx.tool, {"probe": "deflate " * 20})
        client.send(build_frame(TEXT, deflate(data), rsv=4) if accepted else build_frame(TEXT, data))
        reply = next_answer(ctx, client, lambda a: a.kind in ("result", "error"))
        if reply is None or reply.kind != "result" or not reply.ok or reply.request_id != "81":
            got = reply.text if reply else ended(client)
            return Outcome(FAILED, f"{'compressed' if accepted else 'uncompressed'} call answered {got!r}")
        if accepted:
            return Outcome(OK, f"accepted ({answer.header('sec-websocket-extensions')}); compressed call answered")
        return Outcome(OK, "declined (no Sec-WebSocket-Extensions in the 101); the connection works uncompressed")
    finally:
        client.close()


CASES = (Case("8.1", "permessage-deflate offered", permessage_deflate),)
