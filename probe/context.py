"""What every case needs: the target, the protocol, the tokens, the limits and the per-case time (one object)."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field

from probe.speakers import Speaker
from probe.target import Target


@dataclass(frozen=True)
class Tokens:
    """A good token, an expired one and one with a broken signature (None: cannot be made from the options)."""

    good: str | None = field(default=None, repr=False)
    expired: str | None = field(default=None, repr=False)
    bad_signature: str | None = field(default=None, repr=False)
    why_no_expired: str = ""

    def secrets(self) -> list[str]:
        return [t for t in (self.good, self.expired, self.bad_signature) if t]


@dataclass
class Context:
    """The probe's settings, shared by every case (`tools` filled by the first successful hello)."""

    target: Target
    speaker: Speaker
    tokens: Tokens
    timeout_s: float = 2.0
    max_message_bytes: int = 1024 * 1024
    """The server's message size limit the oversize cases test (0: unknown, those cases are skipped)."""
    tool: str = "echo"
    """A tool that answers any arguments (the calls of the frame cases)."""
    slow_tool: str = "sleep"
    """A tool that answers after `{"ms": N}` (the duplicate request_id case)."""
    tls: ssl.SSLContext | None = None
    server_agent: str = ""
    """The 101's Server header (case 1.1), the agent name of the report unless --agent is given."""
    tools: list[str] | None = None
    """The tools the server listed at hello (toolcall), when it did."""
