"""Tests of users/protocols."""
