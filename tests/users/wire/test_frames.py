"""The frame codec (hand-written framing, the websockets library's C masking) agrees with websocket-client's ABNF
implementation."""

from __future__ import annotations

import random

import pytest
from websocket._abnf import ABNF, frame_buffer

from users.wire.frames import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONTINUATION,
    OP_PING,
    OP_TEXT,
    Frame,
    FrameDecoder,
    FrameError,
    MaskKeys,
    encode_close,
    encode_frame,
    encode_text_frames,
    mask,
    parse_close_payload,
)

LENGTH_CLASSES = [0, 1, 125, 126, 127, 65535, 65536, 100_000]


def server_frame(payload: bytes, opcode: int = OP_TEXT, fin: int = 1) -> bytes:
    """An unmasked frame as a server sends it, built by the library."""
    return ABNF(fin, 0, 0, 0, opcode, 0, payload).format()


def library_decode(wire: bytes) -> list[ABNF]:
    """Frames decoded by websocket-client's frame_buffer from `wire`."""
    view = memoryview(wire)
    pos = 0

    def recv(n: int) -> bytes:
        nonlocal pos
        chunk = bytes(view[pos : pos + n])
        pos += n
        return chunk

    buffer = frame_buffer(recv, skip_utf8_validation=True)
    frames = []
    while pos < len(wire):
        frames.append(buffer.recv_frame())
    return frames


@pytest.mark.parametrize("length", LENGTH_CLASSES)
def test_encoded_frame_decodes_in_library(length: int) -> None:
    payload = bytes(random.Random(length).getrandbits(8) for _ in range(length))
    (frame,) = library_decode(encode_frame(payload, OP_BINARY))
    assert frame.mask_value == 1
    assert frame.opcode == OP_BINARY
    assert frame.fin == 1
    assert frame.data == payload


def test_mask_matches_library() -> None:
    rng = random.Random(7)
    for n in (0, 1, 3, 4, 5, 70, 127, 255, 256, 257, 1000):
        data = bytes(rng.getrandbits(8) for _ in range(n))
        key = bytes(rng.getrandbits(8) for _ in range(4))
        assert mask(data, key) == ABNF.mask(key, data)


def test_batch_encoding_is_frames_in_order_with_distinct_keys() -> None:
    payloads = [b"a", b"bb" * 100, b"", b"x" * 70000]
    frames = library_decode(encode_text_frames(payloads))
    assert [f.data for f in frames] == payloads
    same = encode_text_frames([b"same payload"] * 4)
    masked_bodies = {same[i * 18 + 6 : i * 18 + 18] for i in range(4)}  # 2-byte header + 4-byte key + 12
    assert len(masked_bodies) == 4


@pytest.mark.parametrize("length", LENGTH_CLASSES)
def test_decodes_library_frames_of_every_length_class(length: int) -> None:
    payload = b"p" * length
    assert FrameDecoder().feed(server_frame(payload)) == [Frame(OP_TEXT, payload)]


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 4096])
def test_decodes_stream_split_anywhere(chunk: int) -> None:
    payloads = [b"x" * n for n in (5, 126, 300, 65536, 0)]
    wire = b"".join(server_frame(p) for p in payloads)
    decoder = FrameDecoder()
    got: list[Frame] = []
    for i in range(0, len(wire), chunk):
        got.extend(decoder.feed(wire[i : i + chunk]))
    assert [f.payload for f in got] == payloads
    assert decoder.buffered == 0


def test_fragmented_message_with_control_frames_in_between() -> None:
    wire = (
        server_frame(b"hel", OP_TEXT, fin=0)
        + server_frame(b"ping!", OP_PING)
        + server_frame(b"lo ", OP_CONTINUATION, fin=0)
        + server_frame(b"world", OP_CONTINUATION, fin=1)
        + server_frame(b"next", OP_TEXT)
    )
    assert FrameDecoder().feed(wire) == [
        Frame(OP_PING, b"ping!"),
        Frame(OP_TEXT, b"hello world"),
        Frame(OP_TEXT, b"next"),
    ]


def test_close_frame_round_trip() -> None:
    (frame,) = library_decode(encode_close(1001, "bye"))
    assert frame.opcode == OP_CLOSE
    assert parse_close_payload(frame.data) == (1001, "bye")
    assert parse_close_payload(b"") == (1005, "")
    decoded = FrameDecoder().feed(server_frame(b"\x03\xe8done", OP_CLOSE))
    assert decoded == [Frame(OP_CLOSE, b"\x03\xe8done")]


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535])
def test_a_close_code_no_peer_may_send_is_a_protocol_error(code: int) -> None:
    with pytest.raises(FrameError) as info:
        parse_close_payload(code.to_bytes(2, "big") + b"why")
    assert info.value.close_code == 1002


