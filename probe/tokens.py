"""The probe's tokens from the users' credential options: a good one, an expired one, a broken signature."""

from __future__ import annotations

import argparse

from probe.context import Tokens
from users.load.options import token_source
from users.wire.auth import Minter, StaticToken, corrupt

EXPIRED_AGO_S = 3600
"""The expired token expired this long ago (well past any clock-skew leeway)."""


def tokens_for(options: argparse.Namespace, now: float) -> Tokens:
    """The tokens the options allow (users.load.options.check_options passed); none without a credential."""
    if not (options.jwt_secret or options.token or options.jwt_private_key):
        return Tokens(why_no_expired="no credential to mint an expired token with")
    source = token_source(options)
    good = source.token_for(now)
    if isinstance(source, StaticToken) or not isinstance(source, Minter):
        return Tokens(good, None, corrupt(good), why_no_expired="--token gives no key to mint an expired token")
    expired = Minter(source.key, algorithm=source.algorithm, subject=source.subject, scope=source.scope,
                     ttl_s=60, audience=source.audience).mint(now - EXPIRED_AGO_S)  # fmt: skip
    return Tokens(good, expired, corrupt(good))
