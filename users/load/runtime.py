"""The per-process state the users of one Locust environment share, as one typed object (no stashed attributes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from users.engine.load_control import RateShare, SlotRegistry
from users.engine.pacer import Pacer
from users.load.per_environment import PerEnvironment
from users.load.session_clock import SessionClock
from users.load.storms import StormDropper
from users.wire.metrics import WsCounters

RUN_ERROR_MESSAGE = "ws_run_error"
"""Worker -> master: an option cannot work here, this worker stopped (the master's web UI shows the line)."""


@dataclass
class Runtime:
    """Counters, user slots, the open-model pacer and this process's rate share; one per environment."""

    counters: WsCounters = field(default_factory=WsCounters)
    slots: SlotRegistry = field(default_factory=SlotRegistry)
    pacer: Pacer = field(default_factory=Pacer)
    """The process's open-model pacer."""
    share: RateShare = field(default_factory=RateShare)
    token_cache: tuple[Any, Any] | None = None
    """(credential values, TokenSource): tokens are minted once per process, not per connection."""
    option_error_run: float | None = None
    """The run (Locust's stats start time) already stopped for a bad option from the web UI form."""
    run_error: str | None = None
    """The one error line that stopped this run (a bad option from the web UI form), for the web UI."""
    storms: StormDropper | None = None
    """The process's client-mode storm dropper, made by the first user of a run with a plan."""
    session_clock: SessionClock = field(default_factory=SessionClock)
    """When this process's sessions of a churn stage start."""

    def new_run(self) -> None:
        """Each run counts from zero."""
        self.counters = WsCounters()


runtime_for = PerEnvironment(Runtime)
"""The Runtime of an environment, created on first use."""
