"""Tests of users/wire/protocols."""
