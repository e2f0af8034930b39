"""Reference server throughput: pipelined echo calls from a raw client process; merges bench/results.json.

Run from the repository root (``python -m bench`` runs it with the other benchmarks):

    .venv/bin/python -m bench.bench_server            # defaults: 4 connections x 64 in flight, 5 s, 3 repeats
    .venv/bin/python -m bench.bench_server --duration 10 --connections 8 --in-flight 128

The server (one worker) runs as its own subprocess on free ports; the load comes from
a separate client subprocess (this file with ``--client``) that speaks just enough
WebSocket by hand (pre-built frames with a zero mask, a minimal header parser, one
write per batch of answers) to stay cheaper per message than the server. Each
connection says hello, then keeps ``--in-flight`` echo calls outstanding: every
answer read is replaced by a new call. Calls/s counts answers in the measured
window (after a warm-up); messages/s counts calls sent plus answers received in it.
The server's own /stats are checked afterwards (every call answered ok), and its
CPU time is read from /proc: calls per server CPU-second is the figure that
other work on a shared machine does not move.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import struct
import subprocess
import sys
import time
from typing import Any

from bench.common import (
    REPO_ROOT,
    RESULTS,
    Target,
    clean_env,
    fmt_spread,
    merge_results,
    mint_token,
    print_table,
    proc_cpu_rss,
    reference_server,
    server_worker_pids,
    summary,
)

ENTRY = "reference_server"


# ---- client side (runs in its own process) ------------------------------------------------


def client_frame(payload: bytes) -> bytes:
    """A masked client text frame whose mask key is zero (so the payload goes as is)."""
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x81, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x81, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x81, 0x80 | 127, n)
    return head + b"\0\0\0\0" + payload


class PipelinedClient(asyncio.Protocol):
    """One connection: upgrade, hello, then keep ``in_flight`` echo calls outstanding."""

    def __init__(self, host: str, port: int, token: str, in_flight: int, stats: dict[str, int]) -> None:
        self.host, self.port, self.token, self.in_flight, self.stats = host, port, token, in_flight, stats
        self.buf = bytearray()
        self.upgraded = False
        self.ready = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self.next_id = 0
        self.sending = True
        self.outstanding = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's TCPTransport
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(
            f"GET / HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )

    def call_frames(self, n: int) -> bytes:
        out = []
        for _ in range(n):
            self.next_id += 1
            out.append(
                client_frame(
                    b'{"op":"call_tool","request_id":"'
                    + str(self.next_id).encode()
                    + b'","name":"echo","arguments":{"n":1}}'
                )
            )
        self.outstanding += n
        self.stats["sent"] += n
        return b"".join(out)

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if not buf.startswith(b"HTTP/1.1 101"):
                raise RuntimeError(f"upgrade refused: {bytes(buf[:80])!r}")
            del buf[: end + 4]
            self.upgraded = True
            assert self.transport is not None
            hello = {"op": "hello", "session_id": "bench", "token": self.token}
            self.transport.write(client_frame(json.dumps(hello).encode()))
        pos, size, answers, failed = 0, len(buf), 0, 0
        while size - pos >= 2:
            b1 = buf[pos + 1] & 0x7F
            if b1 < 126:
                start, n = pos + 2, b1
            elif b1 == 126:
                if size - pos < 4:
                    break
                start, n = pos + 4, (buf[pos + 2] << 8) | buf[pos + 3]
            else:
                if size - pos < 10:
                    break
                start, n = pos + 10, int.from_bytes(buf[pos + 2 : pos + 10], "big")
            if size < start + n:
                break
            if buf[pos] & 0x0F == 0x1:
                if not self.ready.done():
                    if b'"hello_ok"' not in buf[start : start + n]:
                        self.ready.set_exception(RuntimeError(bytes(buf[start : start + n]).decode()))
                        return
                    self.ready.set_result(None)
                else:
                    answers += 1
                    if b'"ok":true' not in buf[start : start + n]:
                        failed += 1
            pos = start + n
        del buf[:pos]
        if answers:
            self.outstanding -= answers
            self.stats["answers"] += answers
            self.stats["failed"] += failed
            if self.sending:
                assert self.transport is not None
                self.transport.write(self.call_frames(answers))

    def start(self) -> None:
        assert self.transport is not None
        self.transport.write(self.call_frames(self.in_flight))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("connection lost before hello_ok"))


async def drive(
    url: str, token: str, connections: int, in_flight: int, warmup_s: float, duration_s: float
) -> dict[str, Any]:
    """Run the load and return counts for the measured window."""
    host, port = url.split("://", 1)[1].rstrip("/").rsplit(":", 1)
    loop = asyncio.get_running_loop()
    stats = {"sent": 0, "answers": 0, "failed": 0}
    clients = []
    for _ in range(connections):
        _, client = await loop.create_connection(
            lambda: PipelinedClient(host, int(port), token, in_flight, stats), host, int(port)
        )
        clients.append(client)
    await asyncio.wait_for(asyncio.gather(*(c.ready for c in clients)), 10)
    for client in clients:
        client.start()
    await asyncio.sleep(warmup_s)
    before, t0 = dict(stats), time.perf_counter()
    await asyncio.sleep(duration_s)
    after, t1 = dict(stats), time.perf_counter()
    for client in clients:
        client.sending = False
    deadline = time.monotonic() + 10
    while any(c.outstanding for c in clients) and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    for client in clients:
        assert client.transport is not None
        client.transport.close()
    elapsed = t1 - t0
    return {
        "elapsed_s": elapsed,
        "calls_sent": after["sent"] - before["sent"],
        "answers": after["answers"] - before["answers"],
        "failed": stats["failed"],
        "total_sent": stats["sent"],
        "total_answers": stats["answers"],
        "unanswered": sum(c.outstanding for c in clients),
    }


def client_main(args: argparse.Namespace) -> int:
    """``--client`` mode: drive the server at args.client and print one JSON line."""
    try:
        import uvloop

        run = uvloop.run
    except ImportError:  # pragma: no cover - uvloop is in requirements.txt
        run = asyncio.run
    result = run(
        drive(args.client, os.environ["BENCH_TOKEN"], args.connections, args.in_flight, args.warmup, args.duration)
    )
    print(json.dumps(result), flush=True)
    return 0


# ---- orchestration -------------------------------------------------------------------------


def run_once(server: Any, duration_s: float, warmup_s: float, connections: int, in_flight: int) -> dict[str, Any]:
    """One client process against `server`; its counts, the server's CPU over the run, and the /stats check."""
    before = server.stats()
    pids = server_worker_pids(server)
    cpu0 = sum(proc_cpu_rss(pid)[0] for pid in pids)
    command = [
        sys.executable,
        "-m",
        "bench.bench_server",
        "--client",
        server.url,
        "--duration",
        str(duration_s),
        "--warmup",
        str(warmup_s),
        "--connections",
        str(connections),
        "--in-flight",
        str(in_flight),
    ]
    done = subprocess.run(
        command,
        cwd=REPO_ROOT,
        env=clean_env(BENCH_TOKEN=mint_token(server.jwt_secret)),
        capture_output=True,
        text=True,
        timeout=duration_s + warmup_s + 60,
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench_server client failed: {done.stderr.strip()[-2000:]}")
    cpu1 = sum(proc_cpu_rss(pid)[0] for pid in pids)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    after = server.stats()
    received = after["calls_received"] - before["calls_received"]
    ok = after["results_ok"] - before["results_ok"]
    result["consistent"] = (
        result["failed"] == 0 and result["unanswered"] == 0 and received == ok == result["total_sent"]
    )
    result["calls_per_s"] = result["answers"] / result["elapsed_s"]
    result["messages_per_s"] = (result["answers"] + result["calls_sent"]) / result["elapsed_s"]
    # CPU over the whole client run (connect, warm-up, drain included) per call answered in it
    result["server_cpu_ms_per_1k_calls"] = 1000 * 1000 * (cpu1 - cpu0) / max(1, result["total_answers"])
    return result


def run(
    quick: bool = False,
    repeats: int | None = None,
    duration_s: float | None = None,
    connections: int = 4,
    in_flight: int = 64,
) -> tuple[dict[str, Any], list[Target]]:
    """`repeats` client runs against one single-worker server; the entry and its target."""
    repeats = repeats or (1 if quick else 3)
    duration_s = duration_s or (1.0 if quick else 5.0)
    warmup_s = 0.5 if quick else 1.0
    results = []
    with reference_server("--workers", "1") as server:
        for r in range(repeats):
            result = run_once(server, duration_s, warmup_s, connections, in_flight)
            results.append(result)
            print(
                f"  [{r + 1}/{repeats}] reference server: {result['calls_per_s']:,.0f} calls/s "
                f"({'consistent' if result['consistent'] else 'INCONSISTENT'})",
                flush=True,
            )
    stats = {
        "calls_per_s": summary([x["calls_per_s"] for x in results]),
        "messages_per_s": summary([x["messages_per_s"] for x in results]),
        "server_cpu_ms_per_1k_calls": summary([x["server_cpu_ms_per_1k_calls"] for x in results]),
        "calls_per_server_cpu_s": summary([1e6 / x["server_cpu_ms_per_1k_calls"] for x in results]),
    }
    consistent = all(x["consistent"] for x in results)
    entry = {
        "workers": 1,
        "connections": connections,
        "in_flight_per_connection": in_flight,
        "tool": "echo",
        "duration_s": duration_s,
        "repeats": repeats,
        "client": "bench/bench_server.py --client: asyncio + uvloop, hand-made frames (zero mask), one process",
        "consistent": consistent,
        "summary": stats,
        "runs": results,
    }
    print_table(
        f"Reference server alone (1 worker; {connections} connections x {in_flight} in flight; "
        f"median (min..max) of {repeats})",
        ["calls/s", "messages/s", "server CPU ms/1k calls", "calls per server CPU-second", "/stats check"],
        [[fmt_spread(stats["calls_per_s"]), fmt_spread(stats["messages_per_s"]),
          fmt_spread(stats["server_cpu_ms_per_1k_calls"], 1), fmt_spread(stats["calls_per_server_cpu_s"]),
          "consistent" if consistent else "INCONSISTENT"]],
    )  # fmt: skip
    targets = [Target("reference server calls/s per server process", stats["calls_per_s"]["median"], 50_000, "calls/s")]
    entry["targets"] = [t.as_dict() for t in targets]
    return entry, targets


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or, with --client, the load generator); return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one short run (smoke test)")
    parser.add_argument("--repeats", type=int, default=None, help="client runs (default 3, quick 1)")
    parser.add_argument("--duration", type=float, default=None, help="measured seconds (default 5, quick 1)")
    parser.add_argument("--warmup", type=float, default=1.0, help=argparse.SUPPRESS)
    parser.add_argument("--connections", type=int, default=4, help="client connections (default %(default)s)")
    parser.add_argument(
        "--in-flight", type=int, default=64, help="calls kept outstanding per connection (default %(default)s)"
    )
    parser.add_argument("--no-write", action="store_true", help="do not update bench/results.json")
    parser.add_argument("--client", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.client:
        return client_main(args)
    entry, targets = run(args.quick, args.repeats, args.duration, args.connections, args.in_flight)
    for target in targets:
        print(target.line())
    if not args.no_write:
        merge_results({ENTRY: entry})
        print(f"wrote {RESULTS.relative_to(REPO_ROOT)} [{ENTRY}]")
    return 0 if entry["consistent"] else 1


if __name__ == "__main__":
    sys.exit(main())
