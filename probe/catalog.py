"""Every probe case, in the order they run."""

from __future__ import annotations

from probe import cases_close, cases_deflate, cases_frames, cases_handshake, cases_protocol
from probe.case import Case

CASES: tuple[Case, ...] = (
    *cases_handshake.CASES,
    *cases_frames.CASES,
    *cases_close.CASES,
    *cases_deflate.CASES,
    *cases_protocol.CASES,
)
