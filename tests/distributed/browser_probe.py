"""Drive Locust's web UI in headless Chromium as a person would; print what the WebSocket tab showed as JSON.

Run as its own process (`python -m tests.distributed.browser_probe ...`):
Playwright's sync API runs its own event loop and must not share a process
with the gevent-patched test runner. Uses Debian's /usr/bin/chromium; never
downloads a browser.

Steps: open the page, fill the start form (users, ramp-up, host and the
custom parameters given), press START, open the WebSocket tab, wait until it
shows `--until` (metric=value), read every row, take a screenshot, press STOP,
then reload the page until the tab shows `--stopped` and read it again.
Locust's UI polls /stats/requests only while a run is spawning or running, so
after STOP the page keeps the last numbers it polled; a person (and this probe)
reloads the page to see the final ones.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def read_tab(page: Any) -> dict[str, str]:
    """The WebSocket tab's rows as metric -> value."""
    rows: dict[str, str] = {}
    for row in page.locator("table tbody tr").all():
        cells = [c.strip() for c in row.locator("td").all_inner_texts()]
        if len(cells) >= 2:
            rows[cells[0]] = cells[1]
    return rows


def wait_tab(page: Any, conditions: dict[str, str], timeout_s: float) -> dict[str, str]:
    """Read the tab until every metric shows its value (substring match); the last reading either way."""
    deadline = time.monotonic() + timeout_s
    rows: dict[str, str] = {}
    while time.monotonic() < deadline:
        rows = read_tab(page)
        if all(want in rows.get(metric, "") for metric, want in conditions.items()):
            return rows
        page.wait_for_timeout(250)
    raise TimeoutError(f"the WebSocket tab never showed {conditions}; last: {rows}")


def wait_tab_reloading(page: Any, conditions: dict[str, str], timeout_s: float) -> dict[str, str]:
    """Reload the page and read the WebSocket tab until every metric shows its value; the last reading either way."""
    deadline = time.monotonic() + timeout_s
    rows: dict[str, str] = {}
    while time.monotonic() < deadline:
        page.reload()
        page.get_by_role("tab", name="WebSocket").click()
        try:
            return wait_tab(page, conditions, min(2.0, max(0.1, deadline - time.monotonic())))
        except TimeoutError:
            rows = read_tab(page)
    raise TimeoutError(f"the WebSocket tab never showed {conditions} after reloads; last: {rows}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--users", default="4")
    parser.add_argument("--host", required=True, help="the target, typed into the form's Host field")
    parser.add_argument("--param", action="append", default=[], help="custom parameter NAME=VALUE (camelCase)")
    parser.add_argument("--until", action="append", default=[], help="METRIC=VALUE the live tab must show")
    parser.add_argument("--stopped", action="append", default=[], help="METRIC=VALUE the tab must show after STOP")
    parser.add_argument("--screenshot", required=True)
    parser.add_argument("--settle", type=float, default=0.0, help="seconds to keep running before the live reading")
    parser.add_argument("--timeout", type=float, default=40.0)
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    report: dict[str, Any] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=30_000)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1100})
            page.set_default_timeout(args.timeout * 1000)
            page.goto(args.url)
            page.locator("input[name=userCount]").fill(args.users)
            page.locator("input[name=spawnRate]").fill(args.users)
            page.locator("input[name=host]").fill(args.host)
            if args.param:
                page.get_by_text("Custom parameters").click()
                for item in args.param:
                    name, value = item.split("=", 1)
                    page.locator(f"input[name={name}]").fill(value)
            start = page.get_by_role("button", name="Start")
            start.wait_for()
            deadline = time.monotonic() + args.timeout
            while not start.is_enabled():  # enabled once the workers have connected
                if time.monotonic() > deadline:
                    raise TimeoutError("START never became enabled (no workers?)")
                page.wait_for_timeout(200)
            start.click()
            page.get_by_role("tab", name="WebSocket").click()
            until = dict(item.split("=", 1) for item in args.until)
            wait_tab(page, until, args.timeout)
            page.wait_for_timeout(args.settle * 1000)
            report["live"] = wait_tab(page, until, args.timeout)
            page.screenshot(path=args.screenshot, full_page=True)
            page.get_by_role("button", name="Stop").click()
            stopped = dict(item.split("=", 1) for item in args.stopped)
            report["stopped"] = wait_tab_reloading(page, stopped, args.timeout)
            page.screenshot(path=args.screenshot.replace(".png", "-stopped.png"), full_page=True)
        finally:
            browser.close()
    json.dump(report, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
