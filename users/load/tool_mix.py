"""Pure parsing of `--tools` specs (`echo:8,sleep:1={"ms":5}`) into a weighted mix of call templates."""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from functools import partial

from users.wire.protocol import DEFAULT_DIALECT, CallTemplate, Dialect
from users.wire.protocols.base import Protocol, Template

_NAME = re.compile(r"[A-Za-z0-9_.\-/]+")
_WEIGHT = re.compile(r"\d+")


class ToolMixError(ValueError):
    """A `--tools` spec that cannot be parsed; the message points at the position."""


@dataclass(frozen=True)
class ToolEntry:
    """One tool of the mix: its name, relative weight and fixed arguments."""

    name: str
    weight: int
    arguments: object


def parse_tool_spec(spec: str) -> list[ToolEntry]:
    """Parse `NAME[:WEIGHT][=JSON]` entries separated by commas; weight defaults to 1, arguments to {}."""
    entries: list[ToolEntry] = []
    pos = 0
    text = spec.strip()
    if not text:
        raise ToolMixError("--tools is empty: name at least one tool, e.g. 'echo'")
    decoder = json.JSONDecoder()
    while True:
        name_match = _NAME.match(text, pos)
        if not name_match:
            raise ToolMixError(f"--tools: expected a tool name at position {pos} of {spec!r}")
        name = name_match.group()
        pos = name_match.end()
        weight = 1
        if text.startswith(":", pos):
            weight_match = _WEIGHT.match(text, pos + 1)
            if not weight_match:
                raise ToolMixError(f"--tools: expected a whole-number weight after '{name}:' in {spec!r}")
            weight = int(weight_match.group())
            pos = weight_match.end()
        arguments: object = {}
        if text.startswith("=", pos):
            try:
                arguments, pos = decoder.raw_decode(text, pos + 1)
            except json.JSONDecodeError as exc:
                raise ToolMixError(f"--tools: arguments of '{name}' are not valid JSON: {exc.msg}") from None
        entries.append(ToolEntry(name, weight, arguments))
        while pos < len(text) and text[pos] == " ":
            pos += 1
        if pos == len(text):
            break
        if text[pos] != ",":
            raise ToolMixError(f"--tools: expected ',' at position {pos} of {spec!r}")
        pos += 1
        while pos < len(text) and text[pos] == " ":
            pos += 1
    if sum(e.weight for e in entries) <= 0:
        raise ToolMixError(f"--tools: weights of {spec!r} add up to zero")
    return entries


_FILLER = re.compile(r"^\$bytes:(\d+)-(\d+)$")
FILLER_VARIANTS = 32
"""Pre-built calls per tool whose arguments ask for random sizes (`"$bytes:MIN-MAX"`)."""
_SHARED_RNG = random.Random()
"""Draws of every mix made without an `rng`: a Random per mix (one per user) would cost about 3 KB per
connection (its Mersenne Twister state)."""


def _fill(value: object, rng: random.Random) -> object:
    """`value` with every "$bytes:MIN-MAX" string replaced by that many filler characters (uniform)."""
    if isinstance(value, str):
        match = _FILLER.match(value)
        if match:
            low, high = int(match.group(1)), int(match.group(2))
            return "x" * rng.randint(min(low, high), max(low, high))
        return value
    if isinstance(value, dict):
        return {k: _fill(v, rng) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, rng) for v in value]
    return value


def _has_filler(value: object) -> bool:
    if isinstance(value, str):
        return bool(_FILLER.match(value))
    if isinstance(value, dict):
        return any(_has_filler(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_filler(v) for v in value)
    return False


class ToolMix:
    """Picks call templates by weight; a single tool needs no random draw.

    Arguments may ask for random payload sizes with a string `"$bytes:MIN-MAX"`:
    the tool then gets FILLER_VARIANTS pre-serialised calls of sizes drawn
    uniformly from that range, so the hot path still only picks a template.
    """

    def __init__(
        self,
        entries: list[ToolEntry],
        dialect: Dialect = DEFAULT_DIALECT,
        rng: random.Random | None = None,
        protocol: Protocol | None = None,
    ):
        self._rng = rng or _SHARED_RNG
        make = protocol.template if protocol is not None else partial(CallTemplate, dialect=dialect)
        live = [e for e in entries if e.weight > 0]
        self.entries = live
        self.templates: list[Template] = []
        self._cum_weights: list[float] = []
        total = 0.0
        for e in live:
            variants = FILLER_VARIANTS if _has_filler(e.arguments) else 1
            for _ in range(variants):
                self.templates.append(make(e.name, _fill(e.arguments, self._rng)))
                total += e.weight / variants
                self._cum_weights.append(total)

    @classmethod
    def from_spec(
        cls,
        spec: str,
        dialect: Dialect = DEFAULT_DIALECT,
        rng: random.Random | None = None,
        protocol: Protocol | None = None,
    ) -> ToolMix:
        """Parse and build in one step (calls encoded by `protocol`, else toolcall with `dialect`)."""
        return cls(parse_tool_spec(spec), dialect, rng, protocol)

    def pick(self, count: int) -> list[Template]:
        """`count` templates drawn by weight."""
        if len(self.templates) == 1:
            return self.templates * count
        return self._rng.choices(self.templates, cum_weights=self._cum_weights, k=count)
