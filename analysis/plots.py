"""Charts of a run (matplotlib Agg, no pyplot state): one function per chart, units in axis labels."""

from __future__ import annotations

import io
import math
import textwrap

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from analysis.compute import StageSpan, Summary

WIDTH_IN, HEIGHT_IN, DPI = 10.0, 4.2, 100
"""Charts are 1000 px wide; heights vary with content."""

OFF_CHART_FACTOR = 4.0
"""A target line more than this many times the data's peak is named in a note instead of squashing the data."""

COLORS = {
    "messages": "#1f4e9c",
    "sent": "#6aa5e8",
    "received": "#2ca58d",
    "calls": "#e08a1e",
    "floor": "#c0392b",
    "stretch": "#7f8c8d",
    "p50": "#1f4e9c",
    "p90": "#2ca58d",
    "p95": "#8e6bbf",
    "p99": "#e08a1e",
    "p99.9": "#c0392b",
    "max": "#555555",
    "mean": "#444444",
}
STAGE_SHADES = ["#eef3fb", "#fbf3e6", "#edf7ef", "#f6eef8"]
BASE_STYLE, CANDIDATE_STYLE = {"color": "#7f8c8d", "linestyle": "--"}, {"color": "#1f4e9c", "linestyle": "-"}


def new_figure(height_in: float = HEIGHT_IN, rows: int = 1) -> tuple[Figure, list]:
    """A figure drawn by the Agg canvas, with `rows` stacked axes sharing x."""
    figure = Figure(figsize=(WIDTH_IN, height_in), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(rows, 1, sharex=True, squeeze=False)[:, 0].tolist()
    for ax in axes:
        ax.grid(True, color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    return figure, axes


def png_bytes(figure: Figure) -> bytes:
    """The figure as PNG."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def si(value: float, _position: object = None) -> str:
    """12_500 -> '12.5K', 2_000_000 -> '2M' (axis tick labels)."""
    if value is None or math.isnan(value):
        return ""
    for scale, suffix in ((1e6, "M"), (1e3, "K")):
        if abs(value) >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.3g}"


def ms(value: float, _position: object = None) -> str:
    """Tick labels for milliseconds on a log axis: 0.1, 1, 10, 100, 1000."""
    return f"{value:g}"


def _time_axis(ax, summary: Summary) -> None:
    """x from 0 to the end of the run, in seconds."""
    end = summary.throughput.duration_s
    ax.set_xlim(0, end * 1.01 if end and not math.isnan(end) and end > 0 else None)
    ax.set_xlabel("elapsed time (s)")


def _log_ms_axis(axis) -> None:
    """A log axis of milliseconds labelled at 1-2-5 steps."""
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(ms))
    axis.set_minor_formatter(NullFormatter())


def _shade_stages(ax, stages: list[StageSpan], label: bool = True) -> None:
    """One band per stage span; the stage's name above the axes when `label`."""
    for index, span in enumerate(stages):
        ax.axvspan(span.start_s, span.end_s, color=STAGE_SHADES[index % len(STAGE_SHADES)], zorder=0, linewidth=0)
        if not label:
            continue
        ax.annotate(
            span.stage, xy=((span.start_s + span.end_s) / 2, 1.0), xycoords=("data", "axes fraction"),
            ha="center", va="bottom", fontsize=8, color="#555555", annotation_clip=False,
        )  # fmt: skip


def _interval_steps(ax, frame: pd.DataFrame, column: str, **style: object) -> None:
    """Rates that hold over each interval ending at `elapsed_s` (width `interval_s`), drawn as flat steps."""
    rows = frame.dropna(subset=["interval_s"])
    if rows.empty:
        return
    starts = (rows["elapsed_s"] - rows["interval_s"]).tolist()
    x = [*starts, float(rows["elapsed_s"].iloc[-1])]
    y = [*rows[column].tolist(), float(rows[column].iloc[-1])]
    ax.step(x, y, where="post", **style)


def _empty_note(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="#777777", fontsize=11)


def throughput_chart(summary: Summary) -> Figure:
    """Three panels over time, so rates that run close together never hide each other: messages/s (= sent/s +
    received/s) against its targets; calls/s with the rate targets; sent/s up and received/s mirrored down."""
    tput = summary.throughput
    figure, (top, middle, bottom) = new_figure(height_in=7.0, rows=3)
    series = tput.series
    marker = "o" if len(series) <= 30 else None
    midpoints = series["elapsed_s"] - series["interval_s"] / 2  # a rate is the mean over its interval
    for ax in (top, middle, bottom):
        _shade_stages(ax, summary.stages, label=ax is top)
    top.plot(midpoints, series["messages_per_s"], label="messages/s (sent + received)", color=COLORS["messages"],
             linewidth=2.2, marker=marker, markersize=3)  # fmt: skip
    middle.plot(midpoints, series["calls_per_s"], label="calls/s", color=COLORS["calls"], linewidth=1.8,
                marker=marker, markersize=3)  # fmt: skip
    bottom.fill_between(midpoints, series["sent_per_s"], 0, label="sent/s (up)", color=COLORS["sent"], alpha=0.8)
    bottom.fill_between(midpoints, -series["received_per_s"], 0, label="received/s (down)",
                        color=COLORS["received"], alpha=0.8)  # fmt: skip
    bottom.axhline(0, color="#555555", linewidth=0.8)
    peak = float(series["messages_per_s"].max()) if len(series) else 0.0
    notes = _target_lines(top, peak, summary)
    for i, check in enumerate(summary.rate_checks):
        middle.hlines(check.rate_target, check.first_s, check.last_s, color=COLORS["calls"], linestyle=":",
                      linewidth=1.6, label="rate target (calls/s)" if i == 0 else None)  # fmt: skip
    for ax, unit in ((top, "messages/s"), (middle, "calls/s"), (bottom, "messages/s")):
        if ax is not bottom:
            ax.set_ylim(bottom=0)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: si(abs(v))))
        ax.set_ylabel(unit)
        ax.legend(loc="upper right", fontsize=8, ncols=4, framealpha=0.9)
    _time_axis(bottom, summary)
    source = "WebSocket counters" if tput.source == "ws" else "Locust history (2 messages per call)"
    top.set_title(f"Throughput: mean rate of each interval (plotted at its middle), from {source}", loc="left",
                  fontsize=11, pad=14)  # fmt: skip
    if notes:
        top.text(0.01, 0.02, "\n".join(notes), transform=top.transAxes, ha="left", va="bottom", fontsize=8,
                 color="#555555", bbox={"facecolor": "white", "edgecolor": "#dddddd", "alpha": 0.9})  # fmt: skip
    return figure


