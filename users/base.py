"""The Locust User classes: one WebSocket connection each, hello on start, tool calls kept in flight."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from time import perf_counter
from typing import Any, ClassVar

import gevent
from locust import User, constant, task
from locust.env import Environment
from locust.runners import WorkerRunner

from users.engine.client import ToolClient
from users.engine.connection import ClosedLoop
from users.engine.heap_freeze import start_heap_freezer
from users.engine.load_control import LoadPoint, LoadSource, SlotRegistry, is_active, selected_share
from users.engine.pacer import Member, PlanRate
from users.engine.watchdog import start_watchdog
from users.load.config import LIVE_OPTIONS, ConfigState, RunConfig, class_values, config_for, config_state
from users.load.options import DEFAULTS, OptionError
from users.load.runtime import RUN_ERROR_MESSAGE, Runtime, runtime_for
from users.load.seat import Seat
from users.load.seat_setup import client_settings, subscribe_template, token_source_for, wire_protocol
from users.load.sessions import run_session, session_rate, wait_for_start
from users.load.storms import StormDropper
from users.load.tool_mix import ToolMix
from users.wire.errors import ConnectionLost
from users.wire.metrics import WsCounters
from users.wire.protocol import DEFAULT_DIALECT, Dialect
from users.wire.protocols.base import Protocol

logger = logging.getLogger(__name__)


def counters_for(environment: Environment) -> WsCounters:
    """The process-wide WebSocket counters of `environment`, created on first use."""
    return runtime_for(environment).counters


MAX_IDLE_WAIT_S = 1.0
"""Longest a waiting user goes without looking at the plan again."""
PACE_HOLD_S = 5.0
"""Shortest hold of a pacing user's connection before its task runs again (each is drawn between it and twice it,
so users that joined together do not wake together): the pacer sends meanwhile, and releases it at once when the
rate ends or an Edit changes the options; each task run costs Locust's task loop and a plan look."""
TASK_SLICE_S = 0.05
"""A closed-loop task run keeps calling this long before it hands back to Locust's task loop."""


def slots_for(environment: Environment) -> SlotRegistry:
    """The process-wide user slots of `environment` (burst gating, storm selection)."""
    return runtime_for(environment).slots


def _stop_run_once(environment: Environment, error: OptionError) -> None:
    """Log `error` and stop the run, once per run however many users hit it; the web UI shows the line."""
    runner = environment.runner
    this_run = environment.stats.start_time
    runtime = runtime_for(environment)
    if runner is None or runtime.option_error_run == this_run:
        return
    runtime.option_error_run = this_run
    logger.error("error: %s; stopping the run", error)
    runtime.run_error = f"error: {error}"
    if isinstance(runner, WorkerRunner):
        runner.send_message(RUN_ERROR_MESSAGE, runtime.run_error)
    gevent.spawn(runner.stop)


def idle_until_change(client: ToolClient, point: LoadPoint) -> None:
    """An inactive burst user waits for its spike, settling any calls still in flight meanwhile."""
    wait = min(point.until_change_s, MAX_IDLE_WAIT_S)
    if client.in_flight:
        client.wait_for_progress(wait)
    else:
        gevent.sleep(wait + 0.0001)  # just past the change, so the next look sees it


def apply_options(user: User, state: ConfigState, config: RunConfig) -> None:
    """Options that differ from the shared defaults win over the user's (sub)class attributes (computed once per
    class per RunConfig). Called once, from __init__: a value that is the class attribute itself is left there
    (past 30 instance attributes, each user would need a 1.6 KB dict of its own)."""
    cls = type(user)
    for name, value in class_values(state, cls, config).items():
        if value is not getattr(cls, name):
            setattr(user, name, value)


def follow_live_options(user: ToolCallUser) -> None:
    """The run's live options (users/load/config.py) as they are now: an Edit of the running test (web UI)
    makes a new RunConfig, which reaches every user, old and new, at its next task run (an identity check)."""
    config = config_state(user.environment).config
    if config is user._config or config is None or user.option_error is not None:
        return
    user._config = config
    tools = user.tools
    values = class_values(config_state(user.environment), type(user), config)
    for name in LIVE_OPTIONS:
        setattr(user, name, values[name])
    if user.tools != tools:
        user.mix = ToolMix.from_spec(user.tools, user.dialect, protocol=user.wire)
    if user._member is not None:
        user._member.max_in_flight, user._member.pick = user.max_in_flight, user.mix.pick


