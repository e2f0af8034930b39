"""`--tools` specs parse to the right entries and draw by weight."""

from __future__ import annotations

import random
import tracemalloc
from collections import Counter

import pytest

from users.load.tool_mix import ToolEntry, ToolMix, ToolMixError, parse_tool_spec


def test_plain_name_defaults() -> None:
    assert parse_tool_spec("echo") == [ToolEntry("echo", 1, {})]


def test_weights_and_json_arguments_with_commas_inside() -> None:
    spec = 'echo:8, sleep:1={"ms": 5}, payload={"bytes": 10, "tags": [1, 2]},fail:0'
    assert parse_tool_spec(spec) == [
        ToolEntry("echo", 8, {}),
        ToolEntry("sleep", 1, {"ms": 5}),
        ToolEntry("payload", 1, {"bytes": 10, "tags": [1, 2]}),
        ToolEntry("fail", 0, {}),
    ]


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("", "empty"),
        ("echo:x", "weight"),
        ("echo={bad", "not valid JSON"),
        ("echo;sleep", "expected ','"),
        ("echo,", "tool name"),
        ("echo:0", "zero"),
    ],
)
def test_bad_specs_say_what_is_wrong(spec: str, fragment: str) -> None:
    with pytest.raises(ToolMixError, match=fragment):
        parse_tool_spec(spec)


def test_single_tool_repeats_without_drawing() -> None:
    mix = ToolMix.from_spec("echo")
    picked = mix.pick(3)
    assert [t.tool for t in picked] == ["echo"] * 3


def test_draws_follow_weights_and_skip_zero() -> None:
    mix = ToolMix.from_spec("a:3,b:1,c:0", rng=random.Random(1))
    counts = Counter(t.tool for t in mix.pick(40_000))
    assert set(counts) == {"a", "b"}
    assert counts["a"] / counts["b"] == pytest.approx(3.0, rel=0.05)


def test_random_payload_sizes_are_prebuilt_variants_in_range() -> None:
    mix = ToolMix.from_spec('echo:1={"pad":"$bytes:10-1000","keep":"$other"},sleep:1', rng=random.Random(3))
    sizes = {len(t.arguments["pad"]) for t in mix.templates if t.tool == "echo"}
    assert len(sizes) > 20 and min(sizes) >= 10 and max(sizes) <= 1000
    assert all(t.arguments["keep"] == "$other" for t in mix.templates if t.tool == "echo")
    counts = Counter(t.tool for t in mix.pick(20_000))
    assert counts["echo"] / counts["sleep"] == pytest.approx(1.0, rel=0.06)  # variants share their entry's weight


def test_mixes_made_without_an_rng_share_one_instead_of_3_kb_of_twister_state_each():
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        mixes = [ToolMix.from_spec("echo:1,sleep:1") for _ in range(200)]
        per_mix = (tracemalloc.get_traced_memory()[0] - before) / len(mixes)
    finally:
        tracemalloc.stop()
    assert per_mix < 2500, f"{per_mix:.0f} B per mix (one per user)"
    picked = {t.tool for t in mixes[0].pick(200)}
    assert picked == {"echo", "sleep"}
