"""Locust entry point: Locust integration first, then exposes the WebSocket user classes and the scenario shape; no logic."""

from locust import events  # importing locust first applies gevent's monkey patching before websocket/ssl load

from users import integration

integration.install()  # every touch of Locust's internals, after a version check

from scenarios.hooks import register_scenarios  # noqa: E402
from scenarios.options import plan_for  # noqa: E402
from scenarios.profile import PlanClock  # noqa: E402
from scenarios.shape import ScenarioShape  # noqa: E402
from users.base import ToolCallUser  # noqa: E402
from users.load.options import add_user_arguments  # noqa: E402
from users.reporting import register_reporting  # noqa: E402

plan_clock = PlanClock()
ToolCallUser.load_plan = plan_clock  # users follow the scenario plan the shape broadcasts
events.init_command_line_parser.add_listener(add_user_arguments)
register_scenarios(events, plan_clock)
register_reporting(events, plan_clock, plan_check=plan_for)  # the web form's plans checked as the CLI's

__all__ = ["ScenarioShape", "ToolCallUser"]

if __name__ == "__main__":  # `python locustfile.py --help`: Locust reads --help before it imports a locustfile
    from locust.argument_parser import get_parser

    get_parser().parse_args(["--help"])  # Locust's options, then this project's (its listeners are registered)
