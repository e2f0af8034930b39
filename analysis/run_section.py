"""The report's "Run" section: what ran (PREFIX_run.json) and the server's own counters (server_stats.json)."""

from __future__ import annotations

from analysis.report import Section, Table, Text
from analysis.run_record import RunRecord, differing_settings


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


def settings_diff_section(base: RunRecord, candidate: RunRecord) -> Section:
    """Every setting that differs between two runs' records (or why they cannot be compared)."""
    missing = [label for label, record in (("base", base), ("candidate", candidate)) if not record.present]
    if missing:
        return Section("Settings", [Text(f"No PREFIX_run.json for the {' and '.join(missing)} run: its settings "
                                         "are unknown, so they cannot be compared.")])  # fmt: skip
    rows = [[name, a, b] for name, a, b in differing_settings(base, candidate)]
    if not rows:
        return Section("Settings", [Text("Same settings (start times and output files aside).")])
    return Section(
        "Settings that differ",
        [Table(["setting", "base", "candidate"], rows, text_columns=3)],
    )
