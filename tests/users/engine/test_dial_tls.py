"""TLS for wss://: the second connection to an origin offers the first one's session, and a server that allows it
resumes, and counts it (a real reference server with a private CA's certificate, over loopback)."""

from __future__ import annotations

from pathlib import Path

import pytest
import trustme

from reference_server.launcher import start_reference_server
from users.engine import dial as dial_module
from users.engine.dial import dial
from users.wire.settings import ClientSettings


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    cert = ca.issue_cert("127.0.0.1")
    cert.cert_chain_pems[0].write_to_path(str(folder / "server.crt"))
    cert.private_key_pem.write_to_path(str(folder / "server.key"))
    return {"ca": folder / "ca.pem", "cert": folder / "server.crt", "key": folder / "server.key"}


def test_the_second_connection_resumes_the_first_ones_tls_session(certificate: dict[str, Path]) -> None:
    dial_module._SESSIONS.clear()
    settings = ClientSettings(sslopt={"ca_certs": str(certificate["ca"])})
    with start_reference_server("--tls-cert", str(certificate["cert"]), "--tls-key", str(certificate["key"])) as server:
        first = dial(server.url, settings)
        (kept,) = dial_module._SESSIONS.values()  # one per origin and context
        later = [dial(server.url, settings) for _ in range(2)]
        try:
            assert not first.sock.session_reused
            assert all(u.sock.session_reused for u in later)  # the certificate exchange was skipped
            assert server.stats()["tls_sessions_resumed"] == 2  # the server's view: the later ones
            (still,) = dial_module._SESSIONS.values()
            assert still is kept  # a resumed connection's session is not read (it costs what resuming saves)
        finally:
            for upgraded in (first, *later):
                upgraded.sock.close()
