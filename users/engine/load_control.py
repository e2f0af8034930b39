"""Pure helpers that let users follow a load plan: slots for burst gating, open-model pacing, storm selection."""

from __future__ import annotations

import bisect
import math
from typing import Protocol


class LoadPoint(Protocol):
    """What a load plan tells users at one moment (scenarios.profile.Point has these attributes)."""

    stage: str
    users: int
    active_users: int
    rate: float | None
    storm_epoch: int
    storm_fraction: float
    storm_mode: str
    stage_index: int
    until_change_s: float


class LoadSource(Protocol):
    """Gives the current LoadPoint, or None when no plan steers the users."""

    def point(self) -> LoadPoint | None: ...


class SlotRegistry:
    """Numbers the live users of one process 0, 1, 2, ... (lowest free first), so gating is stable."""

    def __init__(self) -> None:
        self._taken: list[int] = []

    def __len__(self) -> int:
        return len(self._taken)

    def take(self) -> int:
        """The lowest free slot, now taken."""
        taken = self._taken
        slot = next((i for i, s in enumerate(taken) if s != i), len(taken))
        bisect.insort(taken, slot)
        return slot

    def release(self, slot: int) -> None:
        """Free `slot`."""
        index = bisect.bisect_left(self._taken, slot)
        if index < len(self._taken) and self._taken[index] == slot:
            del self._taken[index]

    def rank(self, slot: int) -> int:
        """How many live slots are below `slot`: its place among the users alive now (Locust stops any users,
        so slots can have gaps)."""
        return bisect.bisect_left(self._taken, slot)


def is_active(rank: int, live_users: int, point: LoadPoint, target_users: int | None = None) -> bool:
    """Whether the user at `rank` (SlotRegistry.rank) sends now: the first active_users/users share of this
    process's users do.

    `target_users` is how many users Locust wants in this process now: users above it (spike users of a burst
    stage that Locust has not stopped yet) are idle, so a stage change never has more senders than the plan.
    """
    present = live_users if target_users is None else min(live_users, target_users)
    if rank >= present or point.active_users <= 0:
        return False
    if point.active_users >= point.users:
        return True
    share = point.active_users / point.users if point.users else 0.0
    return rank < round(share * present)


class RateShare:
    """This process's share of a plan's call rate: 1 alone; on a worker, its users' share of the run's users."""

    def __init__(self, share: float = 1.0) -> None:
        self.share = share
        self.known = False

    def set(self, share: float) -> None:
        """The master's word on this worker's share."""
        self.share = max(0.0, min(1.0, share))
        self.known = True

    def process_rate(self, plan_rate: float) -> float:
        """Calls/s this process sends of `plan_rate`."""
        return plan_rate * self.share


def rate_shares(users_by_worker: dict[str, int]) -> dict[str, float]:
    """Each worker's share of the run's rate: its users over all users (equal shares while none are known)."""
    total = sum(users_by_worker.values())
    if total <= 0:
        return {w: 1.0 / len(users_by_worker) for w in users_by_worker} if users_by_worker else {}
    return {w: n / total for w, n in users_by_worker.items()}


def selected_share(slot: int, epoch: int, fraction: float) -> bool:
    """Whether the user in `slot` is among `fraction` of users in round `epoch` (a different spread each round).

    Slots are spread by the golden ratio, so any run of consecutive slots is
    split close to `fraction` (2 of 4 users at 0.5), unlike a random draw."""
    if fraction >= 1.0:
        return True
    position = ((slot + 1) * 0.6180339887498949 + epoch * 0.41421356237309503) % 1.0
    return position < fraction


class RatePacer:
    """Intended send times for an open-model call rate; late calls keep their intended time.

    Times are in the caller's clock (perf_counter). Calls more than
    `max_backlog_s` behind schedule are skipped and counted rather than sent
    in a burst: the generator could not keep up and says so.
    """

    def __init__(self, max_backlog_s: float = 10.0) -> None:
        self.rate = 0.0
        self.skipped = 0
        self._interval = math.inf
        self._next = math.inf
        self.max_backlog_s = max_backlog_s

    def set_rate(self, rate: float, now: float, phase: float = 0.0) -> None:
        """Pace at `rate` calls/s from `now`; `phase` in [0, 1) staggers users' first sends."""
        if rate <= 0:
            self.rate, self._interval, self._next = 0.0, math.inf, math.inf
            return
        if rate == self.rate:
            return
        interval = 1.0 / rate
        if self._next == math.inf:
            self._next = now + phase * interval
        else:
            self._next = min(self._next, now + interval)
        self.rate, self._interval = rate, interval

    def pause(self) -> None:
        """Stop pacing (an inactive user accumulates no backlog)."""
        self.set_rate(0.0, 0.0)

    def next_due(self) -> float:
        """The intended time of the next call (inf when paused)."""
        return self._next

    def rewind(self, intended: float) -> None:
        """Calls taken from `intended` on were not sent: they are due again."""
        self._next = min(self._next, intended)

    def take_due(self, now: float, limit: int) -> list[float]:
        """Intended times of calls due by `now`, at most `limit`, oldest first."""
        if self._next > now or limit <= 0:
            return []
        horizon = now - self.max_backlog_s
        if self._next < horizon:
            missed = int((horizon - self._next) / self._interval) + 1
            self.skipped += missed
            self._next += missed * self._interval
        due: list[float] = []
        nxt, step = self._next, self._interval
        while nxt <= now and len(due) < limit:
            due.append(nxt)
            nxt += step
        self._next = nxt
        return due