def _target_lines(ax, peak: float, summary: Summary) -> list[str]:
    notes = []
    for name, color, style in (("floor", COLORS["floor"], "--"), ("stretch", COLORS["stretch"], ":")):
        value = summary.target_limit(name)
        if value is None or value <= 0:
            continue
        label = f"{name} {si(value)} msg/s"
        if peak > 0 and value > OFF_CHART_FACTOR * peak:
            notes.append(f"{label}: above the chart ({value / peak:.0f}x the peak)")
            continue
        ax.axhline(value, color=color, linestyle=style, linewidth=1.4, label=label)
    return notes


def latency_over_time_chart(summary: Summary) -> Figure:
    """Call latency percentiles over time (log ms), with the p50 and p99 targets."""
    frame = summary.latency_over_time
    figure, (ax,) = new_figure()
    _shade_stages(ax, summary.stages)
    shown = frame.dropna(how="all", subset=[c for c in frame.columns if c != "elapsed_s"])
    if shown.empty:
        _empty_note(ax, "no latency history (no calls, or the run was too short)")
    else:
        marker = "o" if len(shown) <= 30 else None
        for column in ("p99.9", "p99", "p90", "p50", "mean"):
            if column not in frame or frame[column].isna().all():
                continue
            # NaN rows (no window yet, or an interval left out) break the line instead of bridging it
            ax.plot(frame["elapsed_s"], frame[column], label=column, color=COLORS[column], marker=marker,
                    markersize=3, linewidth=1.6)  # fmt: skip
        for key, column in (("call_p99", "p99"), ("call_p50", "p50")):
            limit = summary.target_limit(key)
            if limit is not None:
                ax.axhline(limit, color=COLORS[column], linestyle="--", linewidth=1,
                           label=f"{column} target {limit:g} ms")  # fmt: skip
        ax.set_yscale("log")
        _log_ms_axis(ax.yaxis)
        figure.legend(loc="outside lower center", fontsize=8, ncols=6, frameon=False)
    _time_axis(ax, summary)
    ax.set_ylabel("call latency (ms, log scale)")
    ax.set_title(_wrapped(f"Call latency: {summary.latency_over_time_kind}"), loc="left", fontsize=10, pad=14)
    return figure


