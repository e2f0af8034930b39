"""Reference server throughput: pipelined echo calls from a raw client process; merges bench/results.json.

Run from the repository root:

    .venv/bin/python bench/bench_server.py            # defaults: 4 connections x 64 in flight, 5 s
    .venv/bin/python -m bench.bench_server --duration 10 --connections 8 --in-flight 128

The server (one worker) runs as its own subprocess on free ports; the load comes from
a separate client subprocess (this file with ``--client``) that speaks just enough
WebSocket by hand (pre-built frames with a zero mask, a minimal header parser, one
write per batch of answers) to stay cheaper per message than the server. Each
connection says hello, then keeps ``--in-flight`` echo calls outstanding: every
answer read is replaced by a new call. Calls/s counts answers in the measured
window (after a warm-up); messages/s counts calls sent plus answers received in it.
The server's own /stats are checked afterwards (every call answered ok).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime
import json
import os
import platform
import secrets
import select
import signal
import struct
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS = REPO_ROOT / "bench" / "results.json"
ENTRY = "reference_server"
SECRET_ENV = "REFERENCE_SERVER_JWT_SECRET"
READY_TIMEOUT_S = 15.0


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
            out.append(client_frame(
                b'{"op":"call_tool","request_id":"' + str(self.next_id).encode()
                + b'","name":"echo","arguments":{"n":1}}'))
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
                start, n = pos + 10, int.from_bytes(buf[pos + 2: pos + 10], "big")
            if size < start + n:
                break
            if buf[pos] & 0x0F == 0x1:
                if not self.ready.done():
                    if b'"hello_ok"' not in buf[start: start + n]:
                        self.ready.set_exception(RuntimeError(bytes(buf[start: start + n]).decode()))
                        return
                    self.ready.set_result(None)
                else:
                    answers += 1
                    if b'"ok":true' not in buf[start: start + n]:
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


async def drive(url: str, token: str, connections: int, in_flight: int, warmup_s: float,
                duration_s: float) -> dict[str, Any]:
    """Run the load and return counts for the measured window."""
    host, port = url.split("://", 1)[1].rstrip("/").rsplit(":", 1)
    loop = asyncio.get_running_loop()
    stats = {"sent": 0, "answers": 0, "failed": 0}
    clients = []
    for _ in range(connections):
        _, client = await loop.create_connection(
            lambda: PipelinedClient(host, int(port), token, in_flight, stats), host, int(port))
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
    result = run(drive(args.client, os.environ["BENCH_TOKEN"], args.connections, args.in_flight,
                       args.warmup, args.duration))
    print(json.dumps(result), flush=True)
    return 0


# ---- orchestration -------------------------------------------------------------------------


def start_server(secret: str) -> tuple[subprocess.Popen[str], str, str]:
    """Start one reference server worker on free ports; return (process, url, stats_url)."""
    env = dict(os.environ, **{SECRET_ENV: secret})
    process = subprocess.Popen(
        [sys.executable, "-m", "reference_server", "--port", "0", "--metrics-port", "0", "--workers", "1"],
        cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, text=True,
    )
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], READY_TIMEOUT_S)
    line = process.stdout.readline() if ready else ""
    parts = line.split()
    if len(parts) != 5 or parts[0:2] != ["listening", "on"]:
        process.kill()
        raise SystemExit(f"bench: server did not start (got {line!r})")
    return process, parts[2], parts[4]


def mint_token(secret: str) -> str:
    """An HS256 token for the bench client (PyJWT)."""
    import jwt

    now = int(time.time())
    return jwt.encode({"sub": "bench", "iat": now, "exp": now + 3600, "scope": ["tools:*"]}, secret,
                      algorithm="HS256")


def merge_result(entry: dict[str, Any], path: Path = RESULTS) -> None:
    """Write ``entry`` under "reference_server" in ``path``, keeping other entries."""
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict):
            data = {}
    except (OSError, ValueError):
        data = {}
    data[ENTRY] = entry
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or, with --client, the load generator); return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5.0, help="measured seconds (default %(default)s)")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds before measuring (default %(default)s)")
    parser.add_argument("--connections", type=int, default=4, help="client connections (default %(default)s)")
    parser.add_argument("--in-flight", type=int, default=64,
                        help="calls kept outstanding per connection (default %(default)s)")
    parser.add_argument("--no-write", action="store_true", help="do not update bench/results.json")
    parser.add_argument("--client", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.client:
        return client_main(args)

    secret = secrets.token_urlsafe(48)
    server, url, stats_url = start_server(secret)
    try:
        command = [sys.executable, str(Path(__file__).resolve()), "--client", url,
                   "--duration", str(args.duration), "--warmup", str(args.warmup),
                   "--connections", str(args.connections), "--in-flight", str(args.in_flight)]
        timeout = args.duration + args.warmup + 60
        done = subprocess.run(command, cwd=REPO_ROOT, env=dict(os.environ, BENCH_TOKEN=mint_token(secret)),
                              capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            print(done.stderr, file=sys.stderr)
            return 1
        result = json.loads(done.stdout.strip().splitlines()[-1])
        with urllib.request.urlopen(stats_url, timeout=5) as response:
            server_stats = json.loads(response.read())
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()

    calls_per_s = result["answers"] / result["elapsed_s"]
    messages_per_s = (result["answers"] + result["calls_sent"]) / result["elapsed_s"]
    consistent = (
        result["failed"] == 0
        and result["unanswered"] == 0
        and server_stats["calls_received"] == server_stats["results_ok"] == result["total_sent"]
    )
    print(f"reference_server (1 worker, picows + uvloop + orjson): {calls_per_s:,.0f} calls/s, "
          f"{messages_per_s:,.0f} messages/s (sent + received) over {result['elapsed_s']:.1f} s; "
          f"{args.connections} connections x {args.in_flight} in flight; echo tool")
    print(f"server counted {server_stats['calls_received']:,} calls, {server_stats['results_ok']:,} ok; "
          f"client sent {result['total_sent']:,}, failed {result['failed']}, unanswered {result['unanswered']}"
          f" -> {'consistent' if consistent else 'INCONSISTENT'}")
    if not args.no_write:
        merge_result({
            "calls_per_s": round(calls_per_s),
            "messages_per_s": round(messages_per_s),
            "duration_s": round(result["elapsed_s"], 2),
            "connections": args.connections,
            "in_flight_per_connection": args.in_flight,
            "tool": "echo",
            "workers": 1,
            "consistent": consistent,
            "command": " ".join(["python", "bench/bench_server.py", *(argv if argv is not None else sys.argv[1:])]),
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
            "measured_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        })
        print(f"wrote {RESULTS.relative_to(REPO_ROOT)} [{ENTRY}]")
    return 0 if consistent else 1


if __name__ == "__main__":
    sys.exit(main())
