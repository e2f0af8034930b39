"""Headless Locust runs per protocol: against the reference server and a wsproto server, counts per tool equal
each server's own, expected failures counted with their codes, no protocol errors on a clean run."""

from __future__ import annotations

from pathlib import Path

import pytest

from reference_server.launcher import start_reference_server
from tests.support.locust_run import LocustRun, ledger_closes, run_locust
from tests.support.third_party import wsproto_server

TOOLS = 'echo:6,fail:1={"code":"tool_failed","message":"asked to"},nosuch:1'
FAILURES = {
    "toolcall": {"call_tool:fail": "tool_failed", "call_tool:nosuch": "unknown_tool"},
    "jsonrpc": {
        "call_tool:fail": "jsonrpc_error:-32000 asked to",
        "call_tool:nosuch": "jsonrpc_error:-32601 no such tool",
    },
    "mcp": {"call_tool:fail": "tool_error", "call_tool:nosuch": "jsonrpc_error:-32602 no such tool"},
}


def failure_codes(result: LocustRun) -> dict[str, str]:
    """Each name's one failure message (a name failing two ways fails the test)."""
    codes: dict[str, str] = {}
    for name, error in result.failures:
        assert name not in codes, result.failures
        codes[name] = error
    return codes


@pytest.mark.parametrize("protocol", ["toolcall", "jsonrpc", "mcp"])
def test_each_protocol_against_the_reference_server_counts_what_the_server_counts(
    tmp_path: Path, protocol: str
) -> None:
    extra = ["--mcp-ping-interval", "0.3"] if protocol == "mcp" else []
    with start_reference_server("--protocol", protocol, *extra) as server:
        result = run_locust(
            tmp_path, server.url, "--protocol", protocol, "--tools", TOOLS, "--in-flight", "8",
            env={"LOCUST_JWT_SECRET": server.jwt_secret or ""}, users=2, run_time="3s",
        )  # fmt: skip
        stats = server.stats()
    # toolcall's unknown_tool failure stops the run with exit code 2 (users/telemetry/terminal.py); the counts still agree
    assert result.returncode in ((2,) if protocol == "toolcall" else (0, 1)), result.output[-3000:]
    ws = ledger_closes(result)
    echo, fail, nosuch = (result.stats[f"call_tool:{t}"] for t in ("echo", "fail", "nosuch"))
    assert echo.failures == 0 and echo.requests == stats["results_ok"] > 100
    assert fail.requests == fail.failures == stats["results_error"]["tool_failed"] > 0
    assert nosuch.requests == nosuch.failures == stats["results_error"]["unknown_tool"] > 0
    assert echo.requests + fail.requests + nosuch.requests == stats["calls_received"]
    assert failure_codes(result) == FAILURES[protocol]
    assert ws["protocol_errors"] == 0 and "protocol_error" not in result.stats
    assert result.stats["connect"].failures == 0 and stats["connections_opened"] == ws["connects"] == 2
    if protocol != "jsonrpc":
        assert result.stats["hello"].requests == stats["hello_ok"] == 2
    else:
        assert "hello" not in result.stats  # no handshake: the token was checked at the upgrade


def test_jsonrpc_pushes_are_counted_by_topic_and_an_asked_for_handshake_is_timed(tmp_path: Path) -> None:
    with start_reference_server("--protocol", "jsonrpc") as server:
        result = run_locust(
            tmp_path, server.url, "--protocol", "jsonrpc", "--subscribe", "ticks:100:50",
            "--rpc-hello", 'echo={"hi":1}',
            env={"LOCUST_JWT_SECRET": server.jwt_secret or ""}, users=2, run_time="3s",
        )  # fmt: skip
        stats = server.stats()
    assert result.returncode == 0, result.output[-3000:]
    ws = ledger_closes(result)
    assert result.stats["push:ticks"].requests == stats["pushes_sent"] == ws["pushes_received"] == 100
    assert ws["push_gaps"] == 0 and ws["protocol_errors"] == 0
    assert result.stats["hello"].requests == ws["hellos_ok"] == 2 and result.stats["hello"].failures == 0


