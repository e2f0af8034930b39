"""Load shapes for the WebSocket users: plans of sustained, burst, reconnect, step/ramp, soak and rate stages."""
