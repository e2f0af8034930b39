"""The WebSocket client without I/O: frames, upgrade, deflate, the client core, the wire protocols, the call ledger.

Pure (sans-I/O): fed bytes and time, it returns bytes and events. Imports nothing of the project outside users/wire/,
and neither gevent nor Locust.
"""
