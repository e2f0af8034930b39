"""The reference server's CPU per message in process, this tree against an older revision, interleaved in one run.

    .venv/bin/python -m bench.server_hotpath --base-rev main            # toolcall and jsonrpc echo calls
    .venv/bin/python -m bench.server_hotpath --base-rev HEAD~3 --repeats 800

Both ``reference_server`` packages are imported side by side (the base from ``git archive
REV reference_server``, renamed) and each drives one connection through picows' callback
(``on_ws_frame``) with a fake transport: the frame, the session, the tool, the answer
encoded and handed to ``transport.send``; no sockets, no event loop turns. Batches of 500
calls alternate between the two sides, so whatever else the machine does slows both
alike; the figure is the best batch of each side and their ratio (candidate / base).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import io
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
from picows import WSMsgType

from bench.common import REPO_ROOT, mint_token

SECRET = "server-hotpath-secret-long-enough-for-hs256-0123456789"
BATCH = 500


class _Raw:
    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0


class _Transport:
    def __init__(self) -> None:
        self.underlying_transport = _Raw()
        self.sent = 0

    def send(self, msg_type: Any, data: bytes) -> None:
        self.sent += 1

    def send_close(self, *args: Any) -> None:
        pass

    def disconnect(self, graceful: bool = True) -> None:
        pass


class _Frame:
    msg_type = WSMsgType.TEXT
    fin = True
    rsv1 = rsv2 = rsv3 = False

    def __init__(self, payload: bytes) -> None:
        self.payload = payload
        self.payload_size = len(payload)

    def get_payload_as_memoryview(self) -> memoryview:
        return memoryview(self.payload)


def connection(package: str, protocol: str, loop: asyncio.AbstractEventLoop) -> tuple[Any, _Transport, Any]:
    """One connection of ``package`` past its handshake: (listener, transport, counters)."""

    def mod(name: str) -> Any:
        return importlib.import_module(f"{package}.{name}")

    ctx = mod("context").ServerContext(
        loop=loop,
        counters=mod("counters").Counters(),
        verifier=mod("auth").hmac_verifier(SECRET.encode()),
        tools=mod("tools").reference_tools(),
        hub=mod("push").Hub(),
        server_info={"name": "hotpath", "version": "0"},
        hello_timeout_s=60.0,
        max_message_bytes=1 << 20,
        protocol=protocol,
    )
    if protocol == "toolcall":
        conn = mod("connection").Connection(ctx)
    elif hasattr(mod("jsonrpc"), "JsonRpcConnection"):  # before the codecs (issue 21): one class per protocol
        conn = mod("jsonrpc").JsonRpcConnection(ctx, None)
    else:
        conn = mod("connection").Connection(ctx, None)
    transport = _Transport()
    conn.on_ws_connected(transport)
    if protocol == "toolcall":
        hello = {"op": "hello", "session_id": "s", "token": mint_token(SECRET)}
        conn.on_ws_frame(transport, _Frame(orjson.dumps(hello)))
    return conn, transport, ctx.counters


def frames(protocol: str) -> list[_Frame]:
    if protocol == "toolcall":
        calls = [
            {"op": "call_tool", "request_id": f"r{i}", "name": "echo", "arguments": {"i": i}} for i in range(BATCH)
        ]
    else:
        calls = [{"jsonrpc": "2.0", "id": i, "method": "echo", "params": {"i": i}} for i in range(BATCH)]
    return [_Frame(orjson.dumps(call)) for call in calls]


def base_package(rev: str, into: Path) -> str:
    """``reference_server`` at ``rev`` as the importable package ``reference_server_base`` under ``into``."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", rev, "reference_server"], cwd=REPO_ROOT, capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    (into / "reference_server").rename(into / "reference_server_base")
    sys.path.insert(0, str(into))
    return "reference_server_base"


def compare(base: str, repeats: int) -> dict[str, dict[str, float]]:
    """protocol -> best µs per call of each side and the ratio."""
    loop = asyncio.new_event_loop()
    results = {}
    for protocol in ("toolcall", "jsonrpc"):
        batch = frames(protocol)
        sides = {"base": connection(base, protocol, loop), "candidate": connection("reference_server", protocol, loop)}
        best = dict.fromkeys(sides, float("inf"))
        for _ in range(repeats):
            for name, (conn, transport, _) in sides.items():
                on_frame = conn.on_ws_frame
                start = time.perf_counter()
                for frame in batch:
                    on_frame(transport, frame)
                best[name] = min(best[name], (time.perf_counter() - start) / BATCH)
        for _, _, counters in sides.values():
            assert counters.calls_received == counters.results_ok == repeats * BATCH, counters.to_dict()
        results[protocol] = {
            "base_us": best["base"] * 1e6,
            "candidate_us": best["candidate"] * 1e6,
            "ratio": best["candidate"] / best["base"],
        }
    loop.close()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-rev", default="main", help="the revision to compare against (default %(default)s)")
    parser.add_argument("--repeats", type=int, default=400, help="batches of 500 calls per side (default %(default)s)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="server-hotpath-") as tmp:
        results = compare(base_package(args.base_rev, Path(tmp)), args.repeats)
    for protocol, r in results.items():
        print(
            f"{protocol}: base {r['base_us']:.3f} µs/call, candidate {r['candidate_us']:.3f} µs/call, "
            f"candidate/base {r['ratio']:.3f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
