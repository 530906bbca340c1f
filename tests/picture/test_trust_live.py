"""Alerts an operations centre can trust, through the real stack (tansu + worker + chDB):
a resolve is not a mute, silences are explicit and audited, silent sections are seen."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support.stack import (
    TopicReader,
    WorkerProcess,
    await_until,
    event,
    produce,
    produce_events,
)

WorkerFactory = Callable[..., WorkerProcess]
BUSY = "PL-BY-02"  # floor: 20 attempts an hour


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def command(verb: str, **fields: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "command_id": str(uuid.uuid4()),
        "schema_version": 3,
        "command": verb,
        "operator_id": "operator-pl-sg",  # test tokens are named <role>-<organisation>
        "note": f"{verb} by test",
        "issued_at": now().isoformat(),
    }
    doc.update(fields)
    return doc


async def send(worker: WorkerProcess, doc: dict[str, Any]) -> None:
    key = (doc.get("alert_id") or doc["section_id"]).encode()
    await produce(worker.bootstrap, [(worker.topic("ops.commands"), key, json.dumps(doc).encode())])


def states(reader: TopicReader, alert_id: str) -> list[dict[str, Any]]:
    return [a for a in reader.json_values() if a["alert_id"] == alert_id]


async def test_a_resolved_surge_re_arms_when_it_worsens(worker_factory: WorkerFactory) -> None:
    worker = worker_factory()
    t0 = now() - timedelta(minutes=50)
    first_id, second_id = f"surge.{BUSY}.1", f"surge.{BUSY}.2"
    async with TopicReader(worker.bootstrap, worker.topic("ops.alerts")) as alerts:
        await produce_events(
            worker, [event("crossing_attempt", BUSY, t0 + timedelta(minutes=i)) for i in range(22)]
        )
        await alerts.wait_for(lambda _: states(alerts, first_id), 20, "surge raised")
        await send(worker, command("resolve", alert_id=first_id, note="handled by patrol"))
        await alerts.wait_for(
            lambda _: any(a["status"] == "resolved" for a in states(alerts, first_id)),
            20,
            "resolved by hand",
        )
        # 45 attempts in the hour: worse than the medium it was resolved at.
        await produce_events(
            worker,
            [
                event("crossing_attempt", BUSY, t0 + timedelta(minutes=25, seconds=30 * i))
                for i in range(23)
            ],
        )
        (again,) = (await alerts.wait_for(lambda _: states(alerts, second_id), 20, "re-armed"))[:1]
    assert (again["status"], again["level"]) == ("raised", "high")
    assert again["evidence"]["previous_alert_id"] == first_id
    assert again["evidence"]["previous_alert_level"] == "medium"
    assert again["evidence"]["explanation"][-1].startswith("re-armed: worsened to high")
    resolved = next(a for a in states(alerts, first_id) if a["status"] == "resolved")
    assert (resolved["changed_by"], resolved["changed_by_org"]) == ("operator-pl-sg", "PL-SG")
    assert worker.get(f"/picture?section={BUSY}")["sections"][BUSY]["threat_level"] == "high"
    await await_until(
        lambda: (
            worker.sql("SELECT command, alert_id, outcome FROM commands WHERE command = 'resolve'")
            == [["resolve", first_id, "applied"]]
        ),
        20,
        "the resolve command in the audit trail",
    )
    await await_until(
        lambda: (
            worker.sql(
                "SELECT JSONExtractString(payload, 'evidence', 'previous_alert_id') FROM alerts "
                f"WHERE alert_id = '{second_id}'"
            )
            == [[first_id]]
        ),
        20,
        "the re-armed alert in history, pointing back",
    )


async def test_a_silent_section_is_seen_and_a_silence_is_explicit(
    worker_factory: WorkerFactory,
) -> None:
    # Cadences scaled down to seconds: LT-RU's 180 minutes become about 3 s.
    worker = worker_factory(MARCHWARDEN_RULES__SILENCE_CADENCE_SCALE=str(3 / (180 * 60)))
    quiet, muted = "LT-RU-01", "LT-RU-02"
    async with TopicReader(worker.bootstrap, worker.topic("ops.alerts")) as alerts:
        await send(
            worker,
            command(
                "silence",
                operator_id="operator-lt-vsat",
                section_id=muted,
                rule="section_silent",
                until=(now() + timedelta(hours=1)).isoformat(),
                note="sensor maintenance at Panemunė",
            ),
        )
        beat = [
            event("sensor_heartbeat", quiet, now()),
            event("sensor_heartbeat", muted, now()),
        ]
        await produce_events(worker, beat)
        silent = await alerts.wait_for(
            lambda _: [a for a in alerts.json_values() if a["rule"] == "section_silent"],
            30,
            "section_silent raised",
        )
        first = silent[0]
        assert (first["section_id"], first["playbook"]) == (quiet, "restore_contact")
        reported = datetime.fromisoformat(first["evidence"]["last_report_at"])
        assert reported == datetime.fromisoformat(beat[0]["occurred_at"])
        picture = worker.get("/picture")["sections"]
        assert picture[quiet]["last_report_at"] is not None
        assert picture[quiet]["silent_for_s"] > picture[quiet]["expected_cadence_s"]
        (shown,) = picture[muted]["silences"]
        assert (shown["rule"], shown["reason"]) == (
            "section_silent",
            "sensor maintenance at Panemunė",
        )

        await produce_events(worker, [event("sensor_heartbeat", quiet, now())])
        await alerts.wait_for(
            lambda _: any(a["status"] == "resolved" for a in states(alerts, first["alert_id"])),
            30,
            "cleared when the section reports again",
        )
        # The muted section never raised: its silence was deliberate, and it is on record.
        assert not [a for a in alerts.json_values() if a["section_id"] == muted]
    await await_until(
        lambda: (
            worker.sql(
                "SELECT command, section_id, rule, outcome FROM commands WHERE command = 'silence'"
            )
            == [["silence", muted, "section_silent", "applied"]]
        ),
        20,
        "the silence in the audit trail",
    )
