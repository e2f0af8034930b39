"""A short HS256 secret is one line of ours that never shows the secret; PyJWT's own warning is silenced."""

from __future__ import annotations

import argparse
import logging
import warnings
from types import SimpleNamespace

import jwt
import pytest

from users.load.jwt_notice import quiet_key_length_warnings, short_secret_notice


def options(**values: object) -> argparse.Namespace:
    return argparse.Namespace(**{"jwt_secret": None, "token": None, "jwt_private_key": "", **values})


def test_notice_names_the_length_never_the_secret() -> None:
    notice = short_secret_notice(options(jwt_secret="hunter2"), {})
    assert notice is not None and "7 bytes" in notice and "hunter2" not in notice
    assert short_secret_notice(options(jwt_secret="x" * 32), {}) is None
    assert short_secret_notice(options(token="t"), {}) is None
    assert "5 bytes" in (short_secret_notice(options(), {"LOCUST_JWT_SECRET": "short"}) or "")


def test_one_line_instead_of_pyjwt_warnings(caplog: pytest.LogCaptureFixture) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with caplog.at_level(logging.WARNING):
            quiet_key_length_warnings(SimpleNamespace(parsed_options=options(jwt_secret="hunter2")))
        jwt.encode({"sub": "x"}, "hunter2", algorithm="HS256")
    assert not [w for w in caught if "InsecureKeyLength" in type(w.message).__name__ + str(w.category)]
    assert [r.getMessage() for r in caplog.records if "hunter2" in r.getMessage()] == []
    assert any("7 bytes" in r.getMessage() for r in caplog.records)
