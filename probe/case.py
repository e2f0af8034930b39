"""One probe case: an id in Autobahn's dotted style, a title, and the function that runs it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from probe.context import Context
from probe.results import Outcome


@dataclass(frozen=True)
class Case:
    """A case: `run(ctx)` returns its Outcome (or raises session.CaseEnd / client.ProbeTimeout / OSError)."""

    case_id: str
    title: str
    run: Callable[[Context], Outcome]
