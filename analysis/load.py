"""Read a run's CSV files into typed DataFrames ("N/A" -> NaN, units in column names); LoadError(file, line)."""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

import run_files
from analysis.run_record import RunRecord, load_record

TEXT, INT, FLOAT = "text", "int", "float"
MISSING = {"", "N/A", "NaN", "nan"}
PERCENTILE_HEADER = re.compile(r"^(\d+(?:\.\d+)?)%$")


class LoadError(Exception):
    """A file that cannot be used as it is: says which file, which line (when known) and what is wrong."""

    def __init__(self, file: str | Path, message: str, line: int | None = None) -> None:
        super().__init__(file, message, line)
        self.file = str(file)
        self.message = message
        self.line = line

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class Column:
    """One known column: its header in the file, its name in the DataFrame, its type."""

    header: str
    name: str
    kind: str
    required: bool = False


STATS_COLUMNS = [
    Column("Type", "type", TEXT),
    Column("Name", "name", TEXT, required=True),
    Column("Request Count", "requests", INT, required=True),
    Column("Failure Count", "failures", INT, required=True),
    Column("Median Response Time", "median_ms", FLOAT),
    Column("Average Response Time", "avg_ms", FLOAT),
    Column("Min Response Time", "min_ms", FLOAT),
    Column("Max Response Time", "max_ms", FLOAT, required=True),
    Column("Average Content Size", "avg_content_bytes", FLOAT),
    Column("Requests/s", "locust_requests_per_s", FLOAT),
    Column("Failures/s", "locust_failures_per_s", FLOAT),
]
"""PREFIX_stats.csv: one row per request name, then `Aggregated`; percentile columns are found by pattern."""

HISTORY_COLUMNS = [
    Column("Timestamp", "timestamp_s", FLOAT, required=True),
    Column("User Count", "users", FLOAT),
    Column("Type", "type", TEXT),
    Column("Name", "name", TEXT, required=True),
    Column("Requests/s", "locust_requests_per_s", FLOAT),
    Column("Failures/s", "locust_failures_per_s", FLOAT),
    Column("Total Request Count", "total_requests", INT, required=True),
    Column("Total Failure Count", "total_failures", INT, required=True),
    Column("Total Median Response Time", "total_median_ms", FLOAT),
    Column("Total Average Response Time", "total_avg_ms", FLOAT),
    Column("Total Min Response Time", "total_min_ms", FLOAT),
    Column("Total Max Response Time", "total_max_ms", FLOAT),
    Column("Total Average Content Size", "total_avg_content_bytes", FLOAT),
]
"""PREFIX_stats_history.csv: appended once a second; per name only with --csv-full-history."""

FAILURES_COLUMNS = [
    Column("Method", "method", TEXT),
    Column("Name", "name", TEXT, required=True),
    Column("Error", "error", TEXT, required=True),
    Column("Occurrences", "occurrences", INT, required=True),
    Column("First Seen", "first_seen", TEXT),
    Column("Last Seen", "last_seen", TEXT),
]
"""PREFIX_failures.csv: Locust 2.x writes six columns; older versions the first four."""

EXCEPTIONS_COLUMNS = [
    Column("Count", "count", INT, required=True),
    Column("Message", "message", TEXT, required=True),
    Column("Traceback", "traceback", TEXT),
    Column("Nodes", "nodes", TEXT),
]
"""PREFIX_exceptions.csv: exceptions raised in user code."""

WS_COUNTERS = list(run_files.WS_CUMULATIVE)
"""Cumulative counters of PREFIX_ws.csv (rates are their differences); all but calls_sent are optional."""

_KINDS = {"int": INT, "float": FLOAT, "text": TEXT}
WS_COLUMNS = [
    Column(c.name, c.name, _KINDS[c.number], required=c.name in ("elapsed_s", "calls_sent"))
    for c in run_files.WS_SCHEMA
]
"""PREFIX_ws.csv (run_files.WS_SCHEMA, written by users/telemetry/ws_csv.py): one row a second plus a final one; unknown
extra columns are kept."""


@dataclass(frozen=True)
class Run:
    """Everything read from one run's files: the CSVs, and PREFIX_run.json with server_stats.json (`record`)."""

    prefix: str
    stats: pd.DataFrame
    history: pd.DataFrame
    failures: pd.DataFrame
    exceptions: pd.DataFrame
    ws: pd.DataFrame | None
    sources: list[str] = field(default_factory=list)
    record: RunRecord = field(default_factory=RunRecord)

    @property
    def full_history(self) -> bool:
        """True when the history has rows per request name (Locust's --csv-full-history)."""
        return bool((self.history["name"] != "Aggregated").any())


