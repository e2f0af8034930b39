"""Assertions shared by the distributed-run tests."""

from __future__ import annotations

from typing import Any

from tests.distributed.cluster import DistributedRun

COUNTER_FIELDS_SUMMED = ("calls_sent", "calls_ok", "messages_sent", "messages_received", "bytes_sent", "connects")


def summed_once(run: DistributedRun) -> list[dict[str, str]]:
    """Each worker's final counters (PREFIX_workers.csv) add up to the master's last row, exactly once."""
    rows = run.workers_csv()
    assert rows, "no worker reported"
    final = run.result.ws_final
    for name in COUNTER_FIELDS_SUMMED:
        assert sum(float(r[name]) for r in rows) == final[name], name
    return rows


def server_agrees(ws: dict[str, float], stats: dict[str, Any]) -> None:
    """On a clean run the server counted exactly the calls the master reports."""
    assert stats["calls_received"] == ws["calls_sent"], (stats["calls_received"], ws["calls_sent"])
    assert stats["results_ok"] == ws["calls_ok"]
    assert stats["hello_ok"] == ws["hellos_ok"]
    assert stats["connections_opened"] == ws["connects"]
