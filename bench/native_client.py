"""The native client: picows + uvloop + orjson on one asyncio loop, request-id correlation, no per-call statistics.

    python -m bench.native_client --url ws://127.0.0.1:PORT/ --connections 4 --in-flight 100 \
        --duration 10 --csv /tmp/native.csv          # token in BENCH_TOKEN
    python -m bench.native_client --url ... --connections 1000 --rate 10000 --duration 20 --csv ...   # open model

What a fast hand-written client for the hello / call_tool protocol does, as a
yardstick for the Locust user (``bench.bench_native``): picows (Cython
WebSocket framing and masking) on a uvloop event loop, orjson for JSON, one
process, one loop, one listener per connection. Each connection says hello,
then keeps ``--in-flight`` echo calls outstanding: every answer is matched to
its call by ``request_id`` (an unknown or repeated id is counted, never
taken for another call) and replaced at once by a new call. With ``--rate``
(the open model's yardstick for ``bench.bench_open_model``) no answer is
replaced: one pacer task sends every call due at its intended time
(``OpenSchedule``), round robin over the connections, at that many calls/s
in all, and counts a call sent more than 10 ms after its intended time as
late, as the Locust user does (``calls_sent_late``, ``schedule_lag_ms``,
``rate_target`` columns, as in ``PREFIX_ws.csv``). It keeps no
per-call statistics: a sum of latencies and counters only. Counters go to a
CSV once a second with the column names of Locust's ``PREFIX_ws.csv``, so it
is measured by the same code as Locust (``bench.common.throughput``).
"""

from __future__ import annotations

import asyncio
import csv
import math
import os
import sys
import time
from collections.abc import Callable
from time import perf_counter
from typing import Any

import orjson
import uvloop
from picows import WSError, WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

from bench.common import COUNTER_COLUMNS, load_client_parser

OPEN_MODEL_COLUMNS = ("calls_sent_late", "calls_skipped", "schedule_lag_ms", "rate_target")
"""The open model's columns of PREFIX_ws.csv, written after COUNTER_COLUMNS."""
COLUMNS = (*COUNTER_COLUMNS, *OPEN_MODEL_COLUMNS)
LATE_AFTER_S = 0.010
"""A paced call sent more than this after its intended time counts as late (users/engine/pacer.py's)."""
DRAIN_TIMEOUT_S = 10.0
CONNECT_BATCH = 200
PACE_TICK_S = 0.001
"""The pacer's shortest sleep (a shorter one spins: libuv rounds it to 0), as the Locust user's pacer."""


