"""Connection churn over wss://: Locust and native sessions/s and CPU per session, TLS resumption on and off.

    python -m bench.bench_churn --tls [--quick] [--repeats 3] [--run-time 8]

``bench.bench_churn``'s sessions (connect, hello, one call, 1000 close; 50
users) against one reference server (1 worker) serving wss:// with a
certificate of a private CA made for the run (trustme; both clients trust it
through their CA-file option). Four sides, one at a time, in an order that
reverses from one repeat to the next:

- ``locust``: ``locust -f locustfile.py --ca-file CA`` (the user offers the
  last TLS session of the origin: resumption, the product's default);
- ``locust-no-resume``: the same through ``bench/locustfile_no_resume.py``,
  which keeps no session (a full handshake every connection);
- ``native`` / ``native-no-resume``: ``bench.native_churn --ca-file CA``
  (uvloop's TLS; offering the last session, or ``--no-tls-resume``).

Each repeat then runs each client's two sides at the same moment (a pair),
for the ratio of their CPU per session: run one after the other, CPU per
session moves by a third with the machine's other work, and a pair shares it.

Resumption is checked, not assumed: the server counts the connections whose
handshake resumed (``tls_sessions_resumed``); a resuming side must have all
but at most one connection per user resumed (the first ones find no session
yet), the others none; the native client's own count must equal the server's.
Connects and hellos are checked against the server's as in the plain bench
(a pair's against their sums).
Ratios are taken within each repeat, then their median.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.bench_churn import SESSION_CALLS, TARGET, USERS, WARMUP_S, Churn, churn_of, measure
from bench.bench_throughput import LOCUSTFILE
from bench.common import (
    REPO_ROOT,
    LoadSpec,
    Target,
    clean_env,
    fmt_spread,
    locust_command,
    mint_token,
    print_table,
    reference_server,
    run_load_processes,
    summary,
)
from run_files import WS_CSV, run_file

SIDES = ("locust", "locust-no-resume", "native", "native-no-resume")
NO_RESUME_LOCUSTFILE = REPO_ROOT / "bench" / "locustfile_no_resume.py"
RATIOS = {
    "locust / native, both resuming": ("locust", "native"),
    "locust / native, neither resuming": ("locust-no-resume", "native-no-resume"),
    "locust: resumption on / off": ("locust", "locust-no-resume"),
    "native: resumption on / off": ("native", "native-no-resume"),
}
"""Sessions/s ratios (numerator side, denominator side), each taken within a repeat."""
PAIRS = (("locust", "locust-no-resume"), ("native", "native-no-resume"))
"""Sides run at the same moment, for their CPU per session with resumption on / off."""


def resumes(side: str) -> bool:
    """Whether a side offers the last TLS session."""
    return not side.endswith("-no-resume")


def resumption_as_expected(resume: bool, connects: int, resumed: int, users: int) -> bool:
    """A resuming side: every connection resumed but at most one per user (before the first session was kept);
    a side that keeps no session: none resumed."""
    if not resume:
        return resumed == 0
    return connects > users and connects - users <= resumed <= connects


def certificate(folder: Path) -> dict[str, Path]:
    """A private CA (ca.pem) and a certificate for 127.0.0.1 it signed (server.crt, server.key), in `folder`."""
    import trustme

    ca = trustme.CA()
    paths = {"ca": folder / "ca.pem", "cert": folder / "server.crt", "key": folder / "server.key"}
    ca.cert_pem.write_to_path(str(paths["ca"]))
    issued = ca.issue_cert("127.0.0.1")
    issued.cert_chain_pems[0].write_to_path(str(paths["cert"]))
    issued.private_key_pem.write_to_path(str(paths["key"]))
    return paths


def tls_specs(server: Any, run_time_s: float, workdir: Path, tree: Path, ca: Path) -> dict[str, LoadSpec]:
    """The four sides, each writing its counters in `workdir`."""
    sides: dict[str, LoadSpec] = {}
    token_env = clean_env(BENCH_TOKEN=mint_token(server.jwt_secret))
    for side in ("native", "native-no-resume"):
        counters = workdir / f"{side}.csv"
        command = [
            sys.executable, "-m", "bench.native_churn", "--url", server.url, "--connections", str(USERS),
            "--session-calls", str(SESSION_CALLS), "--duration", f"{run_time_s:g}", "--csv", str(counters),
            "--ca-file", str(ca), *([] if resumes(side) else ["--no-tls-resume"]),
        ]  # fmt: skip
        sides[side] = LoadSpec(side, command, token_env, counters)
    for side, locustfile in (
        ("locust", tree / LOCUSTFILE.relative_to(REPO_ROOT)),
        ("locust-no-resume", NO_RESUME_LOCUSTFILE),
    ):
        prefix = workdir / side
        command = locust_command(  # the bench-only locustfile is this tree's; it imports the tree's (cwd) locustfile
            locustfile, server.url, USERS, USERS, run_time_s, prefix,
            "--session-calls", str(SESSION_CALLS), "--ca-file", str(ca),
        )  # fmt: skip
        sides[side] = LoadSpec(
            side, command, clean_env(LOCUST_JWT_SECRET=server.jwt_secret), run_file(prefix, WS_CSV), tree
        )
    return sides


def measure_pair(pair: tuple[LoadSpec, LoadSpec], server: Any, run_time_s: float, warmup_s: float) -> float:
    """Run both sides of `pair` at once; the first's client CPU per session over the second's (NaN unless the sum
    of their connects and hellos equals the server's, and the server's resumed count fits the first side's)."""
    keys = ("connections_opened", "hello_ok", "tls_sessions_resumed")
    before = server.stats()
    runs = run_load_processes(list(pair), server, timeout_s=run_time_s + 60)
    after = server.stats()
    opened, hellos, resumed = (int(after[k]) - int(before[k]) for k in keys)
    on, off = (churn_of(run, run_time_s, warmup_s, (0, 0)) for run in runs)
    connects, hellos_ok = (sum(int(run.rows[-1][k]) for run in runs) for k in ("connects", "hellos_ok"))
    first = int(runs[0].rows[-1]["connects"])
    if (opened, hellos) != (connects, hellos_ok) or not resumption_as_expected(True, first, resumed, USERS):
        return float("nan")
    return on.cpu_ms_per_session / off.cpu_ms_per_session


def show_round(r: int, repeats: int, got: dict[str, Churn]) -> None:
    """One repeat's figures, as they come."""
    parts = [
        f"{side} {c.sessions_per_s:,.0f}/s ({c.cpu_ms_per_session:.2f} ms, {c.tls_resumed}/{c.connects} resumed)"
        for side, c in got.items()
    ]
    print(f"  [{r + 1}/{repeats}] " + "; ".join(parts), flush=True)


def run(
    quick: bool = False, repeats: int | None = None, run_time_s: float | None = None, tree: Path = REPO_ROOT
) -> tuple[dict[str, Any], list[Target]]:
    """Every repeat of the four sides; the entry for bench/results.json (under churn_tls) and the target."""
    repeats = repeats or (1 if quick else 3)
    run_time_s = run_time_s or (4.0 if quick else 8.0)
    warmup_s = 1.0 if quick else WARMUP_S
    rounds: list[dict[str, Churn]] = []
    paired: dict[str, list[float]] = {on: [] for on, _ in PAIRS}
    with tempfile.TemporaryDirectory(prefix="bench-churn-tls-") as tmp:
        paths = certificate(Path(tmp))
        tls = ("--tls-cert", str(paths["cert"]), "--tls-key", str(paths["key"]))
        with reference_server("--workers", "1", *tls) as server:
            sides = tls_specs(server, run_time_s, Path(tmp), tree, paths["ca"])
            for r in range(repeats):
                order = SIDES if r % 2 == 0 else SIDES[::-1]
                got = {side: measure(sides[side], server, run_time_s, warmup_s) for side in order}
                rounds.append(got)
                show_round(r, repeats, got)
                for on, off in PAIRS:
                    paired[on].append(measure_pair((sides[on], sides[off]), server, run_time_s, warmup_s))
                print("        together: " + ", ".join(f"{k} on/off CPU {v[-1]:.0%}" for k, v in paired.items()))
    entry = summarize(rounds, run_time_s, repeats)
    entry["cpu_ratios"] = {f"{on}: CPU per session, on / off (pairs)": summary(paired[on]) for on, _ in PAIRS}
    entry["pairs_agree"] = all(v == v for values in paired.values() for v in values)
    print_figures(entry)
    ratio = entry["ratios"]["locust / native, both resuming"]["median"]
    targets = [Target("churn over wss:// sessions/s, Locust / native (both resuming)", 100 * ratio, 100 * TARGET, "%")]
    entry["targets"] = [t.as_dict() for t in targets]
    return entry, targets


def summarize(rounds: list[dict[str, Churn]], run_time_s: float, repeats: int) -> dict[str, Any]:
    """The results entry: each side's figures and each ratio over the repeats, and the checks."""
    entry: dict[str, Any] = {
        "users": USERS,
        "session_calls": SESSION_CALLS,
        "run_time_s": run_time_s,
        "repeats": repeats,
        "server_agrees": all(c.server_agrees for g in rounds for c in g.values()),
        "resumption_as_expected": all(
            resumption_as_expected(resumes(side), c.connects, c.tls_resumed, USERS)
            for g in rounds
            for side, c in g.items()
        ),
    }
    for side in SIDES:
        entry[side] = {
            "sessions_per_s": summary([g[side].sessions_per_s for g in rounds]),
            "cpu_ms_per_session": summary([g[side].cpu_ms_per_session for g in rounds]),
            "server_cpu_ms_per_session": summary([g[side].server_cpu_ms_per_session for g in rounds]),
            "resumed_fraction": summary([g[side].tls_resumed / max(1, g[side].connects) for g in rounds]),
        }
    entry["ratios"] = {
        name: summary([g[a].sessions_per_s / g[b].sessions_per_s for g in rounds]) for name, (a, b) in RATIOS.items()
    }
    return entry


def print_figures(entry: dict[str, Any]) -> None:
    """The table of sides, ratios and checks."""
    rows = [
        [side, fmt_spread(entry[side]["sessions_per_s"]), fmt_spread(entry[side]["cpu_ms_per_session"], 2),
         fmt_spread(entry[side]["server_cpu_ms_per_session"], 2),
         fmt_spread(entry[side]["resumed_fraction"], pct=True)]
        for side in SIDES
    ]  # fmt: skip
    rows += [[name, fmt_spread(s, pct=True), "", "", ""] for name, s in entry["ratios"].items()]
    rows += [[name, "", fmt_spread(s, pct=True), "", ""] for name, s in entry["cpu_ratios"].items()]
    rows += [
        ["counts equal the server's", "yes" if entry["server_agrees"] else "NO", "", "", ""],
        ["resumed as offered", "yes" if entry["resumption_as_expected"] else "NO", "", "", ""],
        ["pairs' counts as the server's", "yes" if entry.get("pairs_agree") else "NO", "", "", ""],
    ]
    print_table(
        f"Connection churn over wss:// ({USERS} users, connect + TLS + hello + {SESSION_CALLS} call + close)",
        ["side", "sessions/s", "client CPU ms/session", "server CPU ms/session", "TLS resumed"],
        rows,
    )
