"""`python -m analysis report|compare`: exit 0 pass / no regression, 1 fail / regression, 2 bad input, 3 incomplete."""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

from analysis.load import LoadError, resolve_prefix
from analysis.report import to_markdown
from analysis.targets import target_specs
from analysis.thresholds import ThresholdError, parse_thresholds
from analysis.verdict import EXIT_BAD_INPUT


def rate(text: str) -> float:
    """'50000', '50K', '0.2M' -> a number of messages per second."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kKmM]?)\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a rate (e.g. 50000, 50K, 0.2M)")
    return float(match.group(1)) * {"": 1, "k": 1e3, "m": 1e6}[match.group(2).lower()]


def fraction(text: str) -> float:
    """'99%', '0.99' -> 0.99; '10%', '0.1' -> 0.1; a bare number above 1 is taken as percent ('10' -> 0.1)."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(%?)\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a fraction or a percentage (e.g. 0.99, 99%)")
    value = float(match.group(1))
    if match.group(2) or value > 1:
        value /= 100
    if value > 1:
        raise argparse.ArgumentTypeError(f"{text!r} is more than 100%")
    return value


def points(text: str) -> float:
    """Percentage points: '0.5', '0.5%', '0.5pp' -> 0.005."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(%|pp)?\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of percentage points (e.g. 0.5)")
    value = float(match.group(1))
    if value > 100:
        raise argparse.ArgumentTypeError(f"{text!r} is more than 100 percentage points")
    return value / 100


def milliseconds(text: str) -> float:
    try:
        value = float(text.removesuffix("ms").strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of milliseconds") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be above 0 ms")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m analysis",
        description="Reports from a Locust run's CSV files (--csv PREFIX) and this project's PREFIX_ws.csv. "
        "Exit code 0: every target and threshold met / no regression; 1: a target or threshold missed / a "
        "regression; 2: bad input; 3: the run did not end cleanly (INCOMPLETE: killed, a worker without its final "
        "report, stopped early or aborted).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="{report,compare}")
    report = commands.add_parser(
        "report",
        help="write report.html, report.md, summary.json and PNG charts for one run",
        description="Write DIR/report.html (self-contained), DIR/report.md, DIR/summary.json and the charts as PNG. "
        "The targets are threshold expressions (msgs>=50K/s, calls:p99<100ms, ...; the options below change "
        "them) judged with any --threshold as one list. Throughput targets are checked against messages/s (sent + "
        "received); the floor gates the verdict, the stretch target is reported only. Writes the Markdown summary to $GITHUB_STEP_SUMMARY when set.",
    )
    report.add_argument("prefix", help="the run's --csv PREFIX (e.g. results/20261121-150212/run) or its folder")
    report.add_argument("--out", type=Path, metavar="DIR",
                        help="output folder (default: PREFIX_report beside the CSVs, e.g. x/run_report)")  # fmt: skip
    report.add_argument("--target-msgs", type=rate, metavar="RATE",
                        help="floor of messages/s that gates the verdict: the target msgs>=RATE/s (default 50K)")  # fmt: skip
    report.add_argument("--stretch-msgs", type=rate, metavar="RATE",
                        help="stretch messages/s, reported as met / not met: msgs>=RATE/s? (default 200K)")  # fmt: skip
    report.add_argument("--throughput-stat", choices=["mean", "peak_10s"], default="mean",
                        help="messages/s the targets check: mean over the run (default, msgs) or 10 s peak "
                        "(msgs_peak)")  # fmt: skip
    report.add_argument("--p99-ms", type=milliseconds, metavar="MS",
                        help="call p99 must be below this: calls:p99<MSms (default 100)")  # fmt: skip
    report.add_argument("--p50-ms", type=milliseconds, metavar="MS",
                        help="call p50 must be below this: calls:p50<MSms (default 5)")  # fmt: skip
    report.add_argument("--connect-p99-ms", type=milliseconds, metavar="MS",
                        help="connect p99 must be below this: connect:p99<MSms (default 10)")  # fmt: skip
    report.add_argument("--min-success", type=fraction, metavar="RATIO",
                        help="lowest call success rate, e.g. 0.99 or 99%%: success>=RATIO (default 99%%)")  # fmt: skip
    report.add_argument("--threshold", action="append", default=[], metavar="EXPR",
                        help="k6-style pass/fail criteria, as Locust's --threshold (repeatable or comma-separated): "
                        "p99<100ms, errors<1%%, msgs>=50K/s, call_tool:echo:p99<5ms; judged with the targets, in "
                        "one list; a failed one exits 1; a trailing ? reports without gating")  # fmt: skip
    comparison = commands.add_parser(
        "compare",
        help="compare two runs; exit 1 on a regression beyond --max-regression",
        description="Side-by-side table and overlay charts of two runs, after naming how their request names and "
        "tool mixes differ. Mean messages/s and calls/s, and call p50/p99, are checked: worse than BASE by more "
        "than --max-regression is a regression (exit 1); so is a call success rate lower by more than "
        "--max-success-drop.",
    )
    comparison.add_argument("base", help="PREFIX (or folder) of the baseline run")
    comparison.add_argument("candidate", help="PREFIX (or folder) of the run to judge")
    comparison.add_argument("--out", type=Path, metavar="DIR",
                            help="write compare.html, compare.md, compare.json and charts here")  # fmt: skip
    comparison.add_argument("--max-regression", type=fraction, default=0.10, metavar="PERCENT",
                            help="allowed worsening, e.g. 10%% or 0.1 (default 10%%)")  # fmt: skip
    comparison.add_argument("--latency-floor-ms", type=float, default=0.1, metavar="MS",
                            help="latency changes smaller than this are never regressions (default 0.1)")  # fmt: skip
    comparison.add_argument("--max-success-drop", type=points, default=0.005, metavar="POINTS",
                            help="allowed drop of the call success rate in percentage points (default 0.5: "
                            "99.9%% -> 99.3%% is a regression)")  # fmt: skip
    return parser


def default_report_dir(prefix: Path) -> Path:
    """PREFIX_report beside the CSVs: two runs in one folder get two report folders."""
    return prefix.with_name(f"{prefix.name}_report")


def say(text: str) -> None:
    """Print a line; a reader that went away (`| head -1`) ends the output quietly, not the command."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # Python's own flush at exit would fail on the closed pipe again
        os.close(devnull)


