"""Bad options and unreachable servers: one `error:` line, exit code 2, no traceback, no secret echoed."""

from __future__ import annotations

import secrets

import pytest

from tests.probe.support import run_probe
from tests.support.locust_run import free_port

SECRET = secrets.token_urlsafe(32)


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        (["http://127.0.0.1:1/"], {"LOCUST_JWT_SECRET": SECRET}, "ws:// or wss://"),
        (["ws://127.0.0.1:1/", "--protocol", "grpc"], {"LOCUST_JWT_SECRET": SECRET}, "--protocol"),
        (["ws://127.0.0.1:1/", "--timeout", "0"], {"LOCUST_JWT_SECRET": SECRET}, "--timeout"),
        (["ws://127.0.0.1:1/"], {}, "--jwt-secret"),
        (["ws://127.0.0.1:1/", "--token", "a.b.c"], {"LOCUST_JWT_SECRET": SECRET}, "exclude each other"),
        (["ws://127.0.0.1:1/", "--cases", "99"], {"LOCUST_JWT_SECRET": SECRET}, "matches no case"),
        (["ws://127.0.0.1:1/", "--no-such-option"], {"LOCUST_JWT_SECRET": SECRET}, "unrecognized"),
        ([], {"LOCUST_JWT_SECRET": SECRET}, "url"),
    ],
)
def test_a_bad_option_is_one_error_line(args: list[str], env: dict[str, str], says: str) -> None:
    run = run_probe(*args, env=env)
    assert run.code == 2
    assert run.stdout == ""
    (line,) = run.stderr.splitlines()
    assert line.startswith("error: ") and says in line, line
    assert SECRET not in run.stderr


def test_an_unreachable_server_is_one_error_line() -> None:
    port = free_port()
    run = run_probe(f"ws://127.0.0.1:{port}/?token={SECRET}", secret=SECRET)
    assert run.code == 2 and run.stdout == ""
    (line,) = run.stderr.splitlines()
    assert line.startswith(f"error: cannot reach 127.0.0.1:{port}: ConnectionRefusedError"), line
    assert SECRET not in line
