"""Autobahn|Testsuite fuzzingserver against the users' client core (needs Python 2.7; skips without it)."""
