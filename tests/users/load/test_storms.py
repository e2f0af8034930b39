"""Storm edges and victims, point after point (no clock, no sockets)."""

from __future__ import annotations

from tests.users.engine.test_load_control import P
from users.load.storms import StormEdges, storm_victims


def reconnect(epoch: int, stage_index: int = 1, mode: str = "client", fraction: float = 0.5) -> P:
    return P(10, 10, stage_index=stage_index, storm_epoch=epoch, storm_fraction=fraction, storm_mode=mode)


def test_a_storm_is_each_new_epoch_of_a_client_mode_stage_but_not_its_start() -> None:
    edges = StormEdges()
    seen = [edges.storm_now(p) for p in (P(10, 10), reconnect(0), reconnect(0), reconnect(1), reconnect(1))]
    assert seen == [False, False, False, True, False]
    assert edges.storm_now(reconnect(2)) is True
    assert edges.storm_now(reconnect(3, stage_index=2)) is False  # a new stage starts: no storm


def test_server_mode_and_zero_fraction_are_not_client_storms() -> None:
    for make in (lambda e: reconnect(e, mode="server"), lambda e: reconnect(e, fraction=0.0)):
        edges = StormEdges()
        assert [edges.storm_now(make(e)) for e in (0, 1, 2)] == [False, False, False]


def test_no_plan_resets_the_edges() -> None:
    edges = StormEdges()
    edges.storm_now(reconnect(0))
    assert edges.storm_now(None) is False
    assert edges.storm_now(reconnect(1)) is False  # seen again from scratch: its first look is no storm


def test_victims_are_the_fraction_of_slots_differently_each_epoch() -> None:
    slots = list(range(100))
    first = storm_victims(slots, reconnect(1))
    second = storm_victims(slots, reconnect(2))
    assert 45 <= len(first) <= 55 and first != second
    assert storm_victims(slots, reconnect(1, fraction=1.0)) == slots


def test_recovery_watches_storms_of_both_modes() -> None:
    edges = StormEdges(("client", "server"))
    assert [edges.storm_now(reconnect(e, mode="server")) for e in (0, 1)] == [False, True]
