"""The run record's pure parts: secrets left out, how a run ended."""

from __future__ import annotations

from argparse import Namespace
from pathlib import Path

from users.telemetry.run_record import end_reason, end_record, project_version, public_options, start_record


def test_secret_values_never_enter_the_record_but_numbers_named_like_them_do() -> None:
    options = Namespace(jwt_secret="s3cr3t-value", token=None, web_auth="u:pw", bad_token_fraction=0.1, tools="echo")
    shown = public_options(options)
    assert shown == {"bad_token_fraction": 0.1, "jwt_secret": "(set)", "token": None, "tools": "echo",
                     "web_auth": "(set)"}  # fmt: skip
    assert "s3cr3t" not in repr(start_record(options, "local", 1_800_000_000.0))


def test_how_a_run_ended() -> None:
    assert end_reason(20.1, 20, "") == "completed"
    assert end_reason(5.0, 20, "") == "stopped early"
    assert end_reason(5.0, None, "") == "completed", "a plan without -t ends when its shape does"
    assert end_reason(5.0, 20, "threshold failed: p99<1ms") == "aborted: threshold failed: p99<1ms"
    record = start_record(Namespace(run_time=3, host="ws://h"), "master", 1_800_000_000.0)
    ended = end_record(record, 1_800_000_003.5, "", ["w2", "w1"], 0)["ended"]
    assert (
        ended["elapsed_s"] == 3.5 and ended["reason"] == "completed" and ended["workers_without_final"] == ["w1", "w2"]
    )


def test_the_project_version_is_read_from_pyproject() -> None:
    root = Path(__file__).resolve().parents[3]
    assert project_version() and f'version = "{project_version()}"' in (root / "pyproject.toml").read_text()
