"""The master's sum of worker snapshots (users.telemetry.aggregation), without processes."""

from __future__ import annotations

import io

from users.telemetry.aggregation import WorkerTotals, merge_storms, worker_payload
from users.telemetry.ws_csv import COUNTER_KEYS, WS_CSV_COLUMNS, WsCsvWriter
from users.wire.metrics import WsCounters


def snapshot(**values: float) -> dict[str, float]:
    base = WsCounters().snapshot()
    base.update(values)
    return base


def totals_of(*reports: tuple[str, dict[str, float], bool]) -> WorkerTotals:
    totals = WorkerTotals(COUNTER_KEYS)
    for number, (worker, counters, final) in enumerate(reports):
        totals.update(worker, worker_payload(counters, 1000, final), float(number))
    return totals


def test_latest_snapshot_per_worker_is_summed_once() -> None:
    totals = totals_of(
        ("a", snapshot(calls_sent=10, calls_ok=9, calls_in_flight=1, connections_open=2), False),
        ("b", snapshot(calls_sent=5, calls_ok=5, connections_open=2), False),
        ("a", snapshot(calls_sent=30, calls_ok=28, calls_in_flight=2, connections_open=2), False),  # replaces a's first
    )
    total = totals.totals()
    assert (total["calls_sent"], total["calls_ok"], total["calls_in_flight"], total["connections_open"]) == (
        35,
        33,
        2,
        4,
    )
    assert totals.rss_bytes == 2000


def test_gauges_take_the_max_and_plan_values_are_not_multiplied() -> None:
    totals = totals_of(
        ("a", snapshot(schedule_lag_ms=3.5, rate_target=2000.0, active_users=4, users_sending_peak=2), False),
        ("b", snapshot(schedule_lag_ms=12.0, rate_target=2000.0, active_users=4, users_sending_peak=2), False),
    )
    total = totals.totals()
    assert (total["schedule_lag_ms"], total["rate_target"], total["active_users"]) == (12.0, 2000.0, 4)
    assert total["users_sending_peak"] == 4  # spikes happen at the same plan time on every worker


def test_window_peaks_survive_two_reports_between_rows() -> None:
    totals = WorkerTotals(COUNTER_KEYS)
    totals.update("a", worker_payload(snapshot(users_sending_peak=16, schedule_lag_ms=40.0), 0, False), 0.0)
    totals.update("a", worker_payload(snapshot(users_sending_peak=4, schedule_lag_ms=1.0), 0, False), 1.0)
    row = totals.totals(take_peaks=True)
    assert (row["users_sending_peak"], row["schedule_lag_ms"]) == (16, 40.0)
    assert totals.totals(take_peaks=True)["users_sending_peak"] == 4  # a new window: the latest report


def test_a_gone_worker_keeps_its_counters_but_not_its_connections() -> None:
    totals = totals_of(
        ("alive", snapshot(calls_sent=100, calls_ok=100, connections_open=2), False),
        (
            "dead",
            snapshot(calls_sent=50, calls_ok=45, calls_in_flight=5, connections_open=2, schedule_lag_ms=9.0),
            False,
        ),
    )
    total = totals.totals(gone={"dead"})
    assert total["calls_sent"] == 150 and total["calls_in_flight"] == 5  # the ledger still closes
    assert total["connections_open"] == 2 and total["schedule_lag_ms"] == 0
    assert totals.pending(["alive"]) == ["alive"]


def test_final_reports_end_the_wait() -> None:
    totals = totals_of(("a", snapshot(calls_sent=1), True), ("b", snapshot(calls_sent=1), False))
    assert totals.pending(["a", "b", "c"]) == ["b", "c"]
    totals.update("b", worker_payload(snapshot(calls_sent=2), 0, True), 5.0)
    assert totals.pending(["a", "b"]) == [] and totals.totals()["calls_sent"] == 3
    totals.reset()
    assert totals.totals()["calls_sent"] == 0


def test_storms_at_the_same_moment_merge() -> None:
    storms = merge_storms(
        [
            [{"at": 100.0, "baseline_per_s": 500.0, "recovered_after_s": 0.4},
             {"at": 110.0, "baseline_per_s": 500.0, "recovered_after_s": 0.3}],
            [{"at": 100.2, "baseline_per_s": 400.0, "recovered_after_s": 0.6},
             {"at": 110.1, "baseline_per_s": 400.0, "recovered_after_s": None}],
        ]
    )  # fmt: skip
    assert [(s["at"], s["baseline_per_s"], s["recovered_after_s"], s["workers"]) for s in storms] == [
        (100.0, 900.0, 0.6, 2),
        (110.0, 900.0, None, 2),
    ]


