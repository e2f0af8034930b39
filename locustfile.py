"""Locust entry point: patches first, then exposes the WebSocket user classes and the scenario shape; no logic."""

from locust import events  # importing locust first applies gevent's monkey patching before websocket/ssl load

from users.fast_stats import install_fast_stats
from users.final_csv_rows import install_final_csv_rows
from users.latency_resolution import install_latency_resolution

install_latency_resolution()
install_fast_stats()
install_final_csv_rows()

from scenarios.clock import PlanClock  # noqa: E402
from scenarios.hooks import register_scenarios  # noqa: E402
from scenarios.shape import ScenarioShape  # noqa: E402
from users.base import ToolCallUser  # noqa: E402
from users.options import add_user_arguments  # noqa: E402
from users.reporting import register_reporting  # noqa: E402

plan_clock = PlanClock()
ToolCallUser.load_plan = plan_clock  # users follow the scenario plan the shape broadcasts
events.init_command_line_parser.add_listener(add_user_arguments)
register_scenarios(events, plan_clock)
register_reporting(events, plan_clock)

__all__ = ["ScenarioShape", "ToolCallUser"]
