"""`make bench` / `python -m bench`: every benchmark in turn, one table each, PASS/MISS per target, bench/results.json.

    python -m bench                    # full run (about 18 minutes on 2 cores)
    python -m bench --quick            # smoke run with tiny durations (about 2 minutes)
    python -m bench --only throughput,connections --repeats 5
    python -m bench --output /tmp/results.json
    python -m bench --tree /tmp/patched --output /tmp/patched.json     # the Locust side from another tree

Benchmarks (one module each; each can also be run alone with ``python -m bench.<module>``):

- bench_server:              the reference server alone, calls/s per server process
- bench_throughput:          the Locust user vs the raw ceiling client, closed loop and pipelined
- bench_latency_resolution:  what the 0.01 ms latency buckets cost
- bench_connections:         idle authenticated connections one worker holds, memory each, connect rate
- bench_native:              the Locust user vs a native client (picows + uvloop + orjson) and k6 when installed
- bench_churn:               connection churn, --session-calls 1 over 50 users: sessions/s vs the native client
- bench_open_model:          --rate 10000 over 1,000 / 4,000 connections: CPU per call vs the native open model, late
- protocol_cost:             client CPU per call of each --protocol and of --compression deflate (no sockets)
- recv_size:                 what one recv of a small message costs by buffer size (the client's RECV_BYTES)

At the end: every target (PASS/MISS), then the issue-22 summary table (``bench.issue22``: Locust / native churn,
closed loop and pipelined, Locust / k6, open-model CPU per call against the native client's open model and late
sends, idle connections held and their memory), also written to bench/results.json under "issue22".
The exit code is 0 when every benchmark ran (targets missed are reported, not failures).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import (
    bench_churn,
    bench_connections,
    bench_latency_resolution,
    bench_native,
    bench_open_model,
    bench_server,
    bench_throughput,
    issue22,
    protocol_cost,
    recv_size,
)
from bench.common import REPO_ROOT, RESULTS, Target, machine_facts, merge_results, now_iso, raise_fd_limit

BENCHMARKS: dict[str, Callable[[argparse.Namespace], tuple[dict[str, Any], list[Target]]]] = {
    "reference_server": lambda a: bench_server.run(a.quick, a.repeats),
    "throughput": lambda a: bench_throughput.run(a.quick, a.repeats, tree=a.tree),
    "latency_resolution": lambda a: bench_latency_resolution.run(a.quick, a.repeats, tree=a.tree),
    "connections": lambda a: bench_connections.run(a.quick, tree=a.tree),
    "native": lambda a: bench_native.run(a.quick, a.repeats, tree=a.tree),
    "churn": lambda a: bench_churn.run(a.quick, a.repeats, tree=a.tree),
    "open_model": lambda a: bench_open_model.run(a.quick, a.repeats, tree=a.tree),
    "protocol_cost": lambda a: protocol_cost.run(a.quick, a.repeats),
    "recv_size": lambda a: recv_size.run(a.quick, a.repeats),
}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one short repeat of everything (smoke test)")
    parser.add_argument("--repeats", type=int, default=None, help="repeats per measurement (default 3, quick 1)")
    parser.add_argument("--only", default="", help=f"comma-separated subset of {','.join(BENCHMARKS)}")
    parser.add_argument("--output", type=Path, default=RESULTS, help="results file (default bench/results.json)")
    parser.add_argument(
        "--tree",
        type=Path,
        default=REPO_ROOT,
        help="source tree the Locust side runs from (default: this one; e.g. a patched copy)",
    )
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"--only: unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    args.names = names
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    raise_fd_limit()
    command = " ".join(["python -m bench", *argv])
    machine = machine_facts()
    print(
        f"machine: {machine['cpus']} CPUs ({machine['cpu_model']}), Python {machine['python']}, "
        f"{machine['platform']}; client and server share the machine",
        flush=True,
    )
    started = time.monotonic()
    entries: dict[str, Any] = {}
    done: dict[str, list[Target]] = {}
    for name in args.names:
        print(f"\n== {name}", flush=True)
        entry, done[name] = BENCHMARKS[name](args)
        entry["measured_at"] = now_iso()
        entries[name] = entry
    targets = [t for got in done.values() for t in got]
    print("\nTargets")
    for target in targets:
        print("  " + target.line())
    print()
    for line in issue22.summary_lines(done):
        print(line)
    entries["issue22"] = {
        "command": command,
        "measured_at": now_iso(),
        "quick": args.quick,
        "rows": issue22.summary_json(done),
    }
    entries["run"] = {
        "command": command,
        "machine": machine,
        "measured_at": now_iso(),
        "wall_s": round(time.monotonic() - started, 1),
        "quick": args.quick,
        "tree": str(args.tree),
        "targets": [t.as_dict() for t in targets],
    }
    merge_results(entries, args.output)
    print(f"\nwrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
