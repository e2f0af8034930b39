"""The churn bench over wss://: both clients resume TLS sessions or not as the bench says, by the server's count
(tiny real runs against a reference server with a private CA's certificate), and the check of those counts."""

from __future__ import annotations

import csv
import subprocess
import sys
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from bench.bench_throughput import LOCUSTFILE
from bench.churn_tls import NO_RESUME_LOCUSTFILE, certificate, resumption_as_expected
from bench.common import clean_env, locust_command, mint_token, reference_server
from bench.native_churn import main as native_churn_main
from reference_server.launcher import RunningServer
from run_files import WS_CSV, run_file

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return certificate(tmp_path_factory.mktemp("tls"))


def tls_server(tls: dict[str, Path]) -> AbstractContextManager[RunningServer]:
    return reference_server("--workers", "1", "--tls-cert", str(tls["cert"]), "--tls-key", str(tls["key"]))


@pytest.mark.parametrize("resume", [True, False])
def test_native_churn_over_tls_resumes_unless_told_not_to_and_counts_as_the_server(
    tls: dict[str, Path], tmp_path: Path, resume: bool
) -> None:
    counters = tmp_path / "native.csv"
    with tls_server(tls) as server:
        done = subprocess.run(
            [sys.executable, "-m", "bench.native_churn", "--url", server.url, "--connections", "3",
             "--session-calls", "1", "--duration", "1.5", "--csv", str(counters), "--ca-file", str(tls["ca"]),
             *([] if resume else ["--no-tls-resume"])],
            cwd=ROOT, env=clean_env(BENCH_TOKEN=mint_token(server.jwt_secret)), capture_output=True, text=True,
            timeout=60,
        )  # fmt: skip
        stats = server.wait_stats(lambda s: s["connections_closed"] == s["connections_opened"])
    assert done.returncode == 0, done.stderr
    final = list(csv.DictReader(counters.open()))[-1]
    connects, resumed = int(final["connects"]), int(final["tls_resumed"])
    assert connects > 10 and stats["connections_opened"] == connects == int(final["sessions"]) == stats["hello_ok"]
    assert stats["tls_sessions_resumed"] == resumed
    assert resumption_as_expected(resume, connects, resumed, 3)


def test_the_native_churn_client_wants_a_ca_file_exactly_with_wss(tls: dict[str, Path]) -> None:
    for argv in (["--url", "wss://127.0.0.1:1/"], ["--url", "ws://127.0.0.1:1/", "--ca-file", str(tls["ca"])]):
        with pytest.raises(SystemExit) as exited:
            native_churn_main([*argv, "--csv", "/dev/null"])
        assert exited.value.code == 2


@pytest.mark.parametrize(("locustfile", "resume"), [(LOCUSTFILE, True), (NO_RESUME_LOCUSTFILE, False)])
def test_the_locust_user_resumes_and_the_bench_locustfile_does_not(
    tls: dict[str, Path], tmp_path: Path, locustfile: Path, resume: bool
) -> None:
    prefix = tmp_path / "locust"
    with tls_server(tls) as server:
        command = locust_command(
            locustfile, server.url, 2, 10, 2, prefix, "--session-calls", "1", "--ca-file", str(tls["ca"])
        )
        done = subprocess.run(
            command, cwd=ROOT, env=clean_env(LOCUST_JWT_SECRET=server.jwt_secret), capture_output=True, text=True,
            timeout=90,
        )  # fmt: skip
        stats = server.wait_stats(lambda s: s["connections_closed"] == s["connections_opened"])
    assert done.returncode == 0, done.stderr[-2000:]
    final = list(csv.DictReader(run_file(prefix, WS_CSV).open()))[-1]
    connects = int(final["connects"])
    assert connects > 10 and stats["connections_opened"] == connects
    assert resumption_as_expected(resume, connects, stats["tls_sessions_resumed"], 2)


def test_resumption_is_as_expected_when_all_but_one_connection_per_user_resumed_or_none_did() -> None:
    assert resumption_as_expected(True, 1000, 950, 50)
    assert resumption_as_expected(True, 1000, 1000, 50)
    assert not resumption_as_expected(True, 1000, 949, 50)  # more full handshakes than users
    assert not resumption_as_expected(True, 40, 40, 50)  # too few connections to tell
    assert resumption_as_expected(False, 1000, 0, 50)
    assert not resumption_as_expected(False, 1000, 1, 50)
