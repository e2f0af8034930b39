"""The master's view of its workers, read from Locust's runner: each connected worker's state and users.

`MasterRunner.clients` and a client's `user_classes_count` are not documented API, so they are read here only;
the master's reporter and the rate shares take plain dicts.
"""

from __future__ import annotations

from locust.runners import STATE_RUNNING, STATE_SPAWNING, MasterRunner


def worker_states(runner: MasterRunner) -> dict[str, str]:
    """Each worker connected to the master (missing ones included) and its Locust state ("running", "missing"...)."""
    return {client.id: client.state for client in runner.clients.all}


def worker_users(runner: MasterRunner) -> dict[str, int]:
    """Users each running worker reports (0 for a worker that has not said yet)."""
    return {
        client.id: sum(client.user_classes_count.values())
        for client in runner.clients.all
        if client.state in (STATE_RUNNING, STATE_SPAWNING)
    }
