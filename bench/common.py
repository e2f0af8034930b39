"""Shared benchmark plumbing: servers with enough descriptors, load processes, CPU/RSS sampling, windows, tables.

Every benchmark runs its load generator as a subprocess (a real ``locust`` run or
the raw ceiling client) and measures it from outside, the same way for both:

- the load process writes cumulative counters once a second to a CSV (Locust's
  ``PREFIX_ws.csv``; the ceiling client writes the same columns);
- the parent samples the load process's CPU time and RSS from
  ``/proc/<pid>/stat``, the server workers' CPU time, and the server's ``/stats``,
  several times a second, stamped with ``time.time()`` (the clock the CSVs use);
- rates come from counter differences over the steady window (all connections
  open, after a warm-up, before the stop), and CPU and server counters are
  interpolated at the window's two ends.

Only loopback addresses are used; every run is bounded by a duration and a timeout.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reference_server.launcher import RunningServer, start_reference_server

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS = REPO_ROOT / "bench" / "results.json"
BENCH_DIR = REPO_ROOT / "bench"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
FD_LIMIT = 200_000


# ---- machine and limits ----------------------------------------------------------------------


def raise_fd_limit(wanted: int = FD_LIMIT) -> int:
    """Raise this process's RLIMIT_NOFILE (children inherit it); return the soft limit now in force.

    Root may raise the hard limit too (up to fs.nr_open); others get at most their hard limit.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= wanted:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, max(hard, wanted)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def machine_facts() -> dict[str, Any]:
    """What the figures depend on: CPUs, CPU model, Python, kernel, memory."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "note": "a shared VM: other programs' load shows as lower calls/s; ratios and CPU per call hold better "
        "(each run records its CPU steal fraction as 'steal')",
    }


def cpu_steal_fraction() -> tuple[int, int]:
    """(steal ticks, total ticks) summed over CPUs from /proc/stat, to report how contended a run was."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    ticks = [int(x) for x in fields]
    return (ticks[7] if len(ticks) > 7 else 0), sum(ticks[:8])


def now_iso() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


# ---- servers ---------------------------------------------------------------------------------


@contextmanager
def reference_server(*args: str) -> Iterator[RunningServer]:
    """A reference server subprocess on 127.0.0.1 with our raised descriptor limit (it inherits it)."""
    raise_fd_limit()
    with start_reference_server(*args) as server:
        yield server


def server_worker_pids(server: RunningServer) -> list[int]:
    """The supervisor and its worker processes (the workers do the WebSocket work)."""
    import psutil  # installed with locust

    try:
        return [server.process.pid, *(c.pid for c in psutil.Process(server.process.pid).children(recursive=True))]
    except psutil.Error:
        return [server.process.pid]


def mint_token(secret: str, ttl_s: int = 3600) -> str:
    """An HS256 token with every tool in scope (PyJWT), for the raw clients."""
    import jwt

    now = int(time.time())
    return jwt.encode({"sub": "bench", "iat": now, "exp": now + ttl_s, "scope": "tools:*"}, secret, algorithm="HS256")


# ---- sampling --------------------------------------------------------------------------------


