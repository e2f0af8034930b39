"""Locust users for hello / call_tool WebSocket servers; import `users.base` for the User classes.

Packages, lowest first (each imports only those before it; tests/test_layering.py holds it):
`integration` (every touch of Locust's internals), `wire` (the pure WebSocket client), `engine` (sockets and the hub),
`load` (options, the seat: a connection's lifecycle, sessions, storms, rate shares), `telemetry` (counters, files,
exports), `web` (the web UI); then `base` (the User classes) and `reporting` (the run's hooks), which join them.
"""
