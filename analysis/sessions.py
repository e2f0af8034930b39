"""Connection churn in the report: sessions/s and session duration of a run with --session-calls."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

SESSION_NAME = "session"
"""The request name each finished session is reported as (users/load/sessions.py); its latency is the duration."""


def session_text(connections: Mapping[str, int], duration_s: float, latency: pd.DataFrame) -> str | None:
    """One sentence on session churn: sessions, sessions/s over the run, session duration p50 / p99 (None without
    sessions)."""
    sessions = connections.get("sessions", 0)
    if not sessions:
        return None
    text = (
        f"Sessions (--session-calls): {sessions:,} made their calls and closed with 1000,"
        f" {sessions / max(duration_s, 1e-9):,.1f} sessions/s over the run"
    )
    if SESSION_NAME in latency.index:
        row = latency.loc[SESSION_NAME]
        text += f"; session duration p50 {row['p50']:.2f} ms, p99 {row['p99']:.2f} ms (from the upgrade to the close)"
    return text + "."
