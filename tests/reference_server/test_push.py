"""push: Stream scheduling on a fake loop (no sleeping) and the broadcast hub."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reference_server.push import Hub, Stream


class FakeLoop:
    """Just enough of an event loop: a settable clock and a list of scheduled callbacks."""

    def __init__(self) -> None:
        self.now = 0.0
        self.scheduled: list[tuple[float, Callable[[], None]]] = []

    def time(self) -> float:
        return self.now

    def call_soon(self, callback: Callable[[], None]) -> FakeHandle:
        return self.call_at(self.now, callback)

    def call_at(self, when: float, callback: Callable[[], None]) -> FakeHandle:
        handle = FakeHandle(self, (when, callback))
        self.scheduled.append(handle.entry)
        return handle

    def run_until(self, t: float) -> None:
        while self.scheduled and min(w for w, _ in self.scheduled) <= t:
            entry = min(self.scheduled, key=lambda e: e[0])
            self.scheduled.remove(entry)
            self.now = max(self.now, entry[0])
            entry[1]()
        self.now = t


class FakeHandle:
    def __init__(self, loop: FakeLoop, entry: tuple[float, Callable[[], None]]) -> None:
        self.loop, self.entry = loop, entry

    def cancel(self) -> None:
        if self.entry in self.loop.scheduled:
            self.loop.scheduled.remove(self.entry)


class Sink:
    def __init__(self, accept: bool = True) -> None:
        self.events: list[tuple[str, Any]] = []
        self.accept = accept

    def push_event(self, topic: str, data: Any) -> bool:
        if self.accept:
            self.events.append((topic, data))
        return self.accept


def test_stream_sends_count_events_at_rate() -> None:
    loop, sink, done = FakeLoop(), Sink(), []
    Stream(loop, sink, "t", rate=10, count=5, on_done=done.append).start()  # type: ignore[arg-type]
    loop.run_until(0.0)
    assert len(sink.events) == 1
    loop.run_until(0.25)
    assert [d["index"] for _, d in sink.events] == [1, 2, 3]
    loop.run_until(10.0)
    assert [d["index"] for _, d in sink.events] == [1, 2, 3, 4, 5]
    assert all(d["count"] == 5 for _, d in sink.events) and len(done) == 1
    assert not loop.scheduled


def test_late_tick_catches_up_without_drift() -> None:
    loop, sink = FakeLoop(), Sink()
    stream = Stream(loop, sink, "t", rate=1000, count=100, on_done=lambda s: None)  # type: ignore[arg-type]
    stream.start()
    loop.scheduled.clear()  # simulate a stalled loop: the first tick runs 50 ms late
    loop.now = 0.05
    stream._tick()
    assert len(sink.events) == 51


def test_cancel_stops_the_stream() -> None:
    loop, sink = FakeLoop(), Sink()
    stream = Stream(loop, sink, "t", rate=10, count=100, on_done=lambda s: None)  # type: ignore[arg-type]
    stream.start()
    loop.run_until(0.15)
    stream.cancel()
    loop.run_until(5.0)
    assert len(sink.events) == 2


def test_stream_ends_when_the_subscriber_cannot_take_events() -> None:
    loop, done = FakeLoop(), []
    Stream(loop, Sink(accept=False), "t", rate=10, count=5, on_done=done.append).start()  # type: ignore[arg-type]
    loop.run_until(1.0)
    assert len(done) == 1 and not loop.scheduled


def test_hub_broadcasts_to_subscribers_of_the_topic_only() -> None:
    hub, a, b, closed = Hub(), Sink(), Sink(), Sink(accept=False)
    hub.add("news", a)
    hub.add("news", a)
    hub.add("news", b)
    hub.add("news", closed)
    hub.add("other", b)
    assert hub.broadcast("news", 1) == 2
    assert a.events == [("news", 1)] and b.events == [("news", 1)]
    hub.remove(a, ["news"])
    assert hub.broadcast("news", 2) == 1 and hub.subscriber_count("news") == 2
    assert hub.broadcast("nobody", 3) == 0


def test_a_stream_without_a_count_runs_until_cancelled() -> None:
    loop, sink, done = FakeLoop(), Sink(), []
    stream = Stream(loop, sink, "t", rate=100, count=None, on_done=done.append)  # type: ignore[arg-type]
    stream.start()
    loop.run_until(9.995)
    assert len(sink.events) == 1000 and [d["index"] for _, d in sink.events] == list(range(1, 1001))
    assert all(d["count"] is None for _, d in sink.events) and not done
    stream.cancel()
    loop.run_until(20.0)
    assert len(sink.events) == 1000 and not loop.scheduled


def test_an_endless_stream_ends_when_its_connection_takes_no_more() -> None:
    loop, done = FakeLoop(), []
    Stream(loop, Sink(accept=False), "t", rate=10, count=None, on_done=done.append).start()  # type: ignore[arg-type]
    loop.run_until(5.0)
    assert len(done) == 1 and not loop.scheduled
