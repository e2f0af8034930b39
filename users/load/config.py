"""RunConfig: the run's options as one frozen, typed object, built and checked once per options change per process;
each user class's values of it, and the options an Edit changes mid-run.

Built from Locust's parsed options by `build_config` (every check of users/load/options.py runs there, once), it
is kept per environment (`config_for`, `config_state`); `install_config` builds it at init (a bad option: one `error:` line,
exit code 2), and again when the run's options change: at test_start (the web UI's New, a worker's first spawn
message) and when a spawn completes (the web UI's Edit; on a worker, the master's options of each spawn message).
This module and users/integration/ are the only readers of `environment.parsed_options` in users/.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from option_table import exit_bad_option
from users.load.options import DEFAULT_PROGRESS_S, DEFAULTS, OptionError, check_options, with_local_credentials
from users.load.per_environment import PerEnvironment
from users.load.runtime import runtime_for
from users.wire.protocols.mcp import DEFAULT_PROTOCOL_VERSION


@dataclass(frozen=True, slots=True)
class RunConfig:
    """One field per option row of users/load/options.py (in row order, same defaults), then the Locust (and
    scenario) options users/ reads, then what the builder derives. Secrets are left out of its repr."""

    jwt_secret: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    jwt_private_key: str = ""
    bad_token_fraction: float = 0.0
    jwt_subject: str = "locust"
    jwt_scope: str = "tools:*"
    jwt_ttl: float = 3600.0
    jwt_audience: str = ""
    session_prefix: str = "locust"
    tools: str = "echo"
    in_flight: int = 1
    max_in_flight: int = 1000
    subscribe: str = ""
    session_calls: int = 0
    call_timeout: float = 10.0
    connect_timeout: float = 10.0
    follow_redirects: bool = False
    hello_timeout: float = 10.0
    ping_interval: float = 20.0
    ping_timeout: float = 10.0
    max_message_bytes: int = 16 * 1024 * 1024
    max_server_names: int = 100
    protocol: str = "toolcall"
    compression: str = ""
    mcp_protocol_version: str = DEFAULT_PROTOCOL_VERSION
    rpc_hello: str = ""
    ca_file: str = ""
    insecure: bool = False
    progress_interval: float = DEFAULT_PROGRESS_S
    stats_table: bool = False
    threshold: str = ""
    abort_on_threshold: bool = False
    abort_grace: float = 5.0
    prometheus_port: str = ""
    prometheus_host: str = "127.0.0.1"
    prometheus_linger: float = 15.0
    # Locust's own options (and one of the scenarios') that users/ reads.
    host: str | None = None
    run_time: float | None = None
    csv_prefix: str | None = None
    headless: bool = False
    only_summary: bool = False
    num_users: int | None = None
    expect_workers: int = 1
    web_base_path: str = ""
    otel: bool = False
    server_control_url: str = ""
    # Derived by the builder.
    private_key_pem: str = field(default="", repr=False)
    """The --jwt-private-key file's PEM text, read once (never shown)."""
    key_algorithm: str = ""
    """The private key's JWS algorithm (RS256, ES256...); empty without one."""
    every_option: tuple[tuple[str, Any], ...] = field(default=(), repr=False, compare=False)
    """Every parsed option (Locust's and the scenarios' too) as (name, value), for the run record, which hides
    secrets' values (users/telemetry/run_record.py)."""


LOCUST_FIELDS = ("host", "run_time", "csv_prefix", "headless", "only_summary", "num_users", "expect_workers",
                 "web_base_path", "otel", "server_control_url")  # fmt: skip
"""RunConfig's fields that are not rows of users/load/options.py."""
DERIVED_FIELDS = ("private_key_pem", "key_algorithm", "every_option")
"""RunConfig's fields the builder computes."""
_READ = tuple((f.name, f.default) for f in fields(RunConfig) if f.name not in DERIVED_FIELDS)


def build_config(
    options: argparse.Namespace, environ: Mapping[str, str], *, need_credentials: bool = True
) -> RunConfig:
    """The RunConfig of `options` (with this process's credential env vars when they carry none); every check runs
    here, once: OptionError names the first option whose value cannot work."""
    local = with_local_credentials(options, environ)
    key = check_options(local, need_credentials=need_credentials)
    values = {name: _value(local, name, default) for name, default in _READ}
    pem, algorithm = key if key is not None else ("", "")
    every = tuple(sorted(vars(options).items()))
    return RunConfig(**values, private_key_pem=pem, key_algorithm=algorithm, every_option=every)


def _value(options: argparse.Namespace, name: str, default: Any) -> Any:
    value = getattr(options, name, default)
    return default if value is None and name in ("expect_workers", "web_base_path", "server_control_url") else value


@dataclass
class ConfigState:
    """One environment's RunConfig as last built, why the options cannot work (then `config` is None), the parsed
    options it was built from (to see a change), and each user class's values of it."""

    config: RunConfig | None = None
    error: OptionError | None = None
    seen: dict[str, Any] | None = None
    class_values: dict[type, tuple[RunConfig, dict[str, Any]]] = field(default_factory=dict)


