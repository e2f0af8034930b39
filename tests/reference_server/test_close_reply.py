"""The code the server answers a client's close with: echoed when valid, 1000 without one, 1002 when invalid."""

from __future__ import annotations

import pytest

from reference_server.connection import close_reply


@pytest.mark.parametrize("code", [1000, 1001, 1002, 1003, 1007, 1011, 1014, 3000, 4999])
def test_a_valid_code_is_echoed(code: int) -> None:
    assert close_reply(2, code) == code


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535])
def test_a_code_no_endpoint_may_send_is_answered_1002(code: int) -> None:
    assert close_reply(2, code) == 1002


@pytest.mark.parametrize("size", [0, 1])
def test_a_close_without_a_code_is_answered_1000(size: int) -> None:
    assert close_reply(size, 1005) == 1000
