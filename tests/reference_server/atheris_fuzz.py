"""Coverage-guided fuzzing of the reference server's frame and message handling with atheris.

Not part of the test suite (pytest collects only ``test_*.py``) and atheris is not in
requirements.txt. It drives the same Connection harness and PROTOCOL.md model as
``test_fuzz_connection.py``, but lets libFuzzer steer the inputs by coverage, and it
also feeds raw bytes to ``messages.decode`` and raw token text to the JWT verifier.
From the repository root::

    .venv/bin/pip install atheris==3.0.0        # a binary wheel for CPython 3.11 on Linux x86-64
    .venv/bin/python tests/reference_server/atheris_fuzz.py -runs=200000 -max_len=2048
    .venv/bin/python tests/reference_server/atheris_fuzz.py -max_total_time=600 CORPUS_DIR   # keep a corpus

Any libFuzzer option works (``-help=1``). A failing input is written to ``crash-<sha1>``
in the current directory; replay it with ``... atheris_fuzz.py crash-<sha1>``.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

with atheris.instrument_imports(include=["reference_server"]):
    from reference_server import messages
    from reference_server.auth import AuthError, hmac_verifier
    from reference_server.connection import Connection
    from reference_server.counters import Counters

from tests.reference_server.fuzz_support import encode  # noqa: E402
from tests.reference_server.test_fuzz_connection import (  # noqa: E402
    BINARY,
    CLOSE,
    CONT,
    GOOD_TOKENS,
    PING,
    PONG,
    SECRET,
    TEXT,
    FakeTransport,
    Frame,
    Model,
    fuzz_context,
    matches,
)

LOOP = asyncio.new_event_loop()
VERIFIER = hmac_verifier(SECRET.encode())
OPCODES = [TEXT, TEXT, TEXT, TEXT, BINARY, CONT, PING, PONG, CLOSE]


class _Errors(logging.Handler):
    """Fails the input on any ERROR the server logs (its 'internal error' paths)."""

    def emit(self, record: logging.LogRecord) -> None:
        raise AssertionError(f"server logged an error: {record.getMessage()}")


logging.getLogger("reference_server").addHandler(_Errors(logging.ERROR))
logging.getLogger("reference_server").propagate = False


def one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    target = fdp.ConsumeIntInRange(0, 9)
    if target == 0:  # raw message bytes
        try:
            messages.decode(fdp.ConsumeBytes(fdp.remaining_bytes()))
        except (messages.BadMessage, messages.InvalidUtf8):
            pass
        return
    if target == 1:  # raw token text
        try:
            VERIFIER.verify(fdp.ConsumeUnicodeNoSurrogates(fdp.remaining_bytes()), 1_700_000_000.0)
        except AuthError as exc:
            assert exc.code in ("invalid_token", "token_expired")
        return
    counters = Counters()
    ctx = fuzz_context(LOOP, counters, VERIFIER, "atheris")
    conn, transport, model = Connection(ctx), FakeTransport(), Model()
    conn.on_ws_connected(transport)  # type: ignore[arg-type]
    frames: list[Frame] = []
    if fdp.ConsumeBool():
        hello = {"op": "hello", "session_id": "s", "token": fdp.PickValueInList(GOOD_TOKENS)}
        frames.append(Frame(TEXT, encode(hello)))
    while fdp.remaining_bytes() and len(frames) < 64:
        rsv = fdp.ConsumeIntInRange(0, 7) if fdp.ConsumeProbability() < 0.05 else 0
        frames.append(
            Frame(
                fdp.PickValueInList(OPCODES),
                fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 300)),
                fin=fdp.ConsumeProbability() < 0.85,
                rsv1=bool(rsv & 4),
                rsv2=bool(rsv & 2),
                rsv3=bool(rsv & 1),
            )
        )
    seen = 0
    for frame in frames:
        if frame.msg_type in (PING, PONG, CLOSE) and not frame.fin:
            continue  # picows refuses fragmented control frames before the connection sees them
        expected = model.frame(frame)
        conn.on_ws_frame(transport, frame)  # type: ignore[arg-type]
        got = transport.out[seen:]
        seen = len(transport.out)
        assert len(got) == len(expected) and all(map(matches, got, expected)), (frame, got, expected)
    conn.on_ws_disconnected(transport)  # type: ignore[arg-type]
    LOOP.run_until_complete(asyncio.sleep(0))
    answered = counters.results_ok + sum(counters.results_error.values()) + counters.calls_unanswered
    assert counters.calls_received == answered, counters.to_dict()


def main() -> None:
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
