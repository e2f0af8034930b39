"""Tests of users/wire/."""