@pytest.mark.parametrize("code", [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999])
def test_close_codes_a_peer_may_send_are_parsed_with_their_reason(code: int) -> None:
    assert parse_close_payload(code.to_bytes(2, "big") + "ré".encode()) == (code, "ré")


@pytest.mark.parametrize(("payload", "close_code"), [(b"\x03", 1002), (b"\x03\xe8\xff\xfebye", 1007)])
def test_a_one_byte_close_payload_is_1002_and_a_reason_not_utf8_is_1007(payload: bytes, close_code: int) -> None:
    with pytest.raises(FrameError) as info:
        parse_close_payload(payload)
    assert info.value.close_code == close_code


@pytest.mark.parametrize("opcode", range(0xB, 0x10))
def test_reserved_control_opcodes_are_protocol_errors(opcode: int) -> None:
    with pytest.raises(FrameError, match="reserved control opcode") as info:
        FrameDecoder().feed(bytes([0x80 | opcode, 0]))
    assert info.value.close_code == 1002


@pytest.mark.parametrize(
    ("wire", "close_code"),
    [
        (bytes([0x81, 0x81, 1, 2, 3, 4, 0]), 1002),  # masked server frame
        (bytes([0xC1, 0x00]), 1002),  # RSV1 without extension
        (bytes([0x83, 0x00]), 1002),  # reserved opcode
        (bytes([0x80, 0x00]), 1002),  # continuation with nothing to continue
        (bytes([0x09, 0x00]), 1002),  # fragmented ping
        (bytes([0x89, 126, 0, 126]) + b"x" * 126, 1002),  # control frame too long
        (bytes([0x01, 0x01]) + b"a" + bytes([0x81, 0x01]) + b"b", 1002),  # text inside fragmented text
    ],
)
def test_framing_violations_name_their_close_code(wire: bytes, close_code: int) -> None:
    with pytest.raises(FrameError) as info:
        FrameDecoder().feed(wire)
    assert info.value.close_code == close_code


BAD_AFTER_ANSWERS = [
    (bytes([0xC1, 0x00]), 1002),  # RSV1 without extension
    (bytes([0x81, 0x81, 1, 2, 3, 4, 0]), 1002),  # masked server frame
    (bytes([0x81, 127]) + (1 << 63).to_bytes(8, "big"), 1002),  # 64-bit length with its top bit set
    (bytes([0x89, 126, 0, 126]) + b"x" * 126, 1002),  # control frame over 125 bytes
    (bytes([0x09, 0x00]), 1002),  # fragmented ping
    (bytes([0x83, 0x00]), 1002),  # reserved opcode
    (bytes([0x80, 0x01]) + b"x", 1002),  # continuation first
    (bytes([0x81, 127]) + (1 << 40).to_bytes(8, "big"), 1009),  # over the size limit
]


@pytest.mark.parametrize(("bad", "close_code"), BAD_AFTER_ANSWERS)
def test_frames_before_a_bad_one_in_the_same_read_are_delivered_with_the_error(bad: bytes, close_code: int) -> None:
    answers = [server_frame(b"one"), server_frame(b"tw", fin=0) + server_frame(b"o", OP_CONTINUATION)]
    answers.append(server_frame(b"p", OP_PING))
    with pytest.raises(FrameError) as info:
        FrameDecoder().feed(b"".join(answers) + bad + server_frame(b"after"))
    assert info.value.close_code == close_code
    assert info.value.frames == [Frame(OP_TEXT, b"one"), Frame(OP_TEXT, b"two"), Frame(OP_PING, b"p")]


def test_a_compressed_frame_that_does_not_inflate_fails_after_the_frames_before_it() -> None:
    def inflate(data: bytes) -> bytes:
        if data != b"ok":
            raise FrameError(1002, "bad deflate data")
        return b"inflated"

    with pytest.raises(FrameError) as info:
        FrameDecoder(inflate=inflate).feed(bytes([0xC1, 2]) + b"ok" + server_frame(b"plain") + bytes([0xC1, 1, 0]))
    assert info.value.close_code == 1002
    assert info.value.frames == [Frame(OP_TEXT, b"inflated"), Frame(OP_TEXT, b"plain")]


def test_size_limit_applies_to_frames_and_to_joined_fragments() -> None:
    with pytest.raises(FrameError) as single:
        FrameDecoder(max_message_bytes=100).feed(server_frame(b"x" * 101))
    assert single.value.close_code == 1009
    decoder = FrameDecoder(max_message_bytes=100)
    decoder.feed(server_frame(b"x" * 60, OP_TEXT, fin=0))
    with pytest.raises(FrameError) as joined:
        decoder.feed(server_frame(b"x" * 60, OP_CONTINUATION, fin=1))
    assert joined.value.close_code == 1009


