"""docs/reference/failures.md and docs/reference/ws-csv.md name what the code reports: every protocol_error code
the users can report, and every PREFIX_ws.csv column in the order written."""

from __future__ import annotations

import re
from pathlib import Path

from users.telemetry.ws_csv import WS_CSV_COLUMNS
from users.wire import correlation
from users.wire.events import PING_TIMEOUT
from users.wire.frames import FRAME_ERROR_CODES

ROOT = Path(__file__).resolve().parents[1]
FAILURES = ROOT / "docs" / "reference" / "failures.md"
WS_CSV = ROOT / "docs" / "reference" / "ws-csv.md"


def protocol_error_codes() -> set[str]:
    """Codes the users raise (ProtocolViolation, core faults), the correlation's and the frame decoder's."""
    codes = {correlation.LATE_RESULT, correlation.DUPLICATE_RESULT, correlation.UNKNOWN_REQUEST_ID, PING_TIMEOUT}
    codes |= set(FRAME_ERROR_CODES.values()) | {"bad_json", "invalid_utf8"}
    for path in (ROOT / "users").rglob("*.py"):
        codes |= set(re.findall(r'(?:ProtocolViolation|_fault)\(\s*"([a-z_]+)"', path.read_text()))
    return codes


def table_first_cells(text: str) -> list[str]:
    cells = [line.split("|")[1].strip() for line in text.splitlines() if line.startswith("| ")]
    return [c.strip("`") for c in cells if c and not c.startswith("---")]


def test_every_protocol_error_code_is_in_the_list() -> None:
    text = FAILURES.read_text().split("## Every `protocol_error` code", 1)[1].split("\n## ", 1)[0]
    documented = set(table_first_cells(text)[1:])
    assert len(protocol_error_codes()) >= 15
    assert protocol_error_codes() == documented


def test_the_ws_csv_page_lists_every_column_in_order() -> None:
    assert table_first_cells(WS_CSV.read_text())[1:] == WS_CSV_COLUMNS