def proc_times(pid: int) -> tuple[float, float, int]:
    """(user CPU seconds, system CPU seconds, RSS bytes) of `pid` from /proc/<pid>/stat."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    # fields[0] is field 3 (state): utime is field 14, stime 15, rss 24.
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK, int(fields[21]) * PAGE_SIZE


def proc_cpu_rss(pid: int) -> tuple[float, int]:
    """(user + system CPU seconds, RSS bytes) of `pid`."""
    user, system, rss = proc_times(pid)
    return user + system, rss


@dataclass
class Sample:
    """One look at the load process and the server, at Unix time `t`."""

    t: float
    cpu_s: float
    rss: int
    server_cpu_s: float
    server_rss: int
    server: dict[str, Any]
    sys_s: float = 0.0
    """The system (kernel) part of cpu_s."""


class Sampler:
    """Samples a process, the server's CPU and the server's /stats each time `take` is called."""

    def __init__(self, pid: int, server: RunningServer | None) -> None:
        self.pid = pid
        self.server = server
        self.samples: list[Sample] = []
        self._server_pids = server_worker_pids(server) if server else []

    def take(self) -> Sample | None:
        """One sample now (None once the process is gone)."""
        try:
            user, system, rss = proc_times(self.pid)
        except (OSError, ValueError, IndexError):
            return None
        server_cpu = 0.0
        server_rss = 0
        stats: dict[str, Any] = {}
        if self.server is not None:
            for pid in self._server_pids:
                try:
                    cpu_s, rss_b = proc_cpu_rss(pid)
                except (OSError, ValueError, IndexError):
                    continue
                server_cpu += cpu_s
                server_rss += rss_b
            try:
                stats = self.server.stats(timeout=2.0)
            except OSError:
                stats = {}
        sample = Sample(time.time(), user + system, rss, server_cpu, server_rss, stats, system)
        self.samples.append(sample)
        return sample


def interpolate(samples: Sequence[Sample], t: float, value: Any) -> float:
    """`value(sample)` linearly interpolated at Unix time `t` (clamped to the sampled range)."""
    usable = [s for s in samples if value(s) is not None]
    if not usable:
        return float("nan")
    times = [s.t for s in usable]
    i = bisect_left(times, t)
    if i <= 0:
        return float(value(usable[0]))
    if i >= len(usable):
        return float(value(usable[-1]))
    a, b = usable[i - 1], usable[i]
    if b.t == a.t:
        return float(value(b))
    w = (t - a.t) / (b.t - a.t)
    return float(value(a)) + w * (float(value(b)) - float(value(a)))


# ---- counter CSVs and windows ----------------------------------------------------------------

#: Columns the ceiling client writes, a subset of Locust's PREFIX_ws.csv (same meanings).
COUNTER_COLUMNS = (
    "timestamp",
    "elapsed_s",
    "calls_sent",
    "calls_ok",
    "calls_failed",
    "calls_in_flight",
    "messages_sent",
    "messages_received",
    "connects",
    "connections_open",
    "hellos_ok",
)


def read_counter_rows(path: Path) -> list[dict[str, float]]:
    """Rows of a counters CSV as floats (non-numeric columns dropped)."""
    rows: list[dict[str, float]] = []
    if not path.exists():
        return rows
    with path.open(newline="") as f:
        for raw in csv.DictReader(f):
            row: dict[str, float] = {}
            for key, value in raw.items():
                try:
                    row[key] = float(value)
                except (TypeError, ValueError):
                    pass
            rows.append(row)
    return rows


@dataclass
class Window:
    """The steady part of a run: two counter rows with every connection open between them."""

    start: dict[str, float]
    end: dict[str, float]

    @property
    def seconds(self) -> float:
        return self.end["timestamp"] - self.start["timestamp"]

    def delta(self, column: str) -> float:
        return self.end[column] - self.start[column]


def steady_window(rows: list[dict[str, float]], connections: int, warmup_s: float) -> Window | None:
    """From `warmup_s` after every connection is open to the last row where they all still are.

    Rows written while connecting (ramp-up) and while stopping (drain, close, the
    final row) are excluded: the window covers only full load.
    """
    full = [r for r in rows if r.get("connections_open", 0) >= connections and r.get("calls_sent", 0) > 0]
    if len(full) == 1 and rows[-1] is not full[0]:  # a very short run: up to the final row (drain included)
        return Window(full[0], rows[-1])
    if len(full) < 2:
        return None
    begin = full[0]["timestamp"] + warmup_s
    inside = [r for r in full if r["timestamp"] >= begin - 1e-6]
    if len(inside) < 2:
        inside = full[-2:]
    return Window(inside[0], inside[-1])


# ---- load processes --------------------------------------------------------------------------


def clean_env(**extra: str) -> dict[str, str]:
    """Our environment without LOCUST_* settings a user may have exported, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
    env.update(extra)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


@dataclass
class LoadRun:
    """A finished load process: its counter rows and the samples taken while it ran."""

    label: str
    command: list[str]
    returncode: int
    rows: list[dict[str, float]]
    samples: list[Sample]
    output: str
    steal: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LoadSpec:
    """One load process to start: its command, environment, counters CSV and working directory."""

    label: str
    command: list[str]
    env: dict[str, str]
    counters_csv: Path
    cwd: Path = REPO_ROOT


