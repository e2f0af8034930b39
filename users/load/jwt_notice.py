"""PyJWT's short-key warnings (one per process, with a stack) become one line of ours, naming no secret."""

from __future__ import annotations

import argparse
import logging
import os
import warnings
from typing import Any

from jwt.warnings import InsecureKeyLengthWarning

from users.load.options import with_local_credentials

logger = logging.getLogger(__name__)

HS256_MIN_BYTES = 32
"""RFC 7518 3.2: an HS256 key must be at least as long as the hash output (256 bits)."""


def short_secret_notice(options: argparse.Namespace, environ: dict[str, str] | None = None) -> str | None:
    """The line to log when the HS256 secret this process would use is short; None otherwise (never the secret)."""
    local = with_local_credentials(options, dict(os.environ) if environ is None else environ)
    secret = getattr(local, "jwt_secret", None)
    if not secret or getattr(local, "jwt_private_key", None) or getattr(local, "token", None):
        return None
    length = len(secret.encode())
    if length >= HS256_MIN_BYTES:
        return None
    return (
        f"--jwt-secret is {length} bytes; HS256 wants at least {HS256_MIN_BYTES} (RFC 7518): tokens work but are "
        "easy to forge. Use a longer secret outside tests."
    )


def quiet_key_length_warnings(environment: Any, **_: Any) -> None:
    """`init` listener: silence InsecureKeyLengthWarning and log our own line once instead."""
    warnings.filterwarnings("ignore", category=InsecureKeyLengthWarning)
    options = getattr(environment, "parsed_options", None)
    notice = short_secret_notice(options) if options is not None else None
    if notice:
        logger.warning(notice)
