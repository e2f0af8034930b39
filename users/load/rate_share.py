"""Distributed open model: the master tells each worker its share of a plan's call rate (its users' share).

Each worker paces `rate x share` over its connected users (users/engine/pacer.py), so the run holds
the plan's rate while workers ramp up, whatever the number of workers.
"""

from __future__ import annotations

from typing import Any

import gevent
from locust.env import Environment
from locust.runners import STATE_RUNNING, STATE_SPAWNING, MasterRunner, WorkerRunner

from users.engine.load_control import rate_shares
from users.integration.workers import worker_users
from users.load.config import config_for
from users.load.runtime import runtime_for

RATE_SHARE_MESSAGE = "ws_rate_share"
"""Master -> workers: {worker id: share of the run's rate}."""
EVERY_S = 0.25
"""How often the master looks at the workers' user counts."""
RESEND_EVERY = 20
"""Looks between resends of unchanged shares (a worker may have joined since)."""


def relay_rate_shares(runner: MasterRunner) -> None:
    """Master greenlet body: send the workers' shares whenever they change (and now and then anyway)."""
    sent: dict[str, float] | None = None
    looks = 0
    while True:
        shares = {w: round(s, 4) for w, s in rate_shares(worker_users(runner)).items()}
        looks += 1
        if shares and (shares != sent or looks % RESEND_EVERY == 0):
            # To each running worker only: a worker still starting up may not handle the message yet.
            for worker in shares:
                runner.send_message(RATE_SHARE_MESSAGE, shares, client_id=worker)
            sent = shares
        gevent.sleep(EVERY_S)


def follow_rate_share(environment: Environment) -> None:
    """Worker: take the master's word on this worker's share; until it comes in a run, an equal share of the
    workers the master expects (its options reach the worker with the first spawn message, before test_start)."""
    runner = environment.runner
    assert isinstance(runner, WorkerRunner)
    share = runtime_for(environment).share

    def on_test_start(environment: Environment, **_: Any) -> None:
        config = config_for(environment)  # the master's options have just replaced this worker's
        expected = (config.expect_workers if config is not None else None) or 1
        share.share, share.known = 1.0 / max(1, int(expected)), False

    def on_share(environment: Environment, msg: Any, **_: Any) -> None:
        mine = (msg.data or {}).get(runner.client_id)
        if mine is not None:
            share.set(float(mine))

    environment.events.test_start.add_listener(on_test_start)
    runner.register_message(RATE_SHARE_MESSAGE, on_share)
    if runner.worker_state in (STATE_SPAWNING, STATE_RUNNING):
        on_test_start(environment)  # the run started before init (see users.reporting.Reporting.on_init)
