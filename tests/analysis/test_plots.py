"""analysis.plots: every chart renders to a PNG that decodes, with its targets, stages and units."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from matplotlib.image import imread

from analysis.compute import summarize, target_specs
from analysis.load import load_run
from analysis.plots import (
    connections_chart,
    errors_chart,
    latency_by_name_chart,
    latency_over_time_chart,
    overlay_latency_chart,
    png_bytes,
    report_charts,
    throughput_chart,
)
from tests.analysis.helpers import FIXTURES, copy_run, png_size, write_ws, ws_row


def legend_labels(figure) -> list[str]:
    legends = [*figure.legends, *(ax.get_legend() for ax in figure.axes if ax.get_legend())]
    return [text.get_text() for legend in legends for text in legend.get_texts()]


def all_texts(figure) -> list[str]:
    return [t.get_text() for ax in figure.axes for t in ax.texts]


@pytest.mark.parametrize("run", ["fast", "errors", "nofull", "slow", "stages"])
def test_every_chart_is_a_decodable_png(run: str) -> None:
    charts = report_charts(summarize(load_run(FIXTURES / run / "run")))
    assert list(charts) == ["throughput", "latency_over_time", "latency_by_name", "connections", "errors"]
    for name, figure in charts.items():
        data = png_bytes(figure)
        width, height = png_size(data)
        assert width == 1000 and 200 <= height <= 700, name
        pixels = imread(io.BytesIO(data), format="png")
        assert pixels.shape[:2] == (height, width)
        assert pixels.std() > 0.01, f"{name} is blank"


def test_throughput_chart_draws_near_targets_and_names_far_ones() -> None:
    run = load_run(FIXTURES / "fast" / "run")  # about 3,500 msg/s
    near = throughput_chart(summarize(run, target_specs(target_msgs=3000, stretch_msgs=10_000)))
    assert {"floor 3K msg/s", "stretch 10K msg/s", "messages/s (sent + received)", "calls/s"} <= set(
        legend_labels(near)
    )
    far = throughput_chart(summarize(run))
    assert "floor 50K msg/s" not in legend_labels(far)
    assert any("floor 50K msg/s: above the chart" in t for t in all_texts(far))
    assert far.axes[0].get_ylabel() == "messages/s" and far.axes[2].get_xlabel() == "elapsed time (s)"


def test_messages_calls_and_sent_received_each_have_their_own_panel() -> None:
    summary = summarize(load_run(FIXTURES / "fast" / "run"))
    figure = throughput_chart(summary)
    top, middle, bottom = figure.axes
    assert [line.get_label() for line in top.get_lines()] == ["messages/s (sent + received)"]
    assert [line.get_label() for line in middle.get_lines()] == ["calls/s"]
    sent, received = bottom.collections[:2]
    assert (sent.get_label(), received.get_label()) == ("sent/s (up)", "received/s (down)")
    series = summary.throughput.series
    assert max(p[1] for p in sent.get_paths()[0].vertices) == pytest.approx(series["sent_per_s"].max())
    assert min(p[1] for p in received.get_paths()[0].vertices) == pytest.approx(-series["received_per_s"].max())


def test_stages_are_shaded_and_labelled(tmp_path: Path) -> None:
    prefix = copy_run("fast", tmp_path)
    write_ws(
        prefix, [ws_row(t, "warmup" if t <= 2 else "steady", calls_sent=10 * t, calls_ok=10 * t) for t in range(1, 6)]
    )
    figure = throughput_chart(summarize(load_run(prefix)))
    ax = figure.axes[0]
    assert len(ax.patches) == 2  # one band per stage
    assert {"warmup", "steady"} <= set(all_texts(figure))


def test_latency_charts_use_log_milliseconds() -> None:
    summary = summarize(load_run(FIXTURES / "errors" / "run"))
    over_time = latency_over_time_chart(summary)
    assert over_time.axes[0].get_yscale() == "log" and "ms" in over_time.axes[0].get_ylabel()
    assert {"p50", "p99", "p99 target 100 ms", "p50 target 5 ms"} <= set(legend_labels(over_time))
    by_name = latency_by_name_chart(summary)
    ticks = [t.get_text() for t in by_name.axes[0].get_yticklabels()]
    assert "call_tool:fail  (559)" in ticks and by_name.axes[0].get_xscale() == "log"


def test_no_ws_csv_means_no_connections_chart(tmp_path: Path) -> None:
    prefix = copy_run("fast", tmp_path)
    Path(f"{prefix}_ws.csv").unlink()
    summary = summarize(load_run(prefix))
    assert connections_chart(summary) is None
    assert "connections" not in report_charts(summary)
    assert "no WebSocket CSV in this run" in all_texts(errors_chart(summary))


def test_errors_chart_shows_error_kinds_and_names() -> None:
    figure = errors_chart(summarize(load_run(FIXTURES / "errors" / "run")))
    assert {"call failed (error code)", "call_tool:fail"} <= set(legend_labels(figure))
    quiet = errors_chart(summarize(load_run(FIXTURES / "fast" / "run")))
    assert all_texts(quiet).count("no errors") == 2


def test_without_full_history_the_latency_chart_draws_the_interval_mean_and_says_so() -> None:
    summary = summarize(load_run(FIXTURES / "nofull" / "run"))
    figure = latency_over_time_chart(summary)
    labels = set(legend_labels(figure))
    assert "mean" in labels and not {"p50", "p99"} & labels
    title = figure.axes[0].get_title(loc="left").replace("\n", " ")
    assert "mean call latency of each interval" in title and "--csv-full-history" in title
    line = next(line for line in figure.axes[0].get_lines() if line.get_label() == "mean")
    assert list(line.get_ydata()) == pytest.approx(summary.latency_over_time["mean"].tolist(), nan_ok=True)
    overlay = overlay_latency_chart(summary, summary)
    assert {"base: interval mean", "candidate: interval mean"} <= set(legend_labels(overlay))


def test_the_throughput_chart_draws_each_rate_target() -> None:
    summary = summarize(load_run(FIXTURES / "rate" / "run"))
    figure = throughput_chart(summary)
    assert "rate target (calls/s)" in legend_labels(figure)
    drawn = [segment.tolist() for lines in figure.axes[1].collections for segment in lines.get_segments()]
    assert drawn == [[[1.002, 300.0], [6.001, 300.0]], [[7.001, 300.0], [13.003, 300.0]]]  # sustained, rate
