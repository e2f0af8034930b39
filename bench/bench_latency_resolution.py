"""Latency resolution cost: Locust runs with the 0.01 ms buckets (locustfile.py) against runs without them.

    python -m bench.bench_latency_resolution [--quick] [--repeats 3]

"Without" is bench/locustfile_coarse.py: the real locustfile with Locust's own
whole-millisecond ``bucket_response_time`` put back. Both run the pipelined
4 x 100 shape (the highest request-event rate, where bucketing costs most)
against one reference server, in alternating order; the cost is
1 - fine/coarse calls/s within each pair, and the CPU cost the change in CPU
seconds per 1,000 calls (steadier on a shared machine: stolen time is not CPU time).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.bench_throughput import LOCUSTFILE, Shape, run_locust
from bench.common import BENCH_DIR, Target, fmt_spread, merge_results, print_table, reference_server, summary

COARSE_LOCUSTFILE = BENCH_DIR / "locustfile_coarse.py"
SHAPE = Shape("pipelined 4x100", 4, 100)


def run(quick: bool = False, repeats: int | None = None, run_time_s: float | None = None,
        shape: Shape = SHAPE) -> tuple[dict[str, Any], list[Target]]:
    """Alternate fine and coarse runs; the entry and its target."""
    repeats = repeats or (1 if quick else 3)
    run_time_s = run_time_s or (4.0 if quick else 12.0)
    warmup_s = 0.5 if quick else 2.0
    pairs = []
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp, reference_server("--workers", "1") as server:
        workdir = Path(tmp)
        for r in range(repeats):
            order = [("fine", LOCUSTFILE), ("coarse", COARSE_LOCUSTFILE)]
            if r % 2:
                order.reverse()
            got = {label: run_locust(server, shape, run_time_s, warmup_s, workdir, path, label) for label, path in order}
            pairs.append((got["fine"], got["coarse"]))
            print(f"  [{r + 1}/{repeats}] 0.01 ms buckets {got['fine'].calls_per_s:,.0f} calls/s, "
                  f"Locust's buckets {got['coarse'].calls_per_s:,.0f} calls/s", flush=True)
    stats = {
        "fine_calls_per_s": summary([f.calls_per_s for f, _ in pairs]),
        "coarse_calls_per_s": summary([c.calls_per_s for _, c in pairs]),
        "throughput_cost": summary([1 - f.calls_per_s / c.calls_per_s for f, c in pairs]),
        "fine_cpu_ms_per_1k_calls": summary([1000 * f.cpu_s_per_1k_calls for f, _ in pairs]),
        "coarse_cpu_ms_per_1k_calls": summary([1000 * c.cpu_s_per_1k_calls for _, c in pairs]),
        "cpu_cost": summary([f.cpu_s_per_1k_calls / c.cpu_s_per_1k_calls - 1 for f, c in pairs]),
    }
    entry = {
        "shape": {"users": shape.users, "in_flight": shape.in_flight},
        "repeats": repeats,
        "run_time_s": run_time_s,
        "summary": stats,
        "runs": [{"fine": f.as_dict(), "coarse": c.as_dict()} for f, c in pairs],
    }
    print_table(
        f"Latency resolution cost ({shape.name}; median (min..max) of {repeats})",
        ["buckets", "calls/s", "CPU ms/1k calls"],
        [["0.01 ms below 10 ms (locustfile.py)", fmt_spread(stats["fine_calls_per_s"]),
          fmt_spread(stats["fine_cpu_ms_per_1k_calls"], 2)],
         ["Locust's whole ms (bench/locustfile_coarse.py)", fmt_spread(stats["coarse_calls_per_s"]),
          fmt_spread(stats["coarse_cpu_ms_per_1k_calls"], 2)],
         ["cost", fmt_spread(stats["throughput_cost"], 1, pct=True), fmt_spread(stats["cpu_cost"], 1, pct=True)]],
    )  # fmt: skip
    targets = [Target("0.01 ms latency resolution throughput cost", stats["throughput_cost"]["median"], 0.10, "x",
                      at_most=True)]
    entry["targets"] = [t.as_dict() for t in targets]
    return entry, targets


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one short pair (smoke test)")
    parser.add_argument("--repeats", type=int, default=None, help="pairs (default 3, quick 1)")
    parser.add_argument("--run-time", type=float, default=None, help="seconds per run (default 12, quick 4)")
    parser.add_argument("--no-write", action="store_true", help="do not update bench/results.json")
    args = parser.parse_args(argv)
    entry, targets = run(args.quick, args.repeats, args.run_time)
    for target in targets:
        print(target.line())
    if not args.no_write:
        merge_results({"latency_resolution": entry})
    return 0


if __name__ == "__main__":
    sys.exit(main())
