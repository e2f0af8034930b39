"""Pure redirect, Retry-After and hub-starvation decisions (users/wire/redirects.py, users/load/backoff.py, users/engine/watchdog.py)."""

from __future__ import annotations

import email.utils

import pytest

from users.engine.watchdog import HolderCheck, StarvationCheck
from users.load.backoff import retry_after_delay
from users.wire.redirects import MAX_REDIRECTS, RETRY_AFTER_CAP_S, redirect_url, retry_after_s, shown_location
from users.wire.upgrade import HandshakeError, Response

HERE = "ws://127.0.0.1:8079/ws?token=abc"


def moved(location: str, status: int = 301) -> Response:
    return Response(status, {"location": location})


def test_a_non_redirect_is_left_alone() -> None:
    assert redirect_url(Response(101, {}), HERE, follow=False, hops=0) is None
    assert redirect_url(Response(503, {"location": "ws://x/"}), HERE, follow=True, hops=0) is None


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirects_are_not_followed_by_default(status: int) -> None:
    with pytest.raises(HandshakeError) as caught:
        redirect_url(moved("ws://127.0.0.1:9000/other", status), HERE, follow=False, hops=0)
    assert str(caught.value) == f"redirect {status} to ws://127.0.0.1:9000/other"


def test_the_location_shown_never_carries_user_info_query_or_fragment() -> None:
    shown = shown_location("wss://user:secret@evil.test:8443/p?token=eyJhbGciOi#frag")
    assert shown == "wss://evil.test:8443/p"
    assert shown_location("/relative/path?jwt=x") == "/relative/path"
    assert shown_location("") == "(empty)"
    long = shown_location("ws://h/" + "a" * 500)
    assert len(long) == 80 and long.endswith("...")
    assert shown_location("ws://h/\x1b[31mred") == "ws://h/?[31mred"


def test_same_origin_redirects_are_followed_when_asked() -> None:
    assert redirect_url(moved("/v2"), HERE, follow=True, hops=0) == "ws://127.0.0.1:8079/v2"
    assert redirect_url(moved("http://127.0.0.1:8079/x"), HERE, follow=True, hops=2) == "http://127.0.0.1:8079/x"


@pytest.mark.parametrize(
    "location",
    ["ws://127.0.0.1:9000/", "wss://127.0.0.1:8079/", "ws://localhost:8079/", "ws://evil.test/?token=x"],
)
def test_another_origin_is_never_followed(location: str) -> None:
    with pytest.raises(HandshakeError, match=r"redirect 301 to another origin \(.*\): not followed") as caught:
        redirect_url(moved(location), HERE, follow=True, hops=0)
    assert "token" not in str(caught.value)


def test_hops_are_bounded_and_locations_checked() -> None:
    with pytest.raises(HandshakeError, match=f"more than {MAX_REDIRECTS} redirects"):
        redirect_url(moved("/again"), HERE, follow=True, hops=MAX_REDIRECTS)
    with pytest.raises(HandshakeError, match="invalid location"):
        redirect_url(moved(""), HERE, follow=True, hops=0)
    with pytest.raises(HandshakeError, match="not a WebSocket URL"):
        redirect_url(moved("ftp://127.0.0.1:8079/"), HERE, follow=True, hops=0)


def test_retry_after_seconds_and_dates() -> None:
    now = 1_800_000_000.0
    assert retry_after_s("5", now) == 5.0
    assert retry_after_s(" 0 ", now) == 0.0
    assert retry_after_s("3600", now) == RETRY_AFTER_CAP_S
    assert retry_after_s(email.utils.formatdate(now + 12, usegmt=True), now) == pytest.approx(12.0)
    assert retry_after_s(email.utils.formatdate(now - 50, usegmt=True), now) == 0.0
    for value in (None, "", "soon", "-3", "1.5e999", "Mon, 99 Foo 2026"):
        assert retry_after_s(value, now) is None, value


def test_retry_after_delay_is_capped_by_the_cap_and_the_run() -> None:
    assert retry_after_delay(5.0, 60.0, None) == 5.0
    assert retry_after_delay(90.0, 60.0, None) == 60.0
    assert retry_after_delay(30.0, 60.0, 2.5) == 3.5  # just past the run's end: its stop ends the wait
    assert retry_after_delay(30.0, 60.0, -5.0) == 0.0
    assert retry_after_delay(2.0, 60.0, 2.5) == 2.0


def test_starvation_is_reported_once_per_stretch() -> None:
    check = StarvationCheck(limit_s=1.0)
    assert check.look(100.0) is None  # no beat yet: nothing to compare
    check.beat(100.0)
    assert check.look(100.9) is None
    assert check.look(101.5) == pytest.approx(1.5)
    assert check.look(103.0) is None  # the same stretch: said once
    check.beat(103.2)
    assert check.look(103.4) is None
    assert check.look(104.5) == pytest.approx(1.3)


def test_only_a_read_that_held_the_hub_is_blamed() -> None:
    check = HolderCheck(limit_s=1.0)
    stuck, other = ("ws://stuck:1", None), ("ws://other:1", None)
    assert check.look(stuck, 10.0, 10.25) is None  # first sighting
    assert check.look(stuck, 10.0, 10.75) is None  # still marked, no beat: not yet over the limit
    assert check.look(stuck, 10.0, 11.3) is stuck  # over a second with no beat: it holds the hub
    assert check.look(stuck, 10.0, 11.55) is None  # said once
    assert check.look(other, 12.0, 12.1) is None
    assert check.look(other, 12.3, 13.5) is None  # the hub beat meanwhile: a new read of it, not one long read
    assert check.look(None, 12.3, 13.6) is None
    assert check.look(other, 12.3, 13.7) is None
    assert check.look(other, 12.3, 14.8) is other
