"""Markdown, self-contained HTML and summary.json from computed results (documents built from shared blocks)."""

from __future__ import annotations

import base64
import html
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from analysis.compute import CALLS, ERROR_KINDS, REPORTED_PERCENTILES, Summary, Target, Throughput, worst_interval
from analysis.sessions import session_text
from analysis.thresholds import fmt_ms as fmt_number_ms
from analysis.verdict import Verdict

# --- document blocks ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Text:
    """A paragraph; `strong` renders it bold."""

    text: str
    strong: bool = False


@dataclass(frozen=True)
class Banner:
    """The verdict line, coloured by `ok` in HTML."""

    text: str
    ok: bool


@dataclass(frozen=True)
class Table:
    """A table; columns after the first `text_columns` are right-aligned numbers, unless `numeric` lists them."""

    headers: list[str]
    rows: list[list[str]]
    text_columns: int = 1
    numeric: tuple[int, ...] | None = None

    def is_numeric(self, column: int) -> bool:
        return column in self.numeric if self.numeric is not None else column >= self.text_columns


@dataclass(frozen=True)
class Bullets:
    items: list[str]


@dataclass(frozen=True)
class Image:
    """A chart: `file` is its PNG's name beside the report, `png` its bytes (embedded in HTML)."""

    file: str
    alt: str
    png: bytes


@dataclass(frozen=True)
class Section:
    title: str
    blocks: list[Text | Banner | Table | Bullets | Image] = field(default_factory=list)


@dataclass(frozen=True)
class Document:
    title: str
    sections: list[Section]


# --- number formatting --------------------------------------------------------------------------------------------


def missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def fmt_rate(value: float | None) -> str:
    """Rates and counts: 74,210."""
    return "n/a" if missing(value) else f"{value:,.0f}"


def fmt_ms(value: float | None) -> str:
    """Latency with the precision it has: 0.28, 14.1, 260."""
    return "n/a" if missing(value) else fmt_number_ms(value)


def fmt_ratio(value: float | None) -> str:
    """0.99 -> '99.00%'."""
    return "n/a" if missing(value) else f"{100 * value:.2f}%"


def fmt_measured(target: Target, value: float | None = None) -> str:
    value = target.measured if value is None else value
    if missing(value):
        return "n/a"
    if target.unit == "ratio":
        return fmt_ratio(value)
    if target.unit == "ms":
        return f"{fmt_ms(value)} ms"
    return f"{fmt_rate(value)} {target.unit}"


def fmt_required(target: Target) -> str:
    if target.comparison.startswith("±"):
        return f"{fmt_measured(target, target.target)} {target.comparison}"
    sign = {">=": "≥", "<=": "≤"}.get(target.comparison, target.comparison)
    if target.unit == "ms":
        return f"{sign} {target.target:g} ms"
    return f"{sign} {fmt_measured(target, target.target)}"


def target_result(target: Target) -> str:
    if target.ok is None:
        return f"n/a: {target.note}"
    if not target.gates:
        return "met (does not gate)" if target.ok else "not met (does not gate)"
    if target.ok:
        return "PASS"
    return "FAIL" + (f" ({target.note})" if target.note else "")


# --- the run report -----------------------------------------------------------------------------------------------


def run_verdict(summary: Summary, verdict: Verdict | None = None) -> Verdict:
    """The whole verdict: `verdict` (with completeness) when given, else the summary's list alone."""
    return verdict or Verdict(tuple(summary.targets))


def verdict_line(summary: Summary, verdict: Verdict | None = None) -> str:
    """One line a person or a CI log can read: the whole verdict (targets, thresholds, whether the run ended
    cleanly), what missed, and what throughput was checked on."""
    whole = run_verdict(summary, verdict)
    own = whole.gating("target")
    tail = "".join(f" | {t.name} n/a: {t.note}" for t in own if t.ok is None)
    misses = [
        f"{t.name} {fmt_measured(t)}, needs {fmt_required(t)}" + (f" ({t.note})" if t.note else "")
        for t in own
        if t.ok is False
    ] + whole.missed_thresholds()
    throughput = throughput_text(summary.targets)
    if not misses:
        return f"{whole.head()}: {throughput}{tail}"
    return f"{whole.head()}: missed {'; '.join(misses)} | {throughput}{tail}"


