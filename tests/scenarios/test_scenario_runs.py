"""Short real runs of each scenario: headless Locust subprocesses against the reference server."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest

from reference_server.launcher import RunningServer, start_reference_server
from tests.support.locust_run import LocustRun, ledger_closes, run_locust, ws_numbers


@pytest.fixture
def server() -> Iterator[RunningServer]:
    with start_reference_server() as running:
        yield running


def run(tmp_path: Path, server: RunningServer, *args: str, users: int = 4, run_time: str = "30s") -> LocustRun:
    """A headless run; the plan ends it (run_time is only a safety net)."""
    result = run_locust(
        tmp_path, server.url, *args, env={"LOCUST_JWT_SECRET": server.jwt_secret or ""}, users=users, run_time=run_time
    )
    assert result.returncode == 0, result.output[-3000:]
    return result


def stages_in_order(result: LocustRun) -> list[str]:
    seen: list[str] = []
    for row in result.ws_rows:
        if row["stage"] and (not seen or seen[-1] != row["stage"]):
            seen.append(row["stage"])
    return seen


def test_burst_spikes_shorter_than_a_tick_reach_their_height(tmp_path: Path, server: RunningServer) -> None:
    result = run(
        tmp_path, server, "--scenario", "burst", "--stage-duration", "6s", "-r", "100",
        "--burst-height", "12", "--burst-width", "400ms", "--burst-period", "2s",
    )  # fmt: skip
    peaks = [int(ws_numbers(row)["users_sending_peak"]) for row in result.ws_rows if row["stage"] == "burst"]
    assert max(peaks) == 16, peaks  # base 4 + height 12, each spike only 0.4 s long
    assert min(peaks) == 4, peaks  # seconds without a spike stay at the base
    assert peaks.count(16) >= 2, peaks
    ledger_closes(result)
    assert server.stats()["calls_received"] == result.ws_final["calls_sent"]


def test_client_reconnect_storm_accounts_every_call(tmp_path: Path, server: RunningServer) -> None:
    result = run(
        tmp_path, server, "--scenario", "reconnect", "--stage-duration", "5s", "-r", "100",
        "--storm-interval", "1.5s", "--storm-fraction", "0.5", "--in-flight", "4", "--tools", 'sleep={"ms":200}',
    )  # fmt: skip
    ws = ledger_closes(result)
    assert ws["storm_drops"] >= 3  # half of 4 users, three storms
    assert ws["reconnects"] == ws["reconnect_attempts"] == ws["storm_drops"]
    assert ws["calls_lost"] >= ws["storm_drops"]  # slow calls were in flight on every dropped connection
    assert result.failures[("call_tool:sleep", "connection_lost: storm")] == ws["calls_lost"]
    assert result.stats["connect"].requests == 4 + ws["reconnects"]
    stats = server.wait_stats(lambda s: s["connections_closed"] == s["connections_opened"])
    assert stats["results_ok"] == ws["calls_ok"]
    assert ws["calls_ok"] <= stats["calls_received"] <= ws["calls_sent"]
    storms = list(csv.DictReader(Path(f"{tmp_path}/run_storms.csv").open()))
    assert len(storms) == 3 and all(float(s["baseline_calls_per_s"]) > 0 for s in storms)


def test_client_storms_drop_fast_calls_in_flight_too(tmp_path: Path, server: RunningServer) -> None:
    """Echo answers in well under a millisecond here: a storm that let users drain first lost nothing. A storm
    drops connections at once, wherever their users are, so calls in flight are lost and counted."""
    result = run(
        tmp_path, server, "--scenario", "reconnect", "--stage-duration", "5s", "-r", "100",
        "--storm-interval", "1.5s", "--storm-fraction", "1", "--in-flight", "10", "--tools", "echo",
    )  # fmt: skip
    ws = ledger_closes(result)
    assert ws["storm_drops"] == 12  # every one of 4 users, three storms
    assert ws["calls_lost"] >= ws["storm_drops"], ws  # about 10 in flight on each dropped connection
    assert result.failures[("call_tool:echo", "connection_lost: storm")] == ws["calls_lost"]
    stats = server.wait_stats(lambda s: s["connections_closed"] == s["connections_opened"])
    # the server answered some lost calls into connections already dropped: answered, never received
    assert ws["calls_ok"] <= stats["results_ok"] <= ws["calls_ok"] + ws["calls_lost"]
    assert ws["calls_ok"] <= stats["calls_received"] <= ws["calls_sent"]


def rate_rows(result: LocustRun) -> list[tuple[str, float, float, float]]:
    """(stage, elapsed_s, calls/s over the interval ending there, users_sending_peak) per PREFIX_ws.csv row."""
    rows = [(r["stage"], ws_numbers(r)) for r in result.ws_rows]
    return [
        (stage, now["elapsed_s"], (now["calls_sent"] - before["calls_sent"]) / (now["elapsed_s"] - before["elapsed_s"]),
         now["users_sending_peak"])
        for (_, before), (stage, now) in zip(rows, rows[1:], strict=False)
    ]  # fmt: skip


def test_rate_is_held_with_locusts_default_spawn_rate(tmp_path: Path, server: RunningServer) -> None:
    """One user a second (Locust's default): the users connected so far carry the whole rate between them."""
    result = run(tmp_path, server, "--scenario", "rate", "--rate", "1000", "--stage-duration", "8s", "-r", "1",
                 users=10)  # fmt: skip
    rows = [ws_numbers(row) for row in result.ws_rows if row["stage"] == "rate"]
    judged = [r for r in rows if r["elapsed_s"] >= 3.0]
    first, last = judged[0], judged[-1]
    achieved = (last["calls_sent"] - first["calls_sent"]) / (last["elapsed_s"] - first["elapsed_s"])
    assert achieved == pytest.approx(1000, rel=0.05)
    assert max(r["connections_open"] for r in judged) < 10  # users were still connecting all along
    assert "rate stage 'rate': " in result.output and ": held" in result.output, result.output[-2000:]
    ledger_closes(result)


def test_a_rate_the_connections_cannot_carry_ends_with_one_line_saying_so(
    tmp_path: Path, server: RunningServer
) -> None:
    """One connection, one call in flight at a time, 20 ms per call: at most 50 calls/s of the 500 asked for."""
    result = run(tmp_path, server, "--scenario", "rate", "--rate", "500", "--stage-duration", "6s", "--max-in-flight",
                 "1", "--tools", 'sleep={"ms":20}', users=1)  # fmt: skip
    lines = [line for line in result.output.splitlines() if "rate stage 'rate': " in line]
    assert len(lines) == 1 and "of 500 target" in lines[0] and "NOT held" in lines[0], result.output[-2000:]
    assert result.ws_final["rate_target"] == 0 and max(ws_numbers(r)["rate_target"] for r in result.ws_rows) == 500
    ledger_closes(result)


def test_rate_stage_after_a_burst_sends_no_more_than_its_target(tmp_path: Path, server: RunningServer) -> None:
    """Burst -> rate: the spike users Locust has not stopped yet stay idle, and nothing is sent unpaced after
    the plan's last stage."""
    plan = tmp_path / "plan.toml"
    plan.write_text(
        'users = 4\nspawn_rate = 100\n[[stage]]\nkind = "burst"\nduration = "4s"\nheight = 8\nwidth = "2s"\n'
        'period = "4s"\n[[stage]]\nkind = "rate"\nduration = "5s"\nrate = 1000\n'
    )
    result = run(tmp_path, server, "--plan", str(plan), "--in-flight", "4")
    rows = rate_rows(result)
    in_rate = [r for r in rows if r[0] == "rate"][1:]  # the first row's interval began in the burst
    assert in_rate, rows
    assert all(calls_per_s <= 1100 for _, _, calls_per_s, _ in in_rate), in_rate
    assert all(peak <= 4 for *_, peak in in_rate), in_rate
    after = [r for r in rows if r[1] > 9.05 and r[0] == ""]
    assert all(calls_per_s <= 1100 for _, _, calls_per_s, _ in after), after
    ledger_closes(result)


def test_latency_counts_from_intended_time_when_the_server_stalls(tmp_path: Path, server: RunningServer) -> None:
    # Each connection can hold one call; the server takes 100 ms per call; the schedule asks for one per 20 ms.
    result = run(
        tmp_path, server, "--scenario", "rate", "--rate", "100", "--stage-duration", "3s", "-r", "100",
        "--max-in-flight", "1", "--tools", 'sleep={"ms":100}', users=2,
    )  # fmt: skip
    sleep = result.stats["call_tool:sleep"]
    assert sleep.median_ms > 400, sleep  # a closed loop would have reported ~100 ms
    assert result.ws_final["calls_sent_late"] > 0
    assert "the load generator could not keep up" in result.output
    ledger_closes(result)


def test_step_stops_at_the_knee_and_reports_the_step(tmp_path: Path, server: RunningServer) -> None:
    result = run(
        tmp_path, server, "--scenario", "step", "--stage-duration", "20s", "--step-duration", "2s", "-r", "100",
        "--step-users", "2", "--tools", 'sleep={"ms":20}', "--knee-p99-ms", "10", users=2,
    )  # fmt: skip
    steps = list(csv.DictReader(Path(f"{tmp_path}/run_steps.csv").open()))
    assert steps[0]["step"] == "0" and steps[0]["crossed"].startswith("p99")
    assert "stopping at the knee: step: step 0 (2 users)" in result.output
    assert result.ws_final["elapsed_s"] < 10  # stopped long before the 20 s stage would have ended
    ledger_closes(result)


def test_composed_stages_run_in_order_and_label_the_metrics(tmp_path: Path, server: RunningServer) -> None:
    result = run(
        tmp_path, server, "--scenario", "sustained,burst,reconnect", "--stage-duration", "2.5s", "-r", "100",
        "--burst-width", "300ms", "--burst-period", "1s", "--burst-height", "4", "--storm-interval", "1s",
    )  # fmt: skip
    assert stages_in_order(result) == ["sustained", "burst", "reconnect"]
    assert result.ws_final["storm_drops"] >= 4
    ledger_closes(result)


def test_plan_file_runs_its_stages(tmp_path: Path, server: RunningServer) -> None:
    plan = tmp_path / "plan.toml"
    plan.write_text(
        'users = 3\nspawn_rate = 50\n\n[[stage]]\nkind = "sustained"\nname = "warm"\nduration = "2s"\n\n'
        '[[stage]]\nkind = "soak"\nname = "hold"\nduration = "2s"\nusers = 5\n'
    )
    result = run(tmp_path, server, "--plan", str(plan))
    assert stages_in_order(result) == ["warm", "hold"]
    rows = [ws_numbers(r) for r in result.ws_rows if r["stage"] == "hold"]
    assert rows[-1]["connections_open"] == 5 and all(r["rss_bytes"] > 0 for r in rows)
    ledger_closes(result)


def test_push_streams_arrive_complete_and_in_order(tmp_path: Path, server: RunningServer) -> None:
    result = run(tmp_path, server, "--subscribe", "ticks:200:100", "--tools", "echo", run_time="3s", users=3)
    ws = ledger_closes(result)
    assert ws["pushes_received"] == 300
    assert (ws["push_gaps"], ws["push_duplicates"], ws["push_reordered"]) == (0, 0, 0)
    assert result.stats["push:ticks"].requests == 300
    assert result.stats["call_tool:subscribe"].requests == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scenario", "sustained,wobble"], "error: --scenario: unknown stage 'wobble'"),
        (["--scenario", "rate", "--rate", "-5"], "error: --rate must be positive"),
        (["--plan", "/nonexistent/plan.toml"], "error: --plan /nonexistent/plan.toml: cannot read"),
        (
            ["--scenario", "reconnect", "--storm-mode", "server"],
            "error: --storm-mode server needs --server-control-url",
        ),
        (["--subscribe", "ticks:fast"], "error: --subscribe must be TOPIC[:RATE[:COUNT]]"),
    ],
)
def test_bad_scenario_values_stop_before_any_load(tmp_path: Path, args: list[str], message: str) -> None:
    result = run_locust(tmp_path, "ws://127.0.0.1:9/", *args, env={"LOCUST_JWT_SECRET": "x" * 32}, run_time="2s")
    assert result.returncode == 2, result.output[-2000:]
    assert message in result.output
    assert not result.stats
    assert result.files == [], "a run that exits 2 before any load leaves no (empty) CSV files"


