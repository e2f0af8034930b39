"""Conformance probe: RFC 6455 and protocol cases run against a server before any load (`python -m probe URL`)."""
