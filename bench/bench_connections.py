"""Connection scale: idle authenticated connections held by one Locust worker process, and what each costs.

    python -m bench.bench_connections [--quick] [--connections 20000] [--spawn-rate 2000]

A real ``locust -f bench/locustfile_idle.py IdleUser --headless`` process
(one process, the local runner) starts N users; each connects, says hello
(JWT verified by the server) and then holds its connection without calls.
By default N is the descriptor limit (at most 20,000) less FD_RESERVE for the
process's own descriptors. The descriptor limit is raised first (children inherit it; the server needs
one descriptor per connection too). Once the server counts N hellos and the
client's RSS has settled, the run is stopped with SIGTERM.

Reported: connections held (server's hello_ok and the client's
connections_open), client memory per connection (RSS after everything settled
minus RSS before the first connection, over N; also the slope of RSS against
open connections during the ramp), connect+hello rate (N over the time from the
server's first connection to its N-th hello; Locust's spawn rate is given so it
can be seen whether it capped the rate), client and server CPU per connection
over that ramp, and server RSS per connection.

One source address is enough: 20,000 connections to one server port need
20,000 of the 28,232 ephemeral ports of 32768-60999 (websocket-client's
create_connection offers no source_address, and its sockopt list cannot bind).
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import (
    BENCH_DIR,
    REPO_ROOT,
    Sample,
    Target,
    clean_env,
    interpolate,
    locust_command,
    merge_results,
    print_table,
    raise_fd_limit,
    reference_server,
    run_load_process,
)
from run_files import WS_CSV, run_file

IDLE_LOCUSTFILE = BENCH_DIR / "locustfile_idle.py"
SETTLE_S = 3.0
TARGET_CONNECTIONS = 20_000
"""Issue 22: a worker holds as many idle connections as its descriptor limit allows (20,000 on these machines;
a higher limit is not asked for: 20,000 is also most of one source address's 28,232 ephemeral ports)."""
FD_RESERVE = 60
"""Descriptors a Locust process needs besides its connections (stdio, epoll, pipes, CSV files, modules)."""
KB_PER_CONNECTION_TARGET = 16
"""Issue 22: client memory per idle connection, at most (KB)."""


def connections_to_hold(fd_limit: int, wanted: int | None, quick: bool) -> tuple[int, str]:
    """How many connections to hold and how that number was set: `wanted` when given (capped by the limit), 500
    when quick, else the descriptor limit (at most TARGET_CONNECTIONS) less FD_RESERVE for the process's own."""
    cap = fd_limit - FD_RESERVE
    if wanted is not None:
        return min(wanted, cap), f"--connections {wanted:,}" + (f", capped at {cap:,}" if wanted > cap else "")
    if quick:
        return min(500, cap), "--quick"
    limit = min(fd_limit, TARGET_CONNECTIONS)
    return limit - FD_RESERVE, f"descriptor limit {limit:,} less {FD_RESERVE} for the process's own"


def _hellos(sample: Sample) -> int:
    return int(sample.server.get("hello_ok", 0)) if sample.server else 0


def _opened(sample: Sample) -> int:
    return int(sample.server.get("connections_opened", 0)) if sample.server else 0


def _time_at(samples: list[Sample], count: float) -> float | None:
    """Time the server's hello_ok first reached `count` (interpolated between samples)."""
    previous = None
    for s in samples:
        if _hellos(s) >= count:
            if previous is None or _hellos(s) == _hellos(previous):
                return s.t
            w = (count - _hellos(previous)) / (_hellos(s) - _hellos(previous))
            return previous.t + w * (s.t - previous.t)
        previous = s
    return None


class StopWhenSettled:
    """`watch` callback: SIGTERM the run once N hellos are in and the client RSS has not grown for SETTLE_S."""

    def __init__(self, connections: int, settle_s: float = SETTLE_S) -> None:
        self.connections = connections
        self.settle_s = settle_s
        self.all_in_at: float | None = None
        self.stopped_at: float | None = None

    def __call__(self, process: subprocess.Popen[bytes], samples: list[Sample]) -> None:
        if self.stopped_at is not None or not samples:
            return
        last = samples[-1]
        if self.all_in_at is None and _hellos(last) >= self.connections:
            self.all_in_at = last.t
        if self.all_in_at is not None and last.t - self.all_in_at >= self.settle_s:
            recent = [s.rss for s in samples if s.t >= last.t - 1.0]
            if max(recent) - min(recent) < 0.002 * last.rss or last.t - self.all_in_at > 4 * self.settle_s:
                process.send_signal(signal.SIGTERM)
                self.stopped_at = last.t


def run(
    quick: bool = False, connections: int | None = None, spawn_rate: float | None = None, tree: Path = REPO_ROOT
) -> tuple[dict[str, Any], list[Target]]:
    """One run holding `connections` idle connections (Locust from source tree `tree`); the entry and its targets."""
    spawn_rate = spawn_rate or (500 if quick else 2_000)
    fd_limit = raise_fd_limit()
    wanted = connections
    connections, why = connections_to_hold(fd_limit, connections, quick)
    print(f"  RLIMIT_NOFILE {fd_limit:,}: holding {connections:,} connections ({why})", flush=True)
    timeout_s = 60 + 3 * connections / spawn_rate + 60
    with tempfile.TemporaryDirectory(prefix="bench-connections-") as tmp, reference_server("--workers", "2") as server:
        prefix = Path(tmp) / "idle"
        command = locust_command(
            tree / IDLE_LOCUSTFILE.relative_to(REPO_ROOT), server.url, connections, spawn_rate, timeout_s - 30, prefix, "IdleUser",
            "--connect-timeout", "30", "--hello-timeout", "30",
        )  # fmt: skip
        watch = StopWhenSettled(connections)
        started = time.monotonic()
        load = run_load_process(
            "idle",
            command,
            clean_env(LOCUST_JWT_SECRET=server.jwt_secret),
            run_file(prefix, WS_CSV),
            server,
            timeout_s,
            watch=watch,
            interval_s=0.1,
            cwd=tree,
        )
        elapsed = time.monotonic() - started
        final_stats = server.stats()
    samples = load.samples
    if not samples or not load.rows:
        tail = "\n".join(load.output.strip().splitlines()[-15:])
        raise RuntimeError(f"connections: the Locust run failed (exit {load.returncode}); output:\n{tail}")
    before = [s for s in samples if _opened(s) == 0]
    baseline = before[-1] if before else samples[0]
    settled = [s for s in samples if watch.stopped_at is not None and s.t <= watch.stopped_at]
    held = max((_hellos(s) - int(s.server.get("connections_closed", 0)) for s in samples if s.server), default=0)
    end = settled[-1] if settled else samples[-1]
    rss_delta = end.rss - baseline.rss
    per_conn = rss_delta / max(1, held)
    server_per_conn = (end.server_rss - baseline.server_rss) / max(1, held)
    ramp = [s for s in samples if 0 < _hellos(s) < connections and s.server]
    slope = _slope([float(_hellos(s)) for s in ramp], [float(s.rss) for s in ramp]) if len(ramp) >= 3 else float("nan")
    # The whole ramp, first connection to last hello: users take their slot and build their state
    # before connecting, so a window inside the ramp would miss part of the per-user cost.
    first = next((s for s in samples if _opened(s) > 0), None)
    t_end = _time_at(samples, connections)
    ramp_ok = first is not None and t_end is not None and t_end > first.t
    rate = cpu_ms = srv_ms = float("nan")
    if ramp_ok:
        assert first is not None and t_end is not None
        rate = connections / (t_end - first.t)
        per = 1000.0 / connections
        cpu_ms = per * (interpolate(samples, t_end, lambda s: s.cpu_s) - first.cpu_s)
        srv_ms = per * (interpolate(samples, t_end, lambda s: s.server_cpu_s) - first.server_cpu_s)
    client_rows = load.rows
    max_open = max((int(r.get("connections_open", 0)) for r in client_rows), default=0)
    entry = {
        "connections_target": connections,
        "connections_target_why": why,
        "connections_requested": wanted,
        "connections_held": held,
        "client_connections_open_max": max_open,
        "connect_failures": int(client_rows[-1].get("connect_failures", 0)) if client_rows else None,
        "hellos_refused": final_stats.get("hello_refused"),
        "spawn_rate": spawn_rate,
        "connect_hello_per_s": rate,
        "client_cpu_ms_per_connection": cpu_ms,
        "server_cpu_ms_per_connection": srv_ms,
        "client_rss_baseline_mb": baseline.rss / 2**20,
        "client_rss_held_mb": end.rss / 2**20,
        "client_bytes_per_connection": per_conn,
        "client_bytes_per_connection_slope": slope,
        "server_bytes_per_connection": server_per_conn,
        "fd_limit": fd_limit,
        "wall_s": elapsed,
        "driver": "locust -f bench/locustfile_idle.py IdleUser (one process, local runner)",
        "stopped_by": "SIGTERM after settling" if watch.stopped_at else f"exit code {load.returncode}",
    }
    print_table(
        "Connection scale (one Locust worker process, idle authenticated connections)",
        ["connections held", "client KB/conn (delta)", "client KB/conn (ramp slope)", "connect+hello/s",
         "spawn rate", "client CPU ms/conn", "server CPU ms/conn", "server KB/conn", "connect failures"],
        [[f"{held:,} / {connections:,}", f"{per_conn / 1024:.1f}", f"{slope / 1024:.1f}", f"{rate:,.0f}",
          f"{spawn_rate:,.0f}/s", f"{cpu_ms:.2f}", f"{srv_ms:.2f}", f"{server_per_conn / 1024:.1f}",
          str(entry["connect_failures"])]],
    )  # fmt: skip
    targets = [
        Target(
            f"idle connections held by one worker ({why})", held, connections, "connections",
            issue22=f"idle connections held by one worker ({why})",
        ),
        Target(
            "client memory per connection", per_conn / 1024, KB_PER_CONNECTION_TARGET, "KB", at_most=True,
            issue22="idle connections: client memory per connection",
        ),
    ]  # fmt: skip
    entry["targets"] = [t.as_dict() for t in targets]
    return entry, targets


def _slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of ys against xs."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    var = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=False)) / var if var else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="500 connections (smoke test)")
    parser.add_argument(
        "--connections",
        type=int,
        default=None,
        help="connections to hold (default: the descriptor limit, at most 20,000, less 60)",
    )
    parser.add_argument("--spawn-rate", type=float, default=None, help="Locust users started per second (default 2000)")
    parser.add_argument("--no-write", action="store_true", help="do not update bench/results.json")
    args = parser.parse_args(argv)
    entry, targets = run(args.quick, args.connections, args.spawn_rate)
    for target in targets:
        print(target.line())
    if not args.no_write:
        merge_results({"connections": entry})
    return 0


if __name__ == "__main__":
    sys.exit(main())
