"""permessage-deflate without sockets: the offer, every kind of server answer, and the codec against zlib."""

from __future__ import annotations

import zlib

import pytest

from users.wire.deflate import (
    OFFER,
    SPLIT_TAIL_BYTES,
    DeflateCodec,
    DeflateParams,
    ExtensionError,
    negotiate,
    offer_header,
)


def test_the_offer_lets_the_server_choose_our_window() -> None:
    assert offer_header() == f"Sec-WebSocket-Extensions: {OFFER}"
    assert OFFER == "permessage-deflate; client_max_window_bits"


@pytest.mark.parametrize(
    ("answer", "params"),
    [
        ("permessage-deflate", DeflateParams()),
        ("permessage-deflate; client_max_window_bits=15", DeflateParams()),
        (
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
            DeflateParams(server_no_context_takeover=True, client_no_context_takeover=True),
        ),
        (
            'permessage-deflate; server_max_window_bits="10"; client_max_window_bits=9',
            DeflateParams(server_max_window_bits=10, client_max_window_bits=9),
        ),
    ],
)
def test_what_the_server_may_answer_is_accepted(answer: str, params: DeflateParams) -> None:
    assert negotiate(answer, offered=True) == params


def test_no_answer_means_no_compression() -> None:
    assert negotiate(None, offered=True) is None
    assert negotiate("", offered=True) is None
    assert negotiate(None, offered=False) is None


@pytest.mark.parametrize(
    ("answer", "offered", "message"),
    [
        ("permessage-deflate", False, "not offered"),
        ("x-webkit-deflate-frame", True, "not offered: x-webkit-deflate-frame"),
        ("permessage-deflate, permessage-deflate", True, "more than one"),
        ("permessage-deflate; server_max_window_bits=16", True, "8 to 15"),
        ("permessage-deflate; client_max_window_bits=7", True, "8 to 15"),
        ("permessage-deflate; server_max_window_bits", True, "8 to 15"),
        ("permessage-deflate; client_no_context_takeover=1", True, "takes no value"),
        ("permessage-deflate; server_no_context_takeover; server_no_context_takeover", True, "twice"),
        ("permessage-deflate; mystery=1", True, "not offered: mystery"),
    ],
)
def test_an_answer_that_was_not_offered_is_refused(answer: str, offered: bool, message: str) -> None:
    with pytest.raises(ExtensionError, match=message):
        negotiate(answer, offered)


def test_the_codec_round_trips_with_zlib_both_ways() -> None:
    codec = DeflateCodec(DeflateParams(client_max_window_bits=8))  # zlib's raw deflate needs 9: still inflatable
    server_in = zlib.decompressobj(-15)
    server_out = zlib.compressobj(6, zlib.DEFLATED, -12)
    for i in range(3):
        message = f'{{"i":{i},"pad":"{"p" * 1000}"}}'.encode()
        assert server_in.decompress(codec.compress(message) + b"\x00\x00\xff\xff") == message
        wire = server_out.compress(message) + server_out.flush(zlib.Z_SYNC_FLUSH)
        assert codec.decompress(wire[:-4], 1 << 20) == message


def test_the_codec_refuses_bombs_and_garbage() -> None:
    codec = DeflateCodec(DeflateParams())
    bomb = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = bomb.compress(b"\0" * 1_000_000) + bomb.flush(zlib.Z_SYNC_FLUSH)
    with pytest.raises(OverflowError):
        codec.decompress(data[:-4], 10_000)
    with pytest.raises(ValueError, match="bad deflate data"):
        DeflateCodec(DeflateParams()).decompress(b"\xff\xff\xff", 1000)


@pytest.mark.parametrize("level", [0, 6])  # 0: stored, past SPLIT_TAIL_BYTES (the tail inflated on its own)
def test_a_message_inflating_to_exactly_the_limit_is_accepted_and_one_byte_more_refused(level: int) -> None:
    for size, limit in ((100_000, 100_000), (100_001, 100_000)):
        server = zlib.compressobj(level, zlib.DEFLATED, -15)
        wire = server.compress(b"q" * size) + server.flush(zlib.Z_SYNC_FLUSH)
        assert (len(wire) > SPLIT_TAIL_BYTES) == (level == 0)
        codec = DeflateCodec(DeflateParams())
        if size <= limit:
            assert codec.decompress(wire[:-4], limit) == b"q" * size
            assert codec.decompress(zlib.compressobj(6, zlib.DEFLATED, -15).flush(zlib.Z_SYNC_FLUSH)[:-4], 1) == b""
        else:
            with pytest.raises(OverflowError):
                codec.decompress(wire[:-4], limit)
