"""Measure a short distributed run on this machine: messages/s per worker process and the master's own CPU.

    .venv/bin/python -m tests.distributed.capacity --workers 1 --users 20 --in-flight 10 --seconds 15
    .venv/bin/python -m tests.distributed.capacity --workers 4 --users 8 --rate 400 --seconds 20   # master cost

Starts the reference server (loopback, --server-workers processes), a headless
master and N workers, samples every process's CPU once a second, and prints one
JSON object: calls/s and messages/s from the master's PREFIX_ws.csv over the
steady part of the run (after the first 3 s), per worker and per CPU-second of the
workers (the figure that survives a busy machine), and the mean CPU
(% of one core) of the master, each worker and the server. Bounded: the run
ends by --run-time; everything is killed after it.
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
import threading
import time
from pathlib import Path

import psutil

from reference_server.launcher import start_reference_server
from tests.distributed.cluster import Cluster
from tests.support.locust_run import secret_env


def cpu_sampler(pids: dict[str, int], stop: threading.Event, out: dict[str, list[float]]) -> None:
    procs: dict[str, list[psutil.Process]] = {}
    for name, pid in pids.items():
        try:
            root = psutil.Process(pid)
            procs[name] = [root, *root.children(recursive=True)]
        except psutil.Error:
            procs[name] = []
    last: dict[str, float] = {}
    then = time.monotonic()
    while not stop.wait(1.0):
        now = time.monotonic()
        for name, group in procs.items():
            total = 0.0
            for proc in group:
                try:
                    times = proc.cpu_times()
                    total += times.user + times.system
                except psutil.Error:
                    pass
            if name in last:
                out.setdefault(name, []).append(100.0 * (total - last[name]) / (now - then))
            last[name] = total
        then = now


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--in-flight", type=int, default=10)
    parser.add_argument("--rate", type=float, default=0.0, help="open-model calls/s over the run (0: closed loop)")
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--server-workers", type=int, default=1)
    args = parser.parse_args()
    out_dir = Path(tempfile.mkdtemp(prefix="ws-capacity-"))
    load = ["-u", str(args.users), "-r", str(args.users), "-t", f"{args.seconds}s", "--in-flight", str(args.in_flight)]
    if args.rate:
        load += ["--scenario", "rate", "--rate", f"{args.rate:g}", "--stage-duration", f"{args.seconds}s"]
    with start_reference_server("--workers", str(args.server_workers)) as server:
        cluster = Cluster(out_dir, server.url, load, secret_env(server), args.workers)
        master = cluster.start_master()
        workers = [cluster.start_worker(i) for i in range(args.workers)]
        time.sleep(2.0)  # let them connect before sampling
        pids = {"master": master.popen.pid, "server": server.process.pid}
        pids.update({f"worker{i}": w.popen.pid for i, w in enumerate(workers)})
        cpu: dict[str, list[float]] = {}
        stop = threading.Event()
        sampler = threading.Thread(target=cpu_sampler, args=(pids, stop, cpu), daemon=True)
        sampler.start()
        run = cluster.finish(master, workers, args.seconds + 60)
        stop.set()
        sampler.join(5)
    with Path(f"{run.prefix}_ws.csv").open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if float(r["elapsed_s"]) >= 3.0]
    steady = rows[:-1] if len(rows) > 2 else rows  # the final row includes the drain
    first, last = steady[0], steady[-1]
    span = float(last["elapsed_s"]) - float(first["elapsed_s"])

    def rate(*names: str) -> float:
        return sum(float(last[n]) - float(first[n]) for n in names) / span if span > 0 else 0.0

    messages = rate("messages_sent", "messages_received")

    def mean(values: list[float]) -> float:
        return round(sum(values[1:-1]) / max(1, len(values) - 2), 1)  # without the start and end seconds

    worker_cores = sum(mean(v) for name, v in cpu.items() if name.startswith("worker")) / 100.0

    print(json.dumps({
        "workers": args.workers, "users": args.users, "in_flight": args.in_flight, "rate": args.rate,
        "seconds": args.seconds, "cpus": psutil.cpu_count(), "load_avg_1m": round(psutil.getloadavg()[0], 2),
        "calls_per_s": round(rate("calls_ok", "calls_failed", "calls_timeout", "calls_lost")),
        "messages_per_s": round(messages), "messages_per_s_per_worker": round(messages / args.workers),
        "messages_per_worker_cpu_s": round(messages / worker_cores) if worker_cores else None,
        "cpu_percent": {name: mean(values) for name, values in sorted(cpu.items())},
        "returncode": run.result.returncode, "out_dir": str(out_dir),
    }, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
