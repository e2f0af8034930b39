"""Throw-away "hosts" for distributed tests: network namespaces on one bridge, addresses in 10.231.0.0/24.

Only traffic between the namespaces made here: each host namespace has one
veth into a switch namespace that holds the bridge; nothing is routed to or
from the root namespace, and every namespace is deleted on exit.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

SUBNET = "10.231.0"


@dataclass(frozen=True)
class Host:
    """One namespace: its name, address and interface."""

    netns: str
    address: str
    interface: str

    @property
    def wrap(self) -> list[str]:
        """Command prefix that runs a program on this host."""
        return ["ip", "netns", "exec", self.netns]

    def interface_bytes(self) -> tuple[int, int]:
        """(rx_bytes, tx_bytes) of this host's veth."""
        out = _ip("netns", "exec", self.netns, "ip", "-s", "-j", "link", "show", "dev", self.interface)
        stats = json.loads(out)[0]["stats64"]
        return int(stats["rx"]["bytes"]), int(stats["tx"]["bytes"])


def _ip(*args: str) -> str:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10, check=False)
    if done.returncode != 0:
        raise OSError(f"ip {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def why_not_available() -> str | None:
    """None when this process may create namespaces; otherwise the reason (for pytest.skip)."""
    if os.name != "posix" or not hasattr(os, "geteuid"):
        return "network namespaces need Linux"
    if os.geteuid() != 0:
        return "creating network namespaces needs root"
    if shutil.which("ip") is None:
        return "the `ip` command (iproute2) is not installed"
    probe = f"wsprobe{os.getpid()}"
    try:
        _ip("netns", "add", probe)
    except OSError as exc:
        return f"`ip netns add` is not permitted here: {exc}"
    try:
        _ip("-n", probe, "link", "add", "br0", "type", "bridge")
    except OSError as exc:
        return f"bridges are not available in a namespace: {exc}"
    finally:
        subprocess.run(["ip", "netns", "del", probe], capture_output=True, timeout=10, check=False)
    return None


@contextmanager
def hosts(names: Sequence[str]) -> Iterator[dict[str, Host]]:
    """Namespaces NAME -> Host on one bridge, deleted on exit (even after a failure)."""
    tag = f"ws{os.getpid() % 100000}"
    switch = f"{tag}-sw"
    made: list[str] = []
    try:
        _ip("netns", "add", switch)
        made.append(switch)
        _ip("-n", switch, "link", "add", "br0", "type", "bridge")
        _ip("-n", switch, "link", "set", "br0", "up")
        result: dict[str, Host] = {}
        for index, name in enumerate(names):
            netns = f"{tag}-{name}"
            _ip("netns", "add", netns)
            made.append(netns)
            inner, outer = f"eth{index}", f"{tag}p{index}"
            _ip("link", "add", inner, "netns", netns, "type", "veth", "peer", "name", outer, "netns", switch)
            _ip("-n", switch, "link", "set", outer, "master", "br0")
            _ip("-n", switch, "link", "set", outer, "up")
            address = f"{SUBNET}.{index + 1}"
            _ip("-n", netns, "addr", "add", f"{address}/24", "dev", inner)
            _ip("-n", netns, "link", "set", inner, "up")
            _ip("-n", netns, "link", "set", "lo", "up")
            result[name] = Host(netns, address, inner)
        yield result
    finally:
        for netns in reversed(made):
            subprocess.run(["ip", "netns", "del", netns], capture_output=True, timeout=10, check=False)
