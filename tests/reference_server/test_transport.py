"""wss:// with --tls-cert/--tls-key (trustme CA) and RS256/ES256 tokens via --jwt-public-key."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import trustme
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from reference_server.launcher import start_reference_server
from tests.reference_server.assertions import assert_error, assert_ok
from tests.support.ws import call, connect, hello, mint_token, recv_close


def test_tls(tmp_path: Path) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert_path, key_path, ca_path = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(cert_path))
    cert.private_key_pem.write_to_path(str(key_path))
    ca.cert_pem.write_to_path(str(ca_path))
    with start_reference_server("--tls-cert", str(cert_path), "--tls-key", str(key_path)) as server:
        assert server.url.startswith("wss://127.0.0.1:")
        ws = connect(server.url, ca_file=str(ca_path))
        assert hello(ws, mint_token(server.jwt_secret, now=time.time()))["op"] == "hello_ok"
        assert assert_ok(call(ws, "echo", {"secure": True}, "t1"), "t1") == {"secure": True}
        ws.close()


def _keypair(kind: str) -> Any:
    if kind == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
def test_public_key_tokens(tmp_path: Path, algorithm: str) -> None:
    private = _keypair(algorithm)
    pem = tmp_path / "public.pem"
    pem.write_bytes(
        private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with start_reference_server("--jwt-public-key", str(pem)) as server:
        assert server.jwt_secret is None
        ws = connect(server.url)
        assert hello(ws, mint_token(private, now=time.time(), algorithm=algorithm))["op"] == "hello_ok"
        assert_ok(call(ws, "echo", {}, "k1"), "k1")
        ws.close()
        for token in (
            mint_token(_keypair(algorithm), now=time.time(), algorithm=algorithm),  # another key
            mint_token("a-shared-secret-is-not-accepted-here-0123456789", now=time.time()),  # HS256
        ):
            ws = connect(server.url)
            assert_error(hello(ws, token), "invalid_token")
            assert recv_close(ws) == 1008
            ws.close()
