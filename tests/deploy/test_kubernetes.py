"""`python -m deploy kubernetes`: every rendered object validates offline, no secret value is rendered, and the
master's and workers' containers, run as rendered on loopback, give the server's counts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from reference_server.launcher import RunningServer
from tests.distributed.checks import server_agrees, summed_once
from tests.distributed.cluster import Cluster, start_process
from tests.support.locust_run import ROOT, free_port, ledger_closes

pytestmark = pytest.mark.timeout(240)

KUBERNETES_VERSION = "1.33.0"
"""The Kubernetes API the manifests are validated against (kubernetes-validate's bundled schemas)."""
CRD = ROOT / "deploy" / "crds" / "locusttest.yaml"
SENTINEL = "do-not-render-this-secret-0123456789"


def render(out: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "deploy", "kubernetes", "--workers", "2", "--users", "4", "--spawn-rate", "4",
               "--run-time", "6s", "--host", "ws://target.example:8765/", "--out", str(out), *args]  # fmt: skip
    return subprocess.run(command, cwd=ROOT, env={**os.environ, **(env or {})}, capture_output=True, text=True,
                          timeout=60, check=False)  # fmt: skip


def objects(out: Path) -> dict[str, dict[str, Any]]:
    files = sorted(out.glob("*.yaml"))
    loaded = {f.name: list(yaml.safe_load_all(f.read_text())) for f in files}
    assert all(len(docs) == 1 for docs in loaded.values()), "one object per file"
    return {name: docs[0] for name, docs in loaded.items()}


def test_every_rendered_object_validates_strictly(tmp_path: Path) -> None:
    for variant, args in (("headless", ()), ("web", ("--web-ui",))):
        out = tmp_path / variant
        done = render(out, *args, "--", "--in-flight", "4")
        assert done.returncode == 0, done.stderr
        rendered = objects(out)
        assert set(rendered) == {"master-job.yaml", "master-service.yaml", "workers-deployment.yaml",
                                 "locustfile-configmap.yaml", "locusttest.yaml"}  # fmt: skip
        files = [str(out / name) for name in rendered if name != "locusttest.yaml"] + [str(CRD)]
        check = subprocess.run([str(Path(sys.executable).parent / "kubernetes-validate"), "--strict", "-k",
                                KUBERNETES_VERSION, *files], capture_output=True, text=True, timeout=120,
                               check=False)  # fmt: skip
        print(check.stdout + check.stderr)
        assert check.returncode == 0, check.stdout + check.stderr
        assert (check.stdout + check.stderr).count("passed for resource") == len(files)
        ports = {p["port"] for p in rendered["master-service.yaml"]["spec"]["ports"]}
        assert ports == ({5557, 9646, 8089} if variant == "web" else {5557, 9646})
    bad = rendered["master-job.yaml"]
    bad["spec"]["template"]["spec"]["containers"][0]["ulimits"] = {"nofile": 1}  # no such field in a Pod
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad))
    check = subprocess.run([str(Path(sys.executable).parent / "kubernetes-validate"), "--strict", "-k",
                            KUBERNETES_VERSION, str(tmp_path / "bad.yaml")], capture_output=True, text=True,
                           timeout=60, check=False)  # fmt: skip
    assert check.returncode != 0 and "ulimits" in check.stdout + check.stderr


