"""The examples in our options' help texts (--help, the web UI's form) work against the reference server."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from reference_server.launcher import start_reference_server
from tests.support.locust_run import ledger_closes, run_locust
from users.load.options import add_user_arguments


class HelpRecorder:
    """Stands in for Locust's parser: keeps each option's help text."""

    def __init__(self) -> None:
        self.help: dict[str, str] = {}

    def add_argument(self, *names: str, **kwargs: Any) -> None:
        self.help[names[-1]] = str(kwargs.get("help", "")).replace("%%", "%")


def examples() -> dict[str, list[str]]:
    """Option -> the values its help shows after `e.g.` (comma-separated lists split, except for --tools)."""
    recorder = HelpRecorder()
    add_user_arguments(recorder)
    found: dict[str, list[str]] = {}
    for option, text in recorder.help.items():
        match = re.search(r"e\.g\. (.+?)(?:\.$| \(|\. )", text)
        if match:
            value = match.group(1)
            found[option] = [value] if option == "--tools" else [v.strip() for v in value.split(", ")]
    return found


def test_the_help_shows_examples_for_the_options_that_take_expressions() -> None:
    shown = examples()
    assert shown["--tools"] == ['echo:8,sleep:1={"ms":5}']
    assert shown["--subscribe"] == ["ticks:100:1000"]
    assert "p99<100ms" in shown["--threshold"] and "call_tool:echo:p99<5ms" in shown["--threshold"]


def test_every_help_example_works_against_the_reference_server(tmp_path: Path) -> None:
    shown = examples()
    args = ["--tools", shown["--tools"][0], "--subscribe", shown["--subscribe"][0]]
    args += ["--threshold", ",".join(shown["--threshold"])]
    with start_reference_server() as server:
        result = run_locust(tmp_path, server.url, *args, env={"LOCUST_JWT_SECRET": server.jwt_secret or ""})
    assert result.returncode in (0, 1), result.output[-3000:]  # 1: msgs>=50K/s is a goal a small machine may miss
    ledger_closes(result)
    assert not result.failures, result.failures
    assert result.stats["call_tool:subscribe"].requests >= 4 and result.stats["call_tool:sleep"].requests > 0
    assert result.ws_final["pushes_received"] > 0
    for expression in shown["--threshold"]:
        assert re.search(rf"^threshold {re.escape(expression)}: (ok|FAILED) ", result.output, re.M), expression