def resolve_prefix(given: str | Path) -> Path:
    """The CSV prefix for `given`: a prefix itself, or a folder holding exactly one `*_stats.csv`."""
    path = Path(given)
    if run_files.run_file(path, run_files.STATS_CSV).is_file():
        return path
    if path.is_dir():
        found = sorted(p for p in path.glob(f"*{run_files.STATS_CSV}") if p.is_file())
        if len(found) == 1:
            return found[0].with_name(found[0].name[: -len(run_files.STATS_CSV)])
        if len(found) > 1:
            names = ", ".join(p.name for p in found)
            raise LoadError(path, f"holds several runs ({names}); give the prefix, e.g. {path / 'run'}")
        raise LoadError(path, "no *_stats.csv in this folder (Locust writes PREFIX_stats.csv with --csv PREFIX)")
    raise LoadError(run_files.run_file(path, run_files.STATS_CSV), "missing file (Locust writes it with --csv PREFIX)")


def load_run(given: str | Path) -> Run:
    """Read all files of the run at `given` (a prefix or a run folder), once; the WebSocket CSV and the run's
    record are optional."""
    prefix = resolve_prefix(given)
    stats_path, history_path, failures_path, exceptions_path = (
        run_files.run_file(prefix, suffix) for suffix in run_files.LOCUST_CSV_SUFFIXES
    )
    ws_path = run_files.run_file(prefix, run_files.WS_CSV)
    sources = [str(stats_path), str(history_path), str(failures_path)]
    stats = read_stats(stats_path)
    history = read_history(history_path)
    failures = read_failures(failures_path)
    exceptions = _empty(EXCEPTIONS_COLUMNS)
    if exceptions_path.exists():
        exceptions = read_exceptions(exceptions_path)
        sources.append(str(exceptions_path))
    ws = None
    if ws_path.exists():
        ws = read_ws(ws_path)
        sources.append(str(ws_path))
    return Run(str(prefix), stats, history, failures, exceptions, ws, sources, load_record(prefix))


def read_stats(path: str | Path) -> pd.DataFrame:
    """PREFIX_stats.csv -> one row per name; percentiles as `p50_ms`, `p99.9_ms`, ... (NaN where N/A)."""
    table = _read_table(path, STATS_COLUMNS, "Locust stats CSV (PREFIX_stats.csv)", percentiles=True)
    if table.empty:
        raise LoadError(path, "no data rows (Locust writes at least the Aggregated row): truncated or unfinished?", 2)
    return table


def read_history(path: str | Path) -> pd.DataFrame:
    """PREFIX_stats_history.csv -> rows of (timestamp_s, name) with cumulative totals and windowed percentiles."""
    return _read_table(path, HISTORY_COLUMNS, "Locust stats history CSV (PREFIX_stats_history.csv)", percentiles=True)


def read_failures(path: str | Path) -> pd.DataFrame:
    """PREFIX_failures.csv (4- or 6-column form) -> name, error, occurrences, ..."""
    table = _read_table(path, FAILURES_COLUMNS, "Locust failures CSV (PREFIX_failures.csv)")
    for column in FAILURES_COLUMNS:
        if column.name not in table:
            table[column.name] = ""
    return table


def read_exceptions(path: str | Path) -> pd.DataFrame:
    """PREFIX_exceptions.csv -> count, message, traceback, nodes."""
    return _read_table(path, EXCEPTIONS_COLUMNS, "Locust exceptions CSV (PREFIX_exceptions.csv)")


def read_ws(path: str | Path) -> pd.DataFrame:
    """PREFIX_ws.csv -> one row per sample; cumulative counters must not go down.

    A row whose time is not later than the one before (a wall clock stepped back) is kept here and skipped when
    rates are computed (analysis.throughput.increasing).
    """
    table = _read_table(path, WS_COLUMNS, "WebSocket metrics CSV (PREFIX_ws.csv)", keep_unknown=True)
    if table.empty:
        raise LoadError(path, "no data rows (the run writes a final row when it stops): truncated or unfinished?", 2)
    lines = table.attrs["lines"]
    for name in WS_COUNTERS:
        if name not in table:
            continue
        values = table[name].tolist()
        for i in range(1, len(values)):
            if values[i] < values[i - 1]:
                raise LoadError(
                    path,
                    f"{name} {values[i - 1]} -> {values[i]}: a cumulative counter goes down (two runs in one file?)",
                    lines[i],
                )
    if "stage" not in table:
        table["stage"] = ""
    return table


