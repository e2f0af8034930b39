"""TCP set-up of the upgrade: an IP address is connected to directly, a name through the resolver."""

from __future__ import annotations

import socket

import pytest

from users.engine.dial import literal_family, tcp_connect


@pytest.mark.parametrize(
    ("host", "family"),
    [("127.0.0.1", socket.AF_INET), ("::1", socket.AF_INET6), ("10.1.2.3", socket.AF_INET),
     ("localhost", None), ("example.test", None), ("127.0.0.1.example", None)],
)  # fmt: skip
def test_only_ip_addresses_skip_the_resolver(host: str, family: int | None) -> None:
    assert literal_family(host) == family


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_both_connect_to_a_loopback_listener(host: str) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        sock = tcp_connect(host, listener.getsockname()[1], 5.0)
        try:
            peer, _ = listener.accept()
            peer.close()
            assert sock.getpeername()[0] == "127.0.0.1"
        finally:
            sock.close()


def test_a_refused_connection_raises() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, not listening: connecting is refused
        with pytest.raises(ConnectionRefusedError):
            tcp_connect("127.0.0.1", port, 5.0)
