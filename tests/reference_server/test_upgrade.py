"""upgrade: the bearer token and subprotocol checks of the jsonrpc / mcp upgrade, without sockets."""

from __future__ import annotations

import asyncio
import time

import pytest
from multidict import CIMultiDict
from picows import WSUpgradeRequest, WSUpgradeResponseWithListener

from reference_server.auth import hmac_verifier
from reference_server.connection import Connection
from reference_server.context import ServerContext
from reference_server.counters import Counters
from reference_server.upgrade import accept_rpc, bearer_token
from tests.reference_server.test_fuzz_connection import fuzz_context
from tests.support.ws import mint_token

SECRET = "upgrade-test-secret-long-enough-for-hs256-0123456789"


@pytest.mark.parametrize(
    ("value", "token"),
    [("Bearer abc", "abc"), ("bearer  abc ", "abc"), ("Basic abc", None), ("Bearer", None), ("Bearer  ", None)],
)
def test_bearer_token(value: str, token: str | None) -> None:
    assert bearer_token(CIMultiDict({"Authorization": value})) == token
    assert bearer_token(CIMultiDict()) is None


def context(protocol: str, loop: asyncio.AbstractEventLoop) -> ServerContext:
    ctx = fuzz_context(loop, Counters(), hmac_verifier(SECRET.encode()), "t")
    ctx.protocol = protocol
    return ctx


def upgrade_request(**headers: str) -> WSUpgradeRequest:
    request = WSUpgradeRequest()
    request.method, request.path, request.version = b"GET", b"/", b"HTTP/1.1"
    request.headers = CIMultiDict(headers)
    return request


def test_jsonrpc_accepts_a_valid_token_with_its_scope_and_counts_refusals() -> None:
    loop = asyncio.new_event_loop()
    try:
        ctx = context("jsonrpc", loop)
        token = mint_token(SECRET, now=time.time(), scope=["echo"])
        listener = accept_rpc(ctx, upgrade_request(Authorization=f"Bearer {token}"))
        assert type(listener) is Connection and listener.session.grant == frozenset({"echo"})
        expired = mint_token(SECRET, now=time.time() - 7200, ttl_s=60)
        for headers in ({}, {"Authorization": "Bearer x.y.z"}, {"Authorization": f"Bearer {expired}"}):
            refused = accept_rpc(ctx, upgrade_request(**headers))
            assert isinstance(refused, WSUpgradeResponseWithListener) and refused.listener is None
            assert refused.response.status == 401 and refused.response.headers["WWW-Authenticate"] == "Bearer"
        assert ctx.counters.hello_refused == {"invalid_token": 2, "token_expired": 1}
    finally:
        loop.close()


def test_mcp_needs_the_subprotocol_and_names_it_in_the_answer() -> None:
    loop = asyncio.new_event_loop()
    try:
        ctx = context("mcp", loop)
        auth = f"Bearer {mint_token(SECRET, now=time.time())}"
        refused = accept_rpc(ctx, upgrade_request(Authorization=auth))
        assert isinstance(refused, WSUpgradeResponseWithListener) and refused.response.status == 400
        accepted = accept_rpc(ctx, upgrade_request(Authorization=auth, **{"Sec-WebSocket-Protocol": "x, mcp"}))
        assert isinstance(accepted, WSUpgradeResponseWithListener) and type(accepted.listener) is Connection
        assert accepted.listener.protocol == "mcp"
        assert accepted.response.status == 101 and accepted.response.headers["Sec-WebSocket-Protocol"] == "mcp"
        assert ctx.counters.hello_refused == {"subprotocol_required": 1}
    finally:
        loop.close()