def _empty(columns: list[Column]) -> pd.DataFrame:
    frame = pd.DataFrame({c.name: pd.Series(dtype=object if c.kind == TEXT else float) for c in columns})
    frame.attrs["lines"] = []
    return frame


def _read_table(
    path: str | Path,
    columns: list[Column],
    what: str,
    *,
    percentiles: bool = False,
    keep_unknown: bool = False,
) -> pd.DataFrame:
    """Parse, check and type one CSV file; `attrs["lines"]` holds each row's line number."""
    header, rows = _read_rows(Path(path))
    known = {c.header: c for c in columns}
    missing = [c.header for c in columns if c.required and c.header not in header]
    if missing:
        shown = ", ".join(header[:8]) + (", ..." if len(header) > 8 else "")
        raise LoadError(path, f"not a {what}: no column {', '.join(repr(m) for m in missing)} (header: {shown})", 1)
    duplicates = sorted({h for h in header if header.count(h) > 1})
    if duplicates:
        raise LoadError(path, f"column {duplicates[0]!r} appears twice in the header", 1)
    plan: list[tuple[int, str, str]] = []  # (index in file, name in frame, kind); None kind = guess
    for index, title in enumerate(header):
        if title in known:
            plan.append((index, known[title].name, known[title].kind))
        elif percentiles and (match := PERCENTILE_HEADER.match(title)):
            plan.append((index, f"p{match.group(1)}_ms", FLOAT))
        elif keep_unknown and title:
            plan.append((index, title, ""))
    data: dict[str, list] = {}
    for index, name, kind in plan:
        data[name] = _convert_column(path, header[index], kind, [(line, fields[index]) for line, fields in rows])
    frame = pd.DataFrame(data)
    frame.attrs["lines"] = [line for line, _ in rows]
    return frame


def _read_rows(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header and (line number, fields) of each non-blank row; every row has the header's width."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise LoadError(path, "missing file") from None
    except IsADirectoryError:
        raise LoadError(path, "is a folder, not a CSV file") from None
    except OSError as exc:
        raise LoadError(path, f"cannot read: {exc.strerror}") from None
    if not raw.strip():
        raise LoadError(path, "empty file (no header line)", 1)
    if b"\0" in raw:
        raise LoadError(path, "binary data, not a CSV file", raw[: raw.index(b"\0")].count(b"\n") + 1)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LoadError(path, "not UTF-8 text, not a CSV file", raw[: exc.start].count(b"\n") + 1) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[tuple[int, list[str]]] = []
    start = 1
    try:
        header = [h.strip() for h in next(reader)]
        start = reader.line_num + 1
        for fields in reader:
            if fields and any(f.strip() for f in fields):
                rows.append((start, fields))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise LoadError(path, f"malformed CSV: {exc}", start) from None
    for number, (line, fields) in enumerate(rows):
        if len(fields) != len(header):
            last = number == len(rows) - 1
            hint = ": the file is truncated" if last and len(fields) < len(header) else ""
            raise LoadError(path, f"{len(fields)} fields where the header has {len(header)}{hint}", line)
    return header, rows


def _convert_column(path: str | Path, title: str, kind: str, cells: list[tuple[int, str]]) -> list:
    """Typed values of one column; kind "" keeps text unless every cell is a number or missing."""
    if kind == TEXT:
        return [value for _, value in cells]
    values: list = []
    for line, value in cells:
        text = value.strip()
        if text in MISSING:
            if kind == INT:
                raise LoadError(path, f"column {title!r}: a count is missing ({value!r})", line)
            values.append(math.nan)
            continue
        try:
            number = float(text)
        except ValueError:
            if kind == "":
                return [v for _, v in cells]
            raise LoadError(path, f"column {title!r}: {value!r} is not a number", line) from None
        if kind == INT:
            if not number.is_integer():
                raise LoadError(path, f"column {title!r}: {value!r} is not a whole number", line)
            number = int(number)
        values.append(number)
    return values
