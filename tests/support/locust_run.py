"""Run the locustfile headless in a subprocess and read back its CSVs, for integration tests."""

from __future__ import annotations

import csv
import os
import socket
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on `host` right now (loopback by default)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def secret_env(server: Any) -> dict[str, str]:
    """The environment a Locust process needs to mint tokens for `server` (a RunningServer)."""
    return {"LOCUST_JWT_SECRET": server.jwt_secret or ""}


def ws_numbers(row: dict[str, str]) -> dict[str, float]:
    """A PREFIX_ws.csv row without its stage name, as numbers."""
    return {k: float(v) for k, v in row.items() if k != "stage"}


@dataclass(frozen=True)
class NameStats:
    """One row of PREFIX_stats.csv."""

    requests: int
    failures: int
    median_ms: float
    p99_ms: float


@dataclass(frozen=True)
class LocustRun:
    """What a finished headless run left behind."""

    returncode: int
    output: str
    stats: dict[str, NameStats]
    failures: Counter[tuple[str, str]]
    ws_rows: list[dict[str, str]]
    files: list[Path]

    @property
    def ws_final(self) -> dict[str, float]:
        """The last PREFIX_ws.csv row, as numbers (counters are whole)."""
        return ws_numbers(self.ws_rows[-1])

    def calls(self, prefix: str = "call_tool:") -> tuple[int, int]:
        """(requests, failures) summed over the call_tool names."""
        rows = [s for name, s in self.stats.items() if name.startswith(prefix)]
        return sum(r.requests for r in rows), sum(r.failures for r in rows)


def ledger_closes(result: LocustRun) -> dict[str, float]:
    """The last ws.csv row closes the ledger (sent = ok + failed + timeout + lost, nothing in flight) and equals
    Locust's call_tool counts; returns that row."""
    ws = result.ws_final
    assert ws["calls_in_flight"] == 0, ws
    assert ws["calls_sent"] == ws["calls_ok"] + ws["calls_failed"] + ws["calls_timeout"] + ws["calls_lost"]
    requests, failures = result.calls()
    assert requests == ws["calls_sent"], (requests, ws["calls_sent"])
    assert failures == ws["calls_failed"] + ws["calls_timeout"] + ws["calls_lost"]
    return ws


def headless_command(prefix: Path, host: str, *args: str, users: int = 4, run_time: str = "3s") -> list[str]:
    """`locust -f locustfile.py --headless ...` against `host`, CSVs at `prefix`."""
    return [
        sys.executable, "-m", "locust", "-f", str(ROOT / "locustfile.py"), "--headless",
        "-u", str(users), "-r", str(users), "-t", run_time, "-H", host, "--csv", str(prefix),
        "--only-summary", "--exit-code-on-error", "0", *args,
    ]  # fmt: skip


def run_locust(
    out_dir: Path,
    host: str,
    *args: str,
    env: dict[str, str] | None = None,
    users: int = 4,
    run_time: str = "3s",
    timeout_s: float = 90.0,
) -> LocustRun:
    """Run `locust -f locustfile.py --headless` against `host`; bounded by `run_time` and `timeout_s`."""
    prefix = out_dir / "run"
    command = headless_command(prefix, host, *args, users=users, run_time=run_time)
    full_env = {**os.environ, **(env or {})}
    done = subprocess.run(
        command, cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=timeout_s, check=False
    )
    return read_run(prefix, done.returncode, done.stdout + done.stderr)


def read_run(prefix: Path, returncode: int, output: str) -> LocustRun:
    """The CSVs a run left at PREFIX (the master's, in a distributed run)."""
    stats: dict[str, NameStats] = {}
    failures: Counter[tuple[str, str]] = Counter()
    ws_rows: list[dict[str, str]] = []
    stats_file = Path(f"{prefix}_stats.csv")
    if stats_file.exists():
        with stats_file.open(newline="") as f:
            for row in csv.DictReader(f):
                stats[row["Name"]] = NameStats(
                    int(row["Request Count"]),
                    int(row["Failure Count"]),
                    float(row["Median Response Time"]),
                    float(row["99%"]) if row["99%"] != "N/A" else float("nan"),
                )
        with Path(f"{prefix}_failures.csv").open(newline="") as f:
            for row in csv.DictReader(f):
                failures[(row["Name"], row["Error"])] += int(row["Occurrences"])
    ws_file = Path(f"{prefix}_ws.csv")
    if ws_file.exists():
        with ws_file.open(newline="") as f:
            ws_rows = list(csv.DictReader(f))
    return LocustRun(returncode, output, stats, failures, ws_rows, sorted(prefix.parent.iterdir()))


def terminate(process: subprocess.Popen[Any], grace_s: float = 15.0) -> None:
    """SIGTERM `process` and wait for it; SIGKILL after `grace_s`."""
    process.terminate()
    try:
        process.wait(grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)
