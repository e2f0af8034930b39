"""Locust users for hello / call_tool WebSocket servers; import `users.base` for the User classes."""
