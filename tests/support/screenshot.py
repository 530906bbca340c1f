"""Photograph the watch floor of a running demo for the README (docs/screen.png).

Run `marchwarden demo` (it keeps serving the page after its summary), then
`python -m tests.support.screenshot`: it signs in with the demo operator's token (read from
its 0600 file, never from argv), selects the section with the most alerts, waits until the
stream is live and the map drawn, and saves the page.
"""

from __future__ import annotations

import argparse
import json
import urllib.request
from pathlib import Path
from typing import Any

from tests.support.browser import chromium, wait_for


def busiest_section(url: str, token: str) -> str | None:
    """The section with the most open alerts, to show its panel."""
    request = urllib.request.Request(url + "/alerts", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        open_alerts = json.load(answer).get("open", [])
    counts: dict[str, int] = {}
    for alert in open_alerts:
        counts[alert["section_id"]] = counts.get(alert["section_id"], 0) + 1
    return max(counts, key=lambda s: counts[s]) if counts else None


def photograph(url: str, token: str, out: Path) -> None:
    with chromium() as driver:
        driver.get(url + "/")
        wait_for(
            driver,
            lambda d: d.find_elements("css selector", "#sign-in:not([hidden])"),
            20,
            "the sign-in form",
        )
        driver.find_element("css selector", "#token").send_keys(token)
        driver.find_element("css selector", "#sign-in button[type='submit']").click()

        def live(d: Any) -> bool:
            status = d.find_elements("css selector", "#stream-status")
            return bool(status) and status[0].get_attribute("data-state") == "live"

        wait_for(driver, live, 30, "the stream to be live")
        wait_for(
            driver,
            lambda d: len(d.find_elements("css selector", "path.section")) == 17,
            20,
            "the sections drawn",
        )
        section = busiest_section(url, token)
        if section:
            driver.execute_script("return window.watchFloor.openPanel(arguments[0])", section)

            def panel_open(d: Any) -> bool:
                return bool(d.find_elements("css selector", "#panel-counts"))

            wait_for(driver, panel_open, 10, "the section panel")
        out.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:6066")
    parser.add_argument("--token-file", type=Path, default=Path(".marchwarden/demo/operator.token"))
    parser.add_argument("--out", type=Path, default=Path("docs/screen.png"))
    args = parser.parse_args()
    photograph(args.url, args.token_file.read_text(encoding="utf-8").strip(), args.out)
    print(args.out)


if __name__ == "__main__":
    main()
