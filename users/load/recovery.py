"""Pure time-to-recover after a reconnect storm: until calls/s is back within 10% of the rate before it."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass


@dataclass
class Storm:
    """One storm: when it hit, the call rate before it, and how long until the rate came back."""

    at: float
    baseline_per_s: float
    recovered_after_s: float | None = None


class RecoveryTracker:
    """Fed (time, cumulative settled calls) samples; measures each storm's recovery time.

    Baseline: the mean rate over `baseline_s` before the storm. Recovered: the
    first moment the rate over the trailing `window_s` is within `tolerance`
    of that baseline.
    """

    def __init__(self, baseline_s: float = 3.0, window_s: float = 0.2, tolerance: float = 0.10) -> None:
        self.storms: list[Storm] = []
        self._samples: deque[tuple[float, int]] = deque()
        self._baseline_s = baseline_s
        self._window_s = window_s
        self._tolerance = tolerance

    def sample(self, now: float, settled_calls: int) -> None:
        """Add a sample; checks whether the latest storm has recovered."""
        self._samples.append((now, settled_calls))
        keep_from = now - max(self._baseline_s, self._window_s) - 1.0
        while len(self._samples) > 2 and self._samples[1][0] < keep_from:
            self._samples.popleft()
        storm = self.storms[-1] if self.storms else None
        if storm is None or storm.recovered_after_s is not None or now - storm.at < self._window_s:
            return
        rate = self._rate_since(now - self._window_s)
        if rate is not None and rate >= (1.0 - self._tolerance) * storm.baseline_per_s:
            storm.recovered_after_s = now - storm.at

    def storm(self, now: float) -> Storm:
        """Mark a storm at `now`, with the rate over the preceding baseline window."""
        baseline = self._rate_since(now - self._baseline_s) or 0.0
        storm = Storm(now, baseline, 0.0 if baseline == 0.0 else None)
        self.storms.append(storm)
        return storm

    def _rate_since(self, start: float) -> float | None:
        window = [(t, n) for t, n in self._samples if t >= start]
        if len(window) < 2:
            return None
        (t0, n0), (t1, n1) = window[0], window[-1]
        return (n1 - n0) / (t1 - t0) if t1 > t0 else None
