"""Option checks name the option; credentials fall back to the process's own environment."""

from __future__ import annotations

import argparse

import pytest

from users.load.options import DEFAULTS, OptionError, check_options, with_local_credentials


def options(**overrides: object) -> argparse.Namespace:
    values = {
        **DEFAULTS,
        "jwt_secret": None,
        "token": None,
        "jwt_private_key": "",
        "jwt_ttl": 3600.0,
        "ca_file": "",
        "insecure": False,
        **overrides,
    }
    return argparse.Namespace(**values)


def test_local_credentials_fill_in_only_when_the_options_carry_none() -> None:
    environ = {"LOCUST_JWT_SECRET": "worker-secret"}
    assert with_local_credentials(options(), environ).jwt_secret == "worker-secret"
    assert with_local_credentials(options(token="t"), environ).jwt_secret is None
    assert with_local_credentials(options(), {}).jwt_secret is None


def test_a_master_may_run_without_credentials() -> None:
    with pytest.raises(OptionError, match="hello needs a JWT"):
        check_options(options())
    check_options(options(), need_credentials=False)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"jwt_secret": "s", "token": "t"}, "--jwt-secret and --token exclude each other"),
        ({"jwt_secret": "s", "in_flight": 0}, "--in-flight must be at least 1"),
        ({"jwt_secret": "s", "bad_token_fraction": 2.0}, "--bad-token-fraction must be between 0 and 1"),
        ({"jwt_secret": "s", "subscribe": "t:x"}, "--subscribe must be TOPIC[:RATE[:COUNT]]"),
        ({"jwt_private_key": "/nonexistent.pem"}, "--jwt-private-key /nonexistent.pem: cannot read"),
        ({"jwt_secret": "s", "ca_file": "ca.pem", "insecure": True}, "--ca-file and --insecure exclude each other"),
        ({"jwt_secret": "s", "host": "http://h:1/?token=abc"}, "--host must be a ws:// or wss:// URL, not http$"),
        ({"jwt_secret": "s", "host": "localhost:8079"}, "--host must be a ws:// or wss:// URL, not localhost$"),
        ({"jwt_secret": "s", "threshold": "p99<5ms,p42<1"}, "--threshold 'p42<1': unknown metric"),
        ({"jwt_secret": "s", "progress_interval": -1.0}, "--progress-interval must be 0 or more seconds, got -1.0"),
        ({"jwt_secret": "s", "abort_grace": -2.0}, "--abort-grace must be 0 or more seconds"),
    ],
)
def test_bad_values_name_their_option(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(OptionError, match=message.replace("[", r"\[").replace("]", r"\]")):
        check_options(options(**overrides))


def test_ws_hosts_and_good_thresholds_pass() -> None:
    for host in ("ws://127.0.0.1:8079/", "wss://example.test/ws", "", None):
        check_options(options(jwt_secret="s", host=host, threshold="p99<100ms,errors<1%"))
