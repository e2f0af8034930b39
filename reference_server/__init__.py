"""Reference WebSocket server speaking the hello / call_tool protocol (see PROTOCOL.md).

``python -m reference_server --help`` lists the options. Behaviour worth knowing:

- Ready: one stdout line ``listening on ws://HOST:PORT/ stats http://HOST:MPORT/stats``.
- Auth: HS256 with ``REFERENCE_SERVER_JWT_SECRET`` (or ``--jwt-secret``), or RS256/ES256
  with ``--jwt-public-key``. ``exp``, ``iat`` and ``sub`` are required; ``aud`` is
  checked only with ``--jwt-audience``. ``scope`` is a list of tool names or
  ``"tools:*"``; a token without ``scope`` may call no tool (secure default).
- ``hello_ok.tools`` and ``list_tools`` list every tool of the server, whatever the scope.
- Limits: one message (single frame or reassembled fragments) is at most
  ``--max-message-bytes`` (default 1 MiB, else close 1009). Tool arguments are
  bounded (see ``tools``); ``--tool-timeout`` applies to sleep and to compute above
  2,000 rounds (smaller computes finish within a millisecond).
- Push: ``subscribe`` streams events and registers the connection for ``broadcast``
  on that topic until it closes; broadcasts reach subscribers in the same worker
  process only. ``seq`` counts per connection and topic, streams and broadcasts alike.
- Shutdown (SIGINT/SIGTERM): stop accepting, stop streams, answer in-flight calls for
  up to ``--shutdown-grace`` s, close every connection with 1001, write ``--stats-file``.
  A second SIGINT kills the workers at once.
- Fault injection (``faults``, ``injector``, ``fault_control``): ``POST /control/drop``,
  ``GET/POST /control/faults``, ``POST /control/faults/reset`` on the metrics port
  (unless ``--no-control``), or ``--fault-*`` options at startup: drop connections
  (close 1012 or TCP reset), delay or stall answers, stall hellos, garbage answers,
  refuse handshakes with an HTTP status, drop connections at a steady rate.
- Protocols (``--protocol``): ``toolcall`` (PROTOCOL.md), ``jsonrpc`` and ``mcp``, one codec
  each (``toolcall``, ``jsonrpc``, ``mcp``; ``upgrade``: the bearer token is checked at the upgrade).
- One connection by composition: the picows shell ``connection.Connection`` (frames, flow
  control in ``backpressure``, every timer) holds one ``session.Session`` state machine
  (no I/O; its tool work in ``work``, its fault policy in ``answer_faults``), which decodes
  and encodes with its protocol's codec (pure: ``codec`` lists the request kinds).
- Hardening (``gate``, ``backpressure``): ``--handshake-timeout`` and
  ``--max-pending-handshakes`` bound clients that never finish their HTTP upgrade;
  ``--max-connections`` closes surplus connections with 1013; a client that reads slower
  than it asks is not read until its outgoing buffer drains, and is closed with 1008 after
  ``--send-timeout`` or when more than ``--max-send-buffer-bytes`` wait for it.
- Counters: see ``counters.Counters``; ``GET /stats`` sums them over workers at the
  moment of the request, ``GET /stats/workers`` lists them per worker.
"""

__version__ = "0.1.0"
SERVER_NAME = "reference_server"
