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


def test_rate_target_is_held_within_five_percent(tmp_path: Path, server: RunningServer) -> None:
    result = run(tmp_path, server, "--scenario", "rate", "--rate", "2000", "--stage-duration", "5s", "-r", "100")
    rows = [ws_numbers(row) for row in result.ws_rows if row["stage"] == "rate"]
    first, last = rows[0], rows[-1]  # steady window: after the first second's ramp
    achieved = (last["calls_sent"] - first["calls_sent"]) / (last["elapsed_s"] - first["elapsed_s"])
    assert achieved == pytest.approx(2000, rel=0.05)
    assert result.ws_final["calls_skipped"] == 0
    assert rows[-1]["rate_target"] == 2000
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
