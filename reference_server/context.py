"""State shared by every connection of one server process (tools, counters, limits, ongoing faults)."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .auth import Verifier
from .counters import Counters
from .faults import Faults
from .push import Hub
from .tools import Tool

if TYPE_CHECKING:
    from .connection import Connection

#: Largest high-water mark of a connection's outgoing buffer (see ServerContext.high_water).
MAX_HIGH_WATER = 256 * 1024


@dataclass(eq=False)
class ServerContext:
    """State shared by every connection of one server process."""

    loop: asyncio.AbstractEventLoop
    counters: Counters
    verifier: Verifier
    tools: dict[str, Tool]
    hub: Hub
    server_info: dict[str, str]
    hello_timeout_s: float
    max_message_bytes: int
    rate_limit: float | None = None
    tool_timeout_s: float | None = None
    #: A message due while more than this is buffered for the client closes it (1008).
    max_send_buffer_bytes: int = 8 * 1024 * 1024
    #: Writes paused (buffer over the high-water mark) this long close the connection (1008).
    send_timeout_s: float = 10.0
    #: Open connections beyond which new ones are closed with 1013 (None: no limit).
    max_connections: int | None = None
    #: The wire protocol: toolcall (PROTOCOL.md), jsonrpc or mcp.
    protocol: str = "toolcall"
    #: mcp only: seconds between the server's ping requests (None: no pings).
    ping_interval_s: float | None = None
    connections: set[Connection] = field(default_factory=set)
    shutting_down: bool = False
    #: The ongoing faults; change them with set_faults.
    faults: Faults = field(default_factory=Faults)
    #: faults.affects_answers, cached for the per-answer check.
    answer_faults: bool = False
    rng: random.Random = field(default_factory=random.Random)
    garbage_serial: int = 0
    tool_names: list[str] = field(init=False)
    tool_descriptions: list[dict[str, str]] = field(init=False)
    #: Outgoing buffer sizes at which a connection stops / resumes reading its client.
    high_water: int = field(init=False)
    low_water: int = field(init=False)

    def __post_init__(self) -> None:
        self.high_water = min(MAX_HIGH_WATER, self.max_send_buffer_bytes // 4)
        self.low_water = self.high_water // 4
        self.tool_names = list(self.tools)
        self.tool_descriptions = [{"name": t.name, "description": t.description} for t in self.tools.values()]
        self.set_faults(self.faults)

    def set_faults(self, faults: Faults) -> None:
        """Make ``faults`` the ongoing faults of this process."""
        self.faults = faults
        self.answer_faults = faults.affects_answers
