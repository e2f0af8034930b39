"""Shared helpers for the analysis tests: fixture runs, hand-built CSVs, PNG decoding."""

from __future__ import annotations

import shutil
import struct
import subprocess
import sys
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"
"""Real short runs: fast (echo), slow (sleep 5 ms), errors (echo + fail + sleep), nofull (no --csv-full-history),
stages (a plan), rate (--scenario sustained,rate --rate 300 --stage-duration 7s -u 4 -r 4 -t 14s)."""

ROOT = Path(__file__).resolve().parents[2]

WS_HEADER = (
    "timestamp,elapsed_s,stage,calls_sent,calls_ok,calls_failed,calls_timeout,calls_lost,calls_in_flight,"
    "calls_late_results,calls_unknown_results,messages_sent,messages_received,bytes_sent,bytes_received,"
    "connects,reconnects,connect_failures,disconnects,connections_open,hellos_ok,hellos_refused,"
    "pushes_received,protocol_errors"
)

STATS_HEADER = (
    "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,"
    "Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%"
)

HISTORY_HEADER = (
    "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%,"
    "Total Request Count,Total Failure Count,Total Median Response Time,Total Average Response Time,"
    "Total Min Response Time,Total Max Response Time,Total Average Content Size"
)


def copy_run(name: str, dest: Path) -> Path:
    """Copy fixture run `name` into `dest`; returns its prefix (dest/run)."""
    dest.mkdir(parents=True, exist_ok=True)
    for path in (FIXTURES / name).glob("run_*.csv"):
        shutil.copy(path, dest / path.name)
    return dest / "run"


def ws_row(elapsed: float, stage: str = "", start: float = 1_800_000_000.0, **counters: int) -> str:
    """One PREFIX_ws.csv line; counters not given are 0."""
    names = WS_HEADER.split(",")[3:]
    values = [str(counters.get(n, 0)) for n in names]
    return ",".join([f"{start + elapsed:.3f}", f"{elapsed:.3f}", stage, *values])


def write_ws(prefix: Path, rows: list[str], header: str = WS_HEADER) -> Path:
    """Write PREFIX_ws.csv from lines made by `ws_row`."""
    path = Path(f"{prefix}_ws.csv")
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk; fails unless `data` starts like a PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG signature"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    return struct.unpack(">II", data[16:24])


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m analysis ARGS` in the project root."""
    return subprocess.run(
        [sys.executable, "-m", "analysis", *args], cwd=ROOT, capture_output=True, text=True, env=env, timeout=120
    )
