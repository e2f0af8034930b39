"""The report's sentence on connection churn: sessions/s over the run and session duration percentiles."""

from __future__ import annotations

import pandas as pd

from analysis.sessions import session_text


def test_sessions_per_second_and_duration_percentiles_of_the_session_row() -> None:
    latency = pd.DataFrame({"p50": [1.5, 0.2], "p99": [4.25, 0.9]}, index=["session", "call_tool:echo"])
    text = session_text({"connects": 1210, "sessions": 1200}, 8.0, latency)
    assert text == (
        "Sessions (--session-calls): 1,200 made their calls and closed with 1000, 150.0 sessions/s over the run;"
        " session duration p50 1.50 ms, p99 4.25 ms (from the upgrade to the close)."
    )


def test_no_sentence_without_sessions_and_no_percentiles_without_the_session_row() -> None:
    latency = pd.DataFrame({"p50": [0.2], "p99": [0.9]}, index=["call_tool:echo"])
    assert session_text({"connects": 4, "sessions": 0}, 8.0, latency) is None
    assert session_text({"connects": 4}, 8.0, latency) is None
    assert session_text({"sessions": 10}, 2.0, latency) == (
        "Sessions (--session-calls): 10 made their calls and closed with 1000, 5.0 sessions/s over the run."
    )
