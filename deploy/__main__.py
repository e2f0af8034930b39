"""`python -m deploy kubernetes ... --out DIR [-- EXTRA LOCUST OPTIONS]`: write one YAML file per object."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NoReturn

import yaml

from deploy.kubernetes import ROOT, Plan, render

SECRET_FLAGS = ("--jwt-secret", "--token", "--jwt-private-key")
"""Never rendered into a manifest: the workers read the JWT secret from the Secret the user creates."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One `error:` line and exit code 2 (the project's rule for bad options)."""
        sys.stderr.write(f"error: {message}\n")
        sys.exit(2)


def parser() -> Parser:
    p = Parser(prog="python -m deploy", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="target", required=True)
    k = sub.add_parser("kubernetes", help="manifests of a master Job, its Service, workers and a LocustTest")
    k.error = p.error  # type: ignore[method-assign]
    k.add_argument("--workers", type=int, required=True, help="worker pods (the master expects this many)")
    k.add_argument("--users", type=int, required=True, help="users in all (-u)")
    k.add_argument("--spawn-rate", type=float, required=True, help="users started per second (-r)")
    k.add_argument("--run-time", required=True, help="e.g. 10m (-t)")
    k.add_argument("--host", required=True, help="the target, ws:// or wss:// (-H)")
    k.add_argument("--out", type=Path, required=True, help="folder for the YAML files")
    k.add_argument("--name", default="wsload", help="prefix of the objects' names (default %(default)s)")
    k.add_argument("--image", default="ws-locust-loadtest:latest", help="the Dockerfile's image (default %(default)s)")
    k.add_argument("--image-pull-policy", default="IfNotPresent", choices=("IfNotPresent", "Always", "Never"))
    k.add_argument("--secret-name", default="wsload-jwt", help="the Secret you create (default %(default)s)")
    k.add_argument("--secret-key", default="jwt-secret", help="its key holding the HS256 secret (default %(default)s)")
    k.add_argument("--prometheus-port", type=int, default=9646, help="the master's /metrics port (default %(default)s)")
    k.add_argument("--fd-limit", type=int, default=1048576, help="soft open-files limit (default %(default)s)")
    k.add_argument("--worker-cpu", default="1", help="CPU request per worker (default %(default)s)")
    k.add_argument("--worker-memory", default="1Gi", help="memory request and limit per worker (default %(default)s)")
    k.add_argument("--master-cpu", default="500m", help="CPU request of the master (default %(default)s)")
    k.add_argument(
        "--master-memory", default="512Mi", help="memory request and limit of the master (default %(default)s)"
    )
    k.add_argument("--web-ui", action="store_true", help="a master with the web UI (Service port 8089), not headless")
    return p


def plan_from(args: argparse.Namespace, extra: list[str]) -> Plan:
    """The Plan, or one error line and exit code 2 for a value that cannot work."""
    bad = [flag for flag in extra if flag.split("=")[0] in SECRET_FLAGS]
    if bad:
        parser().error(f"{bad[0]} cannot go into a manifest: create the Secret {args.secret_name} instead")
    if args.workers < 1 or args.users < 1 or args.spawn_rate <= 0 or args.fd_limit < 1024:
        parser().error("--workers and --users must be at least 1, --spawn-rate above 0, --fd-limit at least 1024")
    if not args.host.startswith(("ws://", "wss://")):
        parser().error("--host must be a ws:// or wss:// URL")
    return Plan(
        workers=args.workers, users=args.users, spawn_rate=args.spawn_rate, run_time=args.run_time, host=args.host,
        name=args.name, image=args.image, image_pull_policy=args.image_pull_policy, secret_name=args.secret_name,
        secret_key=args.secret_key, prometheus_port=args.prometheus_port, fd_limit=args.fd_limit,
        worker_cpu=args.worker_cpu, worker_memory=args.worker_memory, master_cpu=args.master_cpu,
        master_memory=args.master_memory, web_ui=args.web_ui, extra=tuple(extra),
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        at = argv.index("--")
        argv, extra = argv[:at], argv[at + 1 :]
    args = parser().parse_args(argv)
    plan = plan_from(args, extra)
    args.out.mkdir(parents=True, exist_ok=True)
    for filename, obj in render(plan, (ROOT / "locustfile.py").read_text()).items():
        (args.out / filename).write_text(yaml.safe_dump(obj, sort_keys=False))
        print(args.out / filename)
    return 0


if __name__ == "__main__":
    sys.exit(main())