def write_step_summary(markdown: str) -> None:
    """Append to the GitHub Actions job summary when $GITHUB_STEP_SUMMARY is set."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if target:
        with open(target, "a", encoding="utf-8") as f:
            f.write(markdown + "\n")


def run_report(args: argparse.Namespace) -> int:
    from analysis.pipeline import make_report

    targets = target_specs(
        target_msgs=args.target_msgs,
        stretch_msgs=args.stretch_msgs,
        throughput_stat=args.throughput_stat,
        p99_ms=args.p99_ms,
        p50_ms=args.p50_ms,
        connect_p99_ms=args.connect_p99_ms,
        min_success=args.min_success,
    )
    try:
        expressions = parse_thresholds(args.threshold, report=True)
    except ThresholdError as exc:
        print(f"error: --threshold {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    prefix = resolve_prefix(args.prefix)
    outcome = make_report(prefix, args.out or default_report_dir(prefix), targets, expressions)
    say(outcome.verdict_line)  # first: the whole verdict (targets, thresholds, a clean end)
    verdict = outcome.verdict
    given = [t for t in verdict.targets if t.source == "threshold"]
    for row in given:
        states = (
            {True: "ok", False: "FAILED", None: "n/a"} if row.gates else {True: "met", False: "not met", None: "n/a"}
        )
        gating = "" if row.gates else " (does not gate)"
        say(f"threshold {row.threshold}: {states[row.ok]}{gating} ({row.observed})")
    if given:
        say(f"thresholds {'passed' if verdict.thresholds_ok else 'FAILED'}")
    say(f"report: {outcome.html_path}")
    write_step_summary(to_markdown(outcome.document, images=False))
    return outcome.exit_code


def run_compare(args: argparse.Namespace) -> int:
    from analysis.pipeline import make_comparison

    outcome = make_comparison(
        args.base, args.candidate, args.out, args.max_regression, args.latency_floor_ms, args.max_success_drop
    )
    say(to_markdown(outcome.document, images=False))
    if outcome.files:
        say(f"comparison: {outcome.files[0]}")
    write_step_summary(to_markdown(outcome.document, images=False))
    return outcome.exit_code


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run_report(args) if args.command == "report" else run_compare(args)
    except LoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as exc:  # e.g. an --out folder that cannot be written
        print(f"error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
