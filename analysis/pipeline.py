"""Load, compute, draw and write: one report or one comparison (used by the CLI and by demo.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from analysis.compare import Comparison, compare, comparison_document, comparison_json, comparison_line
from analysis.compute import DEFAULT_TARGETS, Summary, TargetSpec, summarize
from analysis.load import load_run
from analysis.plots import overlay_latency_chart, overlay_throughput_chart, png_bytes, report_charts
from analysis.report import Document, run_document, summary_json, verdict_line, write_document
from analysis.run_record import RunRecord, differing_settings
from analysis.run_section import run_section, settings_diff_section
from analysis.thresholds import Threshold
from analysis.verdict import Verdict


@dataclass(frozen=True)
class ReportOutcome:
    """What a report run produced: the summary, its document and the files written."""

    summary: Summary
    document: Document
    files: list[Path]
    verdict: Verdict
    record: RunRecord

    @property
    def html_path(self) -> Path:
        return self.files[0]

    @property
    def verdict_line(self) -> str:
        return verdict_line(self.summary, self.verdict)

    @property
    def exit_code(self) -> int:
        """0 pass, 1 fail, 3 incomplete (docs/reference/exit-codes.md)."""
        return self.verdict.exit_code


@dataclass(frozen=True)
class ComparisonOutcome:
    comparison: Comparison
    document: Document
    files: list[Path]

    @property
    def line(self) -> str:
        return comparison_line(self.comparison)

    @property
    def exit_code(self) -> int:
        return 1 if self.comparison.regressions else 0


def make_report(
    prefix: str | Path,
    out_dir: str | Path,
    targets: tuple[TargetSpec, ...] = DEFAULT_TARGETS,
    expressions: list[Threshold] | None = None,
) -> ReportOutcome:
    """Read the run at `prefix` and write report.html, report.md, summary.json and the charts into `out_dir`;
    the verdict joins the targets and the `expressions` (--threshold), judged as one list, and whether the run
    ended cleanly.

    Raises LoadError on bad input.
    """
    run = load_run(prefix)
    summary = summarize(run, targets, tuple(expressions or ()))
    record = run.record
    verdict = Verdict(tuple(summary.targets), record.incomplete())
    figures = report_charts(summary)
    charts = {name: png_bytes(figure) for name, figure in figures.items()}
    document = run_document(summary, charts, verdict, run_section(record))
    data = summary_json(summary, [f"{name}.png" for name in charts], verdict)
    files = write_document(document, Path(out_dir), "report", data)
    return ReportOutcome(summary, document, files, verdict, record)


def make_comparison(
    base: str | Path,
    candidate: str | Path,
    out_dir: str | Path | None = None,
    max_regression: float = 0.10,
    latency_floor_ms: float = 0.1,
    max_success_drop: float = 0.005,
) -> ComparisonOutcome:
    """Compare two runs; with `out_dir`, write compare.html, compare.md, compare.json and overlay charts."""
    base_run, candidate_run = load_run(base), load_run(candidate)
    summaries = summarize(base_run), summarize(candidate_run)
    comparison = compare(*summaries, max_regression, latency_floor_ms, max_success_drop)
    labels = (base_run.prefix, candidate_run.prefix)
    charts: dict[str, bytes] = {}
    if out_dir is not None:
        charts = {
            "compare_throughput": png_bytes(overlay_throughput_chart(comparison.base, comparison.candidate)),
            "compare_latency": png_bytes(overlay_latency_chart(comparison.base, comparison.candidate)),
        }
    document = comparison_document(comparison, *labels, charts)
    records = base_run.record, candidate_run.record
    document.sections.insert(0, settings_diff_section(*records))
    files: list[Path] = []
    if out_dir is not None:
        data = comparison_json(comparison, *labels, [f"{name}.png" for name in charts])
        data["settings_differ"] = [
            {"setting": k, "base": a, "candidate": b} for k, a, b in differing_settings(*records)
        ]
        files = write_document(document, Path(out_dir), "compare", data)
    return ComparisonOutcome(comparison, document, files)
