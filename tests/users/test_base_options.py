"""users.base.apply_options: options given win over a user's class attributes; options left alone stay there."""

from __future__ import annotations

from locust.env import Environment

from tests.users.web.test_web_form import parsed
from users.base import ToolCallUser

SHARED_KEYS_MAX = 30
"""CPython 3.11 shares a class's attribute names up to 30 of them; past that each instance has a dict of its own."""


class SlowUser(ToolCallUser):
    call_timeout = 30.0


def test_options_given_are_set_on_the_user_and_options_left_alone_stay_on_the_class() -> None:
    options = parsed("--jwt-secret", "s" * 32, "--connect-timeout", "30", "--in-flight", "4")
    user = SlowUser(Environment(user_classes=[SlowUser], parsed_options=options))
    assert user.option_error is None
    attributes = vars(user)
    assert (user.connect_timeout, user.in_flight) == (30, 4)
    assert {"connect_timeout", "in_flight"} <= attributes.keys()
    assert user.call_timeout == 30.0 and user.settings.call_timeout_s == 30.0  # the subclass's own setting
    assert user.tools == ToolCallUser.tools
    assert not {"tools", "call_timeout", "hello_timeout", "ping_interval", "protocol"} & attributes.keys()
    assert len(attributes) <= SHARED_KEYS_MAX, sorted(attributes)
