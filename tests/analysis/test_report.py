"""analysis.report / pipeline: the HTML is one self-contained page whose images decode; Markdown and JSON agree."""

from __future__ import annotations

import base64
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from analysis.pipeline import make_report
from analysis.report import fmt_ms, fmt_rate, fmt_ratio
from tests.analysis.helpers import FIXTURES, copy_run, png_size


class PageParser(HTMLParser):
    """Collects images, table headers, banner text and any external references."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[dict[str, str]] = []
        self.headers: list[str] = []
        self.external: list[str] = []
        self.banner = ""
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        if tag == "img":
            self.images.append(attributes)
        for key in ("src", "href"):
            if key in attributes and not attributes[key].startswith("data:"):
                self.external.append(attributes[key])
        if tag == "th":
            self._in = "th"
        if tag == "p" and "banner" in attributes.get("class", ""):
            self._in = "banner"

    def handle_endtag(self, tag: str) -> None:
        self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "th":
            self.headers.append(data)
        elif self._in == "banner":
            self.banner += data


@pytest.fixture(scope="module")
def errors_report(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("report")
    return make_report(FIXTURES / "errors" / "run", out), out


def test_writes_html_markdown_json_and_pngs(errors_report) -> None:
    outcome, out = errors_report
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted([
        "report.html", "report.md", "summary.json", "throughput.png", "latency_over_time.png",
        "latency_by_name.png", "connections.png", "errors.png",
    ])  # fmt: skip
    assert outcome.html_path == out / "report.html"


def test_html_is_self_contained_and_its_images_decode(errors_report) -> None:
    _, out = errors_report
    page = PageParser()
    page.feed((out / "report.html").read_text())
    assert page.external == []
    assert len(page.images) == 5
    for image in page.images:
        prefix = "data:image/png;base64,"
        assert image["src"].startswith(prefix)
        data = base64.b64decode(image["src"][len(prefix) :], validate=True)
        assert png_size(data)[0] == 1000
        assert data == (out / image["title"]).read_bytes()  # the same chart as the PNG file
        assert image["alt"]
    assert {"target", "measured", "required", "result", "p99.9", "code", "occurrences"} <= set(page.headers)
    assert page.banner.startswith("FAIL (2/4 targets met): missed messages/s (mean) floor 2,922 msg/s")
    assert page.banner.endswith("| connect p99 n/a: 2 samples (p99 needs ≥ 100); max 17.0 ms")


def test_markdown_links_the_pngs_and_says_what_throughput_is_checked_on(errors_report) -> None:
    _, out = errors_report
    text = (out / "report.md").read_text()
    for link in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text):
        assert png_size((out / link).read_bytes())
    assert "checked against messages/s = sent/s + received/s" in text
    assert "| tool_failed | call_tool:fail | 559 | tool_failed |" in text
    assert "sent 5,766 = ok 5,207 + failed 559 + timeout 0 + lost 0: holds" in text


def test_summary_json_has_the_headline_numbers(errors_report) -> None:
    outcome, out = errors_report
    data = json.loads((out / "summary.json").read_text())
    tput = outcome.summary.throughput
    assert data["calls_per_s"] == {"mean": pytest.approx(5766 / 3.948), "peak_10s": pytest.approx(tput.calls.peak_10s)}
    assert data["messages_per_s"]["mean"] == pytest.approx((5768 + 5768) / 3.948)
    assert set(data["sent_per_s"]) == set(data["received_per_s"]) == {"mean", "peak_10s"}
    assert data["success_rate"] == pytest.approx(5207 / 5766)
    assert data["latency_ms"]["call_tool:echo"] == {
        "p50": 0.42, "p90": 3.05, "p95": pytest.approx(data["latency_ms"]["call_tool:echo"]["p95"]), "p99": 12.2,
        "p99.9": 79.9, "max": pytest.approx(230.447112),
    }  # fmt: skip
    assert set(data["latency_ms"]["calls (all tools)"]) == {"p50", "p90", "p95", "p99", "p99.9", "max"}
    assert [t["name"] for t in data["targets"]][:2] == ["messages/s (mean) floor", "messages/s (mean) stretch"]
    assert all({"name", "target", "measured", "ok"} <= set(t) for t in data["targets"])
    assert data["verdict"] == "fail"
    assert data["failed_targets"] == ["messages/s (mean) floor", "call success rate"]
    assert data["not_judged_targets"] == ["connect p99"]
    assert data["duration_s"] == pytest.approx(3.948)
    assert [Path(s).name for s in data["sources"]][-1] == "run_ws.csv"
    assert data["throughput_checked_on"] == "messages_per_s.mean"
    calls = tput.series["calls_per_s"]
    assert data["intervals"]["count"] == len(calls) and data["intervals"]["max_calls_per_s"] == calls.max()
    assert data["intervals"]["median_calls_per_s"] == pytest.approx(calls.median())
    assert "without --csv-full-history" not in data["latency_over_time"]  # the fixture has the full history


def test_without_ws_csv_the_report_says_messages_are_derived(tmp_path: Path) -> None:
    prefix = copy_run("nofull", tmp_path / "run")
    Path(f"{prefix}_ws.csv").unlink()
    outcome = make_report(prefix, tmp_path / "out")
    data = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert data["throughput_source"] == "history"
    assert data["messages_per_s"]["mean"] == pytest.approx(2 * data["calls_per_s"]["mean"])
    assert any("two per call" in n for n in data["notes"])
    assert data["ledger"] is None
    text = (tmp_path / "out" / "report.md").read_text()
    assert "messages are derived as two per call" in text
    assert "connections.png" not in text and outcome.summary.verdict == "fail"


@pytest.mark.parametrize(
    ("formatter", "value", "text"),
    [(fmt_ms, 0.284, "0.28"), (fmt_ms, 14.14, "14.1"), (fmt_ms, 260.4, "260"), (fmt_ms, float("nan"), "n/a"),
     (fmt_rate, 73821.6, "73,822"), (fmt_ratio, 0.9031, "90.31%")],
)  # fmt: skip
def test_number_formats(formatter, value: float, text: str) -> None:
    assert formatter(value) == text
