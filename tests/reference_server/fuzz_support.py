"""Hypothesis settings and strategies for fuzzing the reference server's message handling.

Every fuzz test uses ``fuzz_settings``: a modest, fixed number of examples, derandomized
(the same examples on every run, so a CI failure reproduces locally), no example
database (nothing written to the repository; conftest also points Hypothesis' home at
a temp dir). Environment knobs for a longer local hunt::

    REFERENCE_SERVER_FUZZ_SCALE=20      # 20x the examples of every fuzz test
    REFERENCE_SERVER_FUZZ_RANDOM=1      # a fresh random seed each run (print_blob shows how to replay)
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from reference_server.tools import reference_tools

#: Every error code PROTOCOL.md documents (``fail`` may answer any code it is given).
DOCUMENTED_CODES = frozenset(
    {
        "hello_required",
        "invalid_token",
        "token_expired",
        "bad_message",
        "unknown_tool",
        "invalid_arguments",
        "forbidden",
        "tool_failed",
        "rate_limited",
        "timeout",
        "duplicate_request_id",
    }
)
#: Ops the server may send.
SERVER_OPS = frozenset({"hello_ok", "error", "tool_result", "tools", "event"})
TOOL_NAMES = tuple(reference_tools())


def fuzz_settings(examples: int) -> settings:
    """Settings for one fuzz test: ``examples`` examples (times REFERENCE_SERVER_FUZZ_SCALE)."""
    scale = float(os.environ.get("REFERENCE_SERVER_FUZZ_SCALE", "1") or 1)
    return settings(
        max_examples=max(1, int(examples * scale)),
        deadline=None,
        derandomize=not os.environ.get("REFERENCE_SERVER_FUZZ_RANDOM"),
        database=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


@contextmanager
def logged_errors() -> Iterator[list[logging.LogRecord]]:
    """The ERROR records the reference server logs inside the block (internal errors must stay absent)."""
    errors: list[logging.LogRecord] = []
    handler = logging.Handler(logging.ERROR)
    handler.emit = errors.append  # type: ignore[method-assign]
    logger = logging.getLogger("reference_server")
    logger.addHandler(handler)
    try:
        yield errors
    finally:
        logger.removeHandler(handler)


# ---- JSON values -------------------------------------------------------------------------


def weighted(*choices: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """One of the strategies, picked with these weights (``st.one_of`` ignores repeated branches)."""
    return st.sampled_from([strategy for weight, strategy in choices for _ in range(weight)]).flatmap(lambda s: s)


def text(max_size: int) -> st.SearchStrategy[str]:
    """Any text without surrogates (an explicit alphabet: Hypothesis' default one costs seconds to build)."""
    return st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=max_size)


#: Integers including ones JSON parsers treat specially (beyond 64 bits, beyond a double).
integers = st.integers() | st.sampled_from([2**63, -(2**63) - 1, 2**64, 10**400, -(10**400)])
scalars = st.none() | st.booleans() | integers | st.floats(allow_nan=False, allow_infinity=False) | text(max_size=12)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(text(max_size=6), children, max_size=4),
    max_leaves=8,
)

# ---- near-valid messages -----------------------------------------------------------------

#: A few ids, so calls reuse ids still in flight.
request_ids = weighted((3, st.sampled_from(["a", "b", "c"])), (1, text(max_size=6)))
odd_values = (
    st.sampled_from([-1, 0, 1, 1.5, 2**63, 10**400, 4 * 1024 * 1024 + 1, True, None, "1", [], {}]) | json_values
)
topics = st.sampled_from(["t", "u", "", "x" * 257])
#: Valid arguments for each tool (small, so the fuzzing stays fast).
valid_arguments: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "echo": st.dictionaries(text(max_size=4), json_values, max_size=3),
    "sleep": st.fixed_dictionaries({"ms": st.floats(min_value=0, max_value=50) | st.integers(0, 50)}),
    "compute": st.fixed_dictionaries({"rounds": st.integers(min_value=0, max_value=2_500)}),
    "payload": st.fixed_dictionaries({"bytes": st.integers(min_value=0, max_value=3_000)}),
    "fail": st.fixed_dictionaries(
        {}, optional={"code": st.sampled_from(["tool_failed", "custom_code"]), "message": text(max_size=8)}
    ),
    "subscribe": st.fixed_dictionaries(
        {"topic": topics, "rate": st.floats(min_value=0.5, max_value=10), "count": st.integers(0, 3)}
    ),
    "broadcast": st.fixed_dictionaries({"topic": topics}, optional={"data": json_values}),
    "nope": st.just({}),
}
assert set(valid_arguments) == {*TOOL_NAMES, "nope"}


