"""Drive Locust's web UI in headless Chromium as a person would; print what the WebSocket view showed as JSON.

Run as its own process (`python -m tests.distributed.browser_probe ...`):
Playwright's sync API runs its own event loop and must not share a process
with the gevent-patched test runner. Uses Debian's /usr/bin/chromium; never
downloads a browser.

Steps: open the page, fill the start form (users, ramp-up, host and the
custom parameters given), press START; the WebSocket view is the first tab.
Wait until its figures show `--until` (key=value), check every chart draws
(its canvas has pixels of its line colours in the plot area, and changes as
points are added), read the live figures, take a screenshot, press STOP, and wait,
without reloading the page, until the view says the run finished; read the
final totals and take a second screenshot. With `--bad-param`, fill that
instead, press START and print the message the form shows.
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
CHART_IDS = ("messages", "calls", "connections", "inflight", "latency")


def read_figures(page: Any) -> dict[str, str]:
    """The view's figures as key -> text (live ones while running, final totals after)."""
    figures: dict[str, str] = {}
    for cell in page.locator("[data-testid^=ws-figure-]").all():
        key = (cell.get_attribute("data-testid") or "").removeprefix("ws-figure-")
        figures[key] = cell.inner_text().strip()
    return figures


def wait_figures(page: Any, conditions: dict[str, str], timeout_s: float) -> dict[str, str]:
    """Read the figures until each key shows its value (substring match)."""
    deadline = time.monotonic() + timeout_s
    figures: dict[str, str] = {}
    while time.monotonic() < deadline:
        figures = read_figures(page)
        if all(want in figures.get(key, "") for key, want in conditions.items()):
            return figures
        page.wait_for_timeout(250)
    raise TimeoutError(f"the WebSocket view never showed {conditions}; last: {figures}")


LINE_PIXELS_JS = """(canvas, colors) => {
    const rgb = colors.split(',').map((hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)));
    const top = 80, bottom = 30;  // the plot area of users/web/ui/src/StageChart.jsx (GRID), below title and legend
    const { width, height } = canvas;
    const scale = height / canvas.getBoundingClientRect().height;
    const pixels = canvas.getContext('2d').getImageData(0, top * scale, width, height - (top + bottom) * scale).data;
    let count = 0;
    for (let i = 0; i < pixels.length; i += 4) {
        if (rgb.some(([r, g, b]) => Math.abs(pixels[i] - r) + Math.abs(pixels[i + 1] - g) + Math.abs(pixels[i + 2] - b) < 30)) count++;
    }
    return count;
}"""


def chart_images(page: Any) -> dict[str, tuple[int, str, int]]:
    """Per chart: (points it has, its canvas as a data URL, pixels of its line colours in the plot area)."""
    images: dict[str, tuple[int, str, int]] = {}
    for chart in CHART_IDS:
        box = page.locator(f"[data-testid=ws-chart-{chart}]")
        points = int(box.get_attribute("data-points") or 0)
        colors = box.locator("[data-colors]").get_attribute("data-colors") or ""
        canvas = box.locator("canvas").first
        images[chart] = (points, canvas.evaluate("c => c.toDataURL()"), canvas.evaluate(LINE_PIXELS_JS, colors))
    return images


def wait_charts_drawing(page: Any, timeout_s: float) -> dict[str, int]:
    """Wait until every chart draws lines (pixels of its line colours in the plot area) and has redrawn with
    more points since the first reading; line pixels per chart."""
    first = chart_images(page)
    deadline = time.monotonic() + timeout_s
    while True:
        page.wait_for_timeout(1000)
        now = chart_images(page)
        moved = {c: now[c][0] > first[c][0] > 0 and now[c][1] != first[c][1] and now[c][2] > 0 for c in CHART_IDS}
        if all(moved.values()):
            return {c: now[c][2] for c in CHART_IDS}
        if time.monotonic() > deadline:
            raise TimeoutError(f"charts not drawing: {moved}")


def start_run(page: Any, args: argparse.Namespace, params: list[str]) -> None:
    """Fill the start form and press START (once it is enabled: workers connected)."""
    page.goto(args.url)
    page.locator("input[name=userCount]").fill(args.users)
    page.locator("input[name=spawnRate]").fill(args.users)
    page.locator("input[name=host]").fill(args.host)
    for item in params:
        name, value = item.split("=", 1)
        page.locator(f"input[name={name}]").fill(value)  # the option groups are open: no click to find them
    start = page.get_by_role("button", name="Start")
    start.wait_for()
    deadline = time.monotonic() + args.timeout
    while not start.is_enabled():
        if time.monotonic() > deadline:
            raise TimeoutError("START never became enabled (no workers?)")
        page.wait_for_timeout(200)
    start.click()


def probe(page: Any, args: argparse.Namespace) -> dict[str, Any]:
    """A whole run through the UI; what the view showed."""
    report: dict[str, Any] = {}
    if args.bad_param:
        start_run(page, args, args.bad_param)
        alert = page.get_by_role("alert")
        alert.wait_for()
        page.wait_for_timeout(500)  # anything else the page would show (it should not)
        report["alerts"] = [a.strip() for a in alert.all_inner_texts()]
        report["form_still_shown"] = page.get_by_role("button", name="Start").is_visible()
        page.screenshot(path=args.screenshot, full_page=True)
        return report
    start_run(page, args, args.param)
    page.locator("[data-testid=ws-view][data-status=running]").wait_for()
    until = dict(item.split("=", 1) for item in args.until)
    wait_figures(page, until, args.timeout)
    report["chart_line_pixels"] = wait_charts_drawing(page, args.timeout)
    page.wait_for_timeout(args.settle * 1000)
    report["live"] = wait_figures(page, until, args.timeout)
    report["live_stage"] = page.locator("[data-testid=ws-stage]").inner_text()
    page.screenshot(path=args.screenshot, full_page=True)
    page.get_by_role("button", name="Stop").click()
    page.locator("[data-testid=ws-view][data-status=finished]").wait_for(timeout=args.timeout * 1000)
    report["stopped"] = read_figures(page)
    report["stopped_stage"] = page.locator("[data-testid=ws-stage]").inner_text()
    report["stopped_status"] = page.locator("[data-testid=ws-status]").inner_text()
    page.screenshot(path=args.screenshot.replace(".png", "-stopped.png"), full_page=True)
    return report


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--users", default="4")
    parser.add_argument("--host", required=True, help="the target, typed into the form's Host field")
    parser.add_argument("--param", action="append", default=[], help="custom parameter NAME=VALUE (camelCase)")
    parser.add_argument("--bad-param", action="append", default=[], help="like --param; expect the form to refuse")
    parser.add_argument("--until", action="append", default=[], help="FIGURE=VALUE the live view must show")
    parser.add_argument("--screenshot", required=True)
    parser.add_argument("--settle", type=float, default=0.0, help="seconds to keep running before the live reading")
    parser.add_argument("--timeout", type=float, default=40.0)
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=30_000)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(args.timeout * 1000)
            report = probe(page, args)
        finally:
            browser.close()
    json.dump(report, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
