"""The heap freezer: what a full collection leaves is frozen while no connection ends; connections that end thaw
the heap at once, and it stays thawed for the hold; the policy on a recording collector, then on Python's."""

from __future__ import annotations

import gc
import weakref

from users.engine.heap_freeze import HeapFreezer


class Collector:
    """Records the calls a freezer makes of `gc`."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def freeze(self) -> None:
        self.calls.append("freeze")

    def unfreeze(self) -> None:
        self.calls.append("unfreeze")


def test_a_steady_run_freezes_after_each_full_collection() -> None:
    collector, disconnects = Collector(), [0]
    freezer = HeapFreezer(lambda: disconnects[0], collector, hold_s=30.0)
    freezer.look(1.0)
    assert collector.calls == [] and not freezer.frozen  # nothing until the collector's own full pass
    freezer.after_full_collection(2.0)
    freezer.look(3.0)
    freezer.after_full_collection(50.0)
    assert collector.calls == ["freeze", "freeze"] and freezer.frozen


def test_connections_that_end_thaw_at_once_and_the_heap_stays_thawed_for_the_hold() -> None:
    collector, disconnects = Collector(), [0]
    freezer = HeapFreezer(lambda: disconnects[0], collector, hold_s=30.0)
    freezer.after_full_collection(1.0)
    disconnects[0] = 40  # a storm
    freezer.look(10.0)
    assert collector.calls == ["freeze", "unfreeze"] and not freezer.frozen
    disconnects[0] = 80  # another: already thawed, and the hold starts again
    freezer.look(20.0)
    freezer.after_full_collection(49.9)
    assert collector.calls == ["freeze", "unfreeze"] and not freezer.frozen
    freezer.look(45.0)  # quiet
    freezer.after_full_collection(50.0)
    assert collector.calls == ["freeze", "unfreeze", "freeze"] and freezer.frozen


def test_a_new_runs_counters_count_as_churn() -> None:
    collector, disconnects = Collector(), [500]
    freezer = HeapFreezer(lambda: disconnects[0], collector)
    freezer.after_full_collection(1.0)
    disconnects[0] = 0  # the next run's counters
    freezer.look(2.0)
    assert collector.calls == ["freeze", "unfreeze"]


class Node:
    """A cycle-capable object Python's collector tracks."""

    def __init__(self) -> None:
        self.other: Node | None = None


def test_on_pythons_collector_frozen_objects_that_become_a_cycle_are_freed_once_thawed() -> None:
    gc.unfreeze()
    gc.collect()
    disconnects = [0]
    freezer = HeapFreezer(lambda: disconnects[0], hold_s=0.0)
    try:
        a, b = Node(), Node()
        a.other, b.other = b, a
        gone = weakref.ref(a)
        gc.collect()  # a full pass: a and b are alive, and frozen after it
        freezer.after_full_collection(1.0)
        assert gc.get_freeze_count() > 0 and freezer.frozen
        del a, b  # their connection ended: a cycle among frozen objects
        gc.collect()
        assert gone() is not None  # frozen: the collector does not look at it
        disconnects[0] = 1
        freezer.look(2.0)
        assert gc.get_freeze_count() == 0 and not freezer.frozen
        gc.collect()
        assert gone() is None  # thawed: freed by the collector's next full pass
    finally:
        gc.unfreeze()
