"""The report's "Run" section: what ran (PREFIX_run.json) and the server's own counters (server_stats.json)."""

from __future__ import annotations

from analysis.report import Section, Table, Text
from analysis.run_record import RunRecord


def run_section(record: RunRecord) -> Section:
    """Settings of the run, how it ended, and the server's counters when its stats file lies beside the CSVs."""
    blocks: list[Text | Table] = []
    if record.problem:
        blocks.append(Text(f"Run record: {record.problem}.", strong=True))
    elif not record.present:
        blocks.append(Text("No PREFIX_run.json: this run's settings and whether it ended cleanly are unknown."))
    else:
        blocks.append(Table(["setting", "value"], [[k, v] for k, v in record.settings().items()], text_columns=2))
    counters = record.server_counters()
    if counters:
        blocks.append(Text("The server's own counters (server_stats.json beside the CSVs):"))
        blocks.append(Table(["server counter", "value"], [[k, v] for k, v in counters.items()]))
    return Section("Run", blocks)
