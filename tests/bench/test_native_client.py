"""The native client: its frame encoder against websocket-client's own masking, and a tiny real run (no timing)."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest
from websocket import ABNF

from bench.common import COUNTER_COLUMNS, clean_env, mint_token, reference_server
from bench.native_client import masked_text_frames

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


@pytest.mark.parametrize(("connections", "in_flight"), [(2, 10), (3, 1)])
def test_native_client_counts_agree_with_the_server(tmp_path: Path, connections: int, in_flight: int) -> None:
    counters_csv = tmp_path / "native.csv"
    with reference_server("--workers", "1") as server:
        done = run_native(
            server.url,
            mint_token(server.jwt_secret),
            "--connections", str(connections), "--in-flight", str(in_flight), "--duration", "1.5",
            csv_path=counters_csv,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        stats = server.wait_stats(lambda s: s["connections_closed"] == connections, timeout=30)
    with counters_csv.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == list(COUNTER_COLUMNS)
    last = rows[-1]
    assert int(last["calls_sent"]) == int(last["calls_ok"]) > 0 and int(last["calls_in_flight"]) == 0
    assert int(last["hellos_ok"]) == connections and int(last["connections_open"]) == 0
    assert stats["calls_received"] == stats["results_ok"] == int(last["calls_ok"])
    assert "0 unknown ids" in done.stdout


def test_native_client_refuses_bad_options_before_connecting(tmp_path: Path) -> None:
    remote = run_native("ws://example.com/", "tok", csv_path=tmp_path / "x.csv")
    assert remote.returncode == 2 and "loopback" in remote.stderr and "Traceback" not in remote.stderr
    no_token = run_native("ws://127.0.0.1:9/", "", csv_path=tmp_path / "x.csv")
    assert no_token.returncode == 2 and "BENCH_TOKEN" in no_token.stderr
    assert not (tmp_path / "x.csv").exists()
    refused = run_native("ws://127.0.0.1:9/", "tok", "--duration", "1", csv_path=tmp_path / "x.csv")
    assert refused.returncode == 1 and "cannot connect" in refused.stderr and "Traceback" not in refused.stderr
    assert "tok" not in refused.stderr + refused.stdout
