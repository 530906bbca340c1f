"""The watch floor in a real browser (headless Chromium) against a real worker, tansu and chDB."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.browser import browser_missing, chromium, wait_for
from tests.support.stack import TOKENS, TopicReader, WorkerProcess, event, produce_events

WorkerFactory = Callable[..., WorkerProcess]

missing = browser_missing()
pytestmark = pytest.mark.skipif(
    missing is not None and not os.environ.get("CI"),
    reason=f"{missing} (CI installs it; outside CI the browser tests are skipped)",
)


def burst(section: str, count: int, start: datetime) -> list[dict[str, Any]]:
    return [event("crossing_attempt", section, start + timedelta(seconds=i)) for i in range(count)]


def css(driver: Any, selector: str) -> list[Any]:
    return list(driver.find_elements("css selector", selector))


def attribute(driver: Any, selector: str, name: str) -> str | None:
    from selenium.common.exceptions import StaleElementReferenceException

    try:
        found = css(driver, selector)
        return found[0].get_attribute(name) if found else None
    except StaleElementReferenceException:  # the board re-rendered under us
        return None


def click(driver: Any, selector: str) -> None:
    from selenium.common.exceptions import StaleElementReferenceException

    def clicked(d: Any) -> bool:
        try:
            found = css(d, selector)
            if found and found[0].is_enabled():
                found[0].click()
                return True
        except StaleElementReferenceException:
            pass
        return False

    wait_for(driver, clicked, 10, f"a clickable {selector}")


def stream_state(driver: Any) -> str | None:
    return attribute(driver, "#stream-status", "data-state")


def received(driver: Any) -> Counter[tuple[str, int]]:
    pairs = driver.execute_script("return window.watchFloor.state.received")
    return Counter((alert_id, version) for alert_id, version in pairs)


def on_topic(reader: TopicReader) -> Counter[tuple[str, int]]:
    return Counter((a["alert_id"], a["version"]) for a in reader.json_values())


async def test_the_page_shows_surges_acknowledges_and_loses_nothing_on_reconnect(
    worker_factory: WorkerFactory,
) -> None:
    # A fixed session key, as workers behind one address share: the browser's session then
    # outlives the worker's restart below (a key drawn at start would sign it out).
    worker = worker_factory(
        MARCHWARDEN_STREAM_HEARTBEAT_S="1", MARCHWARDEN_ACCESS__SESSION_KEY="k" * 32
    )
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    async with TopicReader(worker.bootstrap, worker.topic("ops.alerts")) as alerts:
        with chromium() as driver:
            driver.get(worker.url + "/")
            # Signed out, the page asks for a token and trades it for a session cookie.
            wait_for(driver, lambda d: css(d, "#sign-in:not([hidden])"), 20, "the sign-in form")
            css(driver, "#token")[0].send_keys(TOKENS("operator"))
            click(driver, "#sign-in button[type='submit']")
            wait_for(driver, lambda d: stream_state(d) == "live", 20, "the stream to be live")
            cookie = driver.get_cookie("mw_session")
            assert cookie and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
            assert TOKENS("operator") not in driver.execute_script("return document.cookie")
            wait_for(driver, lambda d: css(d, "path.section-LV-BY-02"), 10, "the sections drawn")
            assert attribute(driver, "path.section-LV-BY-02", "data-threat") == "none"
            assert len(css(driver, "path.section")) == 17
            assert not css(driver, "#board li.alert")

            # A surge appears on the board and on the map, pushed: 14 attempts in the hour is
            # over the section's floor (12) and under twice it, so the level is medium.
            await produce_events(worker, burst("LV-BY-02", 14, t0))
            item = "#board li[data-alert-id='surge.LV-BY-02.1']"
            wait_for(driver, lambda d: css(d, item), 20, "the surge on the board")
            wait_for(
                driver,
                lambda d: attribute(d, "path.section-LV-BY-02", "data-threat") == "medium",
                10,
                "the section coloured by its threat level",
            )

            # Acknowledge from the page: the alert changes on ops.alerts and in /alerts.
            driver.execute_script(
                "document.querySelector(arguments[0]).value = 'seen on camera 4'", item + " .note"
            )
            click(driver, item + " button.cmd-acknowledge")
            await alerts.wait_for(
                lambda _: any(
                    a["alert_id"] == "surge.LV-BY-02.1" and a["status"] == "acknowledged"
                    for a in alerts.json_values()
                ),
                20,
                "the acknowledgement on ops.alerts",
            )
            acked = {a["alert_id"]: a for a in worker.get("/alerts")["open"]}["surge.LV-BY-02.1"]
            assert (acked["status"], acked["operator_note"]) == ("acknowledged", "seen on camera 4")
            wait_for(
                driver,
                lambda d: attribute(d, item, "data-status") == "acknowledged",
                10,
                "the board showing the acknowledgement",
            )

            # The section panel: counts, baseline, surge ratio, last report.
            click(driver, item)
            wait_for(
                driver, lambda d: css(d, "#panel-counts tr[data-kind='attempts']"), 10, "panel"
            )
            row = css(driver, "#panel-counts tr[data-kind='attempts'] td")
            assert [c.text for c in row][:2] == ["attempts", "14"]
            facts = css(driver, "#panel-facts")[0].text
            assert "Baseline" in facts and "Surge ratio" in facts and "Last report" in facts

            # Disconnected: the page says so; what happens meanwhile arrives after reconnecting.
            driver.execute_script("window.watchFloor.disconnect()")
            assert stream_state(driver) == "disconnected"
            lit = event("indicator", "LT-RU-01", t0, indicator_id="kal-7", level="high")
            await produce_events(worker, [*burst("PL-BY-02", 25, t0), lit])
            await alerts.wait_for(
                lambda _: (
                    {"surge.PL-BY-02.1", "move_equipment_to_arteries.LT-RU-01.1"}
                    <= {a["alert_id"] for a in alerts.json_values()}
                ),
                20,
                "two alerts raised while the page was away",
            )
            assert not css(driver, "#board li[data-alert-id='surge.PL-BY-02.1']")
            driver.execute_script("window.watchFloor.connect()")
            wait_for(
                driver,
                lambda d: (
                    css(d, "#board li[data-alert-id='surge.PL-BY-02.1']")
                    and css(d, "#board li[data-alert-id='move_equipment_to_arteries.LT-RU-01.1']")
                ),
                20,
                "the missed alerts on the board",
            )
            wait_for(driver, lambda d: css(d, "path.plan"), 10, "the closure plan on the map")
            await alerts.wait_for(
                lambda _: received(driver) == on_topic(alerts), 10, "every change once, none lost"
            )
            assert driver.execute_script("return window.watchFloor.state.snapshots") == 1

            # The worker goes away and comes back: the browser reconnects by itself.
            worker.stop()
            wait_for(driver, lambda d: stream_state(d) == "disconnected", 20, "disconnected")
            worker.start()
            wait_for(driver, lambda d: stream_state(d) == "live", 60, "live again")
            await produce_events(worker, burst("LT-BY-02", 25, t0))
            wait_for(
                driver,
                lambda d: css(d, "#board li[data-alert-id='surge.LT-BY-02.1']"),
                20,
                "an alert after the restart",
            )
            await alerts.wait_for(
                lambda _: received(driver) == on_topic(alerts),
                10,
                "nothing lost or repeated across a restart",
            )
            driver.save_screenshot(str(worker.data_dir / "watch-floor.png"))
            # Connection errors while the worker was down are expected; script errors are not.
            errors = [e for e in driver.get_log("browser") if e.get("source") == "javascript"]
            assert errors == [], errors