def test_a_fragment_that_would_pass_the_limit_fails_on_its_header_before_its_payload_is_buffered() -> None:
    decoder = FrameDecoder(max_message_bytes=100)
    decoder.feed(server_frame(b"x" * 60, OP_TEXT, fin=0) + server_frame(b"p", OP_PING))
    assert decoder.held == 60
    header = server_frame(b"y" * 41, OP_CONTINUATION)[:2]  # 60 + 41 > 100: the header alone is enough
    with pytest.raises(FrameError, match="fragmented message over the 100-byte limit") as info:
        decoder.feed(header)
    assert info.value.close_code == 1009 and decoder.held == 0  # released once failed
    fits = FrameDecoder(max_message_bytes=100)
    fits.feed(server_frame(b"x" * 60, OP_TEXT, fin=0))
    assert fits.feed(server_frame(b"y" * 40, OP_CONTINUATION)) == [Frame(OP_TEXT, b"x" * 60 + b"y" * 40)]


def test_what_a_decoder_holds_stays_within_the_limit_whatever_a_server_streams() -> None:
    limit = 16 * 1024
    decoder = FrameDecoder(max_message_bytes=limit)
    fragments = [server_frame(b"z" * 1024, OP_TEXT if i == 0 else OP_CONTINUATION, fin=0) for i in range(100)]
    stream = b"".join(fragments)
    most = 0
    with pytest.raises(FrameError) as info:
        for i in range(0, len(stream), 700):
            decoder.feed(stream[i : i + 700])
            most = max(most, decoder.held)
    assert info.value.close_code == 1009 and limit - 1024 < most <= limit and i < 17 * 1030


def test_rsv1_marks_a_compressed_message_only_once_deflate_is_negotiated() -> None:
    frame = bytes([0xC1, 3]) + b"abc"  # FIN, RSV1, text
    with pytest.raises(FrameError, match="reserved bits"):
        FrameDecoder().feed(frame)
    (message,) = FrameDecoder(inflate=bytes.upper).feed(frame)
    assert message.opcode == OP_TEXT and message.payload == b"ABC"
    fragmented = bytes([0x41, 2]) + b"ab" + bytes([0x80, 1]) + b"c"  # RSV1 on the first frame only
    (joined,) = FrameDecoder(inflate=bytes.upper).feed(fragmented)
    assert joined.opcode == OP_TEXT and joined.payload == b"ABC"
    assert FrameDecoder(inflate=bytes.upper).feed(bytes([0x81, 2]) + b"ab")[0].payload == b"ab"  # not compressed
    for bad in (bytes([0xE1, 0]), bytes([0xC9, 0]), bytes([0x41, 1]) + b"a" + bytes([0xC0, 1]) + b"b"):
        with pytest.raises(FrameError):  # RSV2, RSV1 on a ping, RSV1 on a continuation
            FrameDecoder(inflate=bytes.upper).feed(bad)


def test_mask_keys_are_handed_out_once_each_and_refilled_when_the_pool_runs_out() -> None:
    keys = MaskKeys(batch=4)
    taken = [keys.take() for _ in range(10)] + [keys.take(3), keys.take(6)]
    assert [len(k) for k in taken] == [4] * 10 + [12, 24]
    singles = taken[:10]
    assert len(set(singles)) == 10  # 32 random bits each: a repeat would mean a key handed out twice
    pool_reads = keys._pool
    assert len(pool_reads) == 24  # a request larger than the batch reads as much as it needs


def test_a_read_of_one_whole_small_text_frame_decodes_like_any_other_and_keeps_the_rules() -> None:
    whole = server_frame(b'{"op":"tool_result"}')
    assert [(f.opcode, f.payload) for f in FrameDecoder().feed(whole)] == [(OP_TEXT, b'{"op":"tool_result"}')]
    assert FrameDecoder().feed(server_frame(b"")) == [Frame(OP_TEXT, b"")]
    with pytest.raises(FrameError):
        FrameDecoder(max_message_bytes=4).feed(whole)
    assert FrameDecoder().whole_text(whole) == b'{"op":"tool_result"}'
    assert FrameDecoder().whole_text(whole + whole) is None  # two frames: feed them
    decoder = FrameDecoder()
    assert decoder.feed(server_frame(b"part", fin=0)) == []
    assert decoder.whole_text(whole) is None
    with pytest.raises(FrameError):
        decoder.feed(whole)  # a new message inside a fragmented one
    split = FrameDecoder()
    assert split.feed(whole[:3]) == [] and split.whole_text(whole[3:]) is None  # bytes are buffered
