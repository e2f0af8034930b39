"""What --prometheus-port costs a load process: its CPU per scrape, against the CPU its run took (one process).

    python -m bench.prometheus_cost                    # 4x100 pipelined, 10 s
    python -m bench.prometheus_cost --shape 40x1       # closed loop

A headless run with --prometheus-port lingers after its end; the process's own CPU time (psutil) over N scrapes
then is the cost of a scrape with the run's real statistics (every latency key it saw). At one scrape a second,
that over the run's CPU per second is the share of CPU the export adds: a ratio inside one process, so what
else the machine runs cancels out (bench.compare --prometheus measures the same as a noisier A/B).
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil

from bench.common import REPO_ROOT, reference_server
from bench.compare import free_port, parse_shape
from run_files import WS_CSV, run_file

MIN_SCRAPE_CPU_S = 0.1
"""Scrapes go on (past --scrapes) until they have cost this much CPU: the process's CPU clock ticks in 10 ms."""
SCRAPE_SPAN_S = 20.0
"""...but for at most this long."""


def measure(users: int, in_flight: int, run_time_s: float, scrapes: int) -> dict[str, float]:
    """Run, then scrape the lingering process `scrapes` times; CPU figures of the run and of a scrape."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-prom-") as tmp, reference_server("--workers", "2") as server:
        prefix = Path(tmp) / "run"
        log_path = Path(tmp) / "locust.log"
        command = [sys.executable, "-m", "locust", "-f", str(REPO_ROOT / "locustfile.py"), "--headless", "-u",
                   str(users), "-r", str(users), "-t", f"{int(run_time_s)}s", "-H", server.url, "--csv", str(prefix),
                   "--only-summary", "--in-flight", str(in_flight), "--prometheus-port", str(port),
                   "--prometheus-linger", "120"]  # fmt: skip
        env = {**os.environ, "LOCUST_JWT_SECRET": server.jwt_secret or ""}
        with log_path.open("wb") as log:
            process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            ps = psutil.Process(process.pid)
            deadline = time.monotonic() + run_time_s + 90
            while "serving the final metrics" not in log_path.read_text(errors="replace"):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"prometheus_cost: the run did not linger: {log_path.read_text()[-2000:]}")
                time.sleep(0.2)
            run_cpu = sum(ps.cpu_times()[:2])
            size, done = 0, 0
            before = sum(ps.cpu_times()[:2])
            until = time.monotonic() + SCRAPE_SPAN_S
            while done < scrapes or (sum(ps.cpu_times()[:2]) - before < MIN_SCRAPE_CPU_S and time.monotonic() < until):
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
                    size = len(answer.read())
                done += 1
            scrape_cpu = (sum(ps.cpu_times()[:2]) - before) / done
        finally:
            process.terminate()
            process.wait(30)
        with run_file(prefix, WS_CSV).open(newline="") as f:
            final = list(csv.DictReader(f))[-1]
    calls = float(final["calls_sent"])
    elapsed = float(final["elapsed_s"])
    return {
        "calls": calls,
        "run_cpu_s": run_cpu,
        "cpu_us_per_call": 1e6 * run_cpu / calls,
        "scrape_cpu_ms": 1000 * scrape_cpu,
        "scrape_bytes": size,
        "share_at_1_per_s": scrape_cpu * elapsed / run_cpu,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", type=parse_shape, default=parse_shape("4x100"), help="USERSxIN_FLIGHT")
    parser.add_argument("--run-time", type=float, default=10.0)
    parser.add_argument("--scrapes", type=int, default=100)
    args = parser.parse_args(argv)
    figures = measure(args.shape.users, args.shape.in_flight, args.run_time, args.scrapes)
    print(f"{args.shape.name}: {figures['calls']:,.0f} calls, {figures['cpu_us_per_call']:.2f} CPU µs/call; "
          f"one scrape ({figures['scrape_bytes']:,} bytes) {figures['scrape_cpu_ms']:.2f} CPU ms; at one scrape "
          f"a second the export adds {figures['share_at_1_per_s']:.2%} CPU per call")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
