"""A ClientCore whose output is counted as the engine counts it (users/wire/tally.py), for tests of the pure core."""

from __future__ import annotations

from users.wire.core import ClientCore
from users.wire.deflate import DeflateParams
from users.wire.events import CoreEvent
from users.wire.metrics import WsCounters
from users.wire.settings import ClientSettings
from users.wire.tally import Tally


class CountedCore(ClientCore):
    """`ClientCore` with a `Tally`: `counters` counts every event and fold so far (reading it takes the core's
    events, which `events_received()` still returns, in order), as ConnectionIO does after each step."""

    __slots__ = ("tally", "_seen")

    def __init__(
        self, counters: WsCounters, settings: ClientSettings, now: float, deflate: DeflateParams | None = None
    ) -> None:
        super().__init__(settings, now, deflate)
        self.tally = Tally(counters)
        self.tally.opened()
        self._seen: list[CoreEvent] = []

    @property
    def counters(self) -> WsCounters:
        """The counters, with everything the core did so far counted."""
        self._take()
        return self.tally.counters

    def events_received(self) -> list[CoreEvent]:
        self._take()
        events, self._seen = self._seen, []
        return events

    def _take(self) -> None:
        events = ClientCore.events_received(self)
        self.tally.count(events, self)
        self._seen.extend(events)
