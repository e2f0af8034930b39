"""Whole Locust runs against hostile upgrade answers: each is a named connect failure, nothing hangs or balloons,
credentials never follow a redirect, and -t and SIGTERM are honoured (tests/support/hostile_http_server.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from tests.support.hostile_http_server import Hostile, hostile_server
from tests.support.locust_run import ROOT, LocustRun, headless_command, read_run, terminate

SECRET = {"LOCUST_JWT_SECRET": "hostile-handshake-secret-0123456789"}
STARTUP_MARGIN_S = 20.0
"""Locust's start-up and shutdown on a machine shared with other test runs."""


def run_watched(tmp_path: Path, url: str, *args: str, run_s: float = 3, users: int = 2) -> tuple[LocustRun, float, int]:
    """A headless run against `url` with -t `run_s`: what it left, how long it took, and its peak RSS (bytes)."""
    prefix = tmp_path / "run"
    command = headless_command(prefix, url, *args, users=users, run_time=f"{run_s:g}s")
    start = time.monotonic()
    out = (tmp_path / "output").open("w+")
    process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **SECRET}, stdout=out, stderr=subprocess.STDOUT)
    peak = 0
    limit = run_s + 10 + STARTUP_MARGIN_S  # -t + the call timeout (the drain limit) + margin
    try:
        while process.poll() is None and time.monotonic() - start < limit:
            try:
                peak = max(peak, psutil.Process(process.pid).memory_info().rss)
            except psutil.NoSuchProcess:
                break
            time.sleep(0.1)
    finally:
        if process.poll() is None:
            terminate(process)
            raise AssertionError(f"the run did not end within {limit} s")
    elapsed = time.monotonic() - start
    out.seek(0)
    return read_run(prefix, process.returncode, out.read()), elapsed, peak


def connect_errors(result: LocustRun) -> dict[str, int]:
    return {error: n for (name, error), n in result.failures.items() if name == "connect"}


def assert_clean(result: LocustRun) -> None:
    assert result.returncode == 0, result.output[-3000:]
    assert "Traceback" not in result.output, result.output[-3000:]
    assert result.calls() == (0, 0)


def test_an_endless_header_line_is_refused_and_the_run_ends_on_time(tmp_path: Path) -> None:
    with hostile_server("--mode", "endless-header") as server:
        result, elapsed, peak = run_watched(tmp_path, server.url, "--connect-timeout", "3")
    assert_clean(result)
    errors = connect_errors(result)
    assert list(errors) == ["connect_failed: handshake header too large"], errors
    # refused at once, retried with backoff: after the first attempt the waits are at least 0.05, 0.1, 0.2, 0.4,
    # 0.8, 1.6 s (users/load/backoff.py), so within 3 s at most 6 attempts per user
    assert 4 <= errors["connect_failed: handshake header too large"] <= 2 * 6
    assert result.ws_final["connect_failures"] == sum(errors.values())
    assert elapsed < 3 + STARTUP_MARGIN_S, elapsed
    assert peak < 400 * 2**20, peak  # websocket-client reached 2.48 GB within 60 s


def test_a_dripping_header_times_out_as_one_handshake(tmp_path: Path) -> None:
    with hostile_server("--mode", "drip-header", "--interval", "0.5") as server:
        result, elapsed, _ = run_watched(tmp_path, server.url, "--connect-timeout", "1.5", run_s=4)
        requests = len(server.lines("request"))
    assert_clean(result)
    errors = connect_errors(result)
    assert list(errors) == ["connect_failed: handshake timed out after 1.5 s"], errors
    assert 2 <= sum(errors.values()) <= requests  # every attempt that got its request out failed, not hung
    assert elapsed < 4 + STARTUP_MARGIN_S, elapsed


def redirect_run(tmp_path: Path, target: Hostile, *args: str) -> tuple[LocustRun, Hostile]:
    with hostile_server("--mode", "redirect", "--location", target.url + "path?token=leak") as redirector:
        result, _, _ = run_watched(tmp_path, redirector.url, *args)
    return result, redirector


