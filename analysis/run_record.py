"""Pure reading of PREFIX_run.json (what ran, how it ended) and server_stats.json: settings rows, completeness, diffs."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from run_files import RUN_JSON, run_file, server_stats_file

HEADLINE_KEYS = (
    "started_at", "host", "protocol", "scenario", "plan", "users", "run_time_s", "role", "locust_version",
    "project_version", "python_version",
)  # fmt: skip
"""Top-level fields of the record shown first, in this order."""
QUIET_OPTIONS = frozenset({"csv_prefix", "html_file", "json_file", "logfile", "config", "locustfile", "headless"})
"""Options that name output files or how Locust was started, not the load: not listed as settings that differ."""
MAX_SERVER_COUNTERS = 40


@dataclass(frozen=True)
class RunRecord:
    """A run's record: `data` as written (empty when there is none), or why it could not be read."""

    data: Mapping[str, Any] = field(default_factory=dict)
    problem: str = ""
    server_stats: Mapping[str, Any] | None = None

    @property
    def present(self) -> bool:
        return bool(self.data)

    def incomplete(self) -> str:
        """Why the run did not end cleanly ("" when it did, or when there is no record to tell)."""
        if self.problem:
            return self.problem
        if not self.data:
            return ""
        ended = self.data.get("ended")
        if not isinstance(ended, Mapping):
            return "the run never recorded its end (killed, or still running)"
        missing = ended.get("workers_without_final") or []
        if missing:
            return f"no final report from {len(missing)} worker(s): {', '.join(map(str, missing))}"
        reason = str(ended.get("reason", "completed"))
        return "" if reason == "completed" else f"run {reason}"

    def settings(self) -> dict[str, str]:
        """Every setting as text: the headline fields, then each option (`option.NAME`)."""
        rows = {key: _text(self.data.get(key)) for key in HEADLINE_KEYS if key in self.data}
        ended = self.data.get("ended")
        if isinstance(ended, Mapping):
            rows["ended"] = f"{ended.get('at', '?')} after {ended.get('elapsed_s', '?')} s: {ended.get('reason', '?')}"
        elif self.data:
            rows["ended"] = "never recorded"
        options = self.data.get("options")
        if isinstance(options, Mapping):
            rows.update({f"option.{k}": _text(v) for k, v in sorted(options.items())})
        return rows

    def server_counters(self) -> dict[str, str]:
        """The server's own numeric counters (top level of server_stats.json), bounded."""
        if not isinstance(self.server_stats, Mapping):
            return {}
        numbers = {k: v for k, v in self.server_stats.items() if isinstance(v, int | float) and not isinstance(v, bool)}
        return {str(k): f"{v:,}" for k, v in sorted(numbers.items())[:MAX_SERVER_COUNTERS]}


def _text(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value)) or "–"
    return str(value)


def _read_json(path: Path) -> tuple[Any, str]:
    try:
        return json.loads(path.read_text(encoding="utf-8")), ""
    except FileNotFoundError:
        return None, ""
    except (OSError, ValueError) as exc:
        return None, f"{path.name} unreadable ({exc.__class__.__name__})"


def load_record(prefix: str | Path) -> RunRecord:
    """PREFIX_run.json and, beside it, server_stats.json (either may be missing: older runs, other servers)."""
    prefix = Path(prefix)
    data, problem = _read_json(run_file(prefix, RUN_JSON))
    server, _ = _read_json(server_stats_file(prefix))
    if data is not None and not isinstance(data, Mapping):
        data, problem = None, f"{prefix.name}{RUN_JSON} is not a JSON object"
    return RunRecord(data or {}, problem, server if isinstance(server, Mapping) else None)


def differing_settings(base: RunRecord, candidate: RunRecord) -> list[tuple[str, str, str]]:
    """(setting, base value, candidate value) for every setting that differs; start and end times are left out."""
    a, b = base.settings(), candidate.settings()
    skip = {"started_at", "ended", *(f"option.{name}" for name in QUIET_OPTIONS)}
    keys = [k for k in dict.fromkeys([*a, *b]) if k not in skip]
    return [(k, a.get(k, "(absent)"), b.get(k, "(absent)")) for k in keys if a.get(k) != b.get(k)]
