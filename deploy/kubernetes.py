"""Kubernetes manifests of a distributed run (pure: options in, one dict per object out; no cluster, no kubectl)."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
APP_DIR = "/app"
"""Where the image (Dockerfile) holds the locustfile and the project's packages."""
LOCUSTFILE = f"{APP_DIR}/locustfile.py"
MASTER_PORT = 5557
WEB_PORT = 8089
SECRET_ENV = "LOCUST_JWT_SECRET"
LOCUST = ("python", "-m", "locust")


@dataclass(frozen=True)
class Plan:
    """What to render: the run (workers, users, spawn rate, run time, target), the image and the pods' sizes."""

    workers: int
    users: int
    spawn_rate: float
    run_time: str
    host: str
    name: str = "wsload"
    image: str = "ws-locust-loadtest:latest"
    image_pull_policy: str = "IfNotPresent"
    secret_name: str = "wsload-jwt"
    secret_key: str = "jwt-secret"
    prometheus_port: int = 9646
    fd_limit: int = 1048576
    worker_cpu: str = "1"
    worker_memory: str = "1Gi"
    master_cpu: str = "500m"
    master_memory: str = "512Mi"
    web_ui: bool = False
    extra: tuple[str, ...] = field(default_factory=tuple)
    """Further Locust options, given to the master (Locust sends them on to every worker)."""

    @property
    def master_service(self) -> str:
        return f"{self.name}-master"


def labels(plan: Plan, component: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": plan.name, "app.kubernetes.io/component": component,
            "app.kubernetes.io/part-of": "wsload"}  # fmt: skip


def scrape_annotations(plan: Plan) -> dict[str, str]:
    """The annotations Prometheus's kubernetes_sd relabelling conventionally reads."""
    return {"prometheus.io/scrape": "true", "prometheus.io/port": str(plan.prometheus_port),
            "prometheus.io/path": "/metrics"}  # fmt: skip


def shell_command(plan: Plan) -> list[str]:
    """The container command: raise the soft open-files limit (Kubernetes has no ulimit field), then Locust."""
    return ["sh", "-c", f'ulimit -Sn {plan.fd_limit} && exec "$@"', "sh", *LOCUST]


def master_args(plan: Plan) -> list[str]:
    """The master's Locust arguments: headless (or the web UI), the run, /metrics for Prometheus."""
    run = ["-u", str(plan.users), "-r", f"{plan.spawn_rate:g}", "-t", plan.run_time, "-H", plan.host]
    mode = (["--web-host", "0.0.0.0", "--web-port", str(WEB_PORT)] if plan.web_ui
            else ["--headless", "--only-summary"])  # fmt: skip
    return ["-f", LOCUSTFILE, "--master", "--master-bind-host", "0.0.0.0", "--master-bind-port", str(MASTER_PORT),
            "--expect-workers", str(plan.workers), *mode, *run, "--csv", f"{APP_DIR}/results/run",
            "--prometheus-port", str(plan.prometheus_port), "--prometheus-host", "0.0.0.0",
            *plan.extra]  # fmt: skip


def worker_args(plan: Plan) -> list[str]:
    return ["-f", LOCUSTFILE, "--worker", "--master-host", plan.master_service, "--master-port", str(MASTER_PORT)]


def secret_env(plan: Plan) -> list[dict[str, Any]]:
    """The JWT secret, only as a reference to the Secret the user creates (never a value)."""
    ref = {"name": plan.secret_name, "key": plan.secret_key}
    return [{"name": SECRET_ENV, "valueFrom": {"secretKeyRef": ref}}]


def container(plan: Plan, role: str, args: list[str], ports: list[dict[str, Any]], cpu: str, memory: str,
              env: list[dict[str, Any]]) -> dict[str, Any]:  # fmt: skip
    body: dict[str, Any] = {
        "name": role,
        "image": plan.image,
        "imagePullPolicy": plan.image_pull_policy,
        "command": shell_command(plan),
        "args": args,
        "workingDir": APP_DIR,
        "env": [{"name": "PYTHONUNBUFFERED", "value": "1"}, *env],
        "resources": {"requests": {"cpu": cpu, "memory": memory}, "limits": {"memory": memory}},
    }
    if ports:
        body["ports"] = ports
    return body


