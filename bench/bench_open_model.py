"""Open model: one Locust process pacing --rate calls/s over many connections, against its pipelined cost per call.

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

The native client (``bench.native_client``: picows + uvloop + orjson) runs
the same two shapes in the same round, pipelined 4 x 100 and ``--rate`` over
the same connections, as the yardstick: what an open model costs per call
over a pipelined one when the client is as cheap as it gets (each paced call
is its own send and receive system call; a pipelined write carries a hundred).
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
#: Rate-mode CPU per call may be at most this many times the pipelined CPU per call.
CPU_RATIO_TARGET = 3.0
#: Share of calls sent more than 10 ms late, at most.
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


def native_cpu_us_per_call(run: LoadRun, connections: int, warmup_s: float) -> float:
    """The native client's CPU per call sent over its steady window."""
    window = steady_window(run.rows, connections, warmup_s)
    if window is None or not window.delta("calls_sent"):
        tail = "\n".join(run.output.strip().splitlines()[-5:])
        raise RuntimeError(f"native run ({connections} connections): no steady window; output:\n{tail}")
    t0, t1 = window.start["timestamp"], window.end["timestamp"]
    cpu = interpolate(run.samples, t1, lambda s: s.cpu_s) - interpolate(run.samples, t0, lambda s: s.cpu_s)
    return 1e6 * cpu / window.delta("calls_sent")


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
        figures["native_cpu_us_per_call"] = native_cpu_us_per_call(native_run, n, warmup_s)
        figures["native_cpu_ratio"] = figures["native_cpu_us_per_call"] / got["native_pipelined_cpu_us_per_call"]
        figures["over_native"] = figures["cpu_us_per_call"] / figures["native_cpu_us_per_call"]
        got[str(n)] = figures
        print(
            f"  rate {rate:,}/s over {n:,} connections: {figures['calls_per_s']:,.0f} calls/s, "
            f"{figures['cpu_us_per_call']:.1f} µs CPU per call ({figures['cpu_ratio']:.1f}x pipelined), "
            f"{figures['late_share']:.1%} sent > 10 ms late, max lag {figures['max_schedule_lag_ms']:.0f} ms; "
            f"the process used {figures['cpu_share']:.0%} of a CPU; native client {figures['native_cpu_us_per_call']:.1f} "
            f"µs per call ({figures['native_cpu_ratio']:.1f}x its pipelined)",
            flush=True,
        )
    return got


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
    usable, notes = usable_connections(connections or ((200,) if quick else CONNECTIONS))
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
        "order": "back to back in one run: pipelined 4x100, then each rate run",
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
                "native_cpu_ratio",
                "over_native",
            )  # fmt: skip
        }
    targets = print_and_target(entry, usable, rate, repeats)
    entry["targets"] = [t.as_dict() for t in targets]
    return entry, targets


def print_and_target(entry: dict[str, Any], usable: tuple[int, ...], rate: int, repeats: int) -> list[Target]:
    """The summary table and two targets per connection count."""
    pipelined = entry["summary"]["pipelined_cpu_us_per_call"]["median"]
    rows, targets = [], []
    for n in usable:
        st = entry["summary"][str(n)]
        med = {k: v["median"] for k, v in st.items()}
        rows.append([
            f"{n:,}", f"{med['calls_per_s']:,.0f}", f"{med['cpu_us_per_call']:.1f}", f"{pipelined:.1f}",
            f"{med['cpu_ratio']:.1f}x", f"{med['late_share']:.2%}", f"{med['max_schedule_lag_ms']:.0f}",
            f"{med['cpu_share']:.0%}", f"{med['native_cpu_us_per_call']:.1f}", f"{med['native_cpu_ratio']:.1f}x",
            f"{med['over_native']:.1f}x",
        ])  # fmt: skip
        targets += [
            Target(f"open model CPU/call over pipelined, {n:,} connections", med["cpu_ratio"], CPU_RATIO_TARGET, "x", at_most=True),
            Target(f"open model calls sent > 10 ms late, {n:,} connections", med["late_share"], LATE_TARGET, "of calls", at_most=True),
        ]  # fmt: skip
    print_table(
        f"Open model: --scenario rate --rate {rate:,}, one Locust process (median of {repeats}; reference server, 1 worker)",
        [
            "connections",
            "calls/s",
            "CPU µs/call",
            "pipelined µs/call",
            "ratio",
            "sent > 10 ms late",
            "max lag ms",
            "CPU used",
            "native µs/call",
            "native ratio",
            "locust/native",
        ],
        rows,
    )
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