def _wrapped(text: str, width: int = 110) -> str:
    return "\n".join(textwrap.wrap(text, width))


def latency_by_name_chart(summary: Summary) -> Figure:
    """p50 / p90 / p99 / p99.9 / max per request name on a log ms axis (one row per name)."""
    table = summary.latency[summary.latency["requests"] > 0]
    figure, (ax,) = new_figure(height_in=max(2.4, 1.2 + 0.5 * len(table)))
    if table.empty:
        _empty_note(ax, "no requests")
        return figure
    names = list(table.index)[::-1]
    for row, name in enumerate(names):
        values = table.loc[name]
        ax.plot([values["p50"], values["max"]], [row, row], color="#cccccc", linewidth=2, zorder=1)
        for column, shape in (("p50", "o"), ("p90", "s"), ("p99", "D"), ("p99.9", "^"), ("max", "x")):
            ax.scatter([values[column]], [row], color=COLORS[column], marker=shape, s=42, zorder=2,
                       label=column if row == 0 else None)  # fmt: skip
    ax.set_yticks(range(len(names)), [f"{n}  ({int(table.loc[n, 'requests']):,})" for n in names], fontsize=9)
    ax.set_xscale("log")
    _log_ms_axis(ax.xaxis)
    ax.set_xlabel("latency (ms, log scale)")
    ax.set_ylim(-0.7, len(names) - 0.3)
    ax.set_title("Latency by request name (request count in brackets)", loc="left", fontsize=11)
    figure.legend(loc="outside lower center", fontsize=8, ncols=5, frameon=False)
    return figure


def connections_chart(summary: Summary) -> Figure | None:
    """Open connections, calls in flight, and reconnects / connect failures / disconnects per second."""
    frame = summary.connections_over_time
    if frame.empty or len(frame.columns) < 2:
        return None
    figure, axes = new_figure(height_in=6.0, rows=3)
    panels = [
        (axes[0], [("connections_open", "open connections", "#1f4e9c")], "connections"),
        (axes[1], [("calls_in_flight", "calls in flight", "#e08a1e")], "calls"),
        (axes[2], [("reconnects_per_s", "reconnects/s", "#8e6bbf"),
                   ("connect_failures_per_s", "connect failures/s", "#c0392b"),
                   ("disconnects_per_s", "disconnects/s", "#7f8c8d")], "per second"),
    ]  # fmt: skip
    for ax, lines, unit in panels:
        _shade_stages(ax, summary.stages, label=ax is axes[0])
        for column, label, color in lines:
            if column not in frame:
                continue
            if column.endswith("_per_s"):
                _interval_steps(ax, frame, column, label=label, color=color, linewidth=1.6)
            else:
                ax.plot(frame["elapsed_s"], frame[column], label=label, color=color, linewidth=1.6,
                        marker="o" if len(frame) <= 30 else None, markersize=3)  # fmt: skip
        ax.set_ylabel(unit)
        ax.set_ylim(bottom=0, top=max(1.0, float(frame[[c for c, _, _ in lines if c in frame]].max().max()) * 1.4))
        ax.yaxis.set_major_formatter(FuncFormatter(si))
        ax.legend(loc="upper right", fontsize=8, ncols=3, framealpha=0.9)
    _time_axis(axes[-1], summary)
    axes[0].set_title("Connections, calls in flight and reconnects", loc="left", fontsize=11, pad=14)
    return figure


def errors_chart(summary: Summary) -> Figure:
    """Errors/s by kind (WebSocket counters) and failures/s per request name (Locust history)."""
    by_kind, by_name = summary.errors_over_time, summary.failures_over_time
    figure, axes = new_figure(height_in=5.4, rows=2)
    for ax in axes:
        _shade_stages(ax, summary.stages, label=ax is axes[0])
    _error_panel(axes[0], by_kind, "errors/s by kind", "no WebSocket CSV in this run")
    _error_panel(axes[1], by_name, "failures/s by name", "no Locust history rows")
    _time_axis(axes[-1], summary)
    axes[0].set_title("Errors over time (counts by code are in the failures table)", loc="left", fontsize=11, pad=14)
    return figure


