"""Docs that run: every command README.md and the docs/ pages show runs, as written or shortened, against a
reference server here.

Each command is matched by one rule below; a command no rule knows fails the test (write its rule). Placeholders
become this test's values (`...` the server's secret, hosts the server's URL, `results/` a temp folder) and long
runs are shortened (`-t 3s`, `--stage-duration 2s`, `--duration 3s`, a few users). A few commands cannot run
here; their rules say why and which test
covers them instead.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from reference_server.launcher import RunningServer, start_reference_server
from tests.support.locust_run import ROOT, free_port
from tests.support.readme_commands import docs_commands

RUN_TIMEOUT_S = 150.0


@dataclass
class Context:
    """What a rule needs: the server the commands aim at, a temp folder, and a finished run's CSV prefix."""

    server: RunningServer
    tmp: Path
    run_prefix: Path

    def env(self) -> dict[str, str]:
        secret = self.server.jwt_secret or ""
        return {**os.environ, "LOCUST_JWT_SECRET": secret, "REFERENCE_SERVER_JWT_SECRET": secret}

    def localize(self, command: str) -> str:
        """The command with this test's secret, hosts and folders, and long runs shortened."""
        text = command.split("  #", 1)[0].strip()  # an inline comment after two spaces
        secret = shlex.quote(self.server.jwt_secret or "")
        text = re.sub(r"(\w+)=\.\.\.(\s)", rf"\1={secret}\2", text)
        for host in ("ws://localhost:8079/", "ws://target:8079/", "wss://your-server.example/ws"):
            text = text.replace(host, self.server.url)
        text = text.replace("localhost:8080", f"127.0.0.1:{self.server.metrics_port}")
        text = text.replace("results/", f"{self.tmp}/results/")
        text = re.sub(r"-t \d+[sm]\b", "-t 3s", text)
        text = re.sub(r"--stage-duration \d+[sm]\b", "--stage-duration 2s", text)
        text = re.sub(r"-u \d+ -r \d+", "-u 4 -r 4", text)
        text = text.replace("--processes 4", "--processes 2")
        return text


def run_shell(ctx: Context, text: str, ok_codes: tuple[int, ...] = (0,)) -> str:
    """Run `text` with bash in the repository; its exit code must be one of `ok_codes` and no traceback shown."""
    done = subprocess.run(
        ["bash", "-c", text], cwd=ROOT, env=ctx.env(), capture_output=True, text=True, timeout=RUN_TIMEOUT_S
    )
    output = done.stdout + done.stderr
    assert done.returncode in ok_codes, f"{text}\nexit {done.returncode}\n{output[-3000:]}"
    assert "Traceback" not in output, output[-3000:]
    return output