config_state = PerEnvironment(ConfigState)
"""The ConfigState of an environment, created on first use."""


def config_for(environment: Environment) -> RunConfig | None:
    """The process's RunConfig for the options `environment` runs with now: rebuilt when they changed since the last
    build (a dict comparison; at a user's start, test_start and spawns, never per call), and then the users holding
    a connection for the pacer are woken to follow it; None without parsed options or when they cannot work (then
    `config_state(environment).error` says why)."""
    options = environment.parsed_options
    state = config_state(environment)
    if options is None:
        return state.config
    seen = dict(vars(options))
    if seen != state.seen:
        state.seen = seen
        try:
            config = build_config(
                options, os.environ, need_credentials=not isinstance(environment.runner, MasterRunner)
            )
        except OptionError as exc:
            state.config, state.error = None, exc
        else:
            changed = state.config is not None
            state.config, state.error = config, None
            if changed:  # an Edit: users follow it at their next task run, pacing users' holds end now
                runtime_for(environment).pacer.wake_all()
    return state.config


def install_config(environment: Environment, **_: Any) -> None:
    """`init` listener: build the RunConfig, and rebuild it whenever a run's options may have changed.

    Where the run is started (a single process, or the master) a bad option ends Locust with one `error:` line and
    exit code 2 before any load (a master may run without credentials: each worker then uses its own). A worker's
    options are replaced by the master's at each spawn message; it checks them then (an error stops the run)."""
    config_for(environment)
    error = config_state(environment).error
    if (
        error is not None
        and environment.parsed_options is not None
        and not isinstance(environment.runner, WorkerRunner)
    ):
        exit_bad_option(error, getattr(environment.parsed_options, "csv_prefix", None))
    environment.events.spawning_complete.add_listener(lambda **_: config_for(environment))
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        runner.register_message(LIVE_OPTIONS_MESSAGE, lambda msg, **_: take_live_options(environment, msg.data))


LIVE_OPTIONS_MESSAGE = "ws_live_options"
"""Master to workers after an Edit: the live options' values (Locust sends its options only with spawn messages,
which a shape sends only when the number of users changes)."""


def send_live_options(environment: Environment) -> None:
    """On a master, after the web UI's Edit (or New): the live options' values to every worker, so an Edit that
    keeps the number of users reaches their users too."""
    runner = environment.runner
    options = environment.parsed_options
    if isinstance(runner, MasterRunner) and options is not None:
        runner.send_message(LIVE_OPTIONS_MESSAGE, {name: getattr(options, name) for name in LIVE_OPTIONS})


def take_live_options(environment: Environment, values: Mapping[str, Any]) -> None:
    """On a worker: the master's live options replace this process's, and the RunConfig is rebuilt (its users
    follow it at their next task run); names other than the live options are ignored."""
    options = environment.parsed_options
    if options is None or not isinstance(values, Mapping):
        return
    vars(options).update({name: values[name] for name in LIVE_OPTIONS if name in values})
    config_for(environment)


def refresh_config(environment: Environment, **_: Any) -> None:
    """`test_start` listener (registered before the others): the options of the run that starts."""
    config_for(environment)


def options_view(config: RunConfig) -> argparse.Namespace:
    """A copy of the parsed options `config` was built from (the web form checks its values on top of them)."""
    return argparse.Namespace(**dict(config.every_option))


DEFAULT_CONFIG = RunConfig()
"""Every option at its default (a process without parsed options, or whose options cannot work)."""


def current_config(environment: Environment) -> RunConfig:
    """The RunConfig the process runs with now (as last built; DEFAULT_CONFIG when there is none): what reporters,
    the terminal and the exports read."""
    return config_state(environment).config or DEFAULT_CONFIG


LIVE_OPTIONS = ("tools", "in_flight", "max_in_flight")
"""Taken again by every user at its next task run after the run's RunConfig changed, so an Edit of the running test
applies to every user, old and new. The others shape a connection or the run's plan and take effect at the next
start."""


def user_values(user_class: type, config: RunConfig | None, names: Iterable[str]) -> dict[str, Any]:
    """Each option's value for a user of `user_class`: the option where it differs from the shared default,
    otherwise the class attribute (a subclass's own setting, such as `in_flight = 4`)."""
    values: dict[str, Any] = {}
    for name in names:
        value = getattr(config, name) if config is not None else None
        values[name] = value if value is not None and value != DEFAULTS[name] else getattr(user_class, name)
    return values


def class_values(state: ConfigState, user_class: type, config: RunConfig) -> dict[str, Any]:
    """`user_values` of every user option for `user_class` under `config`, computed once per class per RunConfig
    (the process's users share it)."""
    cached = state.class_values.get(user_class)
    if cached is None or cached[0] is not config:
        cached = state.class_values[user_class] = (config, user_values(user_class, config, DEFAULTS))
    return cached[1]
