"""An Edit of a distributed run's live options reaches every worker's users, old and new: each worker rebuilds its
RunConfig from the master's options of the spawn message (users/load/config.py).

An Edit that keeps the number of users reaches them too: Locust sends its options only with spawn messages (which
the scenario shape sends only when its users or rate change), so the master also sends the live options in a
message of their own."""

from __future__ import annotations

import json
import os
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from reference_server.launcher import RunningServer
from tests.distributed.cluster import Cluster, wait_for
from tests.distributed.test_web_ui_browser import get_json, stop_process, wait_web_ui
from tests.support.locust_run import free_port, secret_env


def swarm(base: str, form: dict[str, str]) -> dict[str, Any]:
    data = urllib.parse.urlencode(form).encode()
    with urllib.request.urlopen(base + "/swarm", data=data, timeout=5) as response:
        return json.loads(response.read())


def test_an_edit_of_in_flight_reaches_the_workers_old_and_new_users(tmp_path: Path, server: RunningServer) -> None:
    web_port = free_port()
    base = f"http://127.0.0.1:{web_port}"
    env = {**os.environ, **secret_env(server)}
    cluster = Cluster(tmp_path, server.url, ["--web-host", "127.0.0.1", "--web-port", str(web_port)], env,
                      headless=False)  # fmt: skip
    master = cluster.start_master()
    workers = [cluster.start_worker(0), cluster.start_worker(1)]
    seen: list[float] = []

    def in_flight(wanted: int) -> bool:
        points = get_json(base + "/websocket/series?since=0")["points"]
        seen.append(points[-1]["calls_in_flight"] if points else -1)
        return seen[-1] == wanted

    try:
        wait_web_ui(base, master, workers=2)
        slow = {"host": server.url, "tools": 'sleep={"ms":300}'}
        assert swarm(base, {"user_count": "4", "spawn_rate": "4", "in_flight": "10", **slow})["success"]
        wait_for(lambda: in_flight(40), 30, "40 calls in flight (4 users x 10)", 0.3)
        assert swarm(base, {"user_count": "6", "spawn_rate": "6", "in_flight": "3"})["success"]  # the Edit
        try:
            wait_for(lambda: in_flight(18), 30, "18 calls in flight (6 users x 3, the 4 old ones too)", 0.3)
        except AssertionError:
            raise AssertionError(f"in flight seen last: {seen[-10:]}") from None
        assert swarm(base, {"user_count": "6", "spawn_rate": "6", "in_flight": "1"})["success"]  # same users
        try:
            wait_for(lambda: in_flight(6), 30, "6 calls in flight (the same 6 users x 1)", 0.3)
        except AssertionError:
            raise AssertionError(f"in flight seen last: {seen[-10:]}") from None
    finally:
        stop_process(master)
        cluster.finish(master, workers, 30)
    logs = [p.log() for p in (master, *workers)]
    assert not any("Traceback" in log for log in logs), logs
