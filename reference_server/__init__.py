"""Reference WebSocket server speaking the hello / call_tool protocol (see PROTOCOL.md)."""

__version__ = "0.1.0"
SERVER_NAME = "reference_server"
