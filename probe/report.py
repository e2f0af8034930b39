"""Pure Autobahn|Testsuite report shape: reports/servers/index.json and one JSON file per case."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from probe.results import CaseResult, case_key


def report_file(agent: str, case_id: str) -> str:
    """The per-case file name, as Autobahn names them: `<agent>_case_1_1.json` (unsafe characters as _)."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", agent).lower()
    return f"{safe}_case_{case_id.replace('.', '_')}.json"


def index(agent: str, results: Sequence[CaseResult]) -> dict[str, dict[str, dict[str, Any]]]:
    """`{agent: {case id: {behavior, behaviorClose, duration, remoteCloseCode, reportfile}}}`."""
    cases = {}
    for r in sorted(results, key=lambda r: case_key(r.case_id)):
        cases[r.case_id] = {
            "behavior": r.outcome.behavior,
            "behaviorClose": r.outcome.behavior_close,
            "duration": r.duration_ms,
            "remoteCloseCode": r.outcome.remote_close_code,
            "reportfile": report_file(agent, r.case_id),
        }
    return {agent: cases}


def case_report(agent: str, result: CaseResult) -> dict[str, Any]:
    """The per-case report: the index entry plus the case's title and what was seen."""
    return {
        "agent": agent,
        "id": result.case_id,
        "description": result.title,
        "result": result.outcome.detail,
        **index(agent, [result])[agent][result.case_id],
    }


def write_reports(out: Path, agent: str, results: Sequence[CaseResult]) -> Path:
    """Write `index.json` and the per-case files into `out` (created); the index's path."""
    out.mkdir(parents=True, exist_ok=True)
    for r in results:
        (out / report_file(agent, r.case_id)).write_text(json.dumps(case_report(agent, r), indent=2) + "\n")
    path = out / "index.json"
    path.write_text(json.dumps(index(agent, results), indent=2) + "\n")
    return path