def test_csv_writer_columns_and_values() -> None:
    stream = io.StringIO()
    writer = WsCsvWriter(stream, started_at=1000.0)
    writer.write_row(1002.5, snapshot(calls_sent=7, schedule_lag_ms=1.23456), "rate", 42)
    header, row = (line.split(",") for line in stream.getvalue().splitlines())
    assert header == WS_CSV_COLUMNS
    values = dict(zip(header, row, strict=True))
    assert (values["elapsed_s"], values["stage"], values["calls_sent"], values["schedule_lag_ms"]) == (
        "2.500", "rate", "7", "1.235",
    )  # fmt: skip
    assert values["rss_bytes"] == "42"


def test_rows_stamped_with_the_data_time_have_true_rates_to_the_last_row() -> None:
    """Two workers at 1,000 calls/s each, reporting once a second at their own moments; the master writes a row
    each second and a last one when the final reports arrive 0.1 s after its previous row. Stamped with the
    master's clock, that last row carried a second of counters in 0.1 s (a 10x interval); stamped with the
    data time, every interval reads 2,000 calls/s."""
    totals = WorkerTotals(COUNTER_KEYS)
    phases = {"a": 0.2, "b": 0.7}
    rows: list[tuple[float, float]] = []
    for second in range(1, 11):
        for worker, phase in phases.items():
            at = second - 1 + phase
            totals.update(worker, worker_payload(snapshot(calls_sent=1000 * at), 0, False), at, wall=at)
        data_time = totals.data_time()
        assert data_time is not None
        rows.append((data_time, totals.totals()["calls_sent"]))
    stop = 10.1
    for worker in phases:
        totals.update(worker, worker_payload(snapshot(calls_sent=1000 * stop), 0, True), stop, wall=stop)
    final_time = totals.data_time()
    assert final_time == stop
    rows.append((final_time, totals.totals()["calls_sent"]))
    rates = [(c2 - c1) / (t2 - t1) for (t1, c1), (t2, c2) in zip(rows, rows[1:], strict=False)]
    assert all(abs(rate - 2000.0) < 1e-6 for rate in rates), rates


def test_data_time_leaves_out_gone_workers_and_waits_for_a_report() -> None:
    totals = WorkerTotals(COUNTER_KEYS)
    assert totals.data_time() is None
    totals.update("a", worker_payload(snapshot(), 0, False), 1.0, wall=100.0)
    totals.update("b", worker_payload(snapshot(), 0, False), 1.0, wall=104.0)
    assert totals.data_time() == 102.0
    assert totals.data_time(gone={"b"}) == 100.0
    totals.update("b", worker_payload(snapshot(), 0, True), 2.0, wall=106.0)
    assert totals.data_time(gone={"b"}) == 103.0  # a final report counts, gone or not


def test_a_late_report_is_placed_at_the_time_its_counters_were_taken() -> None:
    """A worker 5 s behind the master's clock whose third report arrives 0.4 s late (a busy machine): rows
    stamped with receipt times would read 600 and 1,400 calls/s around it; with the worker's own snapshot time,
    moved into the master's clock by the least delay seen, every interval reads 1,000."""
    totals = WorkerTotals(COUNTER_KEYS)
    rows: list[tuple[float, float]] = []
    for second, delay in enumerate([0.002, 0.001, 0.4, 0.001, 0.002], start=1):
        at_worker = second - 5.0  # the worker's clock
        received = second + delay
        payload = worker_payload(snapshot(calls_sent=1000 * second), 0, False, at=at_worker)
        totals.update("a", payload, received, wall=received)
        data_time = totals.data_time()
        assert data_time is not None
        rows.append((data_time, totals.totals()["calls_sent"]))
    rates = [(c2 - c1) / (t2 - t1) for (t1, c1), (t2, c2) in zip(rows[1:], rows[2:], strict=False)]
    assert all(abs(rate - 1000.0) < 2.0 for rate in rates), rates
