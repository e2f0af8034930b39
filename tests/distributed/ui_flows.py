"""Short web UI flows in headless Chromium (STOP, New, Edit, Reset, a bad field); prints what the page showed as JSON.

Run as its own process (`python -m tests.distributed.ui_flows FLOW ...`), like browser_probe: Playwright's sync
API must not share a process with the gevent-patched test runner. Never reloads the page after it has opened it:
each flow checks what the page itself does.

- stop: START, wait for the connections, STOP; wait for NEW; report the header's status and the seconds it took.
- new: START with the given fields, STOP, NEW; report the New dialog's field values.
- edit: START, Edit; report the dialog's field values; set users to --edit-users and press UPDATE.
- reset: START, wait --settle seconds, Reset, wait --settle seconds, STOP; report the tab's final figures.
- bad: fill the fields, move out of the last one, press START; report the text beside each field and the alerts.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from tests.distributed.browser_probe import CHROMIUM, CHROMIUM_ARGS, read_figures

READ = ("userCount", "spawnRate", "tools", "inFlight", "scenario", "stageDuration", "protocol", "burstWidth")
"""Fields whose values a dialog's report holds."""


def fill(page: Any, scope: Any, params: list[str]) -> None:
    for item in params:
        name, value = item.split("=", 1)
        field = scope.locator(f"[name={name}]")
        if field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)


def start(page: Any, args: argparse.Namespace) -> None:
    page.goto(args.url)
    fill(page, page, [f"userCount={args.users}", f"spawnRate={args.users}", f"host={args.host}", *args.param])
    button = page.get_by_role("button", name="Start")
    deadline = time.monotonic() + args.timeout
    while not button.is_enabled():  # a master waits for its workers
        assert time.monotonic() < deadline, "START never became enabled"
        page.wait_for_timeout(200)
    button.click()
    page.locator("[data-testid=ws-view][data-status=running]").wait_for()
    deadline = time.monotonic() + args.timeout
    while read_figures(page).get("connections_open") != args.users:
        assert time.monotonic() < deadline, f"never {args.users} connections: {read_figures(page)}"
        page.wait_for_timeout(250)


def values(scope: Any) -> dict[str, str]:
    found: dict[str, str] = {}
    for name in READ:
        field = scope.locator(f"[name={name}]")
        if field.count():
            found[name] = field.first.input_value()
    return found


def stop(page: Any, args: argparse.Namespace) -> dict[str, Any]:
    """Press STOP and wait for NEW, without reloading."""
    pressed = time.monotonic()
    page.get_by_role("button", name="Stop").click()
    new = page.get_by_role("button", name="New")
    new.wait_for(timeout=args.timeout * 1000)
    header = page.locator("header").inner_text()
    return {"stop_to_new_s": round(time.monotonic() - pressed, 1), "header": header}


def flow(page: Any, args: argparse.Namespace) -> dict[str, Any]:
    report: dict[str, Any] = {}
    if args.flow == "bad":
        page.goto(args.url)
        fill(page, page, [f"userCount={args.users}", f"host={args.host}", *args.param])
        page.locator("[name=userCount]").focus()  # leaving the last field commits its value (a change event)
        page.get_by_role("button", name="Start").click()
        page.get_by_role("alert").first.wait_for()
        page.locator(".Mui-error").first.wait_for()
        report["alerts"] = [a.strip() for a in page.get_by_role("alert").all_inner_texts()]
        report["beside"] = {
            name: page.locator(f"#ws-field-{name}-helper-text").inner_text()
            for name in (item.split("=", 1)[0] for item in args.param)
        }
        report["state_text"] = page.locator("header").inner_text()
        page.screenshot(path=args.screenshot, full_page=True)
        return report
    start(page, args)
    if args.flow == "stop":
        report.update(stop(page, args))
    elif args.flow == "new":
        report.update(stop(page, args))
        page.get_by_role("button", name="New").click()
        dialog = page.locator(".MuiModal-root").last  # locust-ui's Modal (role presentation)
        dialog.get_by_role("button", name="Start").wait_for()
        report["new_dialog"] = values(dialog)
        page.screenshot(path=args.screenshot, full_page=True)
    elif args.flow == "edit":
        page.get_by_role("button", name="Edit").click()
        dialog = page.locator(".MuiModal-root").last  # locust-ui's Modal (role presentation)
        dialog.get_by_role("button", name="Update").wait_for()
        report["edit_dialog"] = values(dialog)
        page.screenshot(path=args.screenshot, full_page=True)
        fill(page, dialog, [f"userCount={args.edit_users}", f"spawnRate={args.edit_users}"])
        dialog.get_by_role("button", name="Update").click()
        dialog.wait_for(state="hidden")
    elif args.flow == "reset":
        page.wait_for_timeout(args.settle * 1000)
        page.get_by_role("button", name="Reset").click()
        report["reset_at"] = time.time()
        page.wait_for_timeout(args.settle * 1000)
        report.update(stop(page, args))
        page.locator("[data-testid=ws-view][data-status=finished]").wait_for()
        report["final"] = read_figures(page)
    return report


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("flow", choices=("stop", "new", "edit", "reset", "bad"))
    parser.add_argument("--url", required=True)
    parser.add_argument("--host", required=True)
    parser.add_argument("--users", default="2")
    parser.add_argument("--edit-users", default="8")
    parser.add_argument("--param", action="append", default=[], help="field NAME=VALUE (camelCase)")
    parser.add_argument("--settle", type=float, default=3.0)
    parser.add_argument("--screenshot", required=True)
    parser.add_argument("--timeout", type=float, default=25.0)
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=30_000)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(args.timeout * 1000)
            report = flow(page, args)
        finally:
            browser.close()
    json.dump(report, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
