"""analysis.load: real Locust CSVs typed by name, and every kind of bad input named by file and line."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from analysis.load import LoadError, load_run, read_failures, read_stats, read_ws, resolve_prefix
from tests.analysis.helpers import FIXTURES, HISTORY_HEADER, STATS_HEADER, WS_HEADER, copy_run, write_ws, ws_row


def load_error(call, *args) -> LoadError:
    with pytest.raises(LoadError) as info:
        call(*args)
    return info.value


# --- real runs ----------------------------------------------------------------------------------------------------


def test_real_run_is_typed_with_units_in_column_names() -> None:
    run = load_run(FIXTURES / "fast" / "run")
    echo = run.stats.set_index("name").loc["call_tool:echo"]
    assert echo["requests"] == 7313 and echo["failures"] == 0
    assert echo["p50_ms"] == pytest.approx(0.28)  # two decimals below 100 ms (this project's patch)
    assert echo["p99.9_ms"] == pytest.approx(34.3)
    assert echo["max_ms"] == pytest.approx(43.736919)
    assert {"p66_ms", "p99.99_ms", "p100_ms"} <= set(run.stats.columns)
    assert run.full_history
    assert run.ws is not None and int(run.ws["calls_sent"].iloc[-1]) == 7313
    assert [Path(s).name for s in run.sources] == [
        "run_stats.csv", "run_stats_history.csv", "run_failures.csv", "run_exceptions.csv", "run_ws.csv",
    ]  # fmt: skip


def test_na_percentiles_are_nan_and_counts_stay_integers() -> None:
    run = load_run(FIXTURES / "fast" / "run")
    first = run.history.iloc[0]
    assert first["name"] == "Aggregated" and first["total_requests"] == 0
    assert math.isnan(first["p50_ms"]) and math.isnan(first["p100_ms"])
    assert str(run.history["total_requests"].dtype) == "int64"


def test_history_without_full_history_has_only_aggregated_rows() -> None:
    run = load_run(FIXTURES / "nofull" / "run")
    assert set(run.history["name"]) == {"Aggregated"}
    assert not run.full_history


def test_six_column_failures_of_locust_2() -> None:
    failures = read_failures(FIXTURES / "errors" / "run_failures.csv")
    assert failures.iloc[0][["name", "error", "occurrences"]].tolist() == ["call_tool:fail", "tool_failed", 559]
    assert failures.iloc[0]["first_seen"] == "2026-11-21T15:06:06Z"


def test_four_column_failures_of_older_locust(tmp_path: Path) -> None:
    path = tmp_path / "old_failures.csv"
    path.write_text('Method,Name,Error,Occurrences\nWS,call_tool:echo,"timeout",3\nWS,connect,"connect_failed: x",1\n')
    failures = read_failures(path)
    assert failures["occurrences"].tolist() == [3, 1]
    assert failures["first_seen"].tolist() == ["", ""]


def test_a_folder_with_one_run_is_its_prefix(tmp_path: Path) -> None:
    prefix = copy_run("fast", tmp_path / "results")
    assert resolve_prefix(tmp_path / "results") == prefix
    assert load_run(tmp_path / "results").prefix == str(prefix)


def test_a_folder_with_two_runs_asks_for_the_prefix(tmp_path: Path) -> None:
    copy_run("fast", tmp_path)
    (tmp_path / "other_stats.csv").write_text((FIXTURES / "fast" / "run_stats.csv").read_text())
    assert "several runs" in str(load_error(resolve_prefix, tmp_path))


def test_without_ws_csv_the_run_still_loads(tmp_path: Path) -> None:
    prefix = copy_run("fast", tmp_path)
    Path(f"{prefix}_ws.csv").unlink()
    Path(f"{prefix}_exceptions.csv").unlink()
    run = load_run(prefix)
    assert run.ws is None
    assert len(run.sources) == 3


def test_zero_requests(tmp_path: Path) -> None:
    path = tmp_path / "run_stats.csv"
    path.write_text(STATS_HEADER + "\n," + "Aggregated,0,0,0,0.0,0,0,0,0.0,0.0" + ",N/A" * 11 + "\n")
    stats = read_stats(path)
    assert stats.iloc[0]["requests"] == 0 and math.isnan(stats.iloc[0]["p99_ms"])


# --- WebSocket CSV ------------------------------------------------------------------------------------------------


def test_ws_extra_columns_are_kept_and_optional_ones_may_be_missing(tmp_path: Path) -> None:
    header = "elapsed_s,calls_sent,push_gaps,note"
    path = write_ws(tmp_path / "run", ["1.0,10,0,hello", "2.0,25,3,world"], header=header)
    ws = read_ws(path)
    assert ws["calls_sent"].tolist() == [10, 25]
    assert ws["push_gaps"].tolist() == [0, 3]
    assert ws["note"].tolist() == ["hello", "world"]
    assert ws["stage"].tolist() == ["", ""]
    assert "messages_sent" not in ws


def test_ws_bounded_names_and_write_stall_columns_are_cumulative_counters(tmp_path: Path) -> None:
    header = "elapsed_s,calls_sent,write_timeouts,write_stalls,server_names_overflowed"
    path = write_ws(tmp_path / "run", ["1.0,10,0,0,5", "2.0,25,1,2,900"], header=header)
    ws = read_ws(path)
    assert ws["server_names_overflowed"].tolist() == [5, 900] and ws["write_stalls"].tolist() == [0, 2]
    assert str(ws["server_names_overflowed"].dtype).startswith("int")
    path = write_ws(tmp_path / "down", ["1.0,10,0,0,5", "2.0,25,0,0,4"], header=header)
    assert "server_names_overflowed 5 -> 4" in load_error(read_ws, path).message


def test_ws_counter_going_down_names_the_line(tmp_path: Path) -> None:
    path = write_ws(tmp_path / "run", [ws_row(1, calls_sent=10), ws_row(2, calls_sent=20), ws_row(3, calls_sent=5)])
    error = load_error(read_ws, path)
    assert error.line == 4 and "calls_sent 20 -> 5" in error.message


def test_ws_time_going_back_is_read_and_left_to_the_rates_to_skip(tmp_path: Path) -> None:
    path = write_ws(tmp_path / "run", [ws_row(2, calls_sent=5), ws_row(1, calls_sent=6)])
    assert read_ws(path)["elapsed_s"].tolist() == [2.0, 1.0]


def test_ws_with_only_a_header(tmp_path: Path) -> None:
    path = write_ws(tmp_path / "run", [])
    error = load_error(read_ws, path)
    assert "no data rows" in error.message and error.file == str(path)


# --- bad input ----------------------------------------------------------------------------------------------------


def test_missing_prefix_names_the_stats_file(tmp_path: Path) -> None:
    error = load_error(load_run, tmp_path / "nothing")
    assert error.file == f"{tmp_path / 'nothing'}_stats.csv"
    assert "missing file" in str(error)


def test_missing_history_file(tmp_path: Path) -> None:
    prefix = copy_run("fast", tmp_path)
    Path(f"{prefix}_stats_history.csv").unlink()
    error = load_error(load_run, prefix)
    assert error.file.endswith("run_stats_history.csv") and "missing file" in error.message


def test_empty_file(tmp_path: Path) -> None:
    prefix = copy_run("fast", tmp_path)
    Path(f"{prefix}_failures.csv").write_text("")
    error = load_error(load_run, prefix)
    assert str(error) == f"{prefix}_failures.csv:1: empty file (no header line)"


def test_truncated_file_names_the_last_line(tmp_path: Path) -> None:
    prefix = copy_run("fast", tmp_path)
    path = Path(f"{prefix}_stats_history.csv")
    text = path.read_text()
    path.write_text(text[: len(text) - 40])  # cut inside the last row
    error = load_error(load_run, prefix)
    assert error.line == len(text.splitlines())
    assert "truncated" in error.message and error.file == str(path)


def test_garbage_bytes(tmp_path: Path) -> None:
    prefix = copy_run("fast", tmp_path)
    Path(f"{prefix}_stats.csv").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    error = load_error(load_run, prefix)
    assert error.file.endswith("run_stats.csv") and "not a CSV file" in error.message


def test_a_wrong_file_says_what_was_expected(tmp_path: Path) -> None:
    prefix = copy_run("fast", tmp_path)
    Path(f"{prefix}_stats.csv").write_text(HISTORY_HEADER + "\n")  # history copied over stats
    error = load_error(load_run, prefix)
    assert error.line == 1
    assert "not a Locust stats CSV" in error.message and "'Request Count'" in error.message


def test_text_in_a_number_column_names_line_and_column(tmp_path: Path) -> None:
    prefix = copy_run("fast", tmp_path)
    path = Path(f"{prefix}_stats.csv")
    lines = path.read_text().splitlines()
    lines[2] = lines[2].replace(",2,0,", ",two,0,", 1)  # connect's Request Count
    path.write_text("\n".join(lines) + "\n")
    error = load_error(load_run, prefix)
    assert error.line == 3 and "'Request Count': 'two' is not a number" in error.message


def test_stats_with_only_a_header(tmp_path: Path) -> None:
    path = tmp_path / "run_stats.csv"
    path.write_text(STATS_HEADER + "\n")
    assert "no data rows" in load_error(read_stats, path).message


def test_ws_header_is_read_by_name_not_position(tmp_path: Path) -> None:
    names = WS_HEADER.split(",")
    shuffled = [names[1], *reversed(names[3:]), names[0]]
    row = ["2.0", *("7" if n == "calls_sent" else "0" for n in reversed(names[3:])), "1800000002.0"]
    path = write_ws(tmp_path / "run", [",".join(row)], header=",".join(shuffled))
    assert read_ws(path)["calls_sent"].tolist() == [7]
