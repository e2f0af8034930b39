"""What the Locust users do with the engine: options, sessions and churn, storms, rate shares, backoff, tool mixes.

Imports users/wire/, users/engine/ and users/integration/; the User classes themselves are users/base.py.
"""
