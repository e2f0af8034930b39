"""Locust entry point: patches first, then exposes the WebSocket user classes; no logic here."""

from locust import events  # importing locust first applies gevent's monkey patching before websocket/ssl load

from users.final_csv_rows import install_final_csv_rows
from users.latency_resolution import install_latency_resolution

install_latency_resolution()
install_final_csv_rows()

from users.base import ToolCallUser  # noqa: E402
from users.options import add_user_arguments  # noqa: E402
from users.reporting import register_reporting  # noqa: E402

events.init_command_line_parser.add_listener(add_user_arguments)
register_reporting(events)

__all__ = ["ToolCallUser"]
