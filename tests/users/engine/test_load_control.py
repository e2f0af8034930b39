"""Slots, burst gating, storm selection and open-model pacing, with time passed in."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest

from users.engine.load_control import RatePacer, RateShare, SlotRegistry, is_active, rate_shares, selected_share


@dataclass
class P:
    users: int
    active_users: int
    stage: str = "s"
    rate: float | None = None
    storm_epoch: int = 0
    storm_fraction: float = 0.0
    storm_mode: str = "client"
    stage_index: int = 0
    until_change_s: float = math.inf


def test_slots_reuse_the_lowest_free() -> None:
    slots = SlotRegistry()
    assert [slots.take() for _ in range(4)] == [0, 1, 2, 3]
    slots.release(1)
    assert slots.take() == 1 and len(slots) == 4


def test_burst_gating_activates_the_right_share() -> None:
    point = P(users=40, active_users=10)
    assert sum(is_active(slot, 40, point) for slot in range(40)) == 10
    assert [is_active(s, 40, point) for s in (0, 9, 10)] == [True, True, False]
    assert all(is_active(slot, 40, P(40, 40)) for slot in range(40))
    assert sum(is_active(slot, 20, point) for slot in range(20)) == 5  # a worker with half the users


@pytest.mark.parametrize("fraction", [0.25, 0.5, 0.9])
def test_storms_select_about_the_fraction_and_vary_by_epoch(fraction: float) -> None:
    for epoch in range(3):
        picked = [s for s in range(1000) if selected_share(s, epoch, fraction)]
        assert abs(len(picked) / 1000 - fraction) < 0.02
    first = {s for s in range(100) if selected_share(s, 0, 0.5)}
    second = {s for s in range(100) if selected_share(s, 1, 0.5)}
    assert first != second
    assert all(selected_share(s, 7, 1.0) for s in range(10))


def test_pacer_emits_intended_times_at_the_rate() -> None:
    pacer = RatePacer()
    pacer.set_rate(100.0, now=10.0)  # one every 10 ms
    assert pacer.take_due(9.999, limit=100) == []
    due = pacer.take_due(10.0455, limit=100)
    assert due == pytest.approx([10.0, 10.01, 10.02, 10.03, 10.04])
    assert pacer.next_due() == pytest.approx(10.05)


def test_pacer_keeps_intended_times_when_capped_then_catches_up() -> None:
    pacer = RatePacer()
    pacer.set_rate(1000.0, now=0.0)
    assert len(pacer.take_due(0.0099, limit=3)) == 3  # capped: the rest stays due
    late = pacer.take_due(0.0099, limit=100)
    assert late == pytest.approx([0.003 + 0.001 * i for i in range(7)])  # sent late, intended times kept


def test_pacer_skips_and_counts_calls_beyond_the_backlog_limit() -> None:
    pacer = RatePacer(max_backlog_s=1.0)
    pacer.set_rate(10.0, now=0.0)
    due = pacer.take_due(5.0, limit=1000)
    assert pacer.skipped == 41  # intended 0.0..4.0 are over a second late
    assert due[0] == pytest.approx(4.1) and len(due) == 10


def test_pacer_rate_change_and_pause() -> None:
    pacer = RatePacer()
    pacer.set_rate(10.0, now=0.0, phase=0.5)
    assert pacer.next_due() == pytest.approx(0.05)
    pacer.set_rate(1000.0, now=0.01)
    assert pacer.next_due() == pytest.approx(0.011)
    pacer.pause()
    assert pacer.take_due(100.0, limit=10) == [] and pacer.next_due() == math.inf


def test_shares_split_small_groups_exactly() -> None:
    assert [selected_share(slot, 0, 0.5) for slot in range(4)] == [False, True, False, True]


def test_ranks_close_the_gaps_that_stopped_users_leave() -> None:
    slots = SlotRegistry()
    for _ in range(6):
        slots.take()
    slots.release(1)
    slots.release(3)  # Locust stops any users, not the newest
    assert [slots.rank(s) for s in (0, 2, 4, 5)] == [0, 1, 2, 3]
    assert slots.take() == 1 and slots.rank(5) == 4


def test_users_above_the_process_target_stay_idle() -> None:
    """Burst -> rate: Locust has not stopped the spike users yet; only as many users as it wants send."""
    point = P(users=30, active_users=30, rate=3000.0)
    assert sum(is_active(rank, 90, point, target_users=30) for rank in range(90)) == 30
    assert not is_active(30, 90, point, target_users=30)
    assert sum(is_active(rank, 90, point) for rank in range(90)) == 90  # without a target: as before
    assert not any(is_active(rank, 10, P(users=10, active_users=0)) for rank in range(10))  # the plan is over


def test_rate_shares_follow_each_workers_users() -> None:
    assert rate_shares({"a": 10, "b": 30}) == {"a": 0.25, "b": 0.75}
    assert rate_shares({"a": 0, "b": 0}) == {"a": 0.5, "b": 0.5}
    assert rate_shares({}) == {}
    share = RateShare()
    assert share.process_rate(1000.0) == 1000.0 and not share.known
    share.set(0.25)
    assert share.process_rate(1000.0) == 250.0 and share.known
    share.set(7.0)
    assert share.share == 1.0
