"""The churn stage's start schedule: evenly spaced starts, late claims when users are busy, stage boundaries."""

from __future__ import annotations

import pytest

from users.load.session_clock import SessionClock


def test_starts_are_one_per_interval_from_the_first_claim_whoever_claims_them() -> None:
    clock = SessionClock()
    starts = [clock.claim(0, 4.0, 10.0, 20.0) for _ in range(5)]  # five free users claim at once
    assert starts == [10.0, 10.25, 10.5, 10.75, 11.0]


def test_busy_users_claim_starts_already_past_so_they_are_late_and_the_schedule_keeps_its_place() -> None:
    clock = SessionClock()
    assert clock.claim(0, 10.0, 10.0, 20.0) == 10.0
    late = clock.claim(0, 10.0, 12.0, 20.0)  # the next free user comes 2 s later: its start was 10.1
    assert late == pytest.approx(10.1)
    assert clock.claim(0, 5.0, 12.0, 20.0) == pytest.approx(10.2)  # a new share of the rate keeps the place
    assert clock.claim(0, 5.0, 12.0, 20.0) == pytest.approx(10.4)


def test_no_start_at_or_after_the_stage_end_and_a_new_stage_starts_over() -> None:
    clock = SessionClock()
    assert clock.claim(0, 1.0, 10.0, 11.0) == 10.0
    assert clock.claim(0, 1.0, 10.0, 11.0) is None  # 11.0 is the stage's end
    assert clock.claim(1, 2.0, 30.0, 40.0) == 30.0
    assert clock.claim(1, 0.0, 30.0, 40.0) is None
