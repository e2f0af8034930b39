"""The run's end in the log: the call ledger, the rate schedule, reconnects, rate stages and storms."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from users.load.rate_hold import StageRate

logger = logging.getLogger("users.reporting")


def log_summary(totals: Mapping[str, float], whose: str = "") -> None:
    """The ledger `sent = ok + failed + timeout + lost` and, when they happened, schedule lag and reconnects."""
    in_flight = int(totals["calls_in_flight"])
    identity = "holds" if in_flight == 0 else f"{in_flight} still in flight"
    logger.info(
        "%sws calls: sent=%d ok=%d failed=%d timeout=%d lost=%d (sent = ok + failed + timeout + lost: %s); "
        "late=%d unknown=%d",
        whose,
        totals["calls_sent"],
        totals["calls_ok"],
        totals["calls_failed"],
        totals["calls_timeout"],
        totals["calls_lost"],
        identity,
        totals["calls_late_results"],
        totals["calls_unknown_results"],
    )
    if totals["calls_sent_late"] or totals["calls_skipped"]:
        logger.warning(
            "rate schedule: %d calls sent more than 10 ms after their intended time, %d skipped as hopelessly "
            "late: the load generator could not keep up (latency still counts from the intended times)",
            totals["calls_sent_late"],
            totals["calls_skipped"],
        )
    if totals["reconnect_attempts"]:
        logger.info(
            "reconnects: %d of %d attempts succeeded; storm drops by the client: %d",
            totals["reconnects"],
            totals["reconnect_attempts"],
            totals["storm_drops"],
        )


def log_rate_stages(stages: Iterable[StageRate]) -> None:
    """One line per rate stage: achieved calls/s against its target (a warning when not held)."""
    for stage in stages:
        if stage.held:
            logger.info("%s", stage.describe())
        else:
            logger.warning(
                "%s (too few connections for --max-in-flight, a saturated generator or a slow server: see "
                "calls_sent_late, calls_skipped and calls_in_flight in PREFIX_ws.csv)",
                stage.describe(),
            )


def log_storms(storms: Iterable[Mapping[str, Any]]) -> None:
    """One line per storm: calls/s before it and how long until they were back."""
    for number, storm in enumerate(storms, start=1):
        after = storm["recovered_after_s"]
        recovered = "not within the run" if after is None else f"{after:.2f} s"
        logger.info(
            "storm %d: calls/s before %.0f, back within 10%% after %s", number, storm["baseline_per_s"], recovered
        )
