"""The churn bench: the native churn client's counts against the server's (a tiny real run), its steady window."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from bench.bench_churn import steady_churn
from bench.common import clean_env, mint_token, read_counter_rows, reference_server

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.timeout(120)


def test_native_sessions_are_connect_hello_calls_close_and_the_server_counts_the_same(tmp_path: Path) -> None:
    counters = tmp_path / "native-churn.csv"
    with reference_server("--workers", "1") as server:
        done = subprocess.run(
            [sys.executable, "-m", "bench.native_churn", "--url", server.url, "--connections", "4",
             "--session-calls", "3", "--duration", "1.5", "--csv", str(counters)],
            cwd=ROOT, env=clean_env(BENCH_TOKEN=mint_token(server.jwt_secret)), capture_output=True, text=True,
            timeout=60,
        )  # fmt: skip
        stats = server.wait_stats(lambda s: s["connections_closed"] == s["connections_opened"])
    assert done.returncode == 0, done.stderr
    final = list(csv.DictReader(counters.open()))[-1]
    sessions = int(final["sessions"])
    assert sessions > 10
    assert stats["connections_opened"] == int(final["connects"]) == sessions == stats["hello_ok"]
    assert stats["calls_received"] == int(final["calls_ok"]) == 3 * sessions


def test_the_steady_window_leaves_out_the_warm_up_and_the_stop(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text(
        "timestamp,elapsed_s,sessions\n100.0,0.5,10\n101.0,1.5,500\n102.0,2.5,1500\n103.0,3.5,2600\n"
        "104.0,4.5,3700\n105.0,5.4,4000\n"
    )
    assert steady_churn(read_counter_rows(path), 5.0, 1.0) == (101.0, 103.0, 2100.0)
    start, _, sessions = steady_churn(read_counter_rows(path), 2.0, 1.0)  # fewer than two rows inside
    assert start != start and sessions != sessions
