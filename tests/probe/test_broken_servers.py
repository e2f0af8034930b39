"""The probe against servers that each break one rule (tests/support/broken_server.py): that rule's cases, and
only those, FAILED, exit code 1; the server breaking nothing passes every case."""

from __future__ import annotations

import secrets

import pytest

from probe.catalog import CASES
from tests.probe.support import run_probe
from tests.support.broken_server import MODES, broken_server

CLOSE_CODE_CASES = {f"6.{i}" for i in range(2, 11)}
FOUND_BY = {
    "bad-accept": {"1.1"},
    "any-version": {"1.2"},
    "echo-close-codes": CLOSE_CODE_CASES,
    "accept-invalid-utf8": {"5.1"},
    "accept-expired": {"9.2"},
    "ignore-ping": {"2.1", "4.2"},
    "wrong-pong": {"2.1", "4.2"},
    "accept-unmasked": {"3.3"},
    "no-size-limit": {"7.1", "7.2"},
}
"""Each broken mode -> the cases that must find it."""


def test_every_broken_mode_is_covered() -> None:
    assert set(FOUND_BY) == set(MODES) - {"none"}


@pytest.mark.parametrize("mode", sorted(FOUND_BY))
def test_each_broken_rule_is_found(mode: str) -> None:
    secret = secrets.token_urlsafe(32)
    with broken_server(mode, secret) as url:
        run = run_probe(url, secret=secret)
    assert run.code == 1, run.stdout + run.stderr
    assert run.with_behavior("FAILED") == FOUND_BY[mode], run.stdout
    assert run.with_behavior("OK") == {c.case_id for c in CASES} - FOUND_BY[mode], run.stdout
    assert secret not in run.stdout + run.stderr


def test_the_server_breaking_nothing_passes() -> None:
    secret = secrets.token_urlsafe(32)
    with broken_server("none", secret) as url:
        run = run_probe(url, "--agent", "conformant", secret=secret)
    assert run.code == 0, run.stdout
    assert run.with_behavior("OK") == {c.case_id for c in CASES}, run.stdout
