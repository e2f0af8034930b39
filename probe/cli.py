"""`python -m probe URL`: options (the users' credential and protocol options reused), run, print, report, exit."""

from __future__ import annotations

import argparse
import os
import socket
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

from option_table import defaults
from probe.catalog import CASES
from probe.context import Context
from probe.report import write_reports
from probe.results import case_key, case_line, exit_code, summary_line
from probe.runner import run_cases
from probe.speakers import Speaker
from probe.target import Target, TargetError, parse_target, tls_context
from probe.tokens import tokens_for
from users.load.options import OPTIONS, OptionError, check_options

REUSED = ("--jwt-secret", "--token", "--jwt-private-key", "--jwt-subject", "--jwt-scope", "--jwt-ttl",
          "--jwt-audience", "--protocol", "--mcp-protocol-version", "--rpc-hello", "--ca-file", "--insecure")  # fmt: skip
"""The users' options the probe takes as they are (same env vars, same checks)."""
BAD_OPTION, UNREACHABLE = 2, 2


class ProbeOptionError(Exception):
    """A bad option or URL: one `error:` line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise ProbeOptionError(message)


def build_parser(environ: Mapping[str, str]) -> argparse.ArgumentParser:
    """The probe's parser: URL, the reused users' options (defaults from their LOCUST_* env vars), its own."""
    parser = _Parser(prog="python -m probe", description="Run RFC 6455 and protocol conformance cases against a "
                     "WebSocket server and report each as OK, NON-STRICT, FAILED or INFORMATIONAL.")  # fmt: skip
    parser.add_argument("url", help="ws:// or wss:// URL of the server")
    for option in (o for o in OPTIONS if o.flag in REUSED):
        kwargs: dict[str, Any] = {"help": f"{option.help} Env: {option.env_var}.".replace("%", "%%")}
        env = environ.get(option.env_var)
        if option.action == "store_true":
            kwargs.update(action="store_true", default=env not in (None, "", "0", "false"))
        else:
            kwargs.update(type=option.type or str, default=option.default if env is None else env)
        parser.add_argument(option.flag, **kwargs)
    own = parser.add_argument_group("probe")
    own.add_argument("--timeout", type=float, default=2.0, help="seconds each case may take (default 2)")
    own.add_argument("--total-timeout", type=float, default=120.0, help="seconds the whole probe may take; cases "
                     "left then count as FAILED (default 120)")  # fmt: skip
    own.add_argument(
        "--server-max-message-bytes",
        type=int,
        default=1024 * 1024,
        help="the server's message "
        "size limit the 7.x cases go over (default 1048576, PROTOCOL.md's; 0: unknown, skip them)",
    )
    own.add_argument("--tool", default="echo", help="a tool answering any arguments (default echo)")
    own.add_argument("--slow-tool", default="sleep", help='a tool answering {"ms": N} after N ms (default sleep)')
    own.add_argument("--cases", default="", help="comma-separated case ids or prefixes to run, e.g. 1,6.2 "
                     "(default: all)")  # fmt: skip
    own.add_argument("--out", default="", help="write Autobahn-style index.json and per-case reports here")
    own.add_argument("--agent", default="", help="the agent name in the reports (default: the Server header)")
    return parser


def parse(argv: Sequence[str], environ: Mapping[str, str]) -> tuple[argparse.Namespace, Target]:
    """Parsed and checked options (the users' checks for the reused ones); ProbeOptionError otherwise."""
    args = build_parser(environ).parse_args(list(argv))
    try:
        target = parse_target(args.url)
    except TargetError as exc:
        raise ProbeOptionError(str(exc)) from None
    for name in ("timeout", "total_timeout"):
        if not getattr(args, name) > 0:
            raise ProbeOptionError(f"--{name.replace('_', '-')} must be a positive number of seconds")
    if args.server_max_message_bytes < 0:
        raise ProbeOptionError("--server-max-message-bytes must be 0 (unknown) or more")
    users = argparse.Namespace(**{**defaults(OPTIONS), **vars(args), "host": args.url})
    try:
        check_options(users)
    except OptionError as exc:
        raise ProbeOptionError(str(exc)) from None
    if args.cases and not select(args.cases):
        raise ProbeOptionError(f"--cases {args.cases!r} matches no case")
    return args, target


def select(spec: str) -> list:
    """The cases whose id is in `spec` or starts with one of its prefixes (`6` takes 6.1, 6.2, ...)."""
    wanted = [s.strip() for s in spec.split(",") if s.strip()]
    return [c for c in CASES if not wanted or any(c.case_id == w or c.case_id.startswith(w + ".") for w in wanted)]


def reachable(target: Target, timeout_s: float) -> str:
    """'' when a TCP connection to the target opens; else why not."""
    try:
        socket.create_connection((target.host, target.port), timeout=timeout_s).close()
    except OSError as exc:
        return f"cannot reach {target.host_header}: {type(exc).__name__}: {exc.strerror or exc}"
    return ""


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    environ = os.environ if environ is None else environ
    try:
        args, target = parse(sys.argv[1:] if argv is None else argv, environ)
        speaker = Speaker.for_options(args.protocol, args.mcp_protocol_version, args.rpc_hello)
        tls = tls_context(args.ca_file, args.insecure) if target.tls else None
    except (ProbeOptionError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return BAD_OPTION
    problem = reachable(target, args.timeout)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return UNREACHABLE
    tokens = tokens_for(args, time.time())
    ctx = Context(target, speaker, tokens, args.timeout, args.server_max_message_bytes, args.tool, args.slow_tool, tls)
    secrets = [*tokens.secrets(), args.jwt_secret or "", args.token or ""]
    results = []
    for result in run_cases(select(args.cases), ctx, secrets, args.total_timeout):
        results.append(result)
        print(case_line(result), flush=True)
    results.sort(key=lambda r: case_key(r.case_id))
    print(summary_line(results, target.shown), flush=True)
    if args.out:
        agent = args.agent or ctx.server_agent or target.host_header
        print(f"report  {write_reports(Path(args.out), agent, results)}")
    return exit_code(results)
