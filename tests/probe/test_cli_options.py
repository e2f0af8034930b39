"""The probe's options: the users' credential and protocol options reused, with their env vars (pure parsing)."""

from __future__ import annotations

import argparse

import pytest

from probe.cli import ProbeOptionError, parse, select


def options_for(**values: object) -> argparse.Namespace:
    """The probe's parsed options with `values` for the credentials (as the CLI would make them)."""
    env = {"LOCUST_JWT_SECRET": str(values["jwt_secret"])} if "jwt_secret" in values else {}
    argv = ["ws://127.0.0.1:1/"] + (["--token", str(values["token"])] if "token" in values else [])
    return parse(argv, env)[0]


def test_env_vars_give_the_users_options() -> None:
    args, target = parse(["ws://127.0.0.1:9/x", "--protocol", "mcp"], {"LOCUST_INSECURE": "1"})
    assert (args.protocol, args.insecure, args.jwt_secret, target.path) == ("mcp", True, None, "/x")


def test_the_command_line_beats_the_env_var() -> None:
    args, _ = parse(["ws://h/", "--jwt-scope", "echo"], {"LOCUST_JWT_SCOPE": "sleep", "LOCUST_TOKEN": "t"})
    assert args.jwt_scope == "echo" and args.token == "t"


def test_the_users_checks_apply() -> None:
    with pytest.raises(ProbeOptionError, match="--rpc-hello only applies to --protocol jsonrpc"):
        parse(["ws://h/", "--rpc-hello", "auth"], {"LOCUST_TOKEN": "t"})


def test_cases_are_selected_by_id_or_prefix() -> None:
    assert [c.case_id for c in select("6.1,9")][:2] == ["6.1", "9.1"]
    assert {c.case_id for c in select("6.1")} == {"6.1"}  # not 6.10, 6.11
    assert select("") and not select("99")
