"""Pure per-run caps on the Locust names and failure messages made of strings a server chose (topics, codes).

Locust keeps a stats entry per request name and a failures row per (name, message), forever: a server that
sends a new topic, error code or close reason each time would grow both without bound. Each kind of server
string gets the first `limit` distinct values (cleaned: one printable line, at most NAME_CHARS characters);
later new values share one bucket, `<other>` in place of the server's part (`push:<other>`,
`connection_lost: close <other>`), counted in `overflowed`, with one warning per kind.
"""

from __future__ import annotations

import logging

from users.wire.errors import CallFailed, ConnectFailed, ConnectionLost, HelloRefused, ServerProtocolError, WsFailure

logger = logging.getLogger(__name__)

DEFAULT_LIMIT = 100
"""Distinct server strings per kind per run (option --max-server-names)."""
NAME_CHARS = 80
"""A server string is cut to this many characters (the last one then `…`)."""
OTHER = "<other>"
"""What stands for the server's part once its kind is full."""
KNOWN_PER_NAME = 4
"""Raw strings remembered per distinct cleaned one (several raw strings can clean to one name)."""
SERVER_ERROR = "server_error_"
"""Protocol faults `server_error_<code>` carry the code of a server's error message."""
PREFIXES = {"push": "push:"}
"""Kinds whose names start with more than the server's string."""
CHARS = {"connect": 200}
"""Kinds cut longer than NAME_CHARS: a handshake failure is mostly the OS's or TLS's own words (a certificate
mismatch names the host), which a shorter cut would lose."""
CLIENT_HELLO_CODES = frozenset({"hello_timeout", "connection_closed"})
"""Hello refusals the client names (every other code is the server's)."""


def clean(value: str, limit: int = NAME_CHARS) -> str:
    """`value` as one printable line of at most `limit` characters: control characters (newlines, escapes)
    become `?`, and a longer string ends in `…`."""
    if not value.isprintable():
        value = "".join(c if c.isprintable() else "?" for c in value)
    return value if len(value) <= limit else value[: limit - 1] + "…"


class NameKind:
    """One kind of server string, named `prefix` + the string: `known` maps each raw value seen to its name
    (at most `limit * KNOWN_PER_NAME` raw values, `limit` distinct names)."""

    __slots__ = ("kind", "prefix", "chars", "known", "names", "capped")

    def __init__(self, kind: str, prefix: str = "", chars: int = NAME_CHARS) -> None:
        self.kind = kind
        self.prefix = prefix
        self.chars = chars
        self.known: dict[str, str] = {}
        self.names: set[str] = set()
        self.capped = False


class NameBudget:
    """The caps of one run, every kind sharing `limit`; `overflowed` counts the values put in a bucket."""

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self.limit = limit
        self.overflowed = 0
        self._kinds: dict[str, NameKind] = {}

    def kind(self, kind: str) -> NameKind:
        """The state of `kind` (made on first use; `push` names are prefixed `push:`)."""
        state = self._kinds.get(kind)
        if state is None:
            state = self._kinds[kind] = NameKind(kind, PREFIXES.get(kind, ""), CHARS.get(kind, NAME_CHARS))
        return state

    def name(self, kind: str, value: str) -> str:
        """The kind's prefix and `value` cleaned, while that is among the first `limit` distinct names of `kind`;
        the prefix and OTHER after. The first value of `kind` that does not fit logs one warning."""
        state = self.kind(kind)
        known = state.known.get(value)
        if known is not None:
            return known
        name = state.prefix + clean(value, state.chars)
        if name not in state.names:
            if len(state.names) >= self.limit:
                self._overflow(state)
                return state.prefix + OTHER
            state.names.add(name)
        if len(state.known) < self.limit * KNOWN_PER_NAME:
            state.known[value] = name
        return name

    def push_name(self, topic: str) -> str:
        """The request name of a push of `topic` (a JSON-RPC notification's method): `push:<topic>`."""
        return self.name("push", topic)

    def _overflow(self, state: NameKind) -> None:
        self.overflowed += 1
        if not state.capped:
            state.capped = True
            logger.warning(
                "the server sent more than %d distinct %s strings this run: later new ones are reported as %s "
                "(--max-server-names; counted in server_names_overflowed)",
                self.limit,
                state.kind,
                OTHER,
            )


def bounded_failure(failure: WsFailure, budget: NameBudget) -> WsFailure:
    """`failure`, or the same failure with its server-chosen part through `budget` (kinds `error` for
    server error codes, `close` for close codes and reasons, `connect` for handshake failures)."""
    cls = failure.__class__
    if cls is CallFailed:
        code = budget.name("error", failure.code)
        return failure if code == failure.code else CallFailed(code)
    if cls is ConnectionLost:
        how = _closed_how(failure.detail, budget)
        return failure if how == failure.detail else ConnectionLost(how)
    if cls is HelloRefused:
        if failure.code == "connection_closed":
            how = _closed_how(failure.detail, budget)
            return failure if how == failure.detail else HelloRefused(failure.code, how)
        if failure.code in CLIENT_HELLO_CODES:
            return failure
        code = budget.name("error", failure.code)
        return failure if code == failure.code and not failure.detail else HelloRefused(code)
    if cls is ServerProtocolError and failure.code.startswith(SERVER_ERROR):
        code = SERVER_ERROR + budget.name("error", failure.code[len(SERVER_ERROR) :])
        return failure if code == failure.code else ServerProtocolError(code)
    if cls is ConnectFailed:
        detail = budget.name("connect", failure.detail)
        return failure if detail == failure.detail else ConnectFailed(detail)
    return failure


def _closed_how(how: str, budget: NameBudget) -> str:
    """A lost connection's `how`: `close <code> <reason>` (the server's) through `budget`, the rest as is."""
    if not how.startswith("close "):
        return how
    return "close " + budget.name("close", how[len("close ") :])