def test_the_readme_composed_scenario_runs_as_written(tmp_path: Path, server: RunningServer) -> None:
    """README: `--scenario sustained,burst,reconnect --stage-duration 1m` with Locust's defaults (no -u, no -r): the
    options are checked on the plan that runs (1 user at 1/s, Locust's headless defaults), not on 10 users that
    never run; cut short here with -t."""
    import os
    import subprocess
    import sys

    from tests.support.locust_run import ROOT, read_run

    prefix = tmp_path / "run"
    command = [sys.executable, "-m", "locust", "-f", "locustfile.py", "--headless", "-H", server.url, "--csv",
               str(prefix), "--only-summary", "--scenario", "sustained,burst,reconnect", "--stage-duration", "1m",
               "-t", "3s"]  # fmt: skip
    env = {**os.environ, "LOCUST_JWT_SECRET": server.jwt_secret or ""}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    result = read_run(prefix, done.returncode, done.stdout + done.stderr)
    assert result.returncode == 0 and "error:" not in result.output, result.output[-3000:]
    assert stages_in_order(result) == ["sustained"] and result.ws_final["connects"] >= 1
    assert "scenario plan: sustained 60s, burst 60s, reconnect 60s" in result.output


def test_server_initiated_storm_is_accounted_like_a_client_one(tmp_path: Path, server: RunningServer) -> None:
    control = server.base_url
    result = run(
        tmp_path, server, "--scenario", "reconnect", "--stage-duration", "4.5s", "-r", "100",
        "--storm-interval", "1.5s", "--storm-fraction", "1.0", "--storm-mode", "server",
        "--server-control-url", control, "--in-flight", "2", "--tools", 'sleep={"ms":300}',
    )  # fmt: skip
    ws = ledger_closes(result)
    assert ws["storm_drops"] == 0  # the server dropped them, not the client
    assert "server-initiated storm" in result.output
    assert ws["reconnects"] >= 8  # all 4 connections, twice
    lost = {error: n for (name, error), n in result.failures.items() if name == "call_tool:sleep"}
    assert ws["calls_lost"] >= 8 and sum(lost.values()) == ws["calls_lost"]
    assert all(error.startswith("connection_lost: close 10") for error in lost), lost  # the server's close code
    stats = server.wait_stats(lambda s: s["connections_closed"] == s["connections_opened"])
    assert stats["results_ok"] == ws["calls_ok"]
    assert stats["calls_received"] == ws["calls_ok"] + stats["calls_unanswered"]


