"""docker-compose.locust.yml without a Docker engine: its structure, and its commands run as local processes.

The services' command lists are taken from the file (with Compose's `${VAR:-default}`
interpolation), and run here on loopback with only addresses, ports and paths
substituted: the same arguments as in the containers.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.distributed.checks import server_agrees, summed_once
from tests.distributed.cluster import Cluster, DistributedRun, start_process, wait_for
from tests.support.locust_run import ROOT, free_port, ledger_closes, read_run

COMPOSE_FILE = ROOT / "docker-compose.locust.yml"
VARIABLE = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:-|:\?)(?P<arg>[^}]*))?\}")

pytestmark = pytest.mark.timeout(240)  # above the runs' own bounds, so those fail first with their message


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error} in every string of `value`."""
    if isinstance(value, str):

        def replace(match: re.Match[str]) -> str:
            name, op, arg = match["name"], match["op"], match["arg"]
            if env.get(name):
                return env[name]
            if op == ":-":
                return arg
            if op == ":?":
                raise KeyError(f"{name}: {arg}")
            return ""

        return VARIABLE.sub(replace, value)
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    return value


def load(env: dict[str, str] | None = None) -> dict[str, Any]:
    return interpolate(yaml.safe_load(COMPOSE_FILE.read_text()), {"LOCUST_JWT_SECRET": "s" * 32, **(env or {})})


def test_compose_file_structure() -> None:
    compose = load()
    services = compose["services"]
    assert set(services) == {"master", "master-ui", "worker", "reference-server"}
    assert services["reference-server"]["profiles"] == ["reference-server"]
    assert services["master-ui"]["profiles"] == ["ui"]
    assert "profiles" not in services["master"] and "profiles" not in services["worker"]
    images = {s["image"] for s in services.values()}
    assert images == {"ws-locust-loadtest:latest"}  # one image for everything
    for name, service in services.items():
        assert service["build"]["context"] == "." and (ROOT / service["build"]["dockerfile"]).exists(), name
        nofile = service["ulimits"]["nofile"]
        assert nofile["soft"] >= 65536 and nofile["hard"] >= nofile["soft"], name
        health = service["healthcheck"]
        assert health["test"][0] == "CMD" and health["retries"] >= 1, name
        compile(health["test"][-1], f"{name} healthcheck", "exec")  # the python -c snippet parses
        assert service["command"][:2] == ["python", "-m"], name
    worker = services["worker"]
    assert "container_name" not in worker and "ports" not in worker  # --scale worker=N
    master = services["master"]["command"]
    for flag in ("--master", "--headless", "--expect-workers", "--run-time", "--csv", "--html"):
        assert flag in master, flag
    assert master[master.index("--csv") + 1].startswith("results/")
    assert master[master.index("--html") + 1].startswith("results/")
    assert "./results:/app/results" in services["master"]["volumes"]
    assert services["master"]["depends_on"]["reference-server"]["required"] is False
    assert "--headless" not in services["master-ui"]["command"]
    assert "master" in services["master-ui"]["networks"]["default"]["aliases"]
    for name in ("master", "master-ui"):  # the whole run's /metrics, published for Prometheus (docs/monitoring.md)
        command = services[name]["command"]
        port = command[command.index("--prometheus-port") + 1]
        assert command[command.index("--prometheus-host") + 1] == "0.0.0.0"
        assert f"{port}:{port}" in services[name]["ports"], name
    assert "--prometheus-port" not in worker["command"]  # workers serve nothing
    assert load({"WORKERS": "6"})["services"]["master"]["command"][master.index("--expect-workers") + 1] == "6"
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "requirements.txt" in dockerfile and "pip install" in dockerfile
    with pytest.raises(KeyError, match="LOCUST_JWT_SECRET"):
        interpolate(yaml.safe_load(COMPOSE_FILE.read_text()), {})


@pytest.mark.skipif(shutil.which("docker") is None, reason="no docker CLI")
def test_docker_compose_config_accepts_the_file() -> None:
    version = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, timeout=20)
    if version.returncode != 0:
        pytest.skip("docker has no compose plugin here (validated with PyYAML above)")
    done = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE_FILE), "config", "-q"],
        capture_output=True, text=True, timeout=30, env={"LOCUST_JWT_SECRET": "s" * 32, "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def local(command: list[str], substitutions: dict[str, str], hosts: dict[str, str] | None = None) -> list[str]:
    """A service's command for this machine: our interpreter, and addresses, ports and paths substituted
    (`hosts`: whole arguments that are a service's host name)."""
    hosts = {"python": sys.executable, **(hosts or {})}
    out = [hosts.get(arg, arg) for arg in command]
    for old, new in substitutions.items():
        out = [arg.replace(old, new) for arg in out]
    return out


def test_compose_commands_run_as_local_processes(tmp_path: Path) -> None:
    secret = "c" * 40
    compose = load({"LOCUST_JWT_SECRET": secret, "WORKERS": "2", "USERS": "4", "SPAWN_RATE": "4", "RUN_TIME": "3s",
                    "IN_FLIGHT": "2", "SERVER_WORKERS": "1", "PROMETHEUS_LINGER": "1"})  # fmt: skip
    services = compose["services"]
    ws_port, metrics_port, master_port = free_port(), free_port(), free_port()
    (tmp_path / "results").mkdir()
    server_command = local(services["reference-server"]["command"], {
        "0.0.0.0": "127.0.0.1", "8079": str(ws_port), "8080": str(metrics_port),
    })  # fmt: skip
    server_command += ["--stats-file", str(tmp_path / "server_stats.json")]
    server = start_process("server", server_command, tmp_path, {"REFERENCE_SERVER_JWT_SECRET": secret})
    substitutions = {
        "0.0.0.0": "127.0.0.1",
        "5557": str(master_port),
        "9646": str(free_port()),
        "reference-server:8079": f"127.0.0.1:{ws_port}",
        "results/": f"{tmp_path}/results/",
    }
    cluster = Cluster(tmp_path / "results", "", [], {"LOCUST_JWT_SECRET": secret})
    try:
        wait_for(lambda: "listening on" in server.log() or server.popen.poll() is not None, 20, "the server")
        assert server.popen.poll() is None, server.log()
        health = local(services["reference-server"]["healthcheck"]["test"][1:], {"8080": str(metrics_port)})
        assert subprocess.run(health, timeout=20).returncode == 0
        master = start_process("master", local(services["master"]["command"], substitutions), tmp_path,
                               cluster.env)  # fmt: skip
        cluster.started.append(master)
        master_health = local(services["master"]["healthcheck"]["test"][1:], substitutions)
        wait_for(lambda: subprocess.run(master_health, timeout=20, capture_output=True).returncode == 0, 20,
                 "the master's healthcheck")  # fmt: skip
        worker_command = local(services["worker"]["command"], substitutions, {"master": "127.0.0.1"})
        workers = [start_process(f"worker{i}", worker_command, tmp_path, cluster.env) for i in range(2)]
        cluster.started.extend(workers)
        run: DistributedRun = cluster.finish(master, workers, 90)
    finally:
        server.popen.send_signal(signal.SIGTERM)
        server.wait(20)
        cluster.stop_all()
    assert run.result.returncode == 0, master.log()[-3000:]
    assert run.worker_codes == [0, 0]
    ws = ledger_closes(read_run(tmp_path / "results" / "run", 0, ""))
    summed_once(run)
    server_agrees(ws, json.loads((tmp_path / "server_stats.json").read_text()))
    assert (tmp_path / "results" / "report.html").stat().st_size > 10_000
    assert (tmp_path / "results" / "run_stats_history.csv").exists()
