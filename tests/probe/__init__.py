"""Tests of the conformance probe (python -m probe)."""