def throughput_text(targets: list[Target]) -> str:
    """`messages/s (mean) 3,517 msg/s ≥ floor 3,000 msg/s; stretch 200,000 msg/s not met` (a missed floor: no)."""
    floor = next((t for t in targets if t.key == "floor"), None)
    stretch = next((t for t in targets if t.key == "stretch"), None)
    parts = []
    if floor is not None and floor.ok:
        what = floor.name.removesuffix(" floor")
        parts.append(f"{what} {fmt_measured(floor)} ≥ floor {fmt_measured(floor, floor.target)}")
    if stretch is not None:
        parts.append(f"stretch {fmt_measured(stretch, stretch.target)} {'met' if stretch.ok else 'not met'}")
    return "; ".join(parts)


def run_document(
    summary: Summary, charts: dict[str, bytes], verdict: Verdict | None = None, run_section: Section | None = None
) -> Document:
    """The report of one run, as blocks; `run_section` (what ran) follows the verdict."""
    whole = run_verdict(summary, verdict)
    tput = summary.throughput
    source = (
        "the WebSocket counters of PREFIX_ws.csv"
        if tput.source == "ws"
        else "Locust's stats history; no PREFIX_ws.csv, so messages are derived as two per call"
    )
    overview = [
        Banner(verdict_line(summary, whole), whole.word == "PASS"),
        Text(
            f"Duration {tput.duration_s:.1f} s; {summary.calls_total:,} calls ({summary.calls_failed:,} not ok,"
            f" success rate {fmt_ratio(summary.success_rate)}). Rates are differences of cumulative counters"
            f" ({source}), not Locust's smoothed Requests/s. Throughput targets are checked against"
            " messages/s = sent/s + received/s (PROTOCOL.md)."
        ),
    ]
    rates = Table(
        ["rate", "mean", "peak (10 s window)"],
        [
            [label, fmt_rate(stat.mean), fmt_rate(stat.peak_10s)]
            for label, stat in (
                ("messages/s (sent + received)", tput.messages),
                ("calls/s", tput.calls),
                ("sent/s", tput.sent),
                ("received/s", tput.received),
            )
        ],
    )
    targets = Table(
        ["target", "measured", "required", "result", "threshold"],
        [[t.name, fmt_measured(t), fmt_required(t), target_result(t), t.threshold] for t in whole.targets],
        text_columns=5,
    )
    sections = [
        Section("Verdict", overview),
        *([run_section] if run_section is not None else []),
        Section("Throughput", [rates]),
        Section("Targets", [targets, Text(TARGETS_NOTE)]),
        Section("Latency (ms)", latency_blocks(summary)),
    ]
    if summary.stages:
        sections.append(Section("Stages", [stage_table(summary)]))
    sections.append(Section("Calls and connections", accounting_blocks(summary)))
    sections.append(Section("Failures", failure_blocks(summary)))
    sections.append(Section("Charts", [Image(f"{name}.png", CHART_TITLES.get(name, name), png)
                                       for name, png in charts.items()]))  # fmt: skip
    notes = [*tput.notes, f"Latency over time: {summary.latency_over_time_kind}."]
    if CALLS in summary.latency.index:
        notes.append(
            f"'{CALLS}' percentiles are estimated by mixing each tool's percentiles weighted by its request count"
            " (Locust writes percentiles, not samples); max is exact."
        )
    notes.append("Locust's percentiles are bucketed (0.01 ms below 10 ms with this project's locustfile).")
    sections.append(Section("Notes", [Bullets(notes)]))
    sections.append(Section("Sources", [Bullets(summary.sources)]))
    return Document(f"Load test report: {summary.prefix}", sections)


