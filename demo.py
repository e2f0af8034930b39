"""`make demo`: a headless Locust run against the embedded reference server, ending in a short summary."""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

from analysis.load import LoadError
from analysis.pipeline import make_report
from reference_server.launcher import start_reference_server
from run_files import WS_CSV, run_file, server_stats_file
from users.load.tool_mix import ToolMixError, parse_tool_spec

ROOT = Path(__file__).resolve().parent


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", default="60s", help="Locust --run-time (default 60s).")
    parser.add_argument("--users", type=int, default=20, help="Concurrent WebSocket users (default 20).")
    parser.add_argument("--spawn-rate", type=float, default=20.0, help="Users started per second (default 20).")
    parser.add_argument("--in-flight", type=int, default=10, help="Calls outstanding per user (default 10).")
    parser.add_argument("--tools", default="echo", help="Tool mix, as Locust's --tools (default echo).")
    parser.add_argument("--results", type=Path, default=ROOT / "results", help="Parent of the run's folder.")
    return parser.parse_args(argv)


DURATION = re.compile(r"(?:\d+h)?(?:\d+m)?(?:\d+s)?|\d+")


def check_args(args: argparse.Namespace) -> str | None:
    """What is wrong with the demo's arguments, before anything starts (None: nothing)."""
    if not args.duration or not DURATION.fullmatch(args.duration):
        return f"--duration must look like 20s, 2m or 1h30m, got {args.duration!r}"
    if args.users < 1 or args.in_flight < 1 or not args.spawn_rate > 0:
        return "--users and --in-flight must be at least 1 and --spawn-rate positive"
    try:
        parse_tool_spec(args.tools)
    except ToolMixError as exc:
        return f'{exc} (in make, quote the value: DEMO_ARGS="--tools \'echo:9,sleep:1={{\\"ms\\":5}}\'")'
    return None


def locust_command(args: argparse.Namespace, server_url: str, control_url: str, run_dir: Path) -> list[str]:
    """The headless Locust run of the demo; it ends with the run's summary, checked against the server."""
    return [
        sys.executable, "-m", "locust",
        "-f", str(ROOT / "locustfile.py"),
        "--headless",
        "-u", str(args.users),
        "-r", str(args.spawn_rate),
        "-t", args.duration,
        "-H", server_url,
        "--server-control-url", control_url,
        "--in-flight", str(args.in_flight),
        "--tools", args.tools,
        "--csv", str(run_dir / "run"),
        "--csv-full-history",
        "--html", str(run_dir / "locust_report.html"),
        "--only-summary",
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    problem = check_args(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    run_dir = args.results / time.strftime("%Y%m%d-%H%M%S")
    run_dir.mkdir(parents=True, exist_ok=True)
    prefix = run_dir / "run"
    secret = secrets.token_urlsafe(32)  # a fresh secret per run, passed to both sides by environment only
    with start_reference_server("--stats-file", str(server_stats_file(prefix)), jwt_secret=secret) as server:
        print(f"reference server: {server.url} (stats {server.stats_url})", flush=True)
        env = {**os.environ, "LOCUST_JWT_SECRET": secret}
        print(f"locust: {args.users} users x {args.in_flight} in flight for {args.duration} ...", flush=True)
        command = locust_command(args, server.url, server.base_url, run_dir)
        done = subprocess.run(command, cwd=ROOT, env=env, check=False)
    if not run_file(prefix, WS_CSV).exists():
        shutil.rmtree(run_dir, ignore_errors=True)  # no half-written results folder
        print(f"error: locust ended with exit code {done.returncode} before any load; nothing kept", file=sys.stderr)
        return done.returncode or 1
    print()
    print(f"results in {run_dir}")
    for line in report_lines(prefix, run_dir / "report"):
        print(line)
    return done.returncode


def report_lines(prefix: Path, out_dir: Path) -> list[str]:
    """Write the run's report (as `python -m analysis report` does) and say where it is and what it concluded.

    The demo's exit code stays Locust's: the targets (50K msg/s, call p99 < 100 ms, ...) are for a real load
    generator and server, and a demo sharing two cores with its server may miss them. To gate on the targets, run
    `python -m analysis report`, whose exit code is the verdict.
    """
    try:
        outcome = make_report(prefix, out_dir)
    except LoadError as exc:
        return [f"report          not written: {exc}"]
    lines = [f"report          {outcome.html_path}", f"verdict         {outcome.verdict_line}"]
    if outcome.summary.verdict != "pass":
        lines.append(
            "                (the demo's exit code stays Locust's: a small machine, shared with the server, may miss"
            " the targets)"
        )
    return lines


if __name__ == "__main__":
    sys.exit(main())
