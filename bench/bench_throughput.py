"""Throughput: the Locust user against the raw ceiling client, same server, same shape, interleaved.

    python -m bench.bench_throughput [--quick] [--repeats 3] [--run-time 12]

For each shape (closed loop: 200 users x 1 in flight; pipelined: 20 x 10 and
4 x 100) and each repeat, the ceiling client (bench.ceiling) and a real
``locust -f locustfile.py --headless --csv ...`` process run back to back
against one reference server (1 worker), in alternating order. Both are
measured from their own per-second counters over the steady window
(bench.common.throughput), CPU from /proc, cross-checked with the server's
/stats. Locust / ceiling is computed within each pair, so noise from other
work on the machine cancels; medians and min-max spread are over repeats.
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import (
    REPO_ROOT,
    LoadSpec,
    Target,
    Throughput,
    clean_env,
    fmt_spread,
    locust_command,
    mint_token,
    print_table,
    reference_server,
    run_load_process,
    run_load_processes,
    run_main,
    summary,
    throughput,
)
from run_files import WS_CSV, run_file

LOCUSTFILE = REPO_ROOT / "locustfile.py"


@dataclass(frozen=True)
class Shape:
    """Connections (= Locust users) and calls in flight on each."""

    name: str
    users: int
    in_flight: int


SHAPES = (Shape("closed 200x1", 200, 1), Shape("pipelined 20x10", 20, 10), Shape("pipelined 4x100", 4, 100))


def run_ceiling(
    server: Any, shape: Shape, run_time_s: float, warmup_s: float, workdir: Path, tree: Path = REPO_ROOT
) -> Throughput:
    """One ceiling-client run of `shape` (with `tree`'s codec); its rates over the steady window."""
    counters_csv = workdir / f"ceiling-{shape.users}x{shape.in_flight}.csv"
    command = [
        sys.executable, "-m", "bench.ceiling", "--url", server.url, "--connections", str(shape.users),
        "--in-flight", str(shape.in_flight), "--duration", str(run_time_s), "--csv", str(counters_csv),
    ]  # fmt: skip
    env = clean_env(BENCH_TOKEN=mint_token(server.jwt_secret))
    if tree != REPO_ROOT:
        command += ["--tree", str(tree)]
    run = run_load_process("ceiling", command, env, counters_csv, server, timeout_s=run_time_s + 60)
    return throughput(run, shape.users, warmup_s)


def locust_spec(
    server: Any,
    shape: Shape,
    run_time_s: float,
    workdir: Path,
    locustfile: Path = LOCUSTFILE,
    label: str = "locust",
    cwd: Path = REPO_ROOT,
) -> LoadSpec:
    """A headless Locust run of `shape` (all users spawned at once) writing PREFIX_ws.csv in `workdir`."""
    prefix = workdir / f"{label}-{shape.users}x{shape.in_flight}"
    return locust_load_spec(
        server, label, prefix, shape.users, run_time_s, locustfile, cwd, "--in-flight", str(shape.in_flight)
    )


def locust_load_spec(
    server: Any, label: str, prefix: Path, users: int, run_time_s: float, locustfile: Path, cwd: Path, *extra: str
) -> LoadSpec:
    """A headless Locust process of `users` (all spawned at once) against `server`, writing `prefix`_ws.csv."""
    command = locust_command(locustfile, server.url, users, users, run_time_s, prefix, *extra)
    return LoadSpec(label, command, clean_env(LOCUST_JWT_SECRET=server.jwt_secret), run_file(prefix, WS_CSV), cwd)


def run_locust(
    server: Any,
    shape: Shape,
    run_time_s: float,
    warmup_s: float,
    workdir: Path,
    locustfile: Path = LOCUSTFILE,
    label: str = "locust",
    cwd: Path = REPO_ROOT,
) -> Throughput:
    """One headless Locust run of `shape`; its rates from PREFIX_ws.csv over the steady window."""
    spec = locust_spec(server, shape, run_time_s, workdir, locustfile, label, cwd)
    (run,) = run_load_processes([spec], server, timeout_s=run_time_s + 60)
    return throughput(run, shape.users, warmup_s)


def run(
    quick: bool = False,
    repeats: int | None = None,
    run_time_s: float | None = None,
    shapes: tuple[Shape, ...] = SHAPES,
    tree: Path = REPO_ROOT,
) -> tuple[dict[str, Any], list[Target]]:
    """Run every shape `repeats` times (ceiling and Locust in alternating order); the entry and its targets."""
    repeats = repeats or (1 if quick else 3)
    run_time_s = run_time_s or (4.0 if quick else 12.0)
    warmup_s = 0.5 if quick else 2.0
    pairs: dict[str, list[tuple[Throughput, Throughput]]] = {s.name: [] for s in shapes}
    with tempfile.TemporaryDirectory(prefix="bench-throughput-") as tmp, reference_server("--workers", "1") as server:
        workdir = Path(tmp)
        for r in range(repeats):
            for shape in shapes:
                locustfile = tree / LOCUSTFILE.relative_to(REPO_ROOT)
                if r % 2 == 0:
                    ceiling = run_ceiling(server, shape, run_time_s, warmup_s, workdir, tree)
                    locust = run_locust(server, shape, run_time_s, warmup_s, workdir, locustfile, cwd=tree)
                else:
                    locust = run_locust(server, shape, run_time_s, warmup_s, workdir, locustfile, cwd=tree)
                    ceiling = run_ceiling(server, shape, run_time_s, warmup_s, workdir, tree)
                pairs[shape.name].append((ceiling, locust))
                print(
                    f"  [{r + 1}/{repeats}] {shape.name}: ceiling {ceiling.calls_per_s:,.0f} calls/s, "
                    f"locust {locust.calls_per_s:,.0f} calls/s ({locust.calls_per_s / ceiling.calls_per_s:.0%}); "
                    f"CPU ms/1k calls {1000 * ceiling.cpu_s_per_1k_calls:.1f} vs {1000 * locust.cpu_s_per_1k_calls:.1f} "
                    f"(kernel {1000 * ceiling.sys_s_per_1k_calls:.1f} vs {1000 * locust.sys_s_per_1k_calls:.1f})",
                    flush=True,
                )

    entry: dict[str, Any] = {"repeats": repeats, "run_time_s": run_time_s, "warmup_s": warmup_s, "shapes": {}}
    rows = []
    for shape in shapes:
        runs = pairs[shape.name]
        ceil = [c for c, _ in runs]
        loc = [lo for _, lo in runs]
        stats = {
            "ceiling_calls_per_s": summary([c.calls_per_s for c in ceil]),
            "locust_calls_per_s": summary([lo.calls_per_s for lo in loc]),
            "locust_messages_per_s": summary([lo.messages_per_s for lo in loc]),
            "ratio_calls": summary([lo.calls_per_s / c.calls_per_s for c, lo in runs]),
            "ratio_messages": summary([lo.messages_per_s / c.messages_per_s for c, lo in runs]),
            "ceiling_cpu_ms_per_1k_calls": summary([1000 * c.cpu_s_per_1k_calls for c in ceil]),
            "locust_cpu_ms_per_1k_calls": summary([1000 * lo.cpu_s_per_1k_calls for lo in loc]),
            "ceiling_sys_ms_per_1k_calls": summary([1000 * c.sys_s_per_1k_calls for c in ceil]),
            "locust_sys_ms_per_1k_calls": summary([1000 * lo.sys_s_per_1k_calls for lo in loc]),
            "server_cpu_ms_per_1k_calls": summary([1000 * lo.server_cpu_s_per_1k_calls for lo in loc]),
            "server_over_locust_calls": summary([lo.server_calls_per_s / lo.calls_per_s for lo in loc]),
            "steal": summary([lo.steal for lo in loc] + [c.steal for c in ceil]),
        }
        entry["shapes"][shape.name] = {
            "users": shape.users,
            "in_flight": shape.in_flight,
            "summary": stats,
            "runs": [{"ceiling": c.as_dict(), "locust": lo.as_dict()} for c, lo in runs],
        }
        rows.append([
            shape.name,
            fmt_spread(stats["ceiling_calls_per_s"]),
            fmt_spread(stats["locust_calls_per_s"]),
            fmt_spread(stats["locust_messages_per_s"]),
            fmt_spread(stats["ratio_calls"], pct=True),
            fmt_spread(stats["ceiling_cpu_ms_per_1k_calls"], 1),
            fmt_spread(stats["locust_cpu_ms_per_1k_calls"], 1),
            fmt_spread(stats["server_over_locust_calls"], 1, pct=True),
        ])  # fmt: skip
    print_table(
        f"Throughput: Locust user vs raw ceiling client (median (min..max) of {repeats}; reference server, 1 worker)",
        ["shape (users x in flight)", "ceiling calls/s", "locust calls/s", "locust msg/s", "locust/ceiling",
         "ceiling CPU ms/1k calls", "locust CPU ms/1k calls", "server/locust count"],
        rows,
    )  # fmt: skip
    best_pipe = max((s for s in shapes if s.in_flight > 1), key=lambda s: s.in_flight, default=None)
    targets = []
    if best_pipe is not None:
        st = entry["shapes"][best_pipe.name]["summary"]
        targets += [
            Target(
                f"pipelined Locust user ({best_pipe.name}) calls/s",
                st["locust_calls_per_s"]["median"],
                40_000,
                "calls/s",
            ),
            Target(
                f"pipelined Locust user ({best_pipe.name}) msg/s",
                st["locust_messages_per_s"]["median"],
                80_000,
                "msg/s",
            ),
            Target(f"pipelined Locust / ceiling ({best_pipe.name})", st["ratio_calls"]["median"], 0.85, "x"),
        ]
    closed = next((s for s in shapes if s.in_flight == 1), None)
    if closed is not None:
        st = entry["shapes"][closed.name]["summary"]
        targets.append(
            Target(
                f"closed-loop Locust user ({closed.name}) calls/s",
                st["locust_calls_per_s"]["median"],
                15_000,
                "calls/s",
            )
        )
    entry["targets"] = [t.as_dict() for t in targets]
    return entry, targets


CLI_HELP = (
    "one short repeat (smoke test)",
    "pairs per shape (default 3, quick 1)",
    "seconds per run (default 12, quick 4)",
)
"""What --quick, --repeats and --run-time mean here."""


def main(argv: list[str] | None = None) -> int:
    return run_main(argv, __doc__, run, "throughput", CLI_HELP)


if __name__ == "__main__":
    sys.exit(main())
