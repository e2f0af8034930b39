"""Headless Locust runs (subprocesses) against the reference server: Locust's counts equal the server's."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import jwt
import pytest

from reference_server.launcher import start_reference_server
from tests.support.locust_run import LocustRun, run_locust


def assert_ledger_closed(run: LocustRun) -> None:
    ws = run.ws_final
    assert ws["calls_in_flight"] == 0
    assert ws["calls_sent"] == ws["calls_ok"] + ws["calls_failed"] + ws["calls_timeout"] + ws["calls_lost"]
    requests, failures = run.calls()
    assert requests == ws["calls_sent"], "every call sent is one Locust request"
    assert failures == ws["calls_failed"] + ws["calls_timeout"] + ws["calls_lost"]


def assert_clean_and_matching(run: LocustRun, server_stats: dict[str, Any], users: int) -> None:
    assert run.returncode == 0, run.output[-3000:]
    requests, failures = run.calls()
    assert requests > 100, run.output[-3000:]
    assert failures == 0 and not run.failures
    assert server_stats["calls_received"] == requests
    assert server_stats["results_ok"] == requests
    assert run.stats["connect"].requests == users and run.stats["hello"].requests == users
    assert server_stats["hello_ok"] == users
    assert_ledger_closed(run)


@pytest.mark.parametrize(("users", "in_flight"), [(5, 1), (2, 25)], ids=["closed-loop", "pipelined"])
def test_clean_run_counts_match_the_server_exactly(tmp_path: Path, users: int, in_flight: int) -> None:
    with start_reference_server() as server:
        run = run_locust(
            tmp_path,
            server.url,
            "--in-flight",
            str(in_flight),
            env={"LOCUST_JWT_SECRET": server.jwt_secret},
            users=users,
        )
        stats = server.stats()
    assert_clean_and_matching(run, stats, users)
    echo = run.stats["call_tool:echo"]
    assert 0 < echo.median_ms < 50
    assert echo.median_ms != round(echo.median_ms) or echo.median_ms >= 10, "sub-ms resolution kept in the CSV"
    messages = run.ws_final["messages_sent"] + run.ws_final["messages_received"]
    assert messages == 2 * echo.requests + 2 * users  # a call and its result, plus hello and hello_ok


def test_expected_failures_are_counted_exactly(tmp_path: Path) -> None:
    mix = 'echo:1,fail:1={"code":"tool_failed","message":"on purpose"}'
    with start_reference_server() as server:
        run = run_locust(tmp_path, server.url, "--tools", mix, env={"LOCUST_JWT_SECRET": server.jwt_secret})
        stats = server.stats()
    fails = run.stats["call_tool:fail"]
    assert fails.requests > 50 and fails.failures == fails.requests
    assert run.failures[("call_tool:fail", "tool_failed")] == fails.requests
    assert stats["results_error"] == {"tool_failed": fails.requests}
    assert stats["results_ok"] == run.stats["call_tool:echo"].requests
    assert run.stats["call_tool:echo"].failures == 0
    assert_ledger_closed(run)


def test_expired_token_fails_every_hello_and_never_leaks(tmp_path: Path) -> None:
    with start_reference_server() as server:
        now = int(time.time())
        expired = jwt.encode(
            {"sub": "x", "iat": now - 7200, "exp": now - 3600, "scope": ["tools:*"]}, server.jwt_secret, "HS256"
        )
        run = run_locust(tmp_path, server.url, env={"LOCUST_TOKEN": expired}, users=2, run_time="2s")
        stats = server.stats()
    hello = run.stats["hello"]
    assert hello.requests >= 2 and hello.failures == hello.requests
    assert run.failures[("hello", "token_expired")] == hello.requests
    assert stats["hello_refused"] == {"token_expired": hello.requests}
    assert run.calls() == (0, 0) and stats["calls_received"] == 0
    for path in run.files:
        assert expired not in path.read_text(errors="replace"), path
    assert expired not in run.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--in-flight", "0"], "--in-flight must be at least 1"),
        (["--tools", "echo:x"], "--tools"),
        (["--call-timeout", "-1"], "--call-timeout must be a positive"),
    ],
)
def test_bad_option_stops_before_any_load(tmp_path: Path, args: list[str], message: str) -> None:
    run = run_locust(tmp_path, "ws://127.0.0.1:9/", *args, env={"LOCUST_JWT_SECRET": "x" * 32}, run_time="2s")
    assert run.returncode == 2
    assert f"error: {message}" in run.output
    assert not run.stats


def test_missing_credentials_name_every_option(tmp_path: Path) -> None:
    run = run_locust(tmp_path, "ws://127.0.0.1:9/", env={"LOCUST_JWT_SECRET": "", "LOCUST_TOKEN": ""}, run_time="2s")
    assert run.returncode == 2
    assert (
        "--jwt-secret (LOCUST_JWT_SECRET), --jwt-private-key (LOCUST_JWT_PRIVATE_KEY) or --token (LOCUST_TOKEN)"
        in run.output
    )


def test_python_locustfile_help_lists_locusts_options_and_ours() -> None:
    import subprocess
    import sys

    from tests.support.locust_run import ROOT

    done = subprocess.run([sys.executable, "locustfile.py", "--help"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    for flag in ("--users", "--in-flight", "--tools", "--threshold", "--scenario", "--storm-interval", "--protocol"):
        assert f"  {flag} " in done.stdout or f"  {flag}\n" in done.stdout or f", {flag} " in done.stdout, flag
