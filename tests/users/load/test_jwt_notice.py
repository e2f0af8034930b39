"""A short HS256 secret is one line of ours that never shows the secret; PyJWT's own warning is silenced."""

from __future__ import annotations

import argparse
import logging
import warnings

import jwt
import pytest
from locust.env import Environment

from option_table import defaults
from users.load.config import build_config, config_state
from users.load.jwt_notice import quiet_key_length_warnings, short_secret_notice
from users.load.options import OPTIONS


def options(**values: object) -> argparse.Namespace:
    return argparse.Namespace(**{**defaults(OPTIONS), **values})


def test_notice_names_the_length_never_the_secret() -> None:
    notice = short_secret_notice(build_config(options(jwt_secret="hunter2"), {}))
    assert notice is not None and "7 bytes" in notice and "hunter2" not in notice
    assert short_secret_notice(build_config(options(jwt_secret="x" * 32), {})) is None
    assert short_secret_notice(build_config(options(token="t"), {})) is None
    local = build_config(options(), {"LOCUST_JWT_SECRET": "short"})
    assert "5 bytes" in (short_secret_notice(local) or "")


def test_one_line_instead_of_pyjwt_warnings(caplog: pytest.LogCaptureFixture) -> None:
    environment = Environment()
    config_state(environment).config = build_config(options(jwt_secret="hunter2"), {})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with caplog.at_level(logging.WARNING):
            quiet_key_length_warnings(environment)
        jwt.encode({"sub": "x"}, "hunter2", algorithm="HS256")
    assert not [w for w in caught if "InsecureKeyLength" in type(w.message).__name__ + str(w.category)]
    assert [r.getMessage() for r in caplog.records if "hunter2" in r.getMessage()] == []
    assert any("7 bytes" in r.getMessage() for r in caplog.records)
