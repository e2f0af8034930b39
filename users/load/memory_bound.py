"""The memory a run may need for server messages (users x --max-message-bytes) against the machine's, warned once."""

from __future__ import annotations

import os
from pathlib import Path

MEMINFO = Path("/proc/meminfo")


def machine_memory(meminfo: Path = MEMINFO) -> int | None:
    """Bytes of memory this machine has: /proc/meminfo MemTotal, else os.sysconf; None when neither says."""
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024  # the kernel writes kB
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (OSError, ValueError, AttributeError):
        return None


def memory_warning(users: int | None, max_message_bytes: int, memory: int | None) -> str | None:
    """One line when `users` connections each holding a whole `max_message_bytes` message (partial frames and
    fragments included: the most one connection buffers) would not fit in `memory`; None when they fit or
    either is unknown."""
    if not users or not memory:
        return None
    need = users * max_message_bytes
    if need <= memory:
        return None
    return (
        f"{users} users x --max-message-bytes {max_message_bytes} = {need / 2**30:.1f} GiB of server messages "
        f"may be buffered at once, more than this machine's {memory / 2**30:.1f} GiB: a server sending messages "
        "that large can exhaust memory; lower --max-message-bytes or the users"
    )
