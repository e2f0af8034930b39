"""Durations as the options and plan files write them ("30s", "500ms", "1h30m"); anything else is refused."""

from __future__ import annotations

import pytest

from scenarios.durations import parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"), [(30, 30.0), ("30", 30.0), ("30s", 30.0), ("500ms", 0.5), ("2m", 120.0), ("1h30m", 5400.0)]
)
def test_durations(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "abc", "5 parsecs", "1x", True])
def test_bad_durations(text: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)  # type: ignore[arg-type]
