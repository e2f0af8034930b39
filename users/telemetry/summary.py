"""Pure end-of-run summary: the call ledger, message rates, latency per request name, the server's agreement."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from analysis.thresholds import NameFigures

SUMMARY_PERCENTILES = ("p50", "p90", "p99", "p99.9", "max")


@dataclass(frozen=True)
class ServerCheck:
    """The reference server's own counts over this run (differences of its /stats), or why there are none."""

    calls_received: int = 0
    results_ok: int = 0
    unavailable: str = ""


def server_delta(before: Mapping[str, object] | None, after: Mapping[str, object] | None, why: str) -> ServerCheck:
    """The server's counts between two /stats answers (it may have served earlier runs); `why` when one is missing."""
    if before is None or after is None:
        return ServerCheck(unavailable=why or "no /stats answer")

    def count(stats: Mapping[str, object], key: str) -> int:
        value = stats.get(key, 0)
        return int(value) if isinstance(value, int | float) else 0

    return ServerCheck(
        count(after, "calls_received") - count(before, "calls_received"),
        count(after, "results_ok") - count(before, "results_ok"),
    )


def server_agrees(counters: Mapping[str, float], server: ServerCheck) -> bool:
    """The server received every call sent except possibly those lost with their connections, and answered ok
    at least every call the client counted ok."""
    sent, lost = int(counters["calls_sent"]), int(counters["calls_lost"])
    return sent - lost <= server.calls_received <= sent and server.results_ok >= int(counters["calls_ok"])


def summary_lines(
    counters: Mapping[str, float],
    duration_s: float,
    names: Mapping[str, NameFigures],
    server: ServerCheck | None = None,
) -> list[str]:
    """The lines printed when a run ends (counters: WsCounters.snapshot() keys, final)."""
    span = max(duration_s, 1e-9)
    sent, in_flight = int(counters["calls_sent"]), int(counters["calls_in_flight"])
    outcomes = [int(counters[k]) for k in ("calls_ok", "calls_failed", "calls_timeout", "calls_lost")]
    holds = "holds" if in_flight == 0 and sent == sum(outcomes) else f"{in_flight:,} still in flight"
    msg_sent, msg_received = int(counters["messages_sent"]), int(counters["messages_received"])
    lines = [
        f"summary   {duration_s:.1f} s",
        "ledger    sent {:,} = ok {:,} + failed {:,} + timeout {:,} + lost {:,} ({})".format(sent, *outcomes, holds),
        f"calls     {sum(outcomes) / span:,.0f} calls/s settled",
        f"messages  {(msg_sent + msg_received) / span:,.0f} msg/s (sent {msg_sent / span:,.0f}/s + received "
        f"{msg_received / span:,.0f}/s)",
        *_session_line(counters, span),
        f"{'latency (ms)':<26} {'requests':>11} {'failed':>8} " + " ".join(f"{p:>7}" for p in SUMMARY_PERCENTILES),
    ]
    for name, figures in sorted(names.items()):
        if figures.requests == 0:
            continue
        values = [figures.latency_ms.get(p) for p in SUMMARY_PERCENTILES]
        cells = " ".join(f"{'-' if v is None else f'{v:.2f}':>7}" for v in values)
        lines.append(f"  {name:<24} {figures.requests:>11,} {figures.failures:>8,} {cells}")
    if server is not None:
        lines.append(_server_line(counters, server))
    return lines


def _session_line(counters: Mapping[str, float], span: float) -> list[str]:
    """With --session-calls: sessions/s (each session's duration is the latency row `session`)."""
    sessions, late = int(counters.get("sessions", 0)), int(counters.get("sessions_late", 0))
    line = f"sessions  {sessions:,} closed after their calls, {sessions / span:,.1f} sessions/s"
    return [line + (f", {late:,} started late" if late else "")] if sessions else []


def _server_line(counters: Mapping[str, float], server: ServerCheck) -> str:
    if server.unavailable:
        return f"server    counters not checked: {server.unavailable}"
    verdict = "agrees with the client" if server_agrees(counters, server) else "DIFFERS from the client"
    return f"server    {server.calls_received:,} calls received, {server.results_ok:,} ok: {verdict}"
