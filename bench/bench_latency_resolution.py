"""Latency resolution cost: Locust with the 0.01 ms buckets (locustfile.py) against Locust without them.

    python -m bench.bench_latency_resolution [--quick] [--repeats 3]

"Without" is bench/locustfile_coarse.py: the real locustfile with Locust's own
whole-millisecond ``bucket_response_time`` put back. Each repeat starts both
Locust processes at the same moment against one reference server (2 workers,
so the server is not what limits them), each running the pipelined 4 x 100
shape (the highest request-event rate, where bucketing costs most). Running
them together rather than one after the other is what makes the comparison
hold on a shared machine: whatever else runs slows both alike.

Reported per pair: the throughput cost, 1 - fine/coarse calls/s, and the CPU
cost, fine/coarse CPU seconds per 1,000 calls - 1. With both processes
CPU-bound (each wants a whole core) the two agree within noise; the CPU
figure is the steadier one. A third, noise-free view comes from
bench.stats_cost: the extra CPU per request event measured in-process,
as a share of the Locust user's CPU per call.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.bench_throughput import LOCUSTFILE, Shape, locust_spec
from bench.common import (
    BENCH_DIR,
    REPO_ROOT,
    Target,
    fmt_spread,
    print_table,
    reference_server,
    run_load_processes,
    run_main,
    summary,
    throughput,
)

COARSE_LOCUSTFILE = BENCH_DIR / "locustfile_coarse.py"
SHAPE = Shape("pipelined 4x100", 4, 100)


def stats_path_cost(tree: Path, quick: bool) -> dict[str, float]:
    """bench.stats_cost in its own process (it imports locust, which patches with gevent)."""
    command = [sys.executable, "-m", "bench.stats_cost", "--tree", str(tree)]
    if quick:
        command += ["--events", "20000", "--rounds", "2"]
    done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(
    quick: bool = False,
    repeats: int | None = None,
    run_time_s: float | None = None,
    shape: Shape = SHAPE,
    tree: Path = REPO_ROOT,
) -> tuple[dict[str, Any], list[Target]]:
    """Concurrent fine/coarse pairs; the entry and its target."""
    repeats = repeats or (1 if quick else 5)
    run_time_s = run_time_s or (4.0 if quick else 10.0)
    warmup_s = 0.5 if quick else 2.0
    pairs = []
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp, reference_server("--workers", "2") as server:
        workdir = Path(tmp)
        for r in range(repeats):
            specs = [
                locust_spec(server, shape, run_time_s, workdir, tree / LOCUSTFILE.relative_to(REPO_ROOT), "fine", tree),
                locust_spec(
                    server, shape, run_time_s, workdir, tree / COARSE_LOCUSTFILE.relative_to(REPO_ROOT), "coarse", tree
                ),
            ]
            fine_run, coarse_run = run_load_processes(specs, server, timeout_s=run_time_s + 60)
            fine, coarse = throughput(fine_run, shape.users, warmup_s), throughput(coarse_run, shape.users, warmup_s)
            pairs.append((fine, coarse))
            print(
                f"  [{r + 1}/{repeats}] together: 0.01 ms buckets {fine.calls_per_s:,.0f} calls/s "
                f"({1000 * fine.cpu_s_per_1k_calls:.2f} CPU ms/1k), Locust's buckets {coarse.calls_per_s:,.0f} "
                f"calls/s ({1000 * coarse.cpu_s_per_1k_calls:.2f} CPU ms/1k)",
                flush=True,
            )
    in_process = stats_path_cost(tree, quick)
    stats = {
        "fine_calls_per_s": summary([f.calls_per_s for f, _ in pairs]),
        "coarse_calls_per_s": summary([c.calls_per_s for _, c in pairs]),
        "throughput_cost": summary([1 - f.calls_per_s / c.calls_per_s for f, c in pairs]),
        "fine_cpu_ms_per_1k_calls": summary([1000 * f.cpu_s_per_1k_calls for f, _ in pairs]),
        "coarse_cpu_ms_per_1k_calls": summary([1000 * c.cpu_s_per_1k_calls for _, c in pairs]),
        "cpu_cost": summary([f.cpu_s_per_1k_calls / c.cpu_s_per_1k_calls - 1 for f, c in pairs]),
    }
    coarse_cpu_us = stats["coarse_cpu_ms_per_1k_calls"]["median"]  # ms per 1k calls = us per call
    in_process["share_of_locust_cpu_per_call"] = in_process["extra_us_per_event"] / coarse_cpu_us
    entry = {
        "stats_path_in_process": in_process,
        "shape": {"users": shape.users, "in_flight": shape.in_flight},
        "method": "fine and coarse Locust processes started together against one 2-worker server",
        "repeats": repeats,
        "run_time_s": run_time_s,
        "summary": stats,
        "runs": [{"fine": f.as_dict(), "coarse": c.as_dict()} for f, c in pairs],
    }
    print_table(
        f"Latency resolution cost ({shape.name} per process, both at once; median (min..max) of {repeats})",
        ["buckets", "calls/s", "CPU ms/1k calls"],
        [["0.01 ms below 10 ms (locustfile.py)", fmt_spread(stats["fine_calls_per_s"]),
          fmt_spread(stats["fine_cpu_ms_per_1k_calls"], 2)],
         ["Locust's whole ms (bench/locustfile_coarse.py)", fmt_spread(stats["coarse_calls_per_s"]),
          fmt_spread(stats["coarse_cpu_ms_per_1k_calls"], 2)],
         ["cost of 0.01 ms buckets", fmt_spread(stats["throughput_cost"], 1, pct=True),
          fmt_spread(stats["cpu_cost"], 1, pct=True)]],
    )  # fmt: skip
    print(
        f"  in-process (bench.stats_cost): a request event costs {in_process['coarse_us_per_event']:.2f} us "
        f"with Locust's buckets, {in_process['fine_us_per_event']:.2f} us with 0.01 ms buckets: "
        f"+{in_process['extra_us_per_event']:.2f} us, {in_process['share_of_locust_cpu_per_call']:.1%} of the "
        f"Locust user's {coarse_cpu_us:.1f} us of CPU per call"
    )
    targets = [
        Target(
            "0.01 ms latency resolution throughput cost", stats["throughput_cost"]["median"], 0.10, "x", at_most=True
        ),
        Target(
            "0.01 ms latency resolution CPU per call, in-process estimate",
            in_process["share_of_locust_cpu_per_call"],
            0.10,
            "x",
            at_most=True,
        ),
    ]
    entry["targets"] = [t.as_dict() for t in targets]
    return entry, targets


CLI_HELP = ("one short pair (smoke test)", "pairs (default 5, quick 1)", "seconds per run (default 10, quick 4)")
"""What --quick, --repeats and --run-time mean here."""


def main(argv: list[str] | None = None) -> int:
    return run_main(argv, __doc__, run, "latency_resolution", CLI_HELP)


if __name__ == "__main__":
    sys.exit(main())
