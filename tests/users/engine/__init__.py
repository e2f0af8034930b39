"""Tests of users/engine/."""