def wanted_active(user: ToolCallUser, point: LoadPoint) -> bool:
    """Whether `user` sends now. Users above what the plan wants in this process now (its share of the plan's
    users, and Locust's target) stay idle: spike users of a burst that Locust has not stopped yet (it does so on
    its next one-second tick) send nothing in the next stage."""
    runtime = user.runtime
    wanted = math.ceil(point.users * runtime.share.share - 1e-9)
    runner = user.environment.runner
    target = getattr(runner, "target_user_count", None) if runner is not None else None
    if isinstance(target, int) and target > 0:
        wanted = min(wanted, target)
    slots = runtime.slots
    return is_active(slots.rank(user.slot), len(slots), point, wanted)


class ToolCallUser(User):
    """A user holding one WebSocket connection that keeps `in_flight` `call_tool` requests outstanding.

    `on_start` connects and sends hello (events `connect` and `hello`); the task then keeps `in_flight` calls
    outstanding, drawn from the `tools` mix, each reported as `call_tool:<tool>` when its result, timeout or loss
    settles it. A dropped connection is reopened with capped, jittered exponential backoff; with `session_calls`
    a connection closes after that many calls and the next opens at once (users/load/sessions.py). The
    connection's lifecycle is its `seat` (users/load/seat.py); this class picks how the seat's connection sends. On stop, calls in
    flight are drained (up to the call timeout) before the connection closes, so no call goes uncounted.

    Subclass it to change the attributes below, or write your own tasks with `self.client.call(...)` (a
    subclass's own tasks replace call_tools). Command-line options given explicitly override these attributes.
    """

    host = "ws://localhost:8079/"
    wait_time = constant(0)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A subclass that declares tasks of its own (@task methods or `tasks`) runs those instead of this class's
        call_tools: Locust would add them to the inherited ones, and both would run."""
        super().__init_subclass__(**kwargs)
        inherited = [t for base in cls.__bases__ for t in (getattr(base, "tasks", None) or [])]
        merged = list(cls.tasks or [])
        if len(merged) > len(inherited) and merged[: len(inherited)] == inherited:
            cls.tasks = merged[len(inherited) :]

    tools: str = DEFAULTS["tools"]
    """Weighted tool mix, `NAME[:WEIGHT][=JSON-ARGS]` comma-separated (option --tools)."""
    in_flight: int = DEFAULTS["in_flight"]
    """Calls outstanding per connection; 1 is a closed loop (option --in-flight)."""
    call_timeout: float = DEFAULTS["call_timeout"]
    """Seconds before a call without result is a `timeout` failure (option --call-timeout)."""
    connect_timeout: float = DEFAULTS["connect_timeout"]
    """Seconds allowed for TCP, TLS and the WebSocket handshake (option --connect-timeout)."""
    hello_timeout: float = DEFAULTS["hello_timeout"]
    """Seconds to wait for hello_ok (option --hello-timeout)."""
    session_prefix: str = DEFAULTS["session_prefix"]
    """Prefix of each connection's session_id (option --session-prefix)."""
    dialect: Dialect = DEFAULT_DIALECT
    """Field names and op values of the server's protocol (toolcall)."""
    protocol: str | Protocol = DEFAULTS["protocol"]
    """Wire protocol: a `--protocol` name (toolcall, jsonrpc, mcp) or a Protocol instance (option --protocol)."""
    compression: str = DEFAULTS["compression"]
    """`deflate` offers permessage-deflate (option --compression)."""
    mcp_protocol_version: str = DEFAULTS["mcp_protocol_version"]
    """protocolVersion of MCP's initialize (option --mcp-protocol-version)."""
    rpc_hello: str = DEFAULTS["rpc_hello"]
    """JSON-RPC handshake request, METHOD[=JSON-PARAMS]; empty: none (option --rpc-hello)."""
    headers: Sequence[str] = ()
    """Extra handshake headers, `Name: value` each."""
    subprotocols: Sequence[str] = ()
    """WebSocket subprotocols offered in the handshake."""
    reconnect_base_s: float = 0.1
    """First reconnect backoff ceiling, doubled per failed attempt."""
    reconnect_cap_s: float = 5.0
    """Largest reconnect backoff."""
    max_message_bytes: int = DEFAULTS["max_message_bytes"]
    """Largest server message accepted before closing with 1009 (option --max-message-bytes)."""
    max_server_names: int = DEFAULTS["max_server_names"]
    """Distinct server strings per kind per run in names and failure messages (option --max-server-names)."""
    max_in_flight: int = DEFAULTS["max_in_flight"]
    """Rate mode: most calls outstanding per connection before sends wait (option --max-in-flight)."""
    ping_interval: float = DEFAULTS["ping_interval"]
    """Seconds between keepalive pings; 0 turns them off (option --ping-interval)."""
    ping_timeout: float = DEFAULTS["ping_timeout"]
    """Seconds without a pong before the connection counts as half-open (option --ping-timeout)."""
    bad_token_fraction: float = DEFAULTS["bad_token_fraction"]
    """Fraction of users that send a token with a broken signature (option --bad-token-fraction)."""
    session_calls: int = DEFAULTS["session_calls"]
    """Calls per connection before it closes with 1000 and the user connects again; 0 keeps it (--session-calls)."""
    subscribe: str = DEFAULTS["subscribe"]
    """Push stream to subscribe to after hello, `TOPIC[:RATE[:COUNT]]` (option --subscribe)."""
    load_plan: ClassVar[LoadSource | None] = None
    """The scenario plan users follow (set by the locustfile); None or no point: plain closed loop."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        self.runtime: Runtime = runtime_for(environment)
        config = self._config = config_for(environment)  # built once per options change, checked then
        self.option_error: OptionError | None = config_state(environment).error
        if config is not None:
            apply_options(self, config_state(environment), config)
        self.wire = wire_protocol(self)
        self.settings = client_settings(self, config, self.wire)
        self.mix = ToolMix.from_spec(self.tools, self.dialect, protocol=self.wire)
        self.seat = Seat(
            environment,
            self.host,
            self.settings,
            self.runtime.counters,
            tokens=token_source_for(self.runtime, config) if config is not None else None,
            session_prefix=self.session_prefix,
            subscription=subscribe_template(self.subscribe, self.wire),
            base_s=self.reconnect_base_s,
            cap_s=self.reconnect_cap_s,
        )
        """This user's connection lifecycle (users/load/seat.py)."""
        self.slot = -1
        self._zero_wait = False
        self._member: Member | None = None

    @property
    def client(self) -> ToolClient | None:
        """The connection (its seat's): open, ended, or None before the first open and after a failed one."""
        return self.seat.client

    @client.setter
    def client(self, client: ToolClient | None) -> None:
        self.seat.client = client

    @property
    def counters(self) -> WsCounters:
        """The run's WebSocket counters this user's connections count in."""
        return self.seat.counters

    # ------------------------------------------------------------ lifecycle
    def run(self) -> None:
        """Locust's run; with an option that cannot work (the web UI form checks first, a worker's own
        credentials can still fail), the run stops with one error line and this user ends quietly
        (StopUser from on_start would log a traceback per user)."""
        if self.option_error is not None:
            _stop_run_once(self.environment, self.option_error)
            return
        super().run()

    def on_start(self) -> None:
        """Take a slot, then connect and hello; a failure is reported and retried by the task with backoff."""
        seat = self.seat
        seat.counters = counters = self.runtime.counters  # a new run may have started since this user was made
        start_watchdog()  # once per process: a server that starves the hub is named and its connection shut down
        runtime = self.runtime
        start_heap_freezer(lambda: runtime.counters.disconnects)  # once per process: no full collections when steady
        counters.names.limit = self.max_server_names
        self.slot = self.runtime.slots.take()
        seat.bad_token = self.bad_token_fraction > 0 and selected_share(self.slot, 0, self.bad_token_fraction)
        self._zero_wait = self.wait_time() == 0
        if self.load_plan is not None:
            if self.runtime.storms is None:
                self.runtime.storms = StormDropper(self.load_plan)
            self.runtime.storms.add(self.slot, seat.drop_for_storm)
            # the pacer reads the plan's rate and this process's share itself; a call later than its timeout is
            # skipped (it would time out anyway)
            self.runtime.pacer.follow(PlanRate(self.load_plan, self.runtime.share), counters, self.call_timeout)
        seat.open()

    def on_stop(self) -> None:
        """Give the slot back, then leave the seat: drain calls in flight (bounded by the call timeout), close."""
        if self.slot >= 0:
            self.runtime.pacer.leave(self.slot)
            if self.runtime.storms is not None:
                self.runtime.storms.remove(self.slot)
            self.runtime.slots.release(self.slot)
            self.slot = -1
        self.seat.leave()

    @task
    def call_tools(self) -> None:
        """Send calls as the plan says (closed loop, paced, idle for a burst, storm); reopen lost connections."""
        follow_live_options(self)
        point = self.load_plan.point() if self.load_plan is not None else None
        client = self.seat.client
        pacer = self.runtime.pacer
        if client is None or not client.connected:
            pacer.leave(self.slot)  # the connected users carry the rate meanwhile
            self.seat.reopen()  # at once after a storm drop, otherwise after backoff
            return  # a fresh task run looks at the plan again before sending
        try:
            if point is None:
                self._keep_calling(client, TASK_SLICE_S, point_free=True)
            elif not wanted_active(self, point):
                pacer.leave(self.slot)
                idle_until_change(client, point)
            else:
                self.counters.sending.add(self.slot)
                if point.rate:
                    self._pace(client, point)
                else:
                    pacer.leave(self.slot)
                    self._keep_calling(client, min(TASK_SLICE_S, point.until_change_s))
        except ConnectionLost:
            pass  # its calls were reported as connection_lost; the next run of this task reconnects

    # ------------------------------------------------------------ send policies
    def _keep_calling(self, client: ToolClient, slice_s: float, point_free: bool = False) -> None:
        """Closed loop: keep `in_flight` calls outstanding for up to `slice_s` (the plan's point holds that long).

        Without a think time the connection itself keeps the loop going (the `ClosedLoop` send policy of
        users/engine/connection.py: each answer read sends the next call), so Locust's task loop and its zero wait
        are paid once per slice, not once per call. A user with a think time (wait_time) does one round per task
        run: it waits for an answer (without a plan) or until the slice's end. Locust's graceful stop is honoured
        at the slice's end (within TASK_SLICE_S).
        """
        if self.session_calls or session_rate(self.load_plan)[0] > 0:
            self._churn(slice_s)
        elif self._zero_wait:
            until = perf_counter() + slice_s
            client.stay(ClosedLoop(self.in_flight, self.mix.pick, until), until)
        else:
            client.keep_in_flight(self.in_flight, self.mix.pick, math.inf if point_free else slice_s)

    def _churn(self, slice_s: float) -> None:
        """Connection churn (--session-calls, churn stages): this slice's calls of the connection's session; a
        finished session closes with 1000 and the next one opens at once (in a churn stage, at its scheduled
        start): a new session, not a reconnect, no backoff."""
        seat = self.seat
        budget = seat.session_budget(self.session_calls or 1, self.mix.pick)
        if run_session(budget, self.in_flight, perf_counter() + slice_s, None if self._zero_wait else 1):
            seat.end_session()
            wait_for_start(self.load_plan, self.runtime, seat.counters)
            seat.open_next_session()

    def _pace(self, client: ToolClient, point: LoadPoint) -> None:
        """Open model: this connection joins the process's pacer (users/engine/pacer.py), which follows the plan's
        rate and sends each call at its intended time (latency counted from then) over every pacing connection,
        until the plan's next change; this user only stays with its connection meanwhile."""
        runtime = self.runtime
        member = self._member
        if member is None or member.client is not client:
            io = client.io
            assert io is not None  # connected: call_tools checked
            member = self._member = Member(
                client, io.send_from_hub, self.mix.pick, self.max_in_flight, self.slot, client.release
            )
        runtime.pacer.join(self.slot, member)
        hold_s = PACE_HOLD_S * (1.0 + self.seat.rng.random())  # spread: users that joined together wake apart
        client.hold(perf_counter() + min(point.until_change_s, hold_s))

    # ------------------------------------------------- for your own tasks
    def connected_client(self) -> ToolClient | None:
        """The open connection, reopened (after backoff; at once after a storm drop) when it is gone; None while
        that fails."""
        return self.seat.connected()

    def open_connection(self) -> bool:
        """Open a connection and send hello; True on success. Failures are already reported as events."""
        return self.seat.open()
