"""The Protocol base: the bearer header only for protocols that carry the token at the upgrade."""

from __future__ import annotations

import pytest

from users.wire.protocols import PROTOCOLS, Protocol, register_protocol


def test_the_token_goes_in_the_upgrade_only_when_the_protocol_says_so() -> None:
    class Plain(Protocol):
        name = "plain"

    class Bearer(Protocol):
        name = "bearer"
        bearer_token = True

    assert Plain().upgrade_headers("tok") == []
    assert Bearer().upgrade_headers("tok") == ["Authorization: Bearer tok"]
    assert Bearer().upgrade_headers(None) == [] and Plain().after_hello() == []
    with pytest.raises(NotImplementedError):
        Plain().template("echo", {})


def test_register_protocol_makes_a_name_selectable() -> None:
    class Mine(Protocol):
        name = "mine"

    register_protocol("mine", Mine)
    try:
        assert PROTOCOLS["mine"] is Mine
    finally:
        del PROTOCOLS["mine"]