TARGETS_NOTE = (
    "Targets and --threshold expressions are one list, judged alike (a trailing ? in the threshold: reported only)."
    " A percentile is judged on at least 20 samples and 1 / (1 - q) (p99: 100); with fewer it is n/a and does not"
    " fail the run; anything else not measured fails. rate_error: calls sent/s of each stage with a rate target,"
    " from 3 s after its first row to its last, against that target."
)

CHART_TITLES = {
    "throughput": "Throughput over time with targets and stages",
    "latency_over_time": "Call latency percentiles over time",
    "latency_by_name": "Latency by request name",
    "connections": "Connections, calls in flight and reconnects",
    "errors": "Errors over time",
}


def latency_blocks(summary: Summary) -> list[Text | Table]:
    labels = [label for label, _ in REPORTED_PERCENTILES]
    rows = []
    for name, row in summary.latency.iterrows():
        rows.append(
            [str(name), fmt_rate(row["requests"]), fmt_rate(row["failures"]), *(fmt_ms(row[c]) for c in labels),
             fmt_ms(row["max"])]
        )  # fmt: skip
    table = Table(["name", "requests", "failures", *labels, "max"], rows)
    stands = summary.call_latency_name
    text = f"Call targets (`calls:`) are checked on '{stands}'." if stands else "No call latency to check targets on."
    return [table, Text(text)]


def stage_table(summary: Summary) -> Table:
    return Table(
        ["stage", "from (s)", "to (s)", "calls/s", "messages/s"],
        [[s.stage, f"{s.start_s:.1f}", f"{s.end_s:.1f}", fmt_rate(s.calls_per_s), fmt_rate(s.messages_per_s)]
         for s in summary.stages],
    )  # fmt: skip


def accounting_blocks(summary: Summary) -> list[Text | Table | Bullets]:
    book = summary.ledger
    if book is None:
        return [Text("No WebSocket CSV: no call ledger or connection counters (Locust's counts are above).")]
    identity = (
        f"sent {book.sent:,} = ok {book.ok:,} + failed {book.failed:,} + timeout {book.timeout:,}"
        f" + lost {book.lost:,}" + (f" + in flight {book.in_flight:,}" if book.in_flight else "")
    )
    check = "holds" if book.holds else "DOES NOT HOLD"
    blocks: list[Text | Table | Bullets] = [Text(f"Call ledger: {identity}: {check}.", strong=not book.holds)]
    counters = summary.connections
    if counters:
        blocks.append(Table(["counter", "at end of run"], [[k, f"{v:,}"] for k, v in counters.items()]))
    churn = session_text(counters, summary.throughput.duration_s, summary.latency)
    if churn:
        blocks.append(Text(churn))
    return blocks


def failure_blocks(summary: Summary) -> list[Text | Table]:
    blocks: list[Text | Table] = []
    if summary.failures.empty:
        blocks.append(Text("No failures recorded by Locust."))
    else:
        blocks.append(
            Table(
                ["code", "name", "occurrences", "message"],
                [[r.code, r.name, f"{r.occurrences:,}", _short(r.message)] for r in summary.failures.itertuples()],
                numeric=(2,),
            )
        )
    by_kind = summary.errors_over_time
    if len(by_kind):
        totals = []
        for label in ERROR_KINDS.values():
            if label in by_kind:
                count = (by_kind[label] * by_kind["interval_s"]).sum()
                totals.append([label, f"{count:,.0f}"])
        blocks.append(Table(["kind (WebSocket counters)", "total"], totals))
    if not summary.exceptions.empty:
        blocks.append(
            Table(
                ["exception", "count"],
                [[_short(str(r.message)), f"{int(r.count):,}"] for r in summary.exceptions.itertuples()],
            )
        )
    return blocks


def _short(text: str, limit: int = 160) -> str:
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= limit else one_line[: limit - 1] + "…"


