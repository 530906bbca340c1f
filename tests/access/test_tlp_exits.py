"""One TLP:RED indicator, checked at every exit: picture, alerts, alert topics, reports, SQL.

Lithuania's border guard reports a RED indicator; every other organisation, the regional
centre included, must learn only that a RED-sourced alert exists and what to do about it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from marchwarden.access.identity import ORGANISATIONS
from tests.support.stack import (
    TOKENS,
    TopicReader,
    WorkerProcess,
    await_until,
    event,
    http,
    produce_events,
)

SECTION = "LT-RU-01"
RED_ID = "red-sovetsk-armour"
AMBER_ID = "amber-daugavpils"
# A category no other event of the test uses, so its absence means the detail was withheld.
# Others must still learn what to do: the alert's playbook (border-guard reinforcement) is
# shared, and it is named for the action, not for the category that called it.
RED_CATEGORY = "instrumentalised_migration"
NOTE = "source KESTREL confirms the column"


def secrets_of(red: dict[str, Any]) -> list[str]:
    return [RED_ID, RED_CATEGORY, red["event_id"], NOTE]


def leaks(text: str, red: dict[str, Any]) -> list[str]:
    return [s for s in secrets_of(red) if s in text]


@pytest.fixture(scope="module")
def red_indicator() -> dict[str, Any]:
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    doc = event(
        "indicator",
        SECTION,
        at,
        indicator_id=RED_ID,
        category=RED_CATEGORY,
        level="critical",
        tlp="red",
    )
    assert doc["reporter"] == "LT-VSAT"
    return doc


@pytest.fixture(scope="module")
async def lit(module_worker: WorkerProcess, red_indicator: dict[str, Any]) -> dict[str, Any]:
    """The RED indicator and an AMBER one shared with the regional centre, alerts, a note."""
    worker = module_worker
    amber = event(
        "indicator",
        "LV-BY-02",
        datetime.now(UTC) - timedelta(minutes=9),
        indicator_id=AMBER_ID,
        tlp="amber",
        share_with=["EU-RCC"],
    )
    await produce_events(worker, [red_indicator, amber])

    def raised() -> list[dict[str, Any]]:
        alerts = worker.get("/alerts", TOKENS("operator", "LT-VSAT"))["open"]
        return [a for a in alerts if a["section_id"] == SECTION]

    alert = await await_until(raised, 20, "the RED-sourced alert")
    alert_id = alert[0]["alert_id"]
    status, _ = worker.post(
        f"/alerts/{alert_id}/annotate", {"note": NOTE}, token=TOKENS("operator", "LT-VSAT")
    )
    assert status == 202
    await await_until(lambda: note_of(worker, alert_id) == NOTE, 20, "the note")
    assert worker.post("/admin/flush")[0] == 200
    return {"alert_id": alert_id, "amber": amber}


OTHERS = [o for o in ORGANISATIONS if o != "LT-VSAT"]


def note_of(worker: WorkerProcess, alert_id: str) -> str | None:
    for alert in worker.get("/alerts", TOKENS("operator", "LT-VSAT"))["open"]:
        if alert["alert_id"] == alert_id:
            return str(alert["operator_note"])
    return None


async def test_the_picture_withholds_it_from_others(
    module_worker: WorkerProcess, lit: dict[str, Any], red_indicator: dict[str, Any]
) -> None:
    path = f"/picture?section={SECTION}"
    own = module_worker.get(path, TOKENS("operator", "LT-VSAT"))["sections"][SECTION]
    assert [i["indicator_id"] for i in own["indicators"]] == [RED_ID]
    for organisation in OTHERS:
        seen = module_worker.get(path, TOKENS("operator", organisation))
        section = seen["sections"][SECTION]
        assert leaks(json.dumps(seen), red_indicator) == [], organisation
        assert section["threat_level"] == "critical", "the level stays: others must act on it"
        assert any("withheld" in r for r in section["threat_reasons"])
        assert section["open_alerts"][0]["withheld_sources"] == 1


async def test_alerts_show_others_that_it_exists_and_what_to_do(
    module_worker: WorkerProcess, lit: dict[str, Any], red_indicator: dict[str, Any]
) -> None:
    own = module_worker.get("/alerts", TOKENS("operator", "LT-VSAT"))["open"]
    mine = next(a for a in own if a["alert_id"] == lit["alert_id"])
    assert mine["evidence"]["indicator_ids"] == [RED_ID] and mine["operator_note"] == NOTE
    for organisation in OTHERS:
        body = module_worker.get("/alerts", TOKENS("operator", organisation))
        theirs = next(a for a in body["open"] if a["alert_id"] == lit["alert_id"])
        assert leaks(json.dumps(body), red_indicator) == [], organisation
        assert theirs["tlp"] == "red" and theirs["withheld_sources"] == 1
        assert theirs["recommendation"] == mine["recommendation"] and theirs["level"] == "critical"


async def test_amber_reaches_the_listed_organisations_only(
    module_worker: WorkerProcess, lit: dict[str, Any]
) -> None:
    path = "/picture?section=LV-BY-02"
    for organisation, sees in {
        "LV-VRS": True,
        "EU-RCC": True,
        "PL-SG": False,
        "LT-VSAT": False,
    }.items():
        text = json.dumps(module_worker.get(path, TOKENS("operator", organisation)))
        assert (AMBER_ID in text) is sees, organisation


async def test_the_alert_topics_carry_each_organisation_its_view(
    module_worker: WorkerProcess, lit: dict[str, Any], red_indicator: dict[str, Any]
) -> None:
    worker = module_worker

    async def read(topic: str) -> list[Any]:
        async with TopicReader(worker.bootstrap, worker.topic(topic)) as reader:
            return list(
                await reader.wait_for(
                    lambda m: [x for x in m if json.loads(x.value)["alert_id"] == lit["alert_id"]],
                    20,
                    "the alert's states",
                )
            )

    shared = await read("ops.alerts")
    assert shared and leaks(" ".join(m.value.decode() for m in shared), red_indicator) == []
    assert all(json.loads(m.value)["withheld_sources"] == 1 for m in shared)
    own = " ".join(m.value.decode() for m in await read("ops.alerts.LT-VSAT"))
    assert RED_ID in own and NOTE in own
    regional = " ".join(m.value.decode() for m in await read("ops.alerts.EU-RCC"))
    assert leaks(regional, red_indicator) == []


async def test_reports_and_analyst_sql_withhold_it(
    module_worker: WorkerProcess, lit: dict[str, Any], red_indicator: dict[str, Any]
) -> None:
    today = datetime.now(UTC).date().isoformat()
    report = {"kind": "alerts", "start": today, "end": today}
    queries = [
        "SELECT * FROM events",
        "SELECT * FROM alerts",
        "SELECT * FROM alert_audit",
        "SELECT * FROM dead_letters",
        "SELECT * FROM events_daily",
    ]
    own_status, own = http(
        "POST", module_worker.url + "/history/report", report, token=TOKENS("analyst", "LT-VSAT")
    )
    assert own_status == 200 and RED_ID in json.dumps(own)
    own_rows = json.dumps(module_worker.sql(queries[0], TOKENS("analyst", "LT-VSAT")))
    assert RED_ID in own_rows and RED_CATEGORY in own_rows
    for organisation in OTHERS:
        token = TOKENS("analyst", organisation)
        status, body = http("POST", module_worker.url + "/history/report", report, token=token)
        assert status == 200 and body["rows"], organisation
        assert leaks(json.dumps(body), red_indicator) == [], organisation
        for sql in queries:
            assert leaks(json.dumps(module_worker.sql(sql, token)), red_indicator) == [], sql
