"""The load engine: sockets, the hub's timers and waits, each connection's I/O, the open-model pacer.

Runs the pure client (users/wire/) on gevent's hub; imports users/wire/ and users/integration/ (for the request event
hook), never Locust's User classes, the telemetry or the web UI.
"""
