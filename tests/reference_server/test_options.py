"""options: defaults, derived values, and one-line errors that never show the secret."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import trustme
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from reference_server.faults import Faults
from reference_server.options import (
    FAULT_OPTIONS,
    OPTIONS,
    PROTOCOL_ENV,
    SECRET_ENV,
    Config,
    ConfigError,
    build_parser,
    parse_config,
    scrub,
    secret_values,
)

ENV = {SECRET_ENV: "env-secret-value-long-enough-0123456789"}


def test_defaults() -> None:
    config = parse_config([], ENV)
    assert (config.host, config.port, config.metrics_port, config.workers) == ("127.0.0.1", 8079, 8080, 1)
    assert config.hello_timeout_s == 10 and config.shutdown_grace_s == 5
    assert config.max_message_bytes == 1024 * 1024
    assert config.rate_limit is None and config.tool_timeout_s is None and config.stats_file is None
    assert config.verifier.algorithm == "HS256" and config.scheme == "ws"
    assert "env-secret" not in repr(config)
    assert config.handshake_timeout_s == 5 and config.max_pending_handshakes == 1024
    assert config.max_send_buffer_bytes == 8 * 1024 * 1024 and config.send_timeout_s == 10
    assert config.max_connections is None


def test_hardening_options() -> None:
    config = parse_config(
        [
            "--handshake-timeout",
            "0.5",
            "--max-pending-handshakes",
            "7",
            "--max-send-buffer-bytes",
            "65536",
            "--send-timeout",
            "2.5",
            "--max-connections",
            "3",
        ],
        ENV,
    )
    assert (config.handshake_timeout_s, config.max_pending_handshakes) == (0.5, 7)
    assert (config.max_send_buffer_bytes, config.send_timeout_s, config.max_connections) == (65536, 2.5, 3)


def test_metrics_port_follows_port() -> None:
    assert parse_config(["--port", "9000"], ENV).metrics_port == 9001
    assert parse_config(["--port", "0"], ENV).metrics_port == 0
    assert parse_config(["--port", "0", "--metrics-port", "9100"], ENV).metrics_port == 9100


def test_secret_from_command_line_wins_over_env() -> None:
    config = parse_config(["--jwt-secret", "cli-secret"], ENV)
    assert config.verifier.key == b"cli-secret"


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--port", "70000"], "--port"),
        (["--port", "x"], "--port"),
        (["--port", "9000", "--metrics-port", "9000"], "differ"),
        (["--workers", "0"], "--workers"),
        (["--hello-timeout", "0"], "--hello-timeout"),
        (["--hello-timeout", "nan"], "--hello-timeout"),
        (["--shutdown-grace", "-1"], "--shutdown-grace"),
        (["--max-message-bytes", "10"], "--max-message-bytes"),
        (["--rate-limit", "0"], "--rate-limit"),
        (["--tool-timeout", "-2"], "--tool-timeout"),
        (["--tls-cert", "cert.pem"], "go together"),
        (["--tls-cert", "/nonexistent/c.pem", "--tls-key", "/nonexistent/k.pem"], "TLS"),
        (["--jwt-public-key", "/nonexistent/key.pem"], "cannot read"),
        (["--stats-file", "/nonexistent/dir/stats.json"], "does not exist"),
        (["--bogus"], "unrecognized"),
        (["--jwt-sec", "x"], "unrecognized"),  # no abbreviations
        (["--fault-delay-ms", "-1"], "--fault-delay-ms"),
        (["--fault-delay-ms", "soon"], "--fault-delay-ms"),
        (["--fault-garbage-fraction", "1.5"], "--fault-garbage-fraction"),
        (["--fault-garbage-kind", "spam"], "--fault-garbage-kind"),
        (["--fault-oversize-bytes", "10"], "--fault-oversize-bytes"),
        (["--fault-drop-rate", "-3"], "--fault-drop-rate"),
        (["--fault-handshake-status", "302"], "--fault-handshake-status"),
        (["--fault-stall", "yes"], "unrecognized"),
        (["--handshake-timeout", "0"], "--handshake-timeout"),
        (["--handshake-timeout", "inf"], "--handshake-timeout"),
        (["--max-pending-handshakes", "0"], "--max-pending-handshakes"),
        (["--max-send-buffer-bytes", "1000"], "--max-send-buffer-bytes"),
        (["--send-timeout", "-1"], "--send-timeout"),
        (["--max-connections", "-1"], "--max-connections"),
        (["--protocol", "xml"], "--protocol"),
        (["--mcp-ping-interval", "1"], "needs --protocol mcp"),
        (["--protocol", "mcp", "--mcp-ping-interval", "0"], "--mcp-ping-interval"),
        (["--protocol", "jsonrpc", "--fault-stall-hello"], "handshake"),
    ],
)
def test_bad_values_are_config_errors(argv: list[str], fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(argv, ENV)
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_a_key_source_is_required() -> None:
    with pytest.raises(ConfigError, match=SECRET_ENV):
        parse_config([], {})
    with pytest.raises(ConfigError, match="empty"):
        parse_config([], {SECRET_ENV: ""})


def test_public_key_file(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    path = tmp_path / "key.pem"
    path.write_bytes(key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    config = parse_config(["--jwt-public-key", str(path), "--jwt-audience", "api"], ENV)
    assert config.verifier.algorithm == "ES256" and config.verifier.audience == "api"
    with pytest.raises(ConfigError, match="not both"):
        parse_config(["--jwt-public-key", str(path), "--jwt-secret", "s"], {})
    junk = tmp_path / "junk.pem"
    junk.write_text("hello")
    with pytest.raises(ConfigError, match="not a PEM public key"):
        parse_config(["--jwt-public-key", str(junk)], {})


def test_tls_pair_is_loaded_up_front(tmp_path: Path) -> None:
    cert = trustme.CA().issue_cert("127.0.0.1")
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.cert_chain_pems[0].write_to_path(str(cert_path))
    cert.private_key_pem.write_to_path(str(key_path))
    assert parse_config(["--tls-cert", str(cert_path), "--tls-key", str(key_path)], ENV).scheme == "wss"
    with pytest.raises(ConfigError, match="TLS"):
        parse_config(["--tls-cert", str(key_path), "--tls-key", str(key_path)], ENV)


def test_secret_values_are_scrubbed() -> None:
    argv = ["--jwt-secret", "s3cr3t-one", "--jwt-secret=s3cr3t-two"]
    found = secret_values(argv, {SECRET_ENV: "s3cr3t-env"})
    assert sorted(found) == ["s3cr3t-env", "s3cr3t-one", "s3cr3t-two"]
    assert scrub("a s3cr3t-one b s3cr3t-env", found) == "a *** b ***"


def test_every_option_has_help() -> None:
    for action in build_parser()._actions:
        assert action.help and action.help.strip(), action.dest


def test_fault_options_and_no_control() -> None:
    config = parse_config([], ENV)
    assert config.faults == Faults() and config.control is True
    config = parse_config(
        [
            "--fault-delay-ms",
            "25",
            "--fault-stall",
            "--fault-stall-hello",
            "--fault-garbage-fraction",
            "0.25",
            "--fault-garbage-kind",
            "oversize",
            "--fault-oversize-bytes",
            "4096",
            "--fault-drop-rate",
            "2.5",
            "--fault-handshake-status",
            "401",
            "--no-control",
        ],
        ENV,
    )
    assert config.faults == Faults(
        delay_ms=25,
        stall=True,
        stall_hello=True,
        garbage_fraction=0.25,
        garbage_kind="oversize",
        oversize_bytes=4096,
        drop_rate=2.5,
        handshake_status=401,
    )
    assert config.control is False


def test_options_are_declared_once_in_the_table() -> None:
    config_fields = {f.name for f in dataclasses.fields(Config)}
    fault_fields = {f.name for f in dataclasses.fields(Faults)}
    flags = [opt.flag for opt in OPTIONS]
    assert len(flags) == len(set(flags))
    parser_flags = [a.option_strings[0] for a in build_parser()._actions if a.option_strings[0] != "-h"]
    assert parser_flags == flags
    for opt in OPTIONS:
        assert opt.field is None or opt.field in config_fields, opt.flag
        assert opt.fault is None or opt.fault in fault_fields, opt.flag
        assert opt.help.strip() and (opt.type is not None or opt.default is False), opt.flag
    assert FAULT_OPTIONS["--fault-stall"] == "stall" and len(FAULT_OPTIONS) == len(fault_fields)


def test_each_check_names_its_option() -> None:
    for opt in OPTIONS:
        if opt.check is None:
            continue
        problem = opt.check(-(10**12))
        assert problem is not None and problem.startswith("must"), opt.flag
        with pytest.raises(ConfigError, match=f"^{opt.flag} must"):
            parse_config([opt.flag, str(-(10**12))], ENV)


def test_protocol_from_option_or_environment() -> None:
    assert parse_config([], ENV).protocol == "toolcall"
    assert parse_config(["--protocol", "mcp", "--mcp-ping-interval", "2"], ENV).mcp_ping_interval_s == 2.0
    assert parse_config([], {**ENV, PROTOCOL_ENV: "jsonrpc"}).protocol == "jsonrpc"
    assert parse_config(["--protocol", "mcp"], {**ENV, PROTOCOL_ENV: "jsonrpc"}).protocol == "mcp"
    with pytest.raises(ConfigError, match=PROTOCOL_ENV):
        parse_config([], {**ENV, PROTOCOL_ENV: "xml"})