def run_load_processes(
    specs: Sequence[LoadSpec],
    server: RunningServer | None,
    timeout_s: float,
    interval_s: float = 0.2,
    watch: Callable[[subprocess.Popen[bytes], list[Sample]], None] | None = None,
) -> list[LoadRun]:
    """Run the processes of `specs` at the same time (each killed after `timeout_s`), sampling each and the server.

    Processes run together share whatever the machine gives them at that moment, so
    their ratios are free of the drift that separates runs made one after another.
    `watch(process, samples)`, with a single spec, is called after every sample (e.g. to stop early).
    """
    steal0, total0 = cpu_steal_fraction()
    deadline = time.monotonic() + timeout_s
    logs = [spec.counters_csv.with_suffix(".log").open("wb") for spec in specs]
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for spec, log in zip(specs, logs, strict=False):
            processes.append(
                subprocess.Popen(
                    spec.command, cwd=spec.cwd, env=spec.env, stdin=subprocess.DEVNULL, stdout=log, stderr=log
                )
            )
        samplers = [Sampler(p.pid, server) for p in processes]
        while any(p.poll() is None for p in processes):
            if time.monotonic() > deadline:
                break
            for process, sampler in zip(processes, samplers, strict=False):
                if process.poll() is None:
                    sampler.take()
                    if watch is not None:
                        watch(process, sampler.samples)
            time.sleep(interval_s)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait(10)
        for log in logs:
            log.close()
    steal1, total1 = cpu_steal_fraction()
    steal = (steal1 - steal0) / max(1, total1 - total0)
    return [
        LoadRun(
            spec.label,
            spec.command,
            process.returncode,
            read_counter_rows(spec.counters_csv),
            sampler.samples,
            spec.counters_csv.with_suffix(".log").read_text(errors="replace"),
            steal=steal,
        )
        for spec, process, sampler in zip(specs, processes, samplers, strict=False)
    ]


def run_load_process(
    label: str,
    command: list[str],
    env: dict[str, str],
    counters_csv: Path,
    server: RunningServer | None,
    timeout_s: float,
    interval_s: float = 0.2,
    cwd: Path = REPO_ROOT,
    watch: Callable[[subprocess.Popen[bytes], list[Sample]], None] | None = None,
) -> LoadRun:
    """Run one load process to completion (killed after `timeout_s`) while sampling it and the server."""
    (run,) = run_load_processes(
        [LoadSpec(label, command, env, counters_csv, cwd)], server, timeout_s, interval_s, watch
    )
    return run


def locust_command(
    locustfile: Path, host: str, users: int, spawn_rate: float, run_time_s: float, csv_prefix: Path, *extra: str
) -> list[str]:
    """A headless single-process Locust run writing --csv files (PREFIX_ws.csv among them)."""
    return [
        sys.executable, "-m", "locust", "-f", str(locustfile), "--headless",
        "-u", str(users), "-r", str(spawn_rate), "-t", f"{max(1, round(run_time_s))}s", "-H", host,
        "--csv", str(csv_prefix), "--only-summary", "--loglevel", "WARNING", *extra,
    ]  # fmt: skip


@dataclass
class Throughput:
    """Rates of one run over its steady window."""

    calls_per_s: float
    messages_per_s: float
    cpu_s_per_1k_calls: float
    sys_s_per_1k_calls: float
    server_calls_per_s: float
    server_cpu_s_per_1k_calls: float
    window_s: float
    calls: int
    failed: int
    steal: float

    def as_dict(self) -> dict[str, float]:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in self.__dict__.items()}


def throughput(run: LoadRun, connections: int, warmup_s: float) -> Throughput:
    """Calls/s and messages/s from the run's counters; CPU and the server's count interpolated at the window ends."""
    window = steady_window(run.rows, connections, warmup_s)
    if window is None:
        tail = "\n".join(run.output.strip().splitlines()[-15:])
        raise RuntimeError(f"{run.label}: no steady window (exit {run.returncode}); output:\n{tail}")
    t0, t1 = window.start["timestamp"], window.end["timestamp"]
    seconds = window.seconds
    calls = window.delta("calls_ok")
    messages = window.delta("messages_sent") + window.delta("messages_received")
    cpu = interpolate(run.samples, t1, lambda s: s.cpu_s) - interpolate(run.samples, t0, lambda s: s.cpu_s)
    sys_cpu = interpolate(run.samples, t1, lambda s: s.sys_s) - interpolate(run.samples, t0, lambda s: s.sys_s)
    server_cpu = interpolate(run.samples, t1, lambda s: s.server_cpu_s) - interpolate(
        run.samples, t0, lambda s: s.server_cpu_s
    )

    def received(s: Sample) -> float | None:
        return s.server.get("calls_received") if s.server else None

    server_calls = interpolate(run.samples, t1, received) - interpolate(run.samples, t0, received)
    return Throughput(
        calls_per_s=calls / seconds,
        messages_per_s=messages / seconds,
        cpu_s_per_1k_calls=1000.0 * cpu / calls if calls else float("nan"),
        sys_s_per_1k_calls=1000.0 * sys_cpu / calls if calls else float("nan"),
        server_calls_per_s=server_calls / seconds,
        server_cpu_s_per_1k_calls=1000.0 * server_cpu / calls if calls else float("nan"),
        window_s=seconds,
        calls=int(calls),
        failed=int(
            run.rows[-1].get("calls_failed", 0)
            + run.rows[-1].get("calls_timeout", 0)
            + run.rows[-1].get("calls_lost", 0)
        ),
        steal=run.steal,
    )