def wait_until(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def background(ctx: Context, text: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(["bash", "-c", text], cwd=ROOT, env=ctx.env(), stdout=out, stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen[bytes]) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


# ----------------------------------------------------------------------------------------------------- the rules
def run_make_demo(ctx: Context, command: str) -> None:
    """`make` hands DEMO_ARGS to a shell: take the recipe `make -n` prints (the quoting as make passes it) and run
    it shortened (the venv step is skipped: `.venv` is ready)."""
    argv = shlex.split(command, comments=True)
    recipe = subprocess.run(["make", "-n", *argv[1:]], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    line = next(x for x in recipe.splitlines() if "demo.py" in x)
    line = re.sub(r"--duration \S+", "", line).replace("--users 100", "--users 3")
    output = run_shell(ctx, f"{line} --duration 3s --results {ctx.tmp}/demo")
    assert "agrees with the client" in output and "ledger" in output


def with_host(ctx: Context, command: str) -> str:
    """The localized command, aimed at the test's server when it names no host (the default is localhost:8079)."""
    text = ctx.localize(command)
    return text if " -H " in text else f"{text} -H {ctx.server.url}"


def run_headless(ctx: Context, command: str) -> None:
    """A headless run against the reference server; with `--protocol X`, one started speaking X (the page's
    line before starts it the same way)."""
    protocol = re.search(r"--protocol (\w+)", command)
    ok = (0, 1) if re.search(r"\bfail[:=]", command) else (0,)  # Locust's exit code 1: the failures asked for
    if protocol is None or protocol.group(1) == "toolcall":
        output = run_shell(ctx, with_host(ctx, command), ok)
    else:
        with start_reference_server("--protocol", protocol.group(1), jwt_secret=ctx.server.jwt_secret) as server:
            output = run_shell(ctx, with_host(replace(ctx, server=server), command), ok)
    assert "summary" in output and "ledger" in output, output[-2000:]


def run_web_ui(ctx: Context, command: str) -> None:
    port = free_port()
    log = ctx.tmp / "web_ui.log"
    process = background(ctx, f"{ctx.localize(command)} --web-host 127.0.0.1 --web-port {port}", log)
    try:

        def answers() -> bool:
            assert process.poll() is None, log.read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as page:
                    return page.status == 200
            except OSError:
                return False

        wait_until(answers, 60, "the web UI")
    finally:
        stop(process)
    assert "Traceback" not in log.read_text()


def run_master_and_workers(ctx: Context, command: str) -> None:
    port = free_port()
    master_log = ctx.tmp / "master.log"
    master = background(ctx, f"{ctx.localize(command)} --master-bind-port {port}", master_log)
    worker = ".venv/bin/locust -f locustfile.py --worker --master-host 127.0.0.1"
    workers = [background(ctx, f"{worker} --master-port {port}", ctx.tmp / f"worker{i}.log") for i in range(2)]
    try:
        code = master.wait(timeout=RUN_TIMEOUT_S)
    finally:
        for process in [master, *workers]:
            stop(process)
    output = master_log.read_text()
    assert code == 0 and "Traceback" not in output, output[-3000:]
    assert Path(f"{ctx.tmp}/results/report.html").exists()


def run_worker(ctx: Context, command: str) -> None:
    assert command.startswith(".venv/bin/locust -f locustfile.py --worker")  # run by run_master_and_workers


def run_reference_server(ctx: Context, command: str) -> None:
    text = ctx.localize(command).replace("--port 8079", f"--port {free_port()} --metrics-port {free_port()}")
    text = text.rstrip("& ")
    if "--port " not in text:
        text += f" --port {free_port()} --metrics-port {free_port()}"
    log = ctx.tmp / "server.log"
    process = background(ctx, text, log)
    try:
        wait_until(lambda: "listening on ws://" in log.read_text() or process.poll() is not None, 60, "the server")
        assert process.poll() is None, log.read_text()
    finally:
        assert stop(process) == 0, log.read_text()


def run_curl(ctx: Context, command: str) -> None:
    output = run_shell(ctx, ctx.localize(command))
    assert output.startswith("{") and '"error"' not in output, output


def run_analysis(ctx: Context, command: str) -> None:
    text = ctx.localize(command)
    text = re.sub(r"\S*results/20261121-150212/run", str(ctx.run_prefix), text)
    for placeholder in ("BASE_PREFIX", "CANDIDATE_PREFIX", "PREFIX"):
        text = text.replace(placeholder, str(ctx.run_prefix))
    text = text.replace("DIR", str(ctx.tmp / "report"))
    run_shell(ctx, text, ok_codes=(0, 1))  # 1: a target missed on a small shared machine is a verdict, not an error


def run_help_only(ctx: Context, command: str) -> None:
    """Benchmarks take minutes: their options, as written, must exist (`--help` lists each)."""
    argv = shlex.split(command.split("  #", 1)[0])
    module = argv[argv.index("-m") + 1]
    output = run_shell(ctx, f".venv/bin/python -m {module} --help")
    for option in (a for a in argv if a.startswith("--")):
        assert option in output, f"{option} is not an option of {module}"


def run_probe(ctx: Context, command: str) -> None:
    """The conformance probe against the reference server: every case OK or INFORMATIONAL, its report written."""
    output = run_shell(ctx, ctx.localize(command))
    assert "summary: " in output and " 0 FAILED" in output, output[-3000:]
    if "--out results/" in command:
        out = re.search(r"--out (\S+)", ctx.localize(command))
        assert out is not None and Path(out.group(1), "index.json").is_file()


def check_export(ctx: Context, command: str) -> None:
    assert re.fullmatch(r"export (LOCUST_JWT_SECRET|LOCUST_TOKEN)=\.\.\.", command.split("  #", 1)[0].strip())


def skip(reason: str) -> Callable[[Context, str], None]:
    def rule(ctx: Context, command: str) -> None:
        pytest.skip(reason)

    return rule


RULES: list[tuple[str, Callable[[Context, str], None]]] = [
    (r"make demo DEMO_ARGS=", run_make_demo),
    (r"make demo\b", run_make_demo),
    (r"make test\b", skip("the test suite itself")),
    (r"export ", check_export),
    (r".venv/bin/locust .*--master ", run_master_and_workers),
    (r".venv/bin/locust .*--worker ", run_worker),
    (r".venv/bin/locust .*--headless", run_headless),
    (r".venv/bin/locust -f locustfile.py -H \S+(\s+#.*)?$", run_web_ui),
    (r"REFERENCE_SERVER_JWT_SECRET=\S+ .venv/bin/python -m reference_server", run_reference_server),
    (r".venv/bin/python -m reference_server --protocol ", run_reference_server),
    (r"curl -s ", run_curl),
    (r".venv/bin/pip install atheris", skip("installs from a package registry; nothing leaves the machine here")),
    (r".venv/bin/python tests/reference_server/atheris_fuzz.py", skip("needs atheris (test_fuzz_* cover the parser)")),
    (r".venv/bin/python -m analysis ", run_analysis),
    (r".venv/bin/python -m probe ", run_probe),
    (r".ci/autobahn-venv", skip("builds a Python 2.7 venv: tests/autobahn/test_fuzzingserver.py runs it")),
    (r".venv/bin/pytest tests/autobahn", skip("a part of the test suite itself (tests/autobahn)")),
    (r"(\w+=\S+ )*docker compose ", skip("needs docker: tests/distributed/test_compose.py runs the compose file")),
    (r".venv/bin/python -m bench", run_help_only),
]


def rule_for(command: str) -> Callable[[Context, str], None]:
    for pattern, rule in RULES:
        if re.match(pattern, command):
            return rule
    raise AssertionError(f"docs command without a rule in {__file__}: {command}")


PAGES_AND_COMMANDS = docs_commands()
COMMANDS = [command for _, command in PAGES_AND_COMMANDS]
IDS = [f"{i:02d}-{page.removeprefix('docs/')}-{c.split()[0][:24]}" for i, (page, c) in enumerate(PAGES_AND_COMMANDS)]


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Context]:
    tmp = tmp_path_factory.mktemp("readme")
    with start_reference_server() as server:
        prefix = tmp / "made" / "run"
        command = [sys.executable, "-m", "locust", "-f", "locustfile.py", "--headless", "-u", "2", "-r", "2",
                   "-t", "2s", "-H", server.url, "--csv", str(prefix), "--only-summary"]  # fmt: skip
        env = {**os.environ, "LOCUST_JWT_SECRET": server.jwt_secret or ""}
        subprocess.run(command, cwd=ROOT, env=env, capture_output=True, timeout=RUN_TIMEOUT_S, check=True)
        yield Context(server, tmp, prefix)


def test_every_docs_command_has_a_rule() -> None:
    assert len(COMMANDS) >= 20
    assert {page for page, _ in PAGES_AND_COMMANDS} >= {"README.md", "docs/how-to/ci.md", "docs/how-to/protocols.md"}
    for command in COMMANDS:
        rule_for(command)


@pytest.mark.parametrize("command", COMMANDS, ids=IDS)
def test_docs_command_runs(context: Context, command: str) -> None:
    rule_for(command)(context, command)
