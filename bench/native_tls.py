"""The native churn client's TLS: a client context that offers the last session it was given (resumption).

asyncio's ``create_connection`` takes no ``session``, but the TLS object of a
connection comes from its context's ``wrap_bio``: ``ResumingContext`` passes
its last session there. That holds for uvloop's TLS (picows with
``use_aiofastnet=False``); aiofastnet's own engine, picows' default, makes its
TLS object from the context's OpenSSL handle and cannot be offered a session,
so the native churn client runs wss:// on uvloop's TLS, with or without
resumption.
"""

from __future__ import annotations

import ssl
from typing import Any


class ResumingContext(ssl.SSLContext):
    """A client context whose new TLS objects offer `session` (None: a full handshake), like the Locust user's
    one session per origin; `keep` stores the session of a finished handshake."""

    session: ssl.SSLSession | None = None
    resume = True

    def wrap_bio(  # type: ignore[override]
        self,
        incoming: ssl.MemoryBIO,
        outgoing: ssl.MemoryBIO,
        server_side: bool = False,
        server_hostname: str | bytes | None = None,
        session: ssl.SSLSession | None = None,
    ) -> ssl.SSLObject:
        offer = session if session is not None else self.session
        return super().wrap_bio(incoming, outgoing, server_side, server_hostname, offer)

    def keep(self, ssl_object: Any) -> None:
        """After a full handshake (and the upgrade: TLS 1.3 sends its tickets after the handshake), keep its session;
        after a resumed one keep the session offered, as the Locust user does (reading one costs about 0.3 ms)."""
        if self.resume and not ssl_object.session_reused:
            self.session = ssl_object.session


def client_context(ca_file: str, resume: bool) -> ResumingContext:
    """A context that verifies the server with the CAs of `ca_file` and, when `resume`, offers the last session."""
    context = ResumingContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cafile=ca_file)
    context.resume = resume
    return context
