"""Reading PREFIX_run.json: completeness, settings rows, what differs between two runs, server counters."""

from __future__ import annotations

import json
from pathlib import Path

from analysis.run_record import RunRecord, differing_settings, load_record

ENDED = {"at": "2026-12-06T02:00:03+00:00", "elapsed_s": 3.0, "reason": "completed", "workers_without_final": []}
BASE = {"started_at": "2026-12-06T02:00:00+00:00", "host": "ws://a", "protocol": "toolcall", "users": 2,
        "options": {"tools": "echo", "in_flight": 4, "csv_prefix": "x/run"}, "ended": ENDED}  # fmt: skip


def test_completeness_from_the_end_marker() -> None:
    assert RunRecord(BASE).incomplete() == ""
    assert (
        RunRecord({**BASE, "ended": None}).incomplete() == "the run never recorded its end (killed, or still running)"
    )
    no_final = RunRecord({**BASE, "ended": {**ENDED, "workers_without_final": ["w1"]}})
    assert no_final.incomplete() == "no final report from 1 worker(s): w1"
    aborted = RunRecord({**BASE, "ended": {**ENDED, "reason": "aborted: threshold failed: p99<1ms"}})
    assert aborted.incomplete() == "run aborted: threshold failed: p99<1ms"
    assert RunRecord().incomplete() == "", "no record: nothing says the run was incomplete"


def test_settings_differ_by_option_and_headline_not_by_time_or_output_files() -> None:
    other = {**BASE, "started_at": "later", "host": "ws://b",
             "options": {"tools": "echo:1,sleep:1", "in_flight": 4, "csv_prefix": "y/run", "rate": 5}}  # fmt: skip
    assert differing_settings(RunRecord(BASE), RunRecord(other)) == [
        ("host", "ws://a", "ws://b"),
        ("option.tools", "echo", "echo:1,sleep:1"),
        ("option.rate", "(absent)", "5"),
    ]


def test_load_reads_the_record_and_the_server_stats_beside_it(tmp_path: Path) -> None:
    (tmp_path / "run_run.json").write_text(json.dumps(BASE))
    (tmp_path / "server_stats.json").write_text(json.dumps({"calls_received": 1200, "tools": {"echo": 3}}))
    record = load_record(tmp_path / "run")
    assert record.settings()["option.in_flight"] == "4" and record.settings()["ended"].endswith("completed")
    assert record.server_counters() == {"calls_received": "1,200"}
    (tmp_path / "run_run.json").write_text("{not json")
    assert load_record(tmp_path / "run").incomplete() == "run_run.json unreadable (JSONDecodeError)"
    assert load_record(tmp_path / "none").present is False
