"""Client CPU per call of each wire protocol and of permessage-deflate, through the pure core; prints a table.

    python -m bench.protocol_cost [--calls 20000] [--rounds 5]

In-process and deterministic, no sockets: the server's answers are built
beforehand (compressed by zlib with context takeover for the deflate rows),
then each protocol's calls go through `ClientCore` as a connection's would:
encode and frame the calls, decode and classify the answers, settle and count the calls (users/wire/tally.py).
Closed loop (one call, its answer) and pipelined (100 calls, 100 answers in one
read). Best of the rounds, in process CPU microseconds per call: the codec's
share of a Locust user's CPU per call (Locust's request event comes on top).
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
import time
import zlib
from typing import Any

from users.wire.core import ClientCore
from users.wire.deflate import DeflateParams
from users.wire.metrics import WsCounters
from users.wire.protocols import JsonRpc, Mcp, Protocol, ToolCall
from users.wire.settings import ClientSettings
from users.wire.tally import Tally

CASES: dict[str, tuple[Protocol, bool]] = {
    "toolcall": (ToolCall(), False),
    "jsonrpc": (JsonRpc(), False),
    "mcp": (Mcp(), False),
    "toolcall+deflate": (ToolCall(), True),
    "jsonrpc+deflate": (JsonRpc(), True),
}
ARGUMENTS = {"x": 1, "text": "a short tool argument"}


def answer(protocol: Protocol, request_id: int) -> bytes:
    """The server's answer to call `request_id` (an echo of ARGUMENTS), as the protocol words it."""
    if isinstance(protocol, Mcp):
        content = {"content": [{"type": "text", "text": json.dumps(ARGUMENTS)}], "isError": False}
        return json.dumps({"jsonrpc": "2.0", "id": request_id, "result": content}).encode()
    if isinstance(protocol, JsonRpc):
        return json.dumps({"jsonrpc": "2.0", "id": request_id, "result": ARGUMENTS}).encode()
    return json.dumps({"op": "tool_result", "request_id": str(request_id), "ok": True, "result": ARGUMENTS}).encode()


def server_frames(payloads: list[bytes], deflate: bool) -> list[bytes]:
    """Unmasked server text frames (RSV1 and compressed with context takeover when `deflate`)."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    frames = []
    for payload in payloads:
        first = 0x81
        if deflate:
            payload = (compressor.compress(payload) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]
            first = 0xC1
        n = len(payload)
        header = bytes((first, n)) if n < 126 else struct.pack("!BBH", first, 126, n)
        frames.append(header + payload)
    return frames


def cost_us(protocol: Protocol, deflate: bool, calls: int, batch: int) -> float:
    """Process CPU microseconds per call for `calls` calls sent `batch` at a time."""
    core = ClientCore(ClientSettings(protocol=protocol), 0.0, DeflateParams() if deflate else None)
    tally = Tally(WsCounters())
    # no handshake: calls may go out before it (CONNECTING), and only calls are measured
    frames = server_frames([answer(protocol, i) for i in range(1, calls + 1)], deflate)
    reads = [b"".join(frames[i : i + batch]) for i in range(0, calls, batch)]
    templates = [protocol.template("echo", ARGUMENTS)] * batch
    start = time.process_time()
    for data in reads:
        core.send_calls(templates, 1.0)
        tally.fold(core)
        core.data_to_send()
        core.receive_data(data, 1.0)
        tally.count(core.events_received(), core)
    spent = time.process_time() - start
    assert tally.counters.calls.ok == calls and tally.counters.protocol_errors == 0
    return 1e6 * spent / calls


def measure(calls: int, rounds: int) -> dict[str, dict[str, float]]:
    """{case: {closed_loop_us, pipelined_us}}, best of `rounds` interleaved rounds."""
    best: dict[str, dict[str, float]] = {case: {} for case in CASES}
    for _ in range(rounds):
        for case, (protocol, deflate) in CASES.items():
            for shape, batch in (("closed_loop_us", 1), ("pipelined_us", 100)):
                value = cost_us(protocol, deflate, calls, batch)
                best[case][shape] = min(best[case].get(shape, value), value)
    return best


def run(quick: bool = False, repeats: int | None = None) -> tuple[dict[str, Any], list[Any]]:
    """`python -m bench` entry: the table and its results entry (no targets: these are costs to know)."""
    calls = 2000 if quick else 20000
    result = measure(calls, repeats or (1 if quick else 5))
    print(f"  {'case':<18} {'closed loop':>12} {'pipelined':>10}   (CPU us per call, best of rounds)")
    for case, values in result.items():
        print(f"  {case:<18} {values['closed_loop_us']:>12.2f} {values['pipelined_us']:>10.2f}")
    return {"calls": calls, "us_per_call": result}, []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20000, help="calls per measurement (default %(default)s)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default %(default)s)")
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.calls, args.rounds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
