"""Tests of users/telemetry/."""
