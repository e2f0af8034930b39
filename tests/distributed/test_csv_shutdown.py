"""20 consecutive `--processes 2 --csv` runs (the issue's count) end without Locust's CSV writer writing to its closed files during shutdown."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reference_server.launcher import RunningServer
from tests.support.locust_run import ROOT

RUNS = 20
BUDGET_S = 700.0

pytestmark = pytest.mark.timeout(BUDGET_S + 60)


def test_repeated_processes_runs_with_csv_end_without_the_closed_file_traceback(
    tmp_path: Path, server: RunningServer
) -> None:
    env = {**os.environ, "LOCUST_JWT_SECRET": server.jwt_secret or ""}
    started = time.monotonic()
    for number in range(RUNS):
        if time.monotonic() - started > BUDGET_S:
            pytest.fail(f"only {number} runs in {BUDGET_S:.0f} s")
        prefix = tmp_path / str(number) / "run"
        command = [
            sys.executable, "-m", "locust", "-f", "locustfile.py", "--headless", "--processes", "2", "-u", "2",
            "-r", "2", "-t", "1s", "-H", server.url, "--csv", str(prefix), "--only-summary",
        ]  # fmt: skip
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
        output = done.stdout + done.stderr
        assert "I/O operation on closed file" not in output and "Unhandled exception" not in output, output[-3000:]
        assert "overwriting" not in output, "a fresh prefix: its workers' files are not an earlier run's"
        assert done.returncode == 0, output[-3000:]
        assert Path(f"{prefix}_stats.csv").stat().st_size > 0
