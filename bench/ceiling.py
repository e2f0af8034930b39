"""The ceiling: a minimal raw client loop (no Locust) speaking hello / call_tool with the user's own codec.

    python -m bench.ceiling --url ws://127.0.0.1:PORT/ --connections 4 --in-flight 100 \
        --duration 10 --csv /tmp/ceiling.csv          # token in BENCH_TOKEN

Why gevent, one greenlet per connection: it is the I/O model of a Locust worker
(same hub, same monkey-patched sockets, same websocket-client handshake), so
the gap between this loop and a Locust run is exactly what Locust and our
user add on top of it: request events and stats, the User/task machinery,
ToolClient's reader greenlet, wake-ups and bookkeeping. Plain blocking
sockets would need a thread per connection (200 for the closed loop),
measuring the GIL rather than our code.

Each greenlet uses the same pure modules as ToolClient (``users.wire.frames``:
masked frames batched into one write, buffered decoding; ``users.wire.protocol``:
CallTemplate, parse_server_message), matches answers by request_id, and
does nothing else: it writes one batch of calls, reads whatever arrived,
replaces every answered call, repeat. Counters go to a CSV once a second
with the column names of Locust's PREFIX_ws.csv, so both are measured by
the same code (bench.common.throughput).
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import csv  # noqa: E402
import itertools  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from time import perf_counter  # noqa: E402

import gevent  # noqa: E402
import websocket  # noqa: E402
from gevent.event import Event  # noqa: E402

from bench.common import COUNTER_COLUMNS, load_client_parser  # noqa: E402

if "--tree" in sys.argv:  # the codec of another source tree (python -m bench --tree DIR), imported below
    sys.path.insert(0, sys.argv[sys.argv.index("--tree") + 1])

from users.wire.frames import OP_TEXT, FrameDecoder, encode_frame, encode_text_frames  # noqa: E402
from users.wire.protocol import CallTemplate, HelloOk, ToolResult, build_hello, parse_server_message  # noqa: E402

RECV_BYTES = 256 * 1024


class Counters:
    """Process-wide counts, named as in PREFIX_ws.csv."""

    def __init__(self) -> None:
        self.calls_sent = self.calls_ok = self.calls_failed = 0
        self.messages_sent = self.messages_received = 0
        self.connects = self.connections_open = self.hellos_ok = 0
        self.latency_s = 0.0

    def row(self, started: float) -> list[object]:
        now = time.time()
        in_flight = self.calls_sent - self.calls_ok - self.calls_failed
        values = {
            "timestamp": f"{now:.3f}", "elapsed_s": f"{now - started:.3f}", "calls_sent": self.calls_sent,
            "calls_ok": self.calls_ok, "calls_failed": self.calls_failed, "calls_in_flight": in_flight,
            "messages_sent": self.messages_sent, "messages_received": self.messages_received,
            "connects": self.connects, "connections_open": self.connections_open, "hellos_ok": self.hellos_ok,
        }  # fmt: skip
        return [values[c] for c in COUNTER_COLUMNS]


def connection(url: str, token: str, in_flight: int, counters: Counters, stop: Event) -> None:
    """One connection: handshake, hello, then keep `in_flight` echo calls outstanding until `stop`."""
    ws = websocket.create_connection(url, timeout=10, skip_utf8_validation=True, enable_multithread=False)
    sock = ws.sock
    sock.settimeout(None)
    counters.connects += 1
    counters.connections_open += 1
    decoder = FrameDecoder()
    sock.sendall(encode_frame(build_hello(f"ceiling-{id(ws):x}", token)))
    counters.messages_sent += 1
    hello = None
    while hello is None:
        data = sock.recv(RECV_BYTES)
        if not data:
            raise ConnectionError("closed before hello_ok")
        for frame in decoder.feed(data):
            counters.messages_received += 1
            hello = parse_server_message(frame.payload)
            if not isinstance(hello, HelloOk):
                raise ConnectionError(f"hello refused: {hello}")
    counters.hellos_ok += 1

    template = CallTemplate("echo", {})
    ids = itertools.count(1)
    pending: dict[str, float] = {}
    feed, parse, recv, sendall = decoder.feed, parse_server_message, sock.recv, sock.sendall

    def send(n: int) -> None:
        now = perf_counter()
        payloads = []
        for _ in range(n):
            request_id = str(next(ids))
            payloads.append(template.encode(request_id))
            pending[request_id] = now
        sendall(encode_text_frames(payloads))
        counters.calls_sent += n
        counters.messages_sent += n

    send(in_flight)
    try:
        while pending:
            data = recv(RECV_BYTES)
            if not data:
                raise ConnectionError("server closed the connection")
            now = perf_counter()
            answered = failed = 0
            latency = 0.0
            for frame in feed(data):
                if frame.opcode != OP_TEXT:
                    continue
                msg = parse(frame.payload)
                if type(msg) is ToolResult:
                    sent_at = pending.pop(msg.request_id, None)
                    if sent_at is not None:
                        answered += 1
                        latency += now - sent_at
                        if not msg.ok:
                            failed += 1
            counters.messages_received += answered
            counters.calls_ok += answered - failed
            counters.calls_failed += failed
            counters.latency_s += latency
            if answered and not stop.is_set():
                send(answered)
    finally:
        counters.connections_open -= 1
        ws.close(timeout=1)


def main(argv: list[str] | None = None) -> int:
    parser = load_client_parser(__doc__)
    parser.add_argument("--tree", default=None, help="source tree whose users/ codec to use (default: this one)")
    args = parser.parse_args(argv)
    if not args.url.startswith(("ws://127.", "ws://localhost")):
        parser.error("--url must be a loopback address")
    token = os.environ["BENCH_TOKEN"]
    counters = Counters()
    stop = Event()
    started = time.time()
    with open(args.csv, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(COUNTER_COLUMNS)

        def every_second() -> None:
            tick = time.time()
            while True:
                tick += 1.0
                gevent.sleep(max(0.0, tick - time.time()))
                writer.writerow(counters.row(started))
                f.flush()

        ticker = gevent.spawn(every_second)
        greenlets = [
            gevent.spawn(connection, args.url, token, args.in_flight, counters, stop) for _ in range(args.connections)
        ]
        gevent.sleep(args.duration)
        stop.set()
        gevent.joinall(greenlets, timeout=10)
        ticker.kill()
        writer.writerow(counters.row(started))
    errors = [g.exception for g in greenlets if g.exception is not None]
    for error in errors[:3]:
        print(f"ceiling: connection failed: {error!r}", file=sys.stderr)
    mean_ms = 1000 * counters.latency_s / max(1, counters.calls_ok + counters.calls_failed)
    print(f"ceiling: {counters.calls_ok} ok, {counters.calls_failed} failed, mean latency {mean_ms:.3f} ms")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