def crd_schema() -> dict[str, Any]:
    crd = yaml.safe_load(CRD.read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    return version["schema"]["openAPIV3Schema"]


def unknown_fields(value: Any, schema: dict[str, Any], path: str = "") -> list[str]:
    """Fields the API server would prune (a structural schema keeps only declared properties)."""
    found = []
    if isinstance(value, dict) and "properties" in schema:
        for key, item in value.items():
            if key not in schema["properties"]:
                found.append(f"{path}.{key}")
            else:
                found += unknown_fields(item, schema["properties"][key], f"{path}.{key}")
    elif isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            found += unknown_fields(item, schema["items"], f"{path}[{i}]")
    return found


def test_the_locusttest_validates_against_the_operators_crd(tmp_path: Path) -> None:
    assert render(tmp_path, "--", "--in-flight", "4").returncode == 0
    test = objects(tmp_path)["locusttest.yaml"]
    assert (test["apiVersion"], test["kind"]) == ("locust.io/v1", "LocustTest")
    schema = crd_schema()
    jsonschema.Draft7Validator(schema).validate(test)
    assert unknown_fields(test["spec"], schema["properties"]["spec"], ".spec") == [], "the API server would prune"
    assert test["spec"]["workers"] == 2 and "--expect-workers 2" in test["spec"]["args"]
    assert test["spec"]["locustfile"]["configMap"]["name"] == objects(tmp_path)["locustfile-configmap.yaml"][
        "metadata"]["name"]  # fmt: skip
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(schema).validate({**test, "spec": {**test["spec"], "workers": 0}})
    # Why the LocustTest carries no credential: its env items are name/value only, a secretKeyRef would be pruned.
    secret_ref = {"env": [{"name": "LOCUST_JWT_SECRET", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]}
    assert unknown_fields(secret_ref, schema["properties"]["spec"], ".spec") == [".spec.env[0].valueFrom"]


def test_the_image_entrypoint_runs_locust_arguments_and_passes_commands_through(tmp_path: Path) -> None:
    env = {**os.environ, "WSLOAD_APP": str(ROOT), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    entrypoint = str(ROOT / "deploy" / "entrypoint.sh")
    operator = subprocess.run(["sh", entrypoint, "--version"], env=env, capture_output=True, text=True, timeout=60,
                              check=False, cwd=tmp_path)  # fmt: skip
    assert operator.returncode == 0 and "locust 2." in operator.stdout + operator.stderr, operator.stderr
    compose = subprocess.run(["sh", entrypoint, "python", "-c", "import sys; print(sys.argv[1:])", "a"], env=env,
                             capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert compose.stdout.strip() == "['a']", compose.stderr


def test_no_secret_value_is_rendered(tmp_path: Path) -> None:
    env = {"LOCUST_JWT_SECRET": SENTINEL, "LOCUST_TOKEN": SENTINEL}
    done = render(tmp_path, "--secret-name", "my-jwt", env=env)
    assert done.returncode == 0, done.stderr
    for path in tmp_path.glob("*.yaml"):
        assert SENTINEL not in path.read_text(), path
    worker = objects(tmp_path)["workers-deployment.yaml"]["spec"]["template"]["spec"]["containers"][0]
    (secret,) = [e for e in worker["env"] if e["name"] == "LOCUST_JWT_SECRET"]
    assert secret == {"name": "LOCUST_JWT_SECRET",
                      "valueFrom": {"secretKeyRef": {"name": "my-jwt", "key": "jwt-secret"}}}  # fmt: skip
    for flag in ("--jwt-secret", "--token=abc"):
        refused = render(tmp_path / "refused", "--", flag, SENTINEL)
        assert refused.returncode == 2 and refused.stderr.startswith("error: "), refused.stderr
        assert SENTINEL not in refused.stderr and not (tmp_path / "refused").exists()


def local(container: dict[str, Any], substitutions: dict[str, str], secrets: dict[tuple[str, str], str]
          ) -> tuple[list[str], dict[str, str]]:  # fmt: skip
    """A container's command + args for this machine (our interpreter, loopback, free ports, the checkout for
    /app), and its environment with each secretKeyRef filled from `secrets` (the Secret the user creates)."""
    command = [sys.executable if arg == "python" else arg for arg in container["command"] + container["args"]]
    for old, new in substitutions.items():
        command = [arg.replace(old, new) for arg in command]
    env = {}
    for item in container.get("env", []):
        if "valueFrom" in item:
            ref = item["valueFrom"]["secretKeyRef"]
            env[item["name"]] = secrets[(ref["name"], ref["key"])]
        else:
            env[item["name"]] = item["value"]
    return command, env


def test_the_rendered_containers_run_on_loopback(tmp_path: Path, server: RunningServer) -> None:
    out, results = tmp_path / "manifests", tmp_path / "results"
    metrics_port = free_port()
    done = render(out, "--host", server.url, "--fd-limit", "4096", "--prometheus-port", str(metrics_port), "--",
                  "--in-flight", "2", "--prometheus-linger", "1")  # fmt: skip
    assert done.returncode == 0, done.stderr
    rendered = objects(out)
    master_job, workers = rendered["master-job.yaml"], rendered["workers-deployment.yaml"]
    service = rendered["master-service.yaml"]["metadata"]["name"]
    substitutions = {"/app/results/": f"{results}/", "/app/": f"{ROOT}/", "0.0.0.0": "127.0.0.1",
                     "5557": str(free_port())}  # fmt: skip
    secrets = {("wsload-jwt", "jwt-secret"): server.jwt_secret or ""}
    master_container = master_job["spec"]["template"]["spec"]["containers"][0]
    master_command, master_env = local(master_container, substitutions, secrets)
    worker_container = workers["spec"]["template"]["spec"]["containers"][0]
    worker_command, worker_env = local(worker_container, {**substitutions, service: "127.0.0.1"}, secrets)
    assert "LOCUST_JWT_SECRET" not in master_env and worker_env["LOCUST_JWT_SECRET"] == server.jwt_secret
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
    cluster = Cluster(results, server.url, [], {})
    results.mkdir()
    try:
        master = start_process("master", master_command, tmp_path, {**clean, **master_env})
        cluster.started.append(master)
        replicas = [start_process(f"worker{i}", worker_command, tmp_path, {**clean, **worker_env})
                    for i in range(workers["spec"]["replicas"])]  # fmt: skip
        cluster.started.extend(replicas)
        run = cluster.finish(master, replicas, 120)
    finally:
        cluster.stop_all()
    assert run.result.returncode == 0, master.log()[-3000:]
    assert run.worker_codes == [0, 0], [w.log()[-2000:] for w in replicas]
    ws = ledger_closes(run.result)
    assert ws["connects"] == 4 and ws["calls_sent"] > 0
    summed_once(run)
    stats = server.wait_stats(lambda s: s["connections_closed"] == 4)
    server_agrees(ws, stats)
    print("rendered run:", {"server calls_received": stats["calls_received"], "master calls_sent": ws["calls_sent"],
                            "master calls_ok": ws["calls_ok"]})  # fmt: skip
