"""Token edge cases over real sockets with RS256 and ES256 keys (HS256 ones are in test_hello/test_calls).

Each refusal answers hello with its documented code and closes with 1008; an accepted
token's scope decides which calls answer ``forbidden`` (the connection stays open).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from reference_server.launcher import RunningServer, start_reference_server
from tests.reference_server.assertions import assert_error, assert_ok, assert_tool_error
from tests.support.ws import call, connect, hello, mint_token, recv_close

AUDIENCE = "load-test"
POLICY_VIOLATION = 1008


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _hs256_with_public_pem(pem: bytes, claims: dict[str, Any]) -> str:
    """Key confusion: an HS256 token whose HMAC secret is the server's public key PEM."""
    signing_input = _b64(b'{"alg":"HS256","typ":"JWT"}') + b"." + _b64(json.dumps(claims).encode())
    return (signing_input + b"." + _b64(hmac.new(pem, signing_input, hashlib.sha256).digest())).decode()


@pytest.fixture(scope="module", params=["RS256", "ES256"])
def keyed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningServer, Any, str, bytes]]:
    """(server, private key, algorithm, public PEM): the server verifies with that key and --jwt-audience."""
    algorithm = request.param
    private = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if algorithm == "RS256"
        else ec.generate_private_key(ec.SECP256R1())
    )
    pem = private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    path: Path = tmp_path_factory.mktemp("keys") / "public.pem"
    path.write_bytes(pem)
    with start_reference_server("--jwt-public-key", str(path), "--jwt-audience", AUDIENCE) as server:
        yield server, private, algorithm, pem


def refused(server: RunningServer, token: str, code: str) -> None:
    ws = connect(server.url)
    reply = hello(ws, token)
    assert_error(reply, code)
    assert token not in reply["message"]
    assert recv_close(ws) == POLICY_VIOLATION
    ws.close()


TokenCase = Callable[[Any, str, bytes, float], str]
CASES: dict[str, tuple[TokenCase, str]] = {
    "expired": (lambda k, alg, pem, now: mint_token(k, now=now - 7200, ttl_s=60, algorithm=alg, aud=AUDIENCE),
                "token_expired"),
    "not-yet-valid": (lambda k, alg, pem, now: mint_token(k, now=now, algorithm=alg, aud=AUDIENCE,
                                                          nbf=int(now) + 3600), "invalid_token"),
    "issued-in-the-future": (lambda k, alg, pem, now: mint_token(k, now=now + 3600, algorithm=alg, aud=AUDIENCE),
                             "invalid_token"),
    "wrong-audience": (lambda k, alg, pem, now: mint_token(k, now=now, algorithm=alg, aud="other"), "invalid_token"),
    "no-audience": (lambda k, alg, pem, now: mint_token(k, now=now, algorithm=alg), "invalid_token"),
    "alg-none": (lambda k, alg, pem, now: jwt.encode({"sub": "x", "iat": int(now), "exp": int(now) + 60,
                                                      "aud": AUDIENCE}, None, algorithm="none"), "invalid_token"),
    "hs256-with-the-public-key": (lambda k, alg, pem, now: _hs256_with_public_pem(
        pem, {"sub": "x", "iat": int(now), "exp": int(now) + 60, "aud": AUDIENCE}), "invalid_token"),
    "other-private-key": (lambda k, alg, pem, now: mint_token(
        rsa.generate_private_key(public_exponent=65537, key_size=2048) if alg == "RS256"
        else ec.generate_private_key(ec.SECP256R1()), now=now, algorithm=alg, aud=AUDIENCE), "invalid_token"),
    "tampered-payload": (lambda k, alg, pem, now: _tamper(mint_token(k, now=now, algorithm=alg, aud=AUDIENCE)),
                         "invalid_token"),
}  # fmt: skip


def _tamper(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "someone-else"
    return ".".join([header, _b64(json.dumps(claims).encode()).decode(), signature])


@pytest.mark.parametrize("case", sorted(CASES))
def test_refused_tokens(keyed: tuple[RunningServer, Any, str, bytes], case: str) -> None:
    server, private, algorithm, pem = keyed
    make, code = CASES[case]
    refused(server, make(private, algorithm, pem, time.time()), code)


def test_accepted_token_and_its_scope(keyed: tuple[RunningServer, Any, str, bytes]) -> None:
    server, private, algorithm, _ = keyed
    now = time.time()
    ws = connect(server.url)
    assert (
        hello(ws, mint_token(private, now=now, algorithm=algorithm, aud=AUDIENCE, scope=["echo"]))["op"] == "hello_ok"
    )
    assert assert_ok(call(ws, "echo", {"k": 1}, "e"), "e") == {"k": 1}
    assert_tool_error(call(ws, "sleep", {"ms": 1}, "s"), "s", "forbidden")
    assert_ok(call(ws, "echo", {}, "still-open"), "still-open")
    ws.close()
    ws = connect(server.url)  # no scope claim: no tool at all
    assert (
        hello(ws, mint_token(private, now=now, algorithm=algorithm, aud=AUDIENCE, omit=["scope"]))["op"] == "hello_ok"
    )
    assert_tool_error(call(ws, "echo", {}, "n"), "n", "forbidden")
    ws.close()