def test_options_work_from_a_locust_conf_file(tmp_path: Path, server: RunningServer) -> None:
    conf = tmp_path / "locust.conf"
    conf.write_text(
        "scenario = sustained,rate\nstage-duration = 2s\nrate = 500\nspawn-rate = 50\ntools = echo:3,sleep:1\n"
    )
    result = run(tmp_path, server, "--config", str(conf))
    assert stages_in_order(result) == ["sustained", "rate"]
    assert result.stats["call_tool:sleep"].requests > 0
    ledger_closes(result)


def test_a_stream_without_a_count_runs_until_the_connection_ends(tmp_path: Path, server: RunningServer) -> None:
    """`--subscribe ticks:100`: the reference server streams until each connection ends (it used to want COUNT)."""
    result = run(tmp_path, server, "--subscribe", "ticks:100", "--tools", "echo", run_time="3s", users=2)
    ws = ledger_closes(result)
    assert result.stats["call_tool:subscribe"].requests == 2 and result.stats["call_tool:subscribe"].failures == 0
    assert ws["pushes_received"] >= 2 * 100 * 1.5, ws["pushes_received"]  # 2 connections x 100/s for most of 3 s
    assert (ws["push_gaps"], ws["push_duplicates"], ws["push_reordered"]) == (0, 0, 0)
