"""users.load.config: the RunConfig holds one field per option row, is checked once per options change, and
never shows a secret."""

from __future__ import annotations

import argparse
from dataclasses import fields
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from locust.env import Environment

from option_table import defaults
from users.base import ToolCallUser, follow_live_options
from users.engine.pacer import Member
from users.load import config as config_module
from users.load.config import (
    DERIVED_FIELDS,
    LOCUST_FIELDS,
    RunConfig,
    build_config,
    config_for,
    config_state,
    options_view,
    take_live_options,
)
from users.load.options import OPTIONS, OptionError
from users.load.runtime import runtime_for


def options(**values: object) -> argparse.Namespace:
    return argparse.Namespace(**{**defaults(OPTIONS), "host": "ws://127.0.0.1:1/", **values})


def test_its_fields_are_the_option_rows_then_locusts_then_the_derived_ones() -> None:
    names = [f.name for f in fields(RunConfig)]
    assert names == [o.dest for o in OPTIONS] + list(LOCUST_FIELDS) + list(DERIVED_FIELDS)
    assert {o.dest: o.default for o in OPTIONS} == {f.name: f.default for f in fields(RunConfig)[: len(OPTIONS)]}


def test_secrets_stay_out_of_its_repr(tmp_path: Path) -> None:
    key = tmp_path / "key.pem"
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    key.write_bytes(pem)
    for config in (
        build_config(options(jwt_secret="hunter2-hunter2"), {}),
        build_config(options(token="tok-abc.def.ghi"), {}),
        build_config(options(), {"LOCUST_JWT_SECRET": "hunter2-hunter2"}),
        build_config(options(jwt_private_key=str(key)), {}),
    ):
        text = repr(config) + str(config)
        assert "hunter2" not in text and "tok-abc" not in text and "PRIVATE KEY" not in text
    config = build_config(options(jwt_private_key=str(key)), {})
    assert config.key_algorithm == "ES256" and config.private_key_pem == pem.decode()
    assert config.in_flight == 1 and "in_flight=1" in repr(config)


def test_checks_give_the_same_messages_as_before() -> None:
    with pytest.raises(OptionError, match="--in-flight must be at least 1, got 0"):
        build_config(options(jwt_secret="s", in_flight=0), {})
    with pytest.raises(OptionError, match="set --jwt-secret"):
        build_config(options(), {})
    assert build_config(options(), {}, need_credentials=False).jwt_secret is None


def test_the_process_config_is_rebuilt_only_when_the_options_change() -> None:
    environment = Environment(parsed_options=options(jwt_secret="s" * 32, in_flight=4))
    first = config_for(environment)
    assert first is not None and first.in_flight == 4
    assert config_for(environment) is first  # same options: no new build, no new checks
    environment.parsed_options.in_flight = 8  # type: ignore[union-attr]  # as the web UI's Edit sets it
    second = config_for(environment)
    assert second is not first and second is not None and second.in_flight == 8
    environment.parsed_options.in_flight = 0  # type: ignore[union-attr]
    assert config_for(environment) is None
    assert str(config_state(environment).error) == "--in-flight must be at least 1, got 0"
    assert options_view(second).in_flight == 8 and options_view(second).jwt_secret == "s" * 32


def test_an_edit_wakes_the_users_holding_connections_for_the_pacer_and_a_first_build_does_not() -> None:
    """Pacing users hold their connections for seconds; a changed RunConfig (an Edit, or a worker taking the
    master's live options) ends their holds, so the Edit reaches them at once."""
    environment = Environment(parsed_options=options(jwt_secret="s" * 32, in_flight=4))
    woken: list[int] = []
    member = Member(client=object(), send=lambda *_: True, pick=lambda n: [], max_in_flight=1, slot=0)
    member.wake = lambda: woken.append(1)
    runtime_for(environment).pacer.join(0, member, start=False)
    config_for(environment)
    config_for(environment)
    assert woken == []  # the first build and an unchanged one wake nobody
    take_live_options(environment, {"in_flight": 2})
    assert woken == [1]


def test_a_worker_takes_the_masters_live_options_and_nothing_else() -> None:
    """An Edit that keeps the number of users reaches a worker only by this message: its RunConfig is rebuilt."""
    environment = Environment(parsed_options=options(jwt_secret="s" * 32, in_flight=10))
    first = config_for(environment)
    take_live_options(environment, {"in_flight": 3, "tools": "sleep", "jwt_secret": "x" * 32, "host": "ws://a/"})
    config = config_for(environment)
    assert config is not first and config is not None
    assert (config.in_flight, config.tools, config.max_in_flight) == (3, "sleep", 1000)
    assert config.jwt_secret == "s" * 32 and config.host == "ws://127.0.0.1:1/"  # not live: the worker's own
    take_live_options(environment, None)  # type: ignore[arg-type]  # a malformed message changes nothing
    assert config_for(environment) is config


class Pipelined(ToolCallUser):
    in_flight = 5


def test_users_share_one_build_and_an_edit_reaches_them_at_their_next_task_run(monkeypatch: pytest.MonkeyPatch) -> None:
    builds: list[int] = []
    real = config_module.build_config
    monkeypatch.setattr(config_module, "build_config", lambda *a, **k: builds.append(1) or real(*a, **k))
    environment = Environment(user_classes=[Pipelined], parsed_options=options(jwt_secret="s" * 32))
    users = [Pipelined(environment) for _ in range(5)]
    assert len(builds) == 1  # checked once, not per user
    assert {user.in_flight for user in users} == {5}  # the option at its default: the class's own value
    environment.parsed_options.in_flight = 8  # type: ignore[union-attr]  # as the web UI's Edit sets it
    assert users[0].in_flight == 5  # nothing per call: the user follows at its next task run
    config_for(environment)  # after /swarm, or when the spawn completes
    follow_live_options(users[0])
    assert users[0].in_flight == 8 and len(builds) == 2
    assert Pipelined(environment).in_flight == 8 and len(builds) == 2
