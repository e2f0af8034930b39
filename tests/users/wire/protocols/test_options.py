"""--protocol, --compression and the protocol-specific options: checks (pure) and the exit-2 path (real Locust)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from tests.support.locust_run import run_locust
from users.load.options import DEFAULTS, OptionError, check_options
from users.wire.protocol import DEFAULT_DIALECT
from users.wire.protocols import JsonRpc, Mcp, ToolCall
from users.wire.protocols.options import build_protocol


def options(**overrides: object) -> argparse.Namespace:
    values = {**DEFAULTS, "jwt_secret": None, "token": None, "jwt_private_key": "", "jwt_ttl": 3600.0}
    return argparse.Namespace(**{**values, "ca_file": "", "insecure": False, **overrides})


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"protocol": "graphql"}, "--protocol must be one of jsonrpc, mcp, toolcall, got 'graphql'"),
        ({"compression": "gzip"}, "--compression must be deflate (or empty for none), got 'gzip'"),
        ({"mcp_protocol_version": "2024-11-05"}, "--mcp-protocol-version only applies to --protocol mcp"),
        ({"protocol": "mcp", "mcp_protocol_version": " "}, "--mcp-protocol-version must not be empty"),
        ({"protocol": "mcp", "rpc_hello": "auth"}, "--rpc-hello only applies to --protocol jsonrpc, not mcp"),
        ({"protocol": "jsonrpc", "rpc_hello": "auth={x"}, "--rpc-hello: params of 'auth' are not valid JSON"),
        ({"protocol": "jsonrpc", "session_prefix": "me"}, "--session-prefix only applies to --protocol toolcall"),
    ],
)
def test_options_that_cannot_work_name_themselves(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(OptionError) as caught:
        check_options(options(jwt_secret="s", **overrides))
    assert str(caught.value).startswith(message)


def test_jsonrpc_and_mcp_need_no_credentials_toolcall_does() -> None:
    check_options(options(protocol="jsonrpc"))
    check_options(options(protocol="mcp", compression="deflate", mcp_protocol_version="2025-03-26"))
    with pytest.raises(OptionError, match="hello needs a JWT"):
        check_options(options())
    with pytest.raises(OptionError, match="hello needs a JWT"):  # a bad token needs a token to break
        check_options(options(protocol="jsonrpc", bad_token_fraction=0.5))


def test_build_protocol_gives_each_its_options() -> None:
    assert isinstance(
        build_protocol("toolcall", dialect=DEFAULT_DIALECT, mcp_protocol_version="", rpc_hello=""), ToolCall
    )
    rpc = build_protocol("jsonrpc", dialect=DEFAULT_DIALECT, mcp_protocol_version="", rpc_hello='auth={"u":1}')
    assert isinstance(rpc, JsonRpc) and rpc.has_hello and (rpc.hello_method, rpc.hello_params) == ("auth", {"u": 1})
    mcp = build_protocol("mcp", dialect=DEFAULT_DIALECT, mcp_protocol_version="2024-11-05", rpc_hello="")
    assert isinstance(mcp, Mcp) and mcp.protocol_version == "2024-11-05"


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--protocol", "graphql"], {}, "--protocol must be one of"),
        ([], {"LOCUST_PROTOCOL": "jsonrpc", "LOCUST_COMPRESSION": "br"}, "--compression must be deflate"),
        (["--protocol", "jsonrpc", "--mcp-protocol-version", "2024-11-05"], {}, "--mcp-protocol-version only"),
    ],
)
def test_bad_protocol_options_stop_with_one_error_line_and_exit_2(
    tmp_path: Path, args: list[str], env: dict[str, str], message: str
) -> None:
    run = run_locust(tmp_path, "ws://127.0.0.1:9/", *args, env={"LOCUST_JWT_SECRET": "x" * 32, **env}, run_time="2s")
    assert run.returncode == 2, run.output[-2000:]
    errors = [line for line in run.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], run.output[-2000:]
    assert "Traceback" not in run.output and not run.stats
