"""Pure decisions on an upgrade answered with a redirect or with Retry-After: follow, refuse, or wait how long.

A redirect is refused unless --follow-redirects, and even then only within the same origin (scheme, host and
port): the upgrade and the hello carry the credentials, which must never reach another server.
"""

from __future__ import annotations

import email.utils
import math
from urllib.parse import urljoin, urlsplit

from users.wire.upgrade import REDIRECTS, HandshakeError, Response, target_of

MAX_REDIRECTS = 3
"""Most redirects followed for one connection attempt."""
RETRY_AFTER_CAP_S = 60.0
"""Longest Retry-After honoured."""
MAX_SHOWN = 80
"""Longest location a failure message shows."""


def shown_location(location: str) -> str:
    """A redirect's location as a failure message may show it: scheme, host, port and path only (no user info,
    query or fragment, which may carry secrets), printable ASCII, at most MAX_SHOWN characters."""
    parts = urlsplit(location.strip())
    host = parts.hostname or ""
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    head = f"{parts.scheme}://{host}{port}" if parts.scheme or host else ""
    text = "".join(c if " " < c < "\x7f" else "?" for c in head + parts.path) or "(empty)"
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 3] + "..."


def redirect_url(response: Response, current: str, follow: bool, hops: int) -> str | None:
    """None when `response` is not a redirect; the URL to upgrade at next when it may be followed; otherwise
    HandshakeError naming why not (`redirect 301 to <location>`, another origin, too many)."""
    if response.status not in REDIRECTS:
        return None
    location = response.headers.get("location", "")
    shown = shown_location(location)
    if not follow:
        raise HandshakeError(f"redirect {response.status} to {shown}")
    if hops >= MAX_REDIRECTS:
        raise HandshakeError(f"more than {MAX_REDIRECTS} redirects")
    if not location or any(c < " " or c == "\x7f" for c in location):
        raise HandshakeError(f"redirect {response.status} to an invalid location")
    nxt = urljoin(current, location)
    try:
        origin = target_of(nxt).origin
    except HandshakeError:
        raise HandshakeError(f"redirect {response.status} to {shown}: not a WebSocket URL") from None
    if origin != target_of(current).origin:
        raise HandshakeError(f"redirect {response.status} to another origin ({shown}): not followed")
    return nxt


def retry_after_s(value: str | None, now_epoch: float) -> float | None:
    """Seconds a Retry-After value asks to wait (delta-seconds or an HTTP date), capped at RETRY_AFTER_CAP_S;
    None when absent or not understood."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            return None
        seconds = when.timestamp() - now_epoch
    return min(max(seconds, 0.0), RETRY_AFTER_CAP_S) if math.isfinite(seconds) else None
