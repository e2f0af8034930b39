"""The native client: its frame encoder against websocket-client's own masking, and a tiny real run (no timing)."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest
from websocket import ABNF

from bench.common import clean_env, mint_token, reference_server
from bench.native_client import COLUMNS, LATE_AFTER_S, Counters, OpenSchedule, masked_text_frames

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.timeout(120)


def parse_client_frames(data: bytes) -> list[tuple[int, bytes]]:
    """(first byte, unmasked payload) of each masked client frame in `data`, unmasked by websocket-client."""
    frames = []
    i = 0
    while i < len(data):
        first, second = data[i], data[i + 1]
        assert second & 0x80, "client frames must be masked"
        size, i = second & 0x7F, i + 2
        if size == 126:
            size, i = int.from_bytes(data[i : i + 2], "big"), i + 2
        elif size == 127:
            size, i = int.from_bytes(data[i : i + 8], "big"), i + 8
        key, i = data[i : i + 4], i + 4
        frames.append((first, ABNF.mask(key, data[i : i + size])))
        i += size
    return frames


def test_masked_text_frames_round_trip_every_length_form() -> None:
    payloads = [b"", b"x", b'{"op":"call_tool"}', b"a" * 125, b"b" * 126, b"c" * 65535, b"d" * 65536]
    frames = parse_client_frames(masked_text_frames(payloads))
    assert frames == [(0x81, p) for p in payloads]


def test_masked_text_frames_use_a_fresh_key_per_frame() -> None:
    data = masked_text_frames([b"same payload"] * 8)
    keys = {data[i + 2 : i + 6] for i in range(0, len(data), len(data) // 8)}
    assert len(keys) > 1


def test_open_schedule_gives_each_call_at_its_intended_time_once() -> None:
    schedule = OpenSchedule(rate=1000, start=100.0)  # one call every ms: 100.000, 100.001, ...
    assert schedule.take(99.9) == (0, 0, 0.0)
    count, late, lag_ms = schedule.take(100.0)
    assert (count, late, lag_ms) == (1, 0, 0.0)
    assert schedule.take(100.0) == (0, 0, 0.0)  # nothing twice
    count, late, lag_ms = schedule.take(100.0035)  # 100.001 .. 100.003 due
    assert (count, late) == (3, 0) and lag_ms == pytest.approx(2.5)
    assert schedule.next_due() == pytest.approx(100.004)


def test_open_schedule_counts_calls_more_than_10_ms_behind_as_late() -> None:
    schedule = OpenSchedule(rate=1000, start=0.0)
    schedule.take(0.0)  # the first call, on time
    count, late, lag_ms = schedule.take(0.0255)  # calls at 1 .. 25 ms; those before 15.5 ms are > 10 ms behind
    assert count == 25 and late == 15 and lag_ms == pytest.approx(24.5)
    assert LATE_AFTER_S == 0.010
    count, late, _ = schedule.take(0.0305)  # 26 .. 30 ms: none more than 10 ms behind
    assert (count, late) == (5, 0)
    count, late, lag_ms = schedule.take(10.0)  # a stall: every call of 31 ms .. 10 s still due, those < 9.99 s late
    assert (count, late) == (10_001 - 31, 9_990 - 31) and lag_ms == pytest.approx(10_000 - 31)
    with pytest.raises(ValueError):
        OpenSchedule(rate=0, start=0.0)


def test_counters_rows_report_the_worst_lag_since_the_last_row() -> None:
    counters = Counters()
    counters.schedule_lag_ms, counters.calls_sent_late, counters.rate_target = 12.5, 3, 10_000.0
    first = dict(zip(COLUMNS, counters.row(101.0, 100.0), strict=True))
    assert (first["schedule_lag_ms"], first["calls_sent_late"], first["rate_target"]) == ("12.500", 3, "10000")
    second = dict(zip(COLUMNS, counters.row(102.0, 100.0), strict=True))
    assert second["schedule_lag_ms"] == "0.000" and second["calls_sent_late"] == 3


def run_native(url: str, token: str, *extra: str, csv_path: Path) -> subprocess.CompletedProcess[str]:
    env = clean_env(BENCH_TOKEN=token) if token else {k: v for k, v in clean_env().items() if k != "BENCH_TOKEN"}
    return subprocess.run(
        [sys.executable, "-m", "bench.native_client", "--url", url, "--csv", str(csv_path), *extra],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("connections", "load"), [(2, ("--in-flight", "10")), (3, ("--in-flight", "1")), (3, ("--rate", "300"))]
)
def test_native_client_counts_agree_with_the_server(tmp_path: Path, connections: int, load: tuple[str, str]) -> None:
    counters_csv = tmp_path / "native.csv"
    with reference_server("--workers", "1") as server:
        done = run_native(
            server.url,
            mint_token(server.jwt_secret),
            "--connections", str(connections), *load, "--duration", "1.5",
            csv_path=counters_csv,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        stats = server.wait_stats(lambda s: s["connections_closed"] == connections, timeout=30)
    with counters_csv.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == list(COLUMNS)
    last = rows[-1]
    assert int(last["calls_sent"]) == int(last["calls_ok"]) > 0 and int(last["calls_in_flight"]) == 0
    assert int(last["hellos_ok"]) == connections and int(last["connections_open"]) == 0
    assert stats["calls_received"] == stats["results_ok"] == int(last["calls_ok"])
    assert "0 unknown ids" in done.stdout
    if load[0] == "--rate":  # 300 calls/s for 1.5 s, paced: about 450 sent, rate_target set while pacing only
        assert 300 <= int(last["calls_sent"]) <= 460 and int(last["calls_skipped"]) == 0
        assert any(float(r["rate_target"]) == 300 for r in rows) and float(last["rate_target"]) == 0
        assert 0 <= int(last["calls_sent_late"]) <= int(last["calls_sent"])


def test_native_client_refuses_bad_options_before_connecting(tmp_path: Path) -> None:
    remote = run_native("ws://example.com/", "tok", csv_path=tmp_path / "x.csv")
    assert remote.returncode == 2 and "loopback" in remote.stderr and "Traceback" not in remote.stderr
    no_token = run_native("ws://127.0.0.1:9/", "", csv_path=tmp_path / "x.csv")
    assert no_token.returncode == 2 and "BENCH_TOKEN" in no_token.stderr
    assert not (tmp_path / "x.csv").exists()
    refused = run_native("ws://127.0.0.1:9/", "tok", "--duration", "1", csv_path=tmp_path / "x.csv")
    assert refused.returncode == 1 and "cannot connect" in refused.stderr and "Traceback" not in refused.stderr
    assert "tok" not in refused.stderr + refused.stdout
