"""Tests of users/load/."""
