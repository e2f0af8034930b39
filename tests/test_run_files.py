"""run_files.py is the one contract of a run's files: the writers' counters, the docs page and analysis follow it."""

from __future__ import annotations

import ast
from pathlib import Path

import run_files
from analysis.compute import CONNECTION_COUNTERS, NON_CALL_COUNTERS
from analysis.load import WS_COLUMNS, WS_COUNTERS
from users.wire.metrics import WsCounters

ROOT = Path(__file__).resolve().parents[1]


def test_the_schema_holds_every_counter_a_generator_reports_in_its_order() -> None:
    assert list(WsCounters().snapshot()) == run_files.WS_COUNTER_KEYS
    assert run_files.WS_CSV_COLUMNS[:3] == ["timestamp", "elapsed_s", "stage"]
    assert run_files.WS_CSV_COLUMNS[-1] == "rss_bytes"


def test_the_docs_page_gives_each_column_its_kind() -> None:
    rows = [line.split("|") for line in (ROOT / "docs/reference/ws-csv.md").read_text().splitlines()]
    kinds = {cells[1].strip().strip("`"): cells[2].strip() for cells in rows if len(cells) > 3 and "`" in cells[1]}
    assert {c.name: c.kind for c in run_files.WS_SCHEMA} == {n: kinds[n] for n in run_files.WS_CSV_COLUMNS}


def test_analysis_reads_the_schema_and_names_only_its_columns() -> None:
    assert [c.header for c in WS_COLUMNS] == run_files.WS_CSV_COLUMNS
    assert "calls_in_flight" not in WS_COUNTERS and "calls_sent" in WS_COUNTERS
    assert set(CONNECTION_COUNTERS) | set(NON_CALL_COUNTERS) <= set(run_files.WS_CSV_COLUMNS)


def test_run_files_imports_nothing_of_the_project() -> None:
    tree = ast.parse((ROOT / "run_files.py").read_text())
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert imported <= {"__future__", "dataclasses", "pathlib"}


def test_no_writer_spells_a_run_file_name_itself() -> None:
    names = [*run_files.LOCUST_CSV_SUFFIXES, run_files.WS_CSV, run_files.STORMS_CSV, run_files.STEPS_CSV]
    names += [run_files.WORKERS_CSV, run_files.RUN_JSON, run_files.SERVER_STATS_JSON]
    sources = [ROOT / "demo.py", ROOT / "option_table.py"]
    sources += [p for d in ("users", "scenarios", "analysis", "bench") for p in (ROOT / d).rglob("*.py")]
    spelled = []
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text())):
            strings = [node.value] if isinstance(node, ast.Constant) and isinstance(node.value, str) else []
            if isinstance(node, ast.JoinedStr):
                strings = [v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str)]
            spelled += [f"{path.relative_to(ROOT)}: {s!r}" for s in strings if s in names]
    assert spelled == []