def master_job(plan: Plan) -> dict[str, Any]:
    """The master: a Job that ends with the run (headless), serving /metrics for Prometheus."""
    ports = [{"name": "master", "containerPort": MASTER_PORT, "protocol": "TCP"},
             {"name": "metrics", "containerPort": plan.prometheus_port, "protocol": "TCP"}]  # fmt: skip
    if plan.web_ui:
        ports.append({"name": "web", "containerPort": WEB_PORT, "protocol": "TCP"})
    pod = {
        "metadata": {"labels": labels(plan, "master"), "annotations": scrape_annotations(plan)},
        "spec": {
            "restartPolicy": "Never",
            "containers": [
                container(plan, "master", master_args(plan), ports, plan.master_cpu, plan.master_memory, [])
            ],  # fmt: skip
        },
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": plan.master_service, "labels": labels(plan, "master")},
        "spec": {"backoffLimit": 0, "template": pod},
    }


def master_service(plan: Plan) -> dict[str, Any]:
    """The Service workers reach the master by (5557), also the web UI (8089) and /metrics."""
    ports = [{"name": "master", "port": MASTER_PORT, "targetPort": "master", "protocol": "TCP"},
             {"name": "metrics", "port": plan.prometheus_port, "targetPort": "metrics", "protocol": "TCP"}]  # fmt: skip
    if plan.web_ui:
        ports.append({"name": "web", "port": WEB_PORT, "targetPort": "web", "protocol": "TCP"})
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": plan.master_service,
            "labels": labels(plan, "master"),
            "annotations": scrape_annotations(plan),
        },  # fmt: skip
        "spec": {"type": "ClusterIP", "selector": labels(plan, "master"), "ports": ports},
    }


def workers_deployment(plan: Plan) -> dict[str, Any]:
    """N workers; each holds the JWT secret from the Secret (the master needs none)."""
    pod = {
        "metadata": {"labels": labels(plan, "worker")},
        "spec": {
            "containers": [
                container(plan, "worker", worker_args(plan), [], plan.worker_cpu, plan.worker_memory, secret_env(plan))
            ],  # fmt: skip
        },
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": f"{plan.name}-worker", "labels": labels(plan, "worker")},
        "spec": {"replicas": plan.workers, "selector": {"matchLabels": labels(plan, "worker")}, "template": pod},
    }


def locustfile_configmap(plan: Plan, locustfile: str) -> dict[str, Any]:
    """The locustfile, for the operator's LocustTest (it mounts it at /home/locust; the image has the packages)."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"{plan.name}-locustfile", "labels": labels(plan, "locustfile")},
        "data": {"locustfile.py": locustfile},
    }


def locust_test(plan: Plan) -> dict[str, Any]:
    """The same run as a LocustTest of Locust's operator (locust.io/v1, deploy/crds/locusttest.yaml).

    The operator adds `--master` or `--worker --master-host ...` before `args`, runs the image's entrypoint and
    mounts the locustfile ConfigMap at /home/locust. Its `env` items take literal values only (no valueFrom), so
    no credential is put here: see docs/kubernetes.md.
    """
    args = ["--headless", "--expect-workers", str(plan.workers), "-u", str(plan.users), "-r",
            f"{plan.spawn_rate:g}", "-t", plan.run_time, "-H", plan.host, "--only-summary", "--prometheus-port",
            str(plan.prometheus_port), "--prometheus-host", "0.0.0.0", *plan.extra]  # fmt: skip
    resources = {
        "master": {"requests": {"cpu": plan.master_cpu, "memory": plan.master_memory},
                   "limits": {"memory": plan.master_memory}},
        "worker": {"requests": {"cpu": plan.worker_cpu, "memory": plan.worker_memory},
                   "limits": {"memory": plan.worker_memory}},
    }  # fmt: skip
    return {
        "apiVersion": "locust.io/v1",
        "kind": "LocustTest",
        "metadata": {"name": plan.name, "labels": labels(plan, "locusttest")},
        "spec": {
            "image": plan.image,
            "imagePullPolicy": plan.image_pull_policy,
            "workers": plan.workers,
            "args": shlex.join(args),
            "env": [{"name": "PYTHONUNBUFFERED", "value": "1"}],
            "locustfile": {"configMap": {"name": f"{plan.name}-locustfile"}},
            "master": {"annotations": scrape_annotations(plan), "resources": resources["master"]},
            "worker": {"resources": resources["worker"]},
        },
    }


def render(plan: Plan, locustfile: str) -> dict[str, dict[str, Any]]:
    """File name -> object, one object per file."""
    return {
        "master-job.yaml": master_job(plan),
        "master-service.yaml": master_service(plan),
        "workers-deployment.yaml": workers_deployment(plan),
        "locustfile-configmap.yaml": locustfile_configmap(plan, locustfile),
        "locusttest.yaml": locust_test(plan),
    }
