"""PyJWT's short-key warnings (one per process, with a stack) become one line of ours, naming no secret."""

from __future__ import annotations

import logging
import warnings
from typing import Any

from jwt.warnings import InsecureKeyLengthWarning

from users.load.config import RunConfig, config_state

logger = logging.getLogger(__name__)

HS256_MIN_BYTES = 32
"""RFC 7518 3.2: an HS256 key must be at least as long as the hash output (256 bits)."""


def short_secret_notice(config: RunConfig) -> str | None:
    """The line to log when the HS256 secret this process uses (its RunConfig holds this process's credential env
    vars already) is short; None otherwise (never the secret)."""
    secret = config.jwt_secret
    if not secret or config.jwt_private_key or config.token:
        return None
    length = len(secret.encode())
    if length >= HS256_MIN_BYTES:
        return None
    return (
        f"--jwt-secret is {length} bytes; HS256 wants at least {HS256_MIN_BYTES} (RFC 7518): tokens work but are "
        "easy to forge. Use a longer secret outside tests."
    )


def quiet_key_length_warnings(environment: Any, **_: Any) -> None:
    """`init` listener (after the RunConfig is built): silence InsecureKeyLengthWarning and log our own line once
    instead."""
    warnings.filterwarnings("ignore", category=InsecureKeyLengthWarning)
    config = config_state(environment).config
    notice = short_secret_notice(config) if config is not None else None
    if notice:
        logger.warning(notice)