def test_a_redirect_is_not_followed_and_the_target_gets_nothing(tmp_path: Path) -> None:
    with hostile_server("--mode", "record") as target:
        result, _ = redirect_run(tmp_path, target)
        reached = target.lines("connection")
    assert_clean(result)
    errors = connect_errors(result)
    assert list(errors) == [f"connect_failed: redirect 301 to {target.url}path"], errors
    assert sum(errors.values()) >= 2
    assert reached == []
    assert "leak" not in result.output and not any("leak" in e for e in errors)


def test_follow_redirects_never_goes_to_another_origin(tmp_path: Path) -> None:
    with hostile_server("--mode", "record") as target:
        result, _ = redirect_run(tmp_path, target, "--follow-redirects")
        reached = target.lines("connection")
    assert_clean(result)
    errors = connect_errors(result)
    expected = f"connect_failed: redirect 301 to another origin ({target.url}path): not followed"
    assert list(errors) == [expected], errors
    assert reached == []


def test_a_redirect_to_itself_is_followed_a_bounded_number_of_times(tmp_path: Path) -> None:
    with hostile_server("--mode", "redirect", "--location", "/again") as server:
        result, elapsed, _ = run_watched(tmp_path, server.url, "--follow-redirects")
        requests = len(server.lines("request"))
    assert_clean(result)
    errors = connect_errors(result)
    assert list(errors) == ["connect_failed: more than 3 redirects"], errors
    assert requests == 4 * errors["connect_failed: more than 3 redirects"]  # the first request and 3 hops each


def test_without_the_option_a_redirect_to_itself_is_one_failure_per_attempt(tmp_path: Path) -> None:
    with hostile_server("--mode", "redirect", "--location", "/again") as server:
        result, _, _ = run_watched(tmp_path, server.url)
        requests = len(server.lines("request"))
    assert_clean(result)
    errors = connect_errors(result)
    assert list(errors) == ["connect_failed: redirect 301 to /again"], errors
    assert requests == errors["connect_failed: redirect 301 to /again"]


def test_retry_after_paces_the_reconnects(tmp_path: Path) -> None:
    with hostile_server("--mode", "retry-after", "--retry-after", "2") as server:
        result, _, _ = run_watched(tmp_path, server.url, run_s=5)
        requests = len(server.lines("request"))
    assert_clean(result)
    errors = connect_errors(result)
    assert list(errors) == ["connect_failed: HTTP 503"], errors
    # 2 users, one attempt each at 0 s, then every 2 s within 5 s: at most 3 each (the usual backoff from
    # 0.1 s would make about 6 each)
    assert 2 <= requests == sum(errors.values()) <= 6, (requests, errors)


def test_a_long_retry_after_does_not_hold_the_run_past_its_end(tmp_path: Path) -> None:
    with hostile_server("--mode", "retry-after", "--retry-after", "3600") as server:
        result, elapsed, _ = run_watched(tmp_path, server.url, run_s=3)
        requests = len(server.lines("request"))
    assert_clean(result)
    assert requests == 2 == sum(connect_errors(result).values())  # one attempt per user, then waiting
    assert elapsed < 3 + STARTUP_MARGIN_S, elapsed


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_is_honoured_while_a_server_streams_an_endless_header(tmp_path: Path, stop: int) -> None:
    with hostile_server("--mode", "endless-header") as server:
        command = headless_command(tmp_path / "run", server.url, users=4, run_time="120s")
        process = subprocess.Popen(
            command, cwd=ROOT, env={**os.environ, **SECRET}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        try:
            deadline = time.monotonic() + 60  # Locust up and its users connecting (not a fixed sleep: a loaded
            while len(server.lines("connection")) < 4 and time.monotonic() < deadline and process.poll() is None:
                time.sleep(0.1)  # machine can still be importing Locust when a signal would come)
            time.sleep(1)  # the users are now in the middle of the endless header
            assert process.poll() is None
            process.send_signal(stop)
            start = time.monotonic()
            output, _ = process.communicate(timeout=10 + 5)  # call timeout (drain) + margin
            stopped_after = time.monotonic() - start
        finally:
            if process.poll() is None:
                terminate(process)
    assert stopped_after < 10 + 5, stopped_after
    assert "Traceback" not in output, output[-3000:]
    assert len(server.lines("connection")) >= 4
