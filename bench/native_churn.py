"""The native client's connection churn: picows + uvloop + orjson sessions of connect, hello, N calls, close 1000.

    python -m bench.native_churn --url ws://127.0.0.1:PORT/ --connections 50 --session-calls 1 \
        --duration 8 --csv /tmp/native-churn.csv          # token in BENCH_TOKEN
    python -m bench.native_churn --url wss://127.0.0.1:PORT/ --ca-file ca.pem [--no-tls-resume] ...

The yardstick of ``bench.bench_churn``: `--connections` session loops on one
uvloop event loop, each opening a connection, saying hello, making
`--session-calls` echo calls one after another, sending a 1000 close and
waiting for the server's before the next session starts (what a Locust user
with ``--session-calls`` does). The token is minted once, as the Locust
process does. Counters go to a CSV once a second (timestamp, elapsed_s,
connects, hellos_ok, calls_sent, calls_ok, calls_failed, sessions, tls_resumed).

Over wss:// (`--ca-file`: the CAs to verify the server with) each connection
offers the last TLS session a server gave (``bench.native_tls``: uvloop's TLS,
as aiofastnet's cannot be offered one), as the Locust user does, unless
`--no-tls-resume`; `tls_resumed` counts the connections whose handshake resumed.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import sys
import time
from time import perf_counter
from typing import Any

import orjson
import uvloop
from picows import WSCloseCode, WSError, WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

from bench.native_client import write_rows
from bench.native_tls import ResumingContext, client_context

COLUMNS = [
    "timestamp", "elapsed_s", "connects", "hellos_ok", "calls_sent", "calls_ok", "calls_failed", "sessions",
    "tls_resumed",
]  # fmt: skip
CALL = orjson.dumps({"op": "call_tool", "request_id": "1", "name": "echo", "arguments": {}})


class Counters:
    """Process-wide counts, named as in PREFIX_ws.csv."""

    def __init__(self) -> None:
        self.connects = self.hellos_ok = self.calls_sent = self.calls_ok = self.calls_failed = self.sessions = 0
        self.tls_resumed = 0
        self.errors: list[str] = []


class SessionListener(WSListener):  # type: ignore[misc]
    """One session: hello, `calls` echo calls one at a time, then a 1000 close; `ended` completes at the end."""

    def __init__(self, counters: Counters, hello: bytes, calls: int, tls: ResumingContext | None = None) -> None:
        super().__init__()
        self.counters = counters
        self.tls = tls
        self.hello = hello
        self.left = calls
        self.finished = False
        self.ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.counters.connects += 1
        if self.tls is not None:  # the upgrade is done: the TLS 1.3 tickets came before its answer
            ssl_object = transport.underlying_transport.get_extra_info("ssl_object")
            self.counters.tls_resumed += ssl_object.session_reused
            self.tls.keep(ssl_object)
        transport.send(WSMsgType.TEXT, self.hello)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type == WSMsgType.CLOSE:
            transport.disconnect()
            return
        if frame.msg_type != WSMsgType.TEXT:
            return
        msg = orjson.loads(frame.get_payload_as_memoryview())
        op = msg.get("op")
        counters = self.counters
        if op == "hello_ok":
            counters.hellos_ok += 1
        elif op == "tool_result":
            if msg.get("ok") is True:
                counters.calls_ok += 1
            else:
                counters.calls_failed += 1
        else:
            counters.errors.append(f"unexpected {op}")
            transport.disconnect()
            return
        if self.left:
            self.left -= 1
            counters.calls_sent += 1
            transport.send(WSMsgType.TEXT, CALL)
        else:
            self.finished = True
            transport.send_close(WSCloseCode.OK)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        if self.finished:
            self.counters.sessions += 1
        if not self.ended.done():
            self.ended.set_result(None)


async def sessions(
    url: str, token: str, calls: int, counters: Counters, until: float, tls: ResumingContext | None = None
) -> None:
    """One user: sessions back to back until `until`, each with its own session_id (over TLS with `tls`)."""
    while perf_counter() < until:
        session_id = f"native-churn-{os.getpid()}-{counters.connects}"
        hello = orjson.dumps({"op": "hello", "session_id": session_id, "token": token})
        try:
            _, listener = await ws_connect(
                lambda hello=hello: SessionListener(counters, hello, calls, tls),
                url,
                websocket_handshake_timeout=10,
                ssl_context=tls,
                use_aiofastnet=None if tls is None else False,
            )
            await asyncio.wait_for(listener.ended, 10)
        except (OSError, WSError, TimeoutError) as exc:
            counters.errors.append(str(exc))
            await asyncio.sleep(0.1)


def row(counters: Counters, now: float, started: float) -> list[Any]:
    """One counters row at `now`."""
    values = [counters.connects, counters.hellos_ok, counters.calls_sent, counters.calls_ok]
    return [
        f"{now:.3f}",
        f"{now - started:.3f}",
        *values,
        counters.calls_failed,
        counters.sessions,
        counters.tls_resumed,
    ]


async def run(
    url: str, token: str, users: int, calls: int, duration_s: float, path: str, tls: ResumingContext | None = None
) -> Counters:
    """`users` session loops for `duration_s` (over TLS with `tls`); the counters."""
    counters = Counters()
    done = asyncio.Event()
    started = time.time()
    writer = asyncio.create_task(write_rows(path, COLUMNS, lambda now: row(counters, now, started), done))
    until = perf_counter() + duration_s
    await asyncio.gather(*(sessions(url, token, calls, counters, until, tls) for _ in range(users)))
    done.set()
    await writer
    return counters


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--url", required=True, help="ws:// or wss://127.x.x.x:PORT/ of the server")
    parser.add_argument("--connections", type=int, default=50, help="concurrent session loops (default 50)")
    parser.add_argument("--session-calls", type=int, default=1, help="calls per session (default 1)")
    parser.add_argument("--duration", type=float, default=8.0, help="seconds of sessions (bounded)")
    parser.add_argument("--csv", required=True, help="where to write the counters, once a second")
    parser.add_argument("--ca-file", default="", help="wss://: PEM file of the CAs to verify the server with")
    parser.add_argument("--no-tls-resume", action="store_true", help="wss://: a full TLS handshake every time")
    args = parser.parse_args(argv)
    if not args.url.startswith(("ws://127.", "ws://localhost", "wss://127.", "wss://localhost")):
        parser.error("--url must be a loopback address")
    if args.url.startswith("wss://") != bool(args.ca_file):
        parser.error("--ca-file goes with a wss:// --url, and only with one")
    if args.connections < 1 or args.session_calls < 1 or not 0 < args.duration <= 600:
        parser.error("--connections and --session-calls must be >= 1, --duration in (0, 600]")
    token = os.environ.get("BENCH_TOKEN", "")
    if not token:
        parser.error("BENCH_TOKEN (a JWT for the server) is not set")
    try:
        tls = client_context(args.ca_file, not args.no_tls_resume) if args.ca_file else None
    except (OSError, ssl.SSLError) as exc:
        parser.error(f"--ca-file: {exc}")
    counters = uvloop.run(run(args.url, token, args.connections, args.session_calls, args.duration, args.csv, tls))
    for error in counters.errors[:3]:
        print(f"native-churn: {error}", file=sys.stderr)
    print(f"native-churn: {counters.sessions} sessions, {counters.calls_ok} calls ok, {len(counters.errors)} errors")
    return 0 if not counters.errors else 1


if __name__ == "__main__":
    sys.exit(main())