@pytest.mark.parametrize("protocol", ["jsonrpc", "mcp"])
def test_a_refused_token_is_a_connect_failure_the_server_counts_too(tmp_path: Path, protocol: str) -> None:
    with start_reference_server("--protocol", protocol) as server:
        result = run_locust(
            tmp_path, server.url, "--protocol", protocol,
            env={"LOCUST_JWT_SECRET": "not-the-servers-secret-" + "x" * 16}, users=1, run_time="2s",
        )  # fmt: skip
        stats = server.stats()
    refused = result.stats["connect"]
    assert refused.requests == refused.failures >= 2  # retried with backoff
    assert failure_codes(result) == {"connect": "connect_failed: HTTP 401"}
    assert stats["hello_refused"] == {"invalid_token": refused.failures}
    assert "not-the-servers-secret" not in result.output


THIRD_PARTY_TOOLS = "echo:6,fail:1,notify:1,nosuch:1"
THIRD_PARTY_FAILURES = {
    "jsonrpc": {
        "call_tool:fail": "jsonrpc_error:-32000 failed on request",
        "call_tool:nosuch": "jsonrpc_error:-32601 Method not found",
    },
    "mcp": {"call_tool:fail": "tool_error", "call_tool:nosuch": "jsonrpc_error:-32602 Unknown tool: nosuch"},
}
PUSHES = {"jsonrpc": ["push:eth_subscription"], "mcp": ["push:notifications/message", "push:notifications/progress"]}


@pytest.mark.parametrize(
    ("protocol", "compression"), [("jsonrpc", ""), ("mcp", ""), ("jsonrpc", "deflate"), ("mcp", "deflate")]
)
def test_against_a_wsproto_server_counts_per_tool_equal_its_own(
    tmp_path: Path, protocol: str, compression: str
) -> None:
    server_args = ["--protocol", protocol, "--token", "t0ken-for-the-test"]
    if compression:
        server_args += ["--deflate"] + (["--no-context-takeover"] if protocol == "mcp" else [])
    # The protocol options each way: the command line; deflate with jsonrpc from locust.conf, with mcp from env vars
    chosen, env = ["--protocol", protocol, "--compression", compression], {}
    if compression and protocol == "jsonrpc":
        (tmp_path / "locust.conf").write_text(f"protocol = {protocol}\ncompression = {compression}\n")
        chosen = ["--config", str(tmp_path / "locust.conf")]
    elif compression:
        chosen, env = [], {"LOCUST_PROTOCOL": protocol, "LOCUST_COMPRESSION": compression}
    with wsproto_server(tmp_path, *server_args) as server:
        result = run_locust(
            tmp_path, server.url, *chosen, "--tools", THIRD_PARTY_TOOLS, "--in-flight", "4",
            env={"LOCUST_TOKEN": "t0ken-for-the-test", "LOCUST_JWT_SECRET": "", **env}, users=2, run_time="3s",
        )  # fmt: skip
    counts = server.counts
    assert result.returncode in (0, 1), result.output[-3000:]
    ws = ledger_closes(result)
    for tool in ("echo", "fail", "notify", "nosuch"):
        assert result.stats[f"call_tool:{tool}"].requests == counts[f"calls:{tool}"] > 0, tool
    assert failure_codes(result) == THIRD_PARTY_FAILURES[protocol]
    assert sum(result.stats[name].requests for name in PUSHES[protocol]) == counts["notifications_sent"]
    assert ws["pushes_received"] == counts["notifications_sent"] and ws["protocol_errors"] == 0
    assert counts["connections"] == ws["connects"] == 2
    assert "t0ken-for-the-test" not in result.output and "t0ken" not in "".join(map(str, result.failures))
    if protocol == "mcp":
        assert counts["initialize"] == counts["notification:notifications/initialized"] == 2
        assert counts["client_pongs"] == 2  # the server's ping after initialize was answered
    if compression:
        assert counts["deflate_offered"] == 2
        assert 0 < ws["bytes_received_compressed"] < ws["bytes_received"]
        assert 0 < ws["bytes_sent_compressed"] < ws["bytes_sent"]
    else:
        assert ws["bytes_received_compressed"] == ws["bytes_sent_compressed"] == 0
