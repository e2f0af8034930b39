"""Start a Locust master and workers as separate processes (optionally inside network namespaces), read the result.

Every process is bounded: the master ends by itself (plan or --run-time) and
is killed after `timeout_s`; workers end on the master's quit message and are
killed after a short grace otherwise.
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.locust_run import ROOT, LocustRun, free_port, read_run

WORKER_GRACE_S = 20.0


def locust_command(*args: str) -> list[str]:
    """`python -m locust -f locustfile.py ARGS` with this interpreter."""
    return [sys.executable, "-m", "locust", "-f", str(ROOT / "locustfile.py"), *args]


@dataclass
class Process:
    """A started process whose output goes to a log file."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait(self, timeout_s: float) -> int:
        """Wait for exit; SIGKILL after `timeout_s`. Returns the exit code."""
        try:
            return self.popen.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(5)
            raise

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait(5)


def start_process(name: str, command: Sequence[str], log_dir: Path, env: dict[str, str] | None = None,
                  wrap: Sequence[str] = ()) -> Process:  # fmt: skip
    """Start `wrap + command` (e.g. `ip netns exec NS`) with its output in LOG_DIR/NAME.log."""
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as log:
        popen = subprocess.Popen(
            [*wrap, *command],
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return Process(name, popen, log_path)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


@dataclass
class DistributedRun:
    """A finished master + workers run."""

    result: LocustRun
    master: Process
    workers: list[Process]
    prefix: Path
    worker_codes: list[int | None] = field(default_factory=list)

    @property
    def master_log(self) -> str:
        return self.master.log()

    def workers_csv(self) -> list[dict[str, str]]:
        return read_csv(Path(f"{self.prefix}_workers.csv"))


@dataclass
class Cluster:
    """A master and its workers, started by `start` and finished by `finish`."""

    out_dir: Path
    host: str
    master_args: Sequence[str]
    env: dict[str, str]
    workers: int = 2
    master_bind: str = "127.0.0.1"
    master_port: int = 0
    master_wrap: Sequence[str] = ()
    worker_wraps: Sequence[Sequence[str]] = ()
    headless: bool = True
    master_env: dict[str, str] | None = None
    """The master's environment when it differs from the workers' (`env`)."""
    started: list[Process] = field(default_factory=list)

    @property
    def prefix(self) -> Path:
        return self.out_dir / "run"

    def start_master(self) -> Process:
        self.master_port = self.master_port or free_port()
        headless = ["--headless", "--expect-workers", str(self.workers), "--csv", str(self.prefix),
                    "--only-summary", "--exit-code-on-error", "0"] if self.headless else []  # fmt: skip
        command = locust_command(
            "--master", "--master-bind-host", self.master_bind, "--master-bind-port", str(self.master_port),
            "-H", self.host, *headless, *self.master_args,
        )  # fmt: skip
        env = self.env if self.master_env is None else self.master_env
        master = start_process("master", command, self.out_dir, env, self.master_wrap)
        self.started.append(master)
        return master

    def start_worker(self, index: int, *extra: str) -> Process:
        wrap = self.worker_wraps[index] if index < len(self.worker_wraps) else ()
        command = locust_command(
            "--worker", "--master-host", self.master_bind, "--master-port", str(self.master_port), *extra
        )
        worker = start_process(f"worker{index}", command, self.out_dir, self.env, wrap)
        self.started.append(worker)
        return worker

    def run(self, timeout_s: float = 60.0, worker_args: Sequence[str] = ()) -> DistributedRun:
        """Start the master and every worker, wait for the master to end the run by itself."""
        master = self.start_master()
        workers = [self.start_worker(i, *worker_args) for i in range(self.workers)]
        return self.finish(master, workers, timeout_s)

    def finish(self, master: Process, workers: list[Process], timeout_s: float) -> DistributedRun:
        try:
            code = master.wait(timeout_s)
            codes: list[int | None] = []
            for worker in workers:
                try:
                    codes.append(worker.wait(WORKER_GRACE_S))
                except subprocess.TimeoutExpired:
                    codes.append(None)
        finally:
            self.stop_all()
        result = read_run(self.prefix, code, master.log())
        return DistributedRun(result, master, workers, self.prefix, codes)

    def stop_all(self) -> None:
        """Kill whatever is still running (tests end with no process of theirs left)."""
        for process in self.started:
            process.kill()


def wait_for(predicate, timeout_s: float, what: str, interval_s: float = 0.1) -> None:  # type: ignore[no-untyped-def]
    """Poll `predicate` until true; AssertionError naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(interval_s)