def _error_panel(ax, frame: pd.DataFrame, ylabel: str, missing: str) -> None:
    columns = [c for c in frame.columns if c not in ("elapsed_s", "interval_s")]
    ax.set_ylabel(ylabel)
    if not columns:
        _empty_note(ax, missing)
        return
    nonzero = [c for c in columns if frame[c].fillna(0).abs().sum() > 0]
    if not nonzero:
        _empty_note(ax, "no errors")
        ax.set_ylim(0, 1)
        ax.set_yticks([0, 1])
        return
    for column in nonzero:
        _interval_steps(ax, frame, column, label=str(column), linewidth=1.6)
    ax.set_ylim(bottom=0, top=float(frame[nonzero].max().max()) * 1.3)
    ax.yaxis.set_major_formatter(FuncFormatter(si))
    ax.legend(loc="upper right", fontsize=8, ncols=3, framealpha=0.9)


def overlay_throughput_chart(base: Summary, candidate: Summary) -> Figure:
    """messages/s and calls/s of two runs on one time axis (each interval's rate at its middle)."""
    figure, (ax,) = new_figure()
    for summary, label, style in ((base, "base", BASE_STYLE), (candidate, "candidate", CANDIDATE_STYLE)):
        series = summary.throughput.series
        middle = series["elapsed_s"] - series["interval_s"] / 2
        ax.plot(middle, series["messages_per_s"], label=f"{label}: messages/s", linewidth=2, **style)
        ax.plot(middle, series["calls_per_s"], label=f"{label}: calls/s", linewidth=1, alpha=0.8,
                color=style["color"], linestyle=":")  # fmt: skip
    ax.set_ylim(bottom=0)
    ax.set_xlim(left=0)
    ax.yaxis.set_major_formatter(FuncFormatter(si))
    ax.set_xlabel("elapsed time (s)")
    ax.set_ylabel("rate (per second)")
    ax.set_title("Throughput: base (grey, dashed) vs candidate (blue)", loc="left", fontsize=11)
    figure.legend(loc="outside lower center", fontsize=8, ncols=4, frameon=False)
    return figure


def overlay_latency_chart(base: Summary, candidate: Summary) -> Figure:
    """Call p50 and p99 over time of two runs (log ms)."""
    figure, (ax,) = new_figure()
    drawn = False
    for summary, label, style in ((base, "base", BASE_STYLE), (candidate, "candidate", CANDIDATE_STYLE)):
        frame = summary.latency_over_time
        if frame[["p50", "p99"]].notna().any().any():
            ax.plot(frame["elapsed_s"], frame["p99"], label=f"{label}: p99", linewidth=2, **style)
            ax.plot(frame["elapsed_s"], frame["p50"], label=f"{label}: p50", linewidth=1.2, color=style["color"],
                    linestyle=":")  # fmt: skip
        elif "mean" in frame and frame["mean"].notna().any():
            ax.plot(frame["elapsed_s"], frame["mean"], label=f"{label}: interval mean", linewidth=1.6, **style)
        else:
            continue
        drawn = True
    if drawn:
        ax.set_yscale("log")
        _log_ms_axis(ax.yaxis)
        figure.legend(loc="outside lower center", fontsize=8, ncols=4, frameon=False)
    else:
        _empty_note(ax, "no latency history in either run")
    ax.set_xlim(left=0)
    ax.set_xlabel("elapsed time (s)")
    ax.set_ylabel("call latency (ms, log scale)")
    ax.set_title("Call latency: base (grey, dashed) vs candidate (blue)", loc="left", fontsize=11)
    return figure


def report_charts(summary: Summary) -> dict[str, Figure]:
    """All charts of one report by file stem, in report order (connections only with a WebSocket CSV)."""
    charts = {
        "throughput": throughput_chart(summary),
        "latency_over_time": latency_over_time_chart(summary),
        "latency_by_name": latency_by_name_chart(summary),
    }
    connections = connections_chart(summary)
    if connections is not None:
        charts["connections"] = connections
    charts["errors"] = errors_chart(summary)
    return charts