# ---- statistics and output -------------------------------------------------------------------


def summary(values: Sequence[float]) -> dict[str, float]:
    """Median, min and max of repeated measurements (NaNs dropped)."""
    clean = [v for v in values if v == v]
    if not clean:
        return {"median": float("nan"), "min": float("nan"), "max": float("nan"), "n": 0}
    return {"median": statistics.median(clean), "min": min(clean), "max": max(clean), "n": len(clean)}


def fmt_spread(s: dict[str, float], digits: int = 0, scale: float = 1.0, pct: bool = False) -> str:
    """`median (min..max)` with thousands separators, or as percentages."""
    if not s.get("n"):
        return "n/a"
    if pct:
        scale, unit = 100.0, "%"
    else:
        unit = ""
    median, low, high = (f"{s[k] * scale:,.{digits}f}" for k in ("median", "min", "max"))
    return f"{median}{unit} ({low}..{high})" if s["n"] > 1 else f"{median}{unit}"


@dataclass
class Target:
    """One checked target: `value` must be >= `limit` (or <= when `at_most`); `issue22` names it in the
    issue-22 summary table (bench/issue22.py) when it is one of those ratios."""

    name: str
    value: float
    limit: float
    unit: str
    at_most: bool = False
    issue22: str = ""

    @property
    def met(self) -> bool:
        if self.value != self.value:
            return False
        return self.value <= self.limit if self.at_most else self.value >= self.limit

    @property
    def measured(self) -> bool:
        """False when the benchmark could not measure it (value NaN: e.g. no k6 binary); it is then a MISS."""
        return self.value == self.value

    def line(self) -> str:
        op = "<=" if self.at_most else ">="
        value = f"{_num(self.value)} {self.unit}" if self.measured else "not measured"
        return f"{'PASS' if self.met else 'MISS'}  {self.name}: {value} (target {op} {_num(self.limit)})"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "limit": self.limit,
            "unit": self.unit,
            "at_most": self.at_most,
            "met": self.met,
            "issue22": self.issue22,
        }


def _num(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"


def table_lines(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A plain aligned text table: header, rule, rows (trailing blanks stripped)."""
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=False)]
    lines = [
        "  ".join(str(h).ljust(w) for h, w in zip(header, widths, strict=False)),
        "  ".join("-" * w for w in widths),
    ]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)) for row in rows]
    return [line.rstrip() for line in lines]


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """A plain aligned text table under `title`."""
    print(f"\n{title}")
    for line in table_lines(header, rows):
        print(line)


def merge_results(entries: dict[str, Any], path: Path = RESULTS) -> None:
    """Write `entries` (top-level keys) into `path`, keeping the other keys already there."""
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict):
            data = {}
    except (OSError, ValueError):
        data = {}
    data.update(entries)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True, default=float) + "\n")


def run_main(
    argv: list[str] | None,
    doc: str | None,
    run: Callable[[bool, int | None, float | None], tuple[dict[str, Any], list[Target]]],
    key: str,
    helps: tuple[str, str, str],
) -> int:
    """The command line every run(quick, repeats, run_time) benchmark shares: run, print targets, record under
    `key`; `helps` says what --quick, --repeats and --run-time mean for it."""
    quick_help, repeats_help, run_time_help = helps
    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--repeats", type=int, default=None, help=repeats_help)
    parser.add_argument("--run-time", type=float, default=None, help=run_time_help)
    parser.add_argument("--no-write", action="store_true", help="do not update bench/results.json")
    args = parser.parse_args(argv)
    entry, targets = run(args.quick, args.repeats, args.run_time)
    for target in targets:
        print(target.line())
    if not args.no_write:
        merge_results({key: entry})
    return 0


def load_client_parser(doc: str | None) -> argparse.ArgumentParser:
    """The options of a bare load client (bench/ceiling.py, bench/native_client.py): where, how much, how long."""
    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    parser.add_argument("--url", required=True, help="ws://127.x.x.x:PORT/ of the server")
    parser.add_argument("--connections", type=int, default=4, help="connections (default %(default)s)")
    parser.add_argument("--in-flight", type=int, default=100, help="calls outstanding per connection")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load from start (bounded)")
    parser.add_argument("--csv", required=True, help="where to write the counters, once a second")
    return parser