def masked_text_frames(payloads: list[bytes]) -> bytes:
    """Client text frames (RFC 6455: FIN, masked, a fresh key each) joined for one write."""
    keys = os.urandom(4 * len(payloads))
    frames = []
    for i, payload in enumerate(payloads):
        size = len(payload)
        key = keys[4 * i : 4 * i + 4]
        if size < 126:
            header = bytes((0x81, 0x80 | size))
        elif size < 65536:
            header = bytes((0x81, 0xFE)) + size.to_bytes(2, "big")
        else:
            header = bytes((0x81, 0xFF)) + size.to_bytes(8, "big")
        mask = int.from_bytes((key * (size // 4 + 1))[:size], "little")
        frames.append(header + key + (int.from_bytes(payload, "little") ^ mask).to_bytes(size, "little"))
    return b"".join(frames)


class Counters:
    """Process-wide counts, named as in PREFIX_ws.csv, plus ids that matched no call in flight."""

    def __init__(self) -> None:
        self.calls_sent = self.calls_ok = self.calls_failed = 0
        self.messages_sent = self.messages_received = 0
        self.connects = self.connections_open = self.hellos_ok = 0
        self.unknown_request_ids = self.connection_errors = 0
        self.calls_sent_late = self.calls_skipped = 0
        self.schedule_lag_ms = 0.0
        """The worst lag since the last row (a gauge, reset by `row` as Locust's sampler does)."""
        self.rate_target = 0.0
        self.latency_s = 0.0

    def row(self, now: float, started: float) -> list[object]:
        lag, self.schedule_lag_ms = self.schedule_lag_ms, 0.0
        values: dict[str, Any] = {
            "timestamp": f"{now:.3f}", "elapsed_s": f"{now - started:.3f}", "calls_sent": self.calls_sent,
            "calls_ok": self.calls_ok, "calls_failed": self.calls_failed,
            "calls_in_flight": self.calls_sent - self.calls_ok - self.calls_failed,
            "messages_sent": self.messages_sent, "messages_received": self.messages_received,
            "connects": self.connects, "connections_open": self.connections_open, "hellos_ok": self.hellos_ok,
            "calls_sent_late": self.calls_sent_late, "calls_skipped": self.calls_skipped,
            "schedule_lag_ms": f"{lag:.3f}", "rate_target": f"{self.rate_target:g}",
        }  # fmt: skip
        return [values[c] for c in COLUMNS]


class CallListener(WSListener):  # type: ignore[misc]
    """One connection: hello, then `in_flight` echo calls outstanding, each answer replaced by a new call."""

    def __init__(self, counters: Counters, token: str, in_flight: int, name: str) -> None:
        super().__init__()
        self.counters = counters
        self.token = token
        self.in_flight = in_flight
        self.name = name
        self.pending: dict[str, float] = {}
        self.next_id = 0
        self.owed = 0
        self.stopping = False
        self.paced = False
        """Calls come from the pacer (--rate): answers are not replaced."""
        self.error = ""
        self.drained = asyncio.get_running_loop().create_future()
        self.transport: WSTransport | None = None

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport
        self.counters.connects += 1
        self.counters.connections_open += 1
        hello = {"op": "hello", "session_id": self.name, "token": self.token}
        transport.send(WSMsgType.TEXT, orjson.dumps(hello))
        self.counters.messages_sent += 1

    def send_calls(self, transport: WSTransport, n: int) -> None:
        """`n` new calls: one through picows, or several masked here and joined into one write."""
        now = perf_counter()
        pending = self.pending
        payloads = []
        for _ in range(n):
            self.next_id += 1
            request_id = str(self.next_id)
            pending[request_id] = now
            payloads.append(
                orjson.dumps({"op": "call_tool", "request_id": request_id, "name": "echo", "arguments": {}})
            )
        if n == 1:
            transport.send(WSMsgType.TEXT, payloads[0])
        else:
            transport.underlying_transport.write(masked_text_frames(payloads))
        self.counters.calls_sent += n
        self.counters.messages_sent += n

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type != WSMsgType.TEXT:
            if frame.msg_type == WSMsgType.CLOSE:
                self.error = self.error or f"server closed ({frame.get_close_code()})"
                transport.disconnect()
            return
        counters = self.counters
        counters.messages_received += 1
        msg = orjson.loads(frame.get_payload_as_memoryview())
        op = msg.get("op")
        if op == "tool_result":
            sent_at = self.pending.pop(msg.get("request_id"), None)
            if sent_at is None:
                counters.unknown_request_ids += 1
                return
            counters.latency_s += perf_counter() - sent_at
            if msg.get("ok") is True:
                counters.calls_ok += 1
            else:
                counters.calls_failed += 1
            if not self.stopping and not self.paced:
                self.owed += 1
            elif not self.pending and not self.drained.done():
                self.drained.set_result(None)
        elif op == "hello_ok":
            counters.hellos_ok += 1
            self.owed = 0 if self.paced else self.in_flight
        else:
            self.error = self.error or f"unexpected {op}: {msg.get('code', '')}"
            transport.disconnect()
            return
        if self.owed and frame.last_in_buffer:  # every answer of this read replaced in one write
            self.send_calls(transport, self.owed)
            self.owed = 0

    def stop(self) -> None:
        """Send no more calls; `drained` completes when the last one in flight is answered."""
        self.stopping = True
        self.owed = 0
        if not self.pending and not self.drained.done():
            self.drained.set_result(None)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.counters.connections_open -= 1
        if not self.drained.done():
            self.drained.set_result(None)


async def write_rows(path: str, header: list[str], row: Callable[[float], list[Any]], done: asyncio.Event) -> None:
    """The `header`, then `row(now)` once a second until `done`, then a final row."""
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        tick = time.time()
        while not done.is_set():
            tick += 1.0
            try:
                await asyncio.wait_for(done.wait(), max(0.0, tick - time.time()))
            except TimeoutError:
                pass
            writer.writerow(row(time.time()))
            f.flush()


class OpenSchedule:
    """Pure: the open model's intended send times, start + k / rate for k = 0, 1, ...; `take(now)` gives how many
    are due and how many of those are more than LATE_AFTER_S behind (time passed in, no clock read here)."""

    def __init__(self, rate: float, start: float) -> None:
        if rate <= 0:
            raise ValueError("rate must be > 0")
        self.interval = 1.0 / rate
        self.start = start
        self.taken = 0
        """Calls handed out so far (the next one's index)."""

    def next_due(self) -> float:
        """The intended time of the next call."""
        return self.start + self.taken * self.interval

    def take(self, now: float) -> tuple[int, int, float]:
        """(calls due at `now`, how many of them are late, the oldest one's lag in ms); all of them count as sent."""
        if now < self.next_due():
            return 0, 0, 0.0
        due_total = math.floor((now - self.start) / self.interval) + 1  # k with start + k * interval <= now
        late_total = max(0, math.ceil((now - LATE_AFTER_S - self.start) / self.interval))  # ... < now - 10 ms
        count = due_total - self.taken
        late = min(count, max(0, late_total - self.taken))
        lag_ms = 1000.0 * (now - self.next_due())
        self.taken = due_total
        return count, late, lag_ms


async def pace(listeners: list[CallListener], counters: Counters, rate: float, until: float) -> None:
    """The open model: every call due at `rate` calls/s sent, round robin over the connections, until `until`; late
    calls and the worst lag counted. A call due on a connection that is gone or stopping is skipped (counted)."""
    schedule = OpenSchedule(rate, perf_counter())
    counters.rate_target = rate
    turn = 0
    while True:
        now = perf_counter()
        if now >= until:
            break
        count, late, lag_ms = schedule.take(now)
        for _ in range(count):
            listener = listeners[turn % len(listeners)]
            turn += 1
            if listener.transport is not None and not listener.stopping:
                listener.send_calls(listener.transport, 1)
            else:
                counters.calls_skipped += 1
        counters.calls_sent_late += late
        if lag_ms > counters.schedule_lag_ms:
            counters.schedule_lag_ms = lag_ms
        await asyncio.sleep(max(PACE_TICK_S, schedule.next_due() - perf_counter()))  # libuv's timers: whole ms
    counters.rate_target = 0.0


async def run(
    url: str, token: str, connections: int, in_flight: int, duration_s: float, path: str, rate: float = 0.0
) -> Counters:
    """Open `connections`, load them for `duration_s` (closed loop, or paced at `rate`), drain, close; the
    counters."""
    counters = Counters()
    done = asyncio.Event()
    started = time.time()
    writer = asyncio.create_task(write_rows(path, list(COLUMNS), lambda now: counters.row(now, started), done))
    pid = os.getpid()

    def make_listener(i: int) -> CallListener:
        made = CallListener(counters, token, in_flight, f"native-{pid}-{i}")
        made.paced = rate > 0
        return made

    async def connect(i: int) -> tuple[WSTransport, CallListener]:
        return await ws_connect(lambda: make_listener(i), url, websocket_handshake_timeout=10)  # type: ignore[no-any-return]

    opened = []
    for first in range(0, connections, CONNECT_BATCH):  # a few hundred at a time: no listen-backlog overflow
        opened += await asyncio.gather(*(connect(i) for i in range(first, min(connections, first + CONNECT_BATCH))))
    listeners = [listener for _, listener in opened]
    if rate > 0:
        await asyncio.sleep(0.5)  # every hello answered before pacing
        await pace(listeners, counters, rate, perf_counter() + duration_s)
    else:
        await asyncio.sleep(duration_s)
    for listener in listeners:
        listener.stop()
    await asyncio.wait([listener.drained for listener in listeners], timeout=DRAIN_TIMEOUT_S)
    for transport, _ in opened:
        transport.send_close()
        transport.disconnect()
    await asyncio.wait([asyncio.ensure_future(t.wait_disconnected()) for t, _ in opened], timeout=5)
    done.set()
    await writer
    errors = [listener.error for listener in listeners if listener.error]
    counters.connection_errors = len(errors)
    for error in errors[:3]:
        print(f"native: connection failed: {error}", file=sys.stderr)
    return counters


def main(argv: list[str] | None = None) -> int:
    parser = load_client_parser(__doc__)
    parser.add_argument("--rate", type=float, default=0.0, help="open model: calls/s in all, paced (default: off)")
    args = parser.parse_args(argv)
    if not args.url.startswith(("ws://127.", "ws://localhost")):
        parser.error("--url must be a loopback address")
    if args.connections < 1 or args.in_flight < 1 or not 0 < args.duration <= 3600:
        parser.error("--connections and --in-flight must be >= 1, --duration in (0, 3600]")
    token = os.environ.get("BENCH_TOKEN", "")
    if not token:
        parser.error("BENCH_TOKEN (a JWT for the server) is not set")
    if args.rate < 0:
        parser.error("--rate must be >= 0")
    args_tuple = (args.url, token, args.connections, args.in_flight, args.duration, args.csv, args.rate)
    try:
        counters = uvloop.run(run(*args_tuple))
    except (OSError, WSError, TimeoutError) as exc:
        print(f"native: cannot connect: {exc}", file=sys.stderr)
        return 1
    settled = counters.calls_ok + counters.calls_failed
    mean_ms = 1000 * counters.latency_s / max(1, settled)
    print(
        f"native: {counters.calls_ok} ok, {counters.calls_failed} failed, {counters.calls_sent - settled} unanswered, "
        f"{counters.unknown_request_ids} unknown ids, mean latency {mean_ms:.3f} ms"
    )
    clean = counters.calls_sent == settled and not counters.unknown_request_ids and not counters.connection_errors
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
