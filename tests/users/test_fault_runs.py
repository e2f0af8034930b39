"""Whole Locust runs against failing servers: each failure is reported clearly, users retry, the run goes on."""

from __future__ import annotations

import datetime
import shutil
import subprocess
import sys
import time
from pathlib import Path

import gevent
import jwt
import psutil
import pytest
import trustme

from reference_server.launcher import RunningServer, start_reference_server
from tests.support.locust_run import ROOT, LocustRun, free_port, ledger_closes, run_locust, ws_numbers


def connect_errors(result: LocustRun) -> dict[str, int]:
    return {error: n for (name, error), n in result.failures.items() if name == "connect"}


def test_refused_connections_are_retried_with_backoff_and_the_run_goes_on(tmp_path: Path) -> None:
    result = run_locust(tmp_path, f"ws://127.0.0.1:{free_port()}/", env={"LOCUST_JWT_SECRET": "s" * 32}, users=2)
    assert result.returncode == 0, result.output[-2000:]
    errors = connect_errors(result)
    assert list(errors) == ["connect_failed: ConnectionRefusedError: Connection refused"]
    assert errors[list(errors)[0]] > 4  # retried, not given up: 2 users over 3 s with backoff from 0.1 s
    assert result.ws_final["connect_failures"] == sum(errors.values())
    assert result.calls() == (0, 0)


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs util-linux unshare")
def test_dns_failure_is_a_clear_connect_failure(tmp_path: Path) -> None:
    # In a fresh network namespace no name server is reachable, so the lookup fails here, sending nothing out.
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"cannot create a network namespace here: {probe.stderr.decode().strip()}")
    prefix = tmp_path / "run"
    command = (
        f"ip link set lo up && exec {sys.executable} -m locust -f locustfile.py --headless -u 2 -r 2 -t 2s "
        f"-H ws://no-such-host.invalid:8079/ --csv {prefix} --only-summary --exit-code-on-error 0"
    )
    done = subprocess.run(
        ["unshare", "-n", "sh", "-c", command],
        cwd=ROOT,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LOCUST_JWT_SECRET": "s" * 32},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    failures = Path(f"{prefix}_failures.csv").read_text()
    assert "connect_failed: gaierror: " in failures, failures


@pytest.mark.parametrize("status", [401, 403, 500])
def test_rejected_handshakes_name_the_status(tmp_path: Path, status: int) -> None:
    with start_reference_server("--fault-handshake-status", str(status)) as server:
        result = run_locust(tmp_path, server.url, env={"LOCUST_JWT_SECRET": server.jwt_secret or ""}, users=2)
        stats = server.stats()
    assert result.returncode == 0
    errors = connect_errors(result)
    assert list(errors) == [f"connect_failed: HTTP {status}"]
    assert stats["handshakes_refused"] == {str(status): sum(errors.values())}


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A private CA and three server certificates: good, wrong host name, expired."""
    folder = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=30)
    certs = {
        "good": ca.issue_cert("127.0.0.1", "localhost"),
        "wrong_host": ca.issue_cert("service.example.test"),
        "expired": ca.issue_cert("127.0.0.1", not_before=past, not_after=past + datetime.timedelta(days=1)),
    }
    paths = {"ca": folder / "ca.pem"}
    for name, cert in certs.items():
        cert.cert_chain_pems[0].write_to_path(str(folder / f"{name}.crt"))
        cert.private_key_pem.write_to_path(str(folder / f"{name}.key"))
        paths[name] = folder / name
    return paths


def run_tls(tmp_path: Path, tls: dict[str, Path], cert: str, *args: str) -> tuple[LocustRun, RunningServer]:
    with start_reference_server("--tls-cert", f"{tls[cert]}.crt", "--tls-key", f"{tls[cert]}.key") as server:
        assert server.url.startswith("wss://")
        result = run_locust(tmp_path, server.url, *args, env={"LOCUST_JWT_SECRET": server.jwt_secret or ""}, users=2)
    assert result.returncode == 0, result.output[-2000:]
    return result, server


def test_wss_verifies_against_a_private_ca(tmp_path: Path, tls: dict[str, Path]) -> None:
    result, _ = run_tls(tmp_path, tls, "good", "--ca-file", str(tls["ca"]))
    assert result.calls()[0] > 100 and not result.failures
    ledger_closes(result)


@pytest.mark.parametrize(
    ("cert", "reason"),
    [
        ("good", "unable to get local issuer certificate"),  # the private CA is not trusted
        ("wrong_host", "IP address mismatch, certificate is not valid for '127.0.0.1'."),
        ("expired", "certificate has expired"),
    ],
)
def test_tls_failures_are_clear(tmp_path: Path, tls: dict[str, Path], cert: str, reason: str) -> None:
    args = () if cert == "good" else ("--ca-file", str(tls["ca"]))
    result, _ = run_tls(tmp_path, tls, cert, *args)
    errors = connect_errors(result)
    assert len(errors) == 1, errors
    message = next(iter(errors))
    assert message.startswith("connect_failed: SSLCertVerificationError: ") and reason in message, message
    assert result.calls() == (0, 0)


def test_insecure_opt_out_connects_and_warns_once(tmp_path: Path, tls: dict[str, Path]) -> None:
    result, _ = run_tls(tmp_path, tls, "wrong_host", "--insecure")
    assert result.calls()[0] > 100 and not result.failures
    assert result.output.count("--insecure: TLS certificates are NOT verified") == 1


def test_server_restart_mid_run_loses_nothing_from_the_counts(tmp_path: Path) -> None:
    port = free_port()
    secret = "restart-test-secret-" + "x" * 20
    users = 3
    runner = gevent.spawn(
        run_locust, tmp_path, f"ws://127.0.0.1:{port}/", "--in-flight", "4", "--tools", 'echo:4,sleep:1={"ms":200}',
        env={"LOCUST_JWT_SECRET": secret}, users=users, run_time="16s",
    )  # fmt: skip
    with start_reference_server("--port", str(port), jwt_secret=secret) as first:
        first.wait_stats(lambda s: s["hello_ok"] >= users, timeout=20)  # every user connected once
        gevent.sleep(1.5)
        tree = [psutil.Process(first.process.pid), *psutil.Process(first.process.pid).children(recursive=True)]
        for process in tree:
            process.kill()  # a crash, not a graceful shutdown
    gevent.sleep(2.0)  # at least one whole one-second metrics row falls inside the outage
    with start_reference_server("--port", str(port), jwt_secret=secret) as second:
        result = runner.get(timeout=60)
        after = second.stats()
    assert result.returncode == 0, result.output[-2000:]
    ws = ledger_closes(result)
    assert ws["calls_lost"] > 0  # the slow calls in flight at the crash
    assert ws["reconnects"] == users and ws["connect_failures"] > 0, ws
    assert after["hello_ok"] == ws["reconnects"]
    rows = [ws_numbers(r) for r in result.ws_rows]
    ok_per_row = [after["calls_ok"] - before["calls_ok"] for before, after in zip(rows, rows[1:], strict=False)]
    assert min(ok_per_row[1:-1]) < 0.1 * max(ok_per_row)  # the outage shows as a gap ...
    assert ok_per_row[-2] > 0.5 * max(ok_per_row)  # ... and the rate came back


def test_a_share_of_users_with_bad_tokens_fails_hello_and_the_rest_work(tmp_path: Path) -> None:
    with start_reference_server() as server:
        result = run_locust(
            tmp_path, server.url, "--bad-token-fraction", "0.5", env={"LOCUST_JWT_SECRET": server.jwt_secret or ""}
        )
        stats = server.stats()
    hello = result.stats["hello"]
    assert result.failures[("hello", "invalid_token")] == hello.failures == stats["hello_refused"]["invalid_token"]
    assert stats["hello_ok"] == 2  # 2 of the 4 users, chosen by slot
    assert result.calls()[0] > 100 and result.calls()[1] == 0


def test_tokens_are_refreshed_on_reconnect_before_they_expire(tmp_path: Path) -> None:
    with start_reference_server() as server:
        result = run_locust(
            tmp_path, server.url, "--scenario", "reconnect", "--stage-duration", "6s", "--storm-interval", "1.5s",
            "--jwt-ttl", "3", "-r", "100", env={"LOCUST_JWT_SECRET": server.jwt_secret or ""}, users=2, run_time="20s",
        )  # fmt: skip
        stats = server.stats()
    assert result.ws_final["tokens_minted"] >= 2  # 3 s tokens over a 6 s run
    assert "token_expired" not in str(result.failures) and stats["hello_refused"] == {}
    assert stats["hello_ok"] == result.stats["hello"].requests >= 2 + 6
    ledger_closes(result)


def test_an_expired_static_token_fails_with_its_code(tmp_path: Path) -> None:
    with start_reference_server() as server:
        now = int(time.time())
        token = jwt.encode(
            {"sub": "x", "iat": now - 60, "exp": now - 30, "scope": ["tools:*"]}, server.jwt_secret or ""
        )
        result = run_locust(tmp_path, server.url, env={"LOCUST_TOKEN": token}, users=2, run_time="2s")
    assert set(error for (name, error) in result.failures if name == "hello") == {"token_expired"}


def test_calls_outside_the_token_scope_fail_as_forbidden_and_the_rest_work(tmp_path: Path) -> None:
    with start_reference_server() as server:
        result = run_locust(
            tmp_path, server.url, "--jwt-scope", "echo", "--tools", 'echo:1,sleep:1={"ms":1}',
            env={"LOCUST_JWT_SECRET": server.jwt_secret or ""}, users=2,
        )  # fmt: skip
        stats = server.stats()
    sleep, echo = result.stats["call_tool:sleep"], result.stats["call_tool:echo"]
    assert sleep.requests > 20 and sleep.failures == sleep.requests and echo.failures == 0
    assert result.failures[("call_tool:sleep", "forbidden")] == sleep.requests
    assert stats["results_error"] == {"forbidden": sleep.requests} and stats["results_ok"] == echo.requests
    ledger_closes(result)


@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_tokens_minted_with_a_private_key_pass_a_public_key_server(tmp_path: Path, kind: str) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    key = rsa.generate_private_key(65537, 2048) if kind == "rsa" else ec.generate_private_key(ec.SECP256R1())
    private, public = tmp_path / "key.pem", tmp_path / "public.pem"
    private.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    public.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with start_reference_server("--jwt-public-key", str(public)) as server:
        result = run_locust(tmp_path, server.url, "--jwt-private-key", str(private), users=2, run_time="2s")
        stats = server.stats()
    assert result.returncode == 0, result.output[-2000:]
    assert stats["hello_ok"] == 2 and stats["hello_refused"] == {}
    assert result.calls()[0] > 50 and not result.failures
    assert (
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        .decode()
        .splitlines()[1]
        not in result.output
    )