def summary_json(summary: Summary, charts: list[str], verdict: Verdict | None = None) -> dict[str, object]:
    """summary.json: the headline numbers, targets and verdict a CI job can gate on."""
    whole = run_verdict(summary, verdict)
    tput = summary.throughput
    latency = {
        str(name): {**{label: _num(row[label]) for label, _ in REPORTED_PERCENTILES}, "max": _num(row["max"])}
        for name, row in summary.latency.iterrows()
    }
    requests = {
        str(name): {"count": int(row["requests"]), "failures": int(row["failures"])}
        for name, row in summary.latency.iterrows()
    }
    book = summary.ledger
    return {
        "verdict": whole.word.lower(),
        "verdict_line": verdict_line(summary, whole),
        "incomplete": whole.incomplete,
        "thresholds": [{"threshold": t.threshold, "passed": t.ok} for t in whole.targets if t.source == "threshold"],
        "failed_targets": [t.name for t in whole.targets if t.gates and t.ok is False],
        "not_judged_targets": [t.name for t in whole.targets if t.gates and t.ok is None],
        "duration_s": _num(tput.duration_s),
        "calls_per_s": tput.calls.as_dict(),
        "messages_per_s": tput.messages.as_dict(),
        "sent_per_s": tput.sent.as_dict(),
        "received_per_s": tput.received.as_dict(),
        "throughput_checked_on": f"messages_per_s.{summary.throughput_stat}",
        "throughput_source": tput.source,
        "intervals": interval_json(tput),
        "rate_overshoots": [] if summary.rate_overshoots is None else summary.rate_overshoots.to_dict("records"),
        "success_rate": _num(summary.success_rate),
        "calls": {"total": summary.calls_total, "not_ok": summary.calls_failed},
        "latency_ms": latency,
        "call_latency_name": summary.call_latency_name,
        "requests": requests,
        "targets": [t.as_dict() for t in whole.targets],
        "ledger": None if book is None else {**book.__dict__, "holds": book.holds},
        "connections": summary.connections,
        "failures": [
            {"code": r.code, "name": r.name, "occurrences": int(r.occurrences), "message": r.message}
            for r in summary.failures.itertuples()
        ],
        "stages": [
            s.__dict__ | {"calls_per_s": _num(s.calls_per_s), "messages_per_s": _num(s.messages_per_s)}
            for s in summary.stages
        ],  # fmt: skip
        "latency_over_time": summary.latency_over_time_kind,
        "notes": list(tput.notes),
        "charts": charts,
        "sources": summary.sources,
    }


def interval_json(tput: Throughput) -> dict[str, float | None]:
    """The busiest interval of calls/s against the median interval (artefacts show up here)."""
    worst, median = worst_interval(tput.series)
    if worst is None:
        return {"count": 0, "median_calls_per_s": None, "max_calls_per_s": None, "max_at_s": None}
    return {
        "count": len(tput.series),
        "median_calls_per_s": _num(median),
        "max_calls_per_s": _num(float(worst["calls_per_s"])),
        "max_at_s": _num(float(worst["elapsed_s"])),
        "max_interval_s": _num(float(worst["interval_s"])),
    }


def _num(value: float | None) -> float | None:
    return None if missing(value) else float(value)


# --- rendering ----------------------------------------------------------------------------------------------------


def to_markdown(document: Document, images: bool = True) -> str:
    """GitHub-flavoured Markdown; images link the PNG files beside it (left out when `images` is False)."""
    lines = [f"# {document.title}", ""]
    for section in document.sections:
        blocks = [b for b in section.blocks if images or not isinstance(b, Image)]
        if not blocks:
            continue
        lines += [f"## {section.title}", ""]
        for block in blocks:
            lines += _markdown_block(block) + [""]
    return "\n".join(lines).rstrip() + "\n"


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _markdown_block(block: Text | Banner | Table | Bullets | Image) -> list[str]:
    if isinstance(block, Banner):
        return [f"**{block.text}**"]
    if isinstance(block, Text):
        return [f"**{block.text}**" if block.strong else block.text]
    if isinstance(block, Bullets):
        return [f"- {item}" for item in block.items]
    if isinstance(block, Image):
        return [f"![{block.alt}]({block.file})"]
    align = ["---:" if block.is_numeric(i) else ":---" for i in range(len(block.headers))]
    out = ["| " + " | ".join(_md_cell(h) for h in block.headers) + " |", "| " + " | ".join(align) + " |"]
    out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in block.rows]
    return out


STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 1060px;
       color: #222; line-height: 1.45; padding: 0 1rem; }
h1 { font-size: 1.5rem; word-break: break-all; } h2 { font-size: 1.15rem; margin-top: 2rem;
     border-bottom: 1px solid #ddd; padding-bottom: .2rem; }
table { border-collapse: collapse; margin: .6rem 0; font-size: .9rem; }
th, td { padding: .25rem .7rem; border-bottom: 1px solid #e5e5e5; text-align: left; vertical-align: top; }
th { background: #f4f6f8; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.banner { padding: .8rem 1rem; border-radius: 6px; font-weight: 600; }
.pass { background: #e7f6ec; border: 1px solid #6cc28a; } .fail { background: #fdecea; border: 1px solid #e0766b; }
td.ok { color: #1e7b3c; font-weight: 600; } td.bad { color: #b03a2e; font-weight: 600; }
img { max-width: 100%; border: 1px solid #eee; margin: .5rem 0 1rem; }
"""


def to_html(document: Document) -> str:
    """One self-contained HTML page: inline CSS, charts embedded as base64 PNG."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(document.title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{html.escape(document.title)}</h1>",
    ]
    for section in document.sections:
        parts.append(f"<h2>{html.escape(section.title)}</h2>")
        parts += [_html_block(block) for block in section.blocks]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _html_block(block: Text | Banner | Table | Bullets | Image) -> str:
    if isinstance(block, Banner):
        return f'<p class="banner {"pass" if block.ok else "fail"}">{html.escape(block.text)}</p>'
    if isinstance(block, Text):
        text = html.escape(block.text)
        return f"<p><strong>{text}</strong></p>" if block.strong else f"<p>{text}</p>"
    if isinstance(block, Bullets):
        return "<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in block.items) + "</ul>"
    if isinstance(block, Image):
        data = base64.b64encode(block.png).decode("ascii")
        return (
            f'<img alt="{html.escape(block.alt)}" title="{html.escape(block.file)}" src="data:image/png;base64,{data}">'
        )
    head = "".join(f"<th>{html.escape(h)}</th>" for h in block.headers)
    body = []
    for row in block.rows:
        cells = "".join(f"<td{_cell_class(block, i, c)}>{html.escape(c)}</td>" for i, c in enumerate(row))
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _cell_class(table: Table, column: int, text: str) -> str:
    classes = ["num"] if table.is_numeric(column) else []
    if text == "PASS" or text.startswith("met"):
        classes.append("ok")
    elif text.startswith(("FAIL", "REGRESSION")):
        classes.append("bad")
    return f' class="{" ".join(classes)}"' if classes else ""


def write_document(document: Document, out_dir: Path, stem: str, data: dict[str, object]) -> list[Path]:
    """Write STEM.html, STEM.md, the charts' PNGs and the JSON (`summary.json` for a report); returns the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for section in document.sections:
        for block in section.blocks:
            if isinstance(block, Image):
                path = out_dir / block.file
                path.write_bytes(block.png)
                written.append(path)
    html_path, md_path = out_dir / f"{stem}.html", out_dir / f"{stem}.md"
    json_path = out_dir / ("summary.json" if stem == "report" else f"{stem}.json")
    html_path.write_text(to_html(document), encoding="utf-8")
    md_path.write_text(to_markdown(document), encoding="utf-8")
    json_path.write_text(json.dumps(data, indent=2, allow_nan=False, ensure_ascii=False) + "\n", encoding="utf-8")
    return [html_path, md_path, json_path, *written]
