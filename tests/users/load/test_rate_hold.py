"""Rate stages judged from 3 s after their start, with time passed in."""

from __future__ import annotations

import pytest

from users.load.rate_hold import RateHold


def feed(hold: RateHold, start: float, seconds: float, stage: int, target: float, rate: float, sent0: float) -> float:
    """Observe a stage sending `rate` calls/s every 100 ms; returns calls sent at its end."""
    steps = int(seconds * 10)
    for i in range(steps + 1):
        t = start + i / 10
        hold.observe(t, stage, f"s{stage}", target, sent0 + rate * (t - start))
    return sent0 + rate * seconds


def test_a_stage_at_its_target_is_held_and_one_at_a_third_is_not() -> None:
    hold = RateHold()
    sent = feed(hold, 0.0, 20.0, 0, 4000.0, 3990.0, 0.0)
    feed(hold, 20.0, 20.0, 1, 4000.0, 1276.0, sent)
    first, second = hold.results()
    assert first.held and first.achieved == pytest.approx(3990.0) and first.seconds == pytest.approx(17.0)
    assert not second.held and second.achieved == pytest.approx(1276.0)
    assert "NOT held" in second.describe() and "1,276 calls/s of 4,000" in second.describe()


def test_the_first_seconds_of_a_stage_do_not_count() -> None:
    hold = RateHold()
    sent = feed(hold, 0.0, 3.0, 0, 1000.0, 0.0, 0.0)  # nothing sent while users connect
    feed(hold, 3.0, 10.0, 0, 1000.0, 1000.0, sent)
    (stage,) = hold.results()
    assert stage.held and stage.achieved == pytest.approx(1000.0)


def test_closed_loop_stages_are_not_judged_and_short_ones_say_so() -> None:
    hold = RateHold()
    feed(hold, 0.0, 10.0, 0, 0.0, 5000.0, 0.0)
    feed(hold, 10.0, 3.5, 1, 2000.0, 2000.0, 0.0)
    (short,) = hold.results()
    assert short.index == 1 and not short.judged and not short.held
    assert "too short to judge" in short.describe()


def test_a_target_that_steps_within_a_stage_is_averaged() -> None:
    hold = RateHold()
    for i in range(101):  # 10 s: target 1000 then 3000 from 6.5 s; sent follows the target exactly
        t = i / 10
        target = 1000.0 if t < 6.5 else 3000.0
        sent = 1000.0 * min(t, 6.5) + 3000.0 * max(0.0, t - 6.5)
        hold.observe(t, 0, "step", target, sent)
    (stage,) = hold.results()
    assert stage.target == pytest.approx(stage.achieved, rel=0.02) and stage.held


def test_the_window_opens_3_s_after_the_stage_start_not_after_the_first_look() -> None:
    """A master sees its first summed row 1.5 s into the stage: judging still starts at 3 s."""
    hold = RateHold()
    for i in range(15, 101):
        t = i / 10
        hold.observe(100.0 + t, 0, "rate", 1000.0, 1000.0 * t, stage_elapsed_s=t)
    (stage,) = hold.results()
    assert stage.window_start is not None and stage.window_start[0] == pytest.approx(103.0)
    assert stage.seconds == pytest.approx(7.0) and stage.held