@st.composite
def calls(draw: st.DrawFn) -> dict[str, Any]:
    """A call_tool with valid arguments for its tool, then maybe one field or argument broken or dropped."""
    name = draw(st.sampled_from(sorted(valid_arguments)))
    arguments = dict(draw(valid_arguments[name]))
    msg: dict[str, Any] = {"op": "call_tool", "request_id": draw(request_ids), "name": name, "arguments": arguments}
    how = draw(st.sampled_from(["valid"] * 4 + ["field", "drop", "argument", "argument"]))
    if how == "field":
        msg[draw(st.sampled_from(["op", "request_id", "name", "arguments"]))] = draw(odd_values)
    elif how == "drop":
        del msg[draw(st.sampled_from(["op", "request_id", "name", "arguments"]))]
    elif how == "argument":
        key = draw(st.sampled_from(sorted({*arguments, "bytes", "rounds", "ms", "code", "topic", "rate", "count"})))
        if draw(st.booleans()) and key in arguments:
            del arguments[key]
        else:
            arguments[key] = draw(odd_values)
    return msg


def _without(message: dict[str, Any], drop: frozenset[str]) -> dict[str, Any]:
    return {key: value for key, value in message.items() if key not in drop}


def _near(base: st.SearchStrategy[dict[str, Any]], keys: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """``base`` messages, some with fields dropped."""
    drops = st.frozensets(st.sampled_from(keys), max_size=2)
    return st.builds(_without, base, st.just(frozenset()) | drops)


list_tools = _near(st.fixed_dictionaries({"op": st.just("list_tools"), "request_id": request_ids}), ["request_id"])
hellos = _near(
    st.fixed_dictionaries({"op": st.just("hello"), "session_id": text(max_size=6) | json_values, "token": scalars}),
    ["session_id", "token"],
)
other_ops = st.fixed_dictionaries({"op": json_values | st.sampled_from(["", "call", "hello_ok", "tool_result"])})
messages = weighted((2, calls()), (1, list_tools), (1, hellos), (1, other_ops), (1, json_values))
#: Messages a client that has said hello might send: mostly calls, valid or nearly.
session_messages = weighted((12, calls()), (1, list_tools), (1, hellos), (1, other_ops), (1, json_values))


def encode(value: Any) -> bytes:
    """JSON text of ``value`` (big integers allowed, as a client might send them)."""
    return json.dumps(value, ensure_ascii=False).encode()


@st.composite
def mutated(draw: st.DrawFn, base: st.SearchStrategy[bytes]) -> bytes:
    """``base`` bytes with a byte-level mutation: cut short, a byte replaced, bytes inserted."""
    data = bytearray(draw(base))
    kind = draw(st.sampled_from(["cut", "replace", "insert"]))
    where = draw(st.integers(min_value=0, max_value=len(data)))
    if kind == "cut":
        return bytes(data[:where])
    if kind == "replace" and data:
        data[min(where, len(data) - 1)] = draw(st.integers(min_value=0, max_value=255))
        return bytes(data)
    junk = draw(
        st.sampled_from([b"\xff", b"\xc3(", b"\xed\xa0\x80", b"\x00", b"}", b'"', b"NaN"]) | st.binary(max_size=4)
    )
    return bytes(data[:where] + junk + data[where:])


#: Text message payloads after hello: mostly (near-)valid messages, some broken ones.
session_payloads = weighted(
    (8, session_messages.map(encode)), (1, mutated(session_messages.map(encode))), (1, st.binary(max_size=40))
)
#: Text message payloads: valid, near-valid and broken JSON, arbitrary text, arbitrary bytes.
payloads = (
    messages.map(encode)
    | messages.map(encode)
    | mutated(messages.map(encode))
    | text(max_size=30).map(str.encode)
    | st.binary(max_size=40)
)
