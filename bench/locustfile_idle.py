"""Bench locustfile: users that connect, say hello and then hold their connection idle (no calls).

Used by bench.bench_connections to count how many authenticated connections
one worker process holds and what each costs. Everything but the task comes
from the real entry point (imported as a module, so Locust sees only IdleUser).
"""

import gevent
from locust import constant

import locustfile as _entry  # the real entry point: gevent patching, options, reporting, ToolCallUser


class IdleUser(_entry.ToolCallUser):
    """Opens its connection in on_start (connect + hello), then only keeps it (reopening if it drops)."""

    wait_time = constant(0)
    idle_s: float = 3600.0
    """How long the task sleeps between checks of its connection (Locust kills it at stop)."""

    def hold(self) -> None:
        """Reopen a dropped connection; otherwise sleep."""
        if self.connected_client() is None:  # reopened (after backoff) when it dropped; None while that fails
            return
        gevent.sleep(self.idle_s)


IdleUser.tasks = [IdleUser.hold]  # replaces the inherited call_tools task (Locust's metaclass merges bases' tasks)
