"""Open model: one Locust process pacing --rate calls/s over many connections, against the native client's open model.

    python -m bench.bench_open_model [--quick] [--repeats 1] [--run-time 15]

Each repeat runs, back to back against one reference server (1 worker):
a pipelined Locust process (4 x 100, as in bench_throughput) for the
reference CPU per call, then ``locust -f locustfile.py --scenario rate
--rate 10000`` with 1,000 users (one connection each), then the same with
4,000 when this process's descriptor limit allows. The rate run's stage is
long enough to connect every user; once the steady window (every connection
open, after the warm-up) has lasted the run time, the process gets SIGTERM
and stops as on Ctrl+C. Over that window, from ``PREFIX_ws.csv`` and /proc:
CPU per call sent, calls/s against the target, and the share of calls sent
more than 10 ms after their intended time (``calls_sent_late`` / calls sent).

The yardstick (issue 22) is the native client's own open model
(``bench.native_client --rate``: picows + uvloop + orjson, every call sent at
its intended time round robin over the same number of connections, a call
more than 10 ms late counted the same way), run right after each Locust rate
run against the same server and measured by the same code over its steady
window: the Locust user's CPU per call may be at most CPU_OVER_NATIVE_TARGET
times the native client's, with at most LATE_TARGET of its calls late.
The pipelined 4 x 100 CPU per call of both (first in each round) stays as
extra information: what pacing costs over pipelining for each client (each
paced call is its own send and receive system call; a pipelined write
carries a hundred).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.bench_native import native_spec
from bench.bench_throughput import LOCUSTFILE, Shape, locust_load_spec, locust_spec
from bench.common import (
    REPO_ROOT,
    LoadRun,
    LoadSpec,
    Sample,
    Target,
    clean_env,
    interpolate,
    mint_token,
    print_table,
    raise_fd_limit,
    read_counter_rows,
    reference_server,
    run_load_processes,
    run_main,
    steady_window,
    summary,
    throughput,
)

RATE = 10_000
CONNECTIONS = (1_000, 4_000)
PIPELINED = Shape("pipelined 4x100", 4, 100)
#: The Locust user's open-model CPU per call may be at most this many times the native client's (issue 22).
CPU_OVER_NATIVE_TARGET = 1.3
#: Share of calls sent more than 10 ms late, at most (issue 22).
LATE_TARGET = 0.01
#: Seconds allowed for connecting each user (the stage is this much longer; the run stops early when done).
CONNECT_S_PER_USER = 0.02
#: Descriptors this process needs beyond one per connection (Locust's own files, sockets, the server's stats).
FD_HEADROOM = 1_000


def rate_spec(
    server: Any,
    connections: int,
    rate: int,
    stage_s: float,
    workdir: Path,
    tree: Path = REPO_ROOT,
    label: str = "rate",
) -> LoadSpec:
    """A one-stage rate run: `connections` users spawned at once, `rate` calls/s paced over them."""
    return locust_load_spec(
        server, label, workdir / f"{label}-{connections}", connections, stage_s,
        tree / LOCUSTFILE.relative_to(REPO_ROOT), tree,
        "--scenario", "rate", "--rate", str(rate), "--stage-duration", f"{stage_s:g}s",
    )  # fmt: skip


def native_rate_spec(server: Any, connections: int, rate: int, seconds: float, workdir: Path) -> LoadSpec:
    """The native client pacing `rate` calls/s over `connections` for `seconds`."""
    counters_csv = workdir / f"native-rate-{connections}.csv"
    command = [
        sys.executable, "-m", "bench.native_client", "--url", server.url, "--connections", str(connections),
        "--rate", str(rate), "--duration", f"{seconds:g}", "--csv", str(counters_csv),
    ]  # fmt: skip
    return LoadSpec("native", command, clean_env(BENCH_TOKEN=mint_token(server.jwt_secret)), counters_csv)


def rate_rows(rows: list[dict[str, float]]) -> list[dict[str, float]]:
    """Rows written while the rate stage ran (its rate_target set)."""
    return [r for r in rows if r.get("rate_target", 0) > 0]


def stop_when_measured(counters_csv: Path, connections: int, warmup_s: float, run_time_s: float) -> Any:
    """A `watch` for run_load_processes: SIGTERM once the steady window has lasted `run_time_s`."""
    state = {"stopped": False}

    def watch(process: subprocess.Popen[bytes], samples: list[Sample]) -> None:
        if state["stopped"] or len(samples) % 5:
            return
        window = steady_window(rate_rows(read_counter_rows(counters_csv)), connections, warmup_s)
        if window is not None and window.seconds >= run_time_s:
            state["stopped"] = True
            process.send_signal(signal.SIGTERM)

    return watch


def open_model_figures(run: LoadRun, connections: int, rate: int, warmup_s: float) -> dict[str, Any]:
    """Calls/s, CPU per call and late share of a rate run over its steady window."""
    rows = rate_rows(run.rows)
    window = steady_window(rows, connections, warmup_s)
    if window is None:
        tail = "\n".join(run.output.strip().splitlines()[-15:])
        raise RuntimeError(f"rate run ({connections} connections): no steady window; output:\n{tail}")
    t0, t1 = window.start["timestamp"], window.end["timestamp"]
    sent = window.delta("calls_sent")
    cpu = interpolate(run.samples, t1, lambda s: s.cpu_s) - interpolate(run.samples, t0, lambda s: s.cpu_s)
    inside = [r for r in rows if t0 < r["timestamp"] <= t1]
    return {
        "connections": connections,
        "rate_target": rate,
        "calls_per_s": sent / window.seconds,
        "cpu_us_per_call": 1e6 * cpu / sent if sent else float("nan"),
        "cpu_share": cpu / window.seconds,
        "late_share": window.delta("calls_sent_late") / sent if sent else float("nan"),
        "calls_sent": int(sent),
        "calls_sent_late": int(window.delta("calls_sent_late")),
        "calls_skipped": int(window.delta("calls_skipped")),
        "max_schedule_lag_ms": max((r.get("schedule_lag_ms", 0.0) for r in inside), default=0.0),
        "window_s": window.seconds,
        "failed": int(sum(run.rows[-1].get(k, 0) for k in ("calls_failed", "calls_timeout", "calls_lost"))),
        "steal": run.steal,
    }


def one_round(
    server: Any, connections: tuple[int, ...], rate: int, timing: tuple[float, float], workdir: Path, tree: Path
) -> dict[str, Any]:
    """The pipelined reference, then one rate run per connection count; their figures."""
    run_time_s, warmup_s = timing
    locustfile = tree / LOCUSTFILE.relative_to(REPO_ROOT)
    spec = locust_spec(server, PIPELINED, run_time_s, workdir, locustfile, cwd=tree)
    (pipelined_run,) = run_load_processes([spec], server, timeout_s=run_time_s + 60)
    pipelined = throughput(pipelined_run, PIPELINED.users, warmup_s)
    got: dict[str, Any] = {
        "pipelined": pipelined.as_dict(),
        "pipelined_cpu_us_per_call": pipelined.cpu_s_per_1k_calls * 1e3,
    }
    (native_run,) = run_load_processes(
        [native_spec(server, PIPELINED, run_time_s + warmup_s + 1, workdir)], server, timeout_s=run_time_s + 60
    )
    got["native_pipelined_cpu_us_per_call"] = throughput(native_run, PIPELINED.users, warmup_s).cpu_s_per_1k_calls * 1e3
    print(
        f"  pipelined 4x100: {pipelined.calls_per_s:,.0f} calls/s, {got['pipelined_cpu_us_per_call']:.1f} µs CPU per "
        f"call (native client: {got['native_pipelined_cpu_us_per_call']:.1f})"
    )
    for n in connections:
        stage_s = n * CONNECT_S_PER_USER + warmup_s + run_time_s + 10
        spec = rate_spec(server, n, rate, stage_s, workdir, tree)
        watch = stop_when_measured(spec.counters_csv, n, warmup_s, run_time_s)
        (run,) = run_load_processes([spec], server, timeout_s=stage_s + 60, watch=watch)
        figures = open_model_figures(run, n, rate, warmup_s)
        figures["cpu_ratio"] = figures["cpu_us_per_call"] / got["pipelined_cpu_us_per_call"]
        native_spec_n = native_rate_spec(server, n, rate, run_time_s + warmup_s + 1, workdir)
        (native_run,) = run_load_processes([native_spec_n], server, timeout_s=run_time_s + n * CONNECT_S_PER_USER + 60)
        native = open_model_figures(native_run, n, rate, warmup_s)
        figures["native"] = native
        figures["native_cpu_us_per_call"] = native["cpu_us_per_call"]
        figures["native_late_share"] = native["late_share"]
        figures["native_cpu_ratio"] = native["cpu_us_per_call"] / got["native_pipelined_cpu_us_per_call"]
        figures["over_native"] = figures["cpu_us_per_call"] / native["cpu_us_per_call"]
        got[str(n)] = figures
        print(describe(n, rate, figures), flush=True)
    return got


def describe(n: int, rate: int, figures: dict[str, Any]) -> str:
    """One progress line for a finished pair of rate runs."""
    return (
        f"  rate {rate:,}/s over {n:,} connections: locust {figures['calls_per_s']:,.0f} calls/s, "
        f"{figures['cpu_us_per_call']:.1f} µs CPU per call, {figures['late_share']:.2%} sent > 10 ms late, "
        f"max lag {figures['max_schedule_lag_ms']:.0f} ms, {figures['cpu_share']:.0%} of a CPU; native "
        f"{figures['native']['calls_per_s']:,.0f} calls/s, {figures['native_cpu_us_per_call']:.1f} µs, "
        f"{figures['native_late_share']:.2%} late; locust/native CPU per call {figures['over_native']:.2f}x "
        f"(over pipelined: locust {figures['cpu_ratio']:.1f}x, native {figures['native_cpu_ratio']:.1f}x)"
    )


def usable_connections(wanted: tuple[int, ...]) -> tuple[tuple[int, ...], list[str]]:
    """The connection counts the descriptor limit allows, and a note for each one it does not."""
    limit = raise_fd_limit()
    ok = tuple(n for n in wanted if n + FD_HEADROOM <= limit)
    notes = [
        f"{n:,} connections skipped: RLIMIT_NOFILE is {limit:,}, {n + FD_HEADROOM:,} needed"
        for n in wanted
        if n not in ok
    ]
    return ok, notes


def run(
    quick: bool = False,
    repeats: int | None = None,
    run_time_s: float | None = None,
    connections: tuple[int, ...] | None = None,
    rate: int | None = None,
    tree: Path = REPO_ROOT,
) -> tuple[dict[str, Any], list[Target]]:
    """Pipelined reference and rate runs, `repeats` times; the entry and its targets."""
    repeats = repeats or 1
    run_time_s = run_time_s or (4.0 if quick else 15.0)
    warmup_s = 1.0 if quick else 3.0
    rate = rate or (2_000 if quick else RATE)
    wanted = connections or ((200,) if quick else CONNECTIONS)
    usable, notes = usable_connections(wanted)
    for note in notes:
        print(f"  {note}", flush=True)
    rounds = []
    with tempfile.TemporaryDirectory(prefix="bench-open-") as tmp, reference_server("--workers", "1") as server:
        for _ in range(repeats):
            rounds.append(one_round(server, usable, rate, (run_time_s, warmup_s), Path(tmp), tree))
    entry: dict[str, Any] = {
        "repeats": repeats,
        "run_time_s": run_time_s,
        "warmup_s": warmup_s,
        "rate": rate,
        "order": "back to back in one run: pipelined 4x100 (locust, native), then per connection count the locust "
        "rate run and the native one",
        "skipped": notes,
        "summary": {
            key: summary([r[key] for r in rounds])
            for key in ("pipelined_cpu_us_per_call", "native_pipelined_cpu_us_per_call")
        },
        "runs": rounds,
    }
    for n in usable:
        entry["summary"][str(n)] = {
            key: summary([r[str(n)][key] for r in rounds])
            for key in (
                "calls_per_s",
                "cpu_us_per_call",
                "cpu_ratio",
                "late_share",
                "max_schedule_lag_ms",
                "cpu_share",
                "native_cpu_us_per_call",
                "native_late_share",
                "native_cpu_ratio",
                "over_native",
            )  # fmt: skip
        }
    targets = print_and_target(entry, usable, rate, repeats)
    targets += not_measured(tuple(n for n in wanted if n not in usable), rate)
    entry["targets"] = [t.as_dict() for t in targets]
    return entry, targets


def cpu_and_late_targets(n: int, rate: int, over_native: float, late_share: float) -> list[Target]:
    """The two issue-22 targets of one connection count (NaNs when it could not run)."""
    where = f"open model {rate:,}/s over {n:,} connections"
    return [
        Target(
            f"open model CPU/call, Locust / native open model, {n:,} connections", over_native,
            CPU_OVER_NATIVE_TARGET, "x", at_most=True, issue22=f"{where}: CPU/call, Locust / native open model",
        ),
        Target(
            f"open model calls sent > 10 ms late, {n:,} connections", 100 * late_share, 100 * LATE_TARGET, "%",
            at_most=True, issue22=f"{where}: Locust calls sent > 10 ms late",
        ),
    ]  # fmt: skip


def not_measured(skipped: tuple[int, ...], rate: int) -> list[Target]:
    """The targets of connection counts the descriptor limit ruled out: not measured, so MISS."""
    return [t for n in skipped for t in cpu_and_late_targets(n, rate, float("nan"), float("nan"))]


def print_and_target(entry: dict[str, Any], usable: tuple[int, ...], rate: int, repeats: int) -> list[Target]:
    """The summary table and two targets per connection count: CPU per call over the native open model's, late
    share (the CPU over pipelined ratios are shown, not targets)."""
    pipelined = entry["summary"]["pipelined_cpu_us_per_call"]["median"]
    rows, targets = [], []
    for n in usable:
        st = entry["summary"][str(n)]
        med = {k: v["median"] for k, v in st.items()}
        rows.append([
            f"{n:,}", f"{med['calls_per_s']:,.0f}", f"{med['cpu_us_per_call']:.1f}",
            f"{med['native_cpu_us_per_call']:.1f}", f"{med['over_native']:.2f}x", f"{med['late_share']:.2%}",
            f"{med['native_late_share']:.2%}", f"{med['max_schedule_lag_ms']:.0f}", f"{med['cpu_share']:.0%}",
            f"{pipelined:.1f}", f"{med['cpu_ratio']:.1f}x", f"{med['native_cpu_ratio']:.1f}x",
        ])  # fmt: skip
        targets += cpu_and_late_targets(n, rate, med["over_native"], med["late_share"])
    print_table(
        f"Open model: --rate {rate:,} over N connections, one Locust process vs the native client's --rate "
        f"(median of {repeats}; reference server, 1 worker)",
        ["connections", "locust calls/s", "locust CPU µs/call", "native CPU µs/call", "locust/native",
         "locust > 10 ms late", "native > 10 ms late", "locust max lag ms", "locust CPU used",
         "locust pipelined µs/call", "locust over pipelined", "native over pipelined"],
        rows,
    )  # fmt: skip
    return targets


CLI_HELP = (
    "short runs, 200 connections at 2,000 calls/s (smoke test)",
    "rounds (default 1)",
    "steady seconds per run (default 15, quick 4)",
)
"""What --quick, --repeats and --run-time mean here."""


def main(argv: list[str] | None = None) -> int:
    return run_main(argv, __doc__, run, "open_model", CLI_HELP)


if __name__ == "__main__":
    sys.exit(main())
