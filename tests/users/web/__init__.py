"""Tests of users/web/."""
