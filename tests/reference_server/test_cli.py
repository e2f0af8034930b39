"""The command line: bad options exit 2 with one clear line, the secret never shows, help for all."""

from __future__ import annotations

from pathlib import Path

import pytest

from reference_server.launcher import RunningServer, run_reference_server_cli

SECRET = "do-not-print-this-secret-0123456789abcdef"


def one_error_line(result) -> str:  # type: ignore[no-untyped-def]
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("reference_server: error: "), result.stderr
    return lines[0]


def test_missing_secret_and_key() -> None:
    line = one_error_line(run_reference_server_cli("--port", "0"))
    assert "REFERENCE_SERVER_JWT_SECRET" in line and "--jwt-public-key" in line


def test_unreadable_public_key(tmp_path: Path) -> None:
    missing = tmp_path / "missing.pem"
    assert str(missing) in one_error_line(run_reference_server_cli("--jwt-public-key", str(missing)))
    junk = tmp_path / "junk.pem"
    junk.write_text("-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n")
    assert "not a PEM public key" in one_error_line(run_reference_server_cli("--jwt-public-key", str(junk)))


@pytest.mark.parametrize(
    "args",
    [
        ["--port", "abc"],
        ["--workers", "0"],
        ["--hello-timeout", "-1"],
        ["--tls-cert", "only-cert.pem"],
        ["--max-message-bytes", "1"],
        ["--no-such-option", SECRET],
        ["--fault-delay-ms", "-5"],
        ["--fault-garbage-kind", "spam"],
        ["--fault-handshake-status", "200"],
    ],
)
def test_bad_values_never_echo_the_secret(args: list[str]) -> None:
    line = one_error_line(run_reference_server_cli("--jwt-secret", SECRET, *args, jwt_secret=SECRET))
    assert SECRET not in line


def test_help_describes_every_option() -> None:
    result = run_reference_server_cli("--help")
    assert result.returncode == 0
    for option in (
        "--host",
        "--port",
        "--metrics-port",
        "--workers",
        "--jwt-secret",
        "--jwt-public-key",
        "--jwt-audience",
        "--hello-timeout",
        "--max-message-bytes",
        "--shutdown-grace",
        "--tls-cert",
        "--tls-key",
        "--rate-limit",
        "--tool-timeout",
        "--stats-file",
        "--no-control",
        "--fault-delay-ms",
        "--fault-stall",
        "--fault-stall-hello",
        "--fault-garbage-fraction",
        "--fault-garbage-kind",
        "--fault-oversize-bytes",
        "--fault-drop-rate",
        "--fault-handshake-status",
        "--handshake-timeout",
        "--max-pending-handshakes",
        "--max-send-buffer-bytes",
        "--send-timeout",
        "--max-connections",
    ):
        assert option in result.stdout


def test_port_already_served_is_a_startup_error(server: RunningServer) -> None:
    # Even though workers use SO_REUSEPORT, a second server must not silently share the port.
    result = run_reference_server_cli("--port", str(server.port), "--metrics-port", "0", jwt_secret=SECRET)
    assert result.returncode == 1
    assert "cannot listen" in result.stderr and SECRET not in result.stderr
    assert result.stdout == ""


def test_bad_fault_value_names_the_option() -> None:
    line = one_error_line(run_reference_server_cli("--fault-garbage-fraction", "2", jwt_secret=SECRET))
    assert "--fault-garbage-fraction" in line and "between 0 and 1" in line
