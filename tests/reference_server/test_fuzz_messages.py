"""Property-based fuzzing of the pure layer: message decoding/validation and token verification.

Whatever arrives, these functions return a documented value or raise only their
documented error types (BadMessage / InvalidUtf8 / AuthError) with a documented code.
"""

from __future__ import annotations

import math
from typing import Any

import jwt
from hypothesis import example, given
from hypothesis import strategies as st

from reference_server import messages
from reference_server.auth import ALL_TOOLS_SCOPE, AuthError, Grant, hmac_verifier
from reference_server.messages import BadMessage, InvalidUtf8
from tests.reference_server.fuzz_support import fuzz_settings, json_values, payloads, text
from tests.reference_server.fuzz_support import messages as message_values

SECRET = "fuzz-secret-that-is-long-enough-for-every-hmac-algorithm-0123456789abcdef"
NOW = 1_700_000_000.0
AUTH_CODES = frozenset({"invalid_token", "token_expired"})
DESCRIBED = frozenset({"message must be a JSON object", "message lacks op", "op must be a string", "unknown op"})


def is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@fuzz_settings(250)
@given(payloads | st.binary(max_size=64))
@example(b"\xed\xa0\x80")  # a UTF-8-encoded surrogate is invalid UTF-8
@example(b'"\\ud800"')  # an escaped lone surrogate is valid UTF-8 but not a valid JSON string for orjson
@example(b"1e400")
def test_decode_raises_only_its_documented_errors(data: bytes) -> None:
    try:
        value = messages.decode(data)
    except InvalidUtf8:
        assert not is_utf8(data)
    except BadMessage as exc:
        assert is_utf8(data) and exc.reason and exc.request_id is None
    else:
        assert is_utf8(data)  # orjson accepts nothing else
        messages.describe_op(value)  # any decoded value can be described


def check_parse(parse: Any, msg: Any) -> None:
    """``parse(msg)`` returns or raises BadMessage whose request_id is None or the message's string id."""
    try:
        parse(msg)
    except BadMessage as exc:
        assert isinstance(exc.reason, str) and exc.reason
        assert exc.request_id is None or exc.request_id == msg.get("request_id")


@fuzz_settings(250)
@given(message_values | json_values.filter(lambda v: isinstance(v, dict)))
def test_validators_accept_or_name_the_problem(msg: Any) -> None:
    assert messages.describe_op(msg) in DESCRIBED
    if not isinstance(msg, dict):
        return
    for parse in (messages.parse_call, messages.parse_hello, messages.parse_list_tools):
        check_parse(parse, msg)
    try:
        request_id, name, arguments = messages.parse_call(msg)
    except BadMessage:
        return
    assert (type(request_id), type(name), type(arguments)) == (str, str, dict)


# ---- tokens ------------------------------------------------------------------------------

verifier = hmac_verifier(SECRET.encode())
odd_numbers = st.sampled_from([NOW - 1, NOW, NOW + 1, 10**400, -(10**400), 2**63, True, "1", None])
claim_values = odd_numbers | st.floats(min_value=NOW - 100, max_value=NOW + 100) | json_values


@st.composite
def claims(draw: st.DrawFn) -> dict[str, Any]:
    """Valid claims with one to three of them replaced, added or removed."""
    body: dict[str, Any] = {"sub": "fuzz", "iat": NOW - 10, "exp": NOW + 60, "scope": [ALL_TOOLS_SCOPE]}
    names = st.sampled_from(["sub", "exp", "iat", "nbf", "aud", "scope", "other"])
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        name = draw(names)
        if draw(st.integers(min_value=0, max_value=4)) == 0:
            body.pop(name, None)
        else:
            body[name] = draw(claim_values)
    return body


OTHER_KEY = "another-secret-that-is-long-enough-for-hmac-0123456789abcdefghij"
#: (algorithm, key): mostly the verifier's own, so the claim checks behind the signature get fuzzed.
signers = st.sampled_from([("HS256", SECRET)] * 6 + [("HS256", OTHER_KEY), ("HS384", SECRET), ("HS512", SECRET)])
signers |= st.just(("none", None))


@st.composite
def tokens(draw: st.DrawFn) -> str:
    """Signed tokens with arbitrary claims, other keys and algorithms, and text mangled anywhere."""
    algorithm, key = draw(signers)
    token = jwt.encode(draw(claims()), key, algorithm=algorithm)
    how = draw(st.sampled_from(["as is"] * 6 + ["cut", "replace", "text"]))
    if how == "cut":
        return token[: draw(st.integers(min_value=0, max_value=len(token)))]
    if how == "replace":
        i = draw(st.integers(min_value=0, max_value=len(token) - 1))
        return token[:i] + draw(st.sampled_from(list("A_-.=+/ \x00é"))) + token[i + 1 :]
    if how == "text":
        return draw(text(max_size=40))
    return token


def number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@fuzz_settings(400)
@given(tokens())
@example(jwt.encode({"sub": "s", "iat": NOW, "exp": 10**400}, SECRET, algorithm="HS256"))
@example(jwt.encode({"sub": "s", "iat": -(10**400), "exp": NOW + 60}, SECRET, algorithm="HS256"))
@example(jwt.encode({"sub": "s", "iat": NOW, "exp": NOW + 60, "nbf": 10**400}, SECRET, algorithm="HS256"))
def test_verify_grants_or_refuses_with_a_documented_code(token: str) -> None:
    try:
        grant = verifier.verify(token, NOW)
    except AuthError as exc:
        assert exc.code in AUTH_CODES
        assert isinstance(exc.message, str) and exc.message
        assert len(token) < 8 or token not in exc.message
        if exc.code == "token_expired":
            payload = jwt.decode(token, options={"verify_signature": False})
            assert number(payload["exp"]) and payload["exp"] <= NOW
        return
    assert isinstance(grant, Grant)
    payload = jwt.decode(
        token,
        SECRET,
        algorithms=["HS256"],
        options={"verify_exp": False, "verify_iat": False, "verify_nbf": False, "verify_aud": False},
    )
    assert isinstance(payload["sub"], str) and grant.subject == payload["sub"]
    assert number(payload["exp"]) and payload["exp"] > NOW
    assert number(payload["iat"]) and payload["iat"] <= NOW
    assert "nbf" not in payload or payload["nbf"] is None or (number(payload["nbf"]) and payload["nbf"] <= NOW)
    assert all(math.isfinite(float(payload[c])) for c in ("exp", "iat") if abs(payload[c]) < 1e300)
    assert grant.scope is None or isinstance(grant.scope, frozenset)
