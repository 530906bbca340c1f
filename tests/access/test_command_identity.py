"""Commands carry identity: who and when are checked, replays refused, every change audited."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support.stack import (
    TOKENS,
    TopicReader,
    WorkerProcess,
    await_until,
    event,
    http,
    produce,
    produce_events,
)

SECTION = "LT-RU-01"
LT_OPERATOR = "operator-lt-vsat"


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def command(alert_id: str, verb: str, **fields: Any) -> dict[str, Any]:
    return {
        "command_id": str(uuid.uuid4()),
        "schema_version": 3,
        "command": verb,
        "alert_id": alert_id,
        "operator_id": LT_OPERATOR,
        "note": "",
        "issued_at": now().isoformat(),
        **fields,
    }


async def send(worker: WorkerProcess, doc: dict[str, Any]) -> None:
    topic = worker.topic("ops.commands")
    await produce(worker.bootstrap, [(topic, doc["alert_id"].encode(), json.dumps(doc).encode())])


def states(reader: TopicReader, alert_id: str) -> list[dict[str, Any]]:
    return [a for a in reader.json_values() if a["alert_id"] == alert_id]


async def test_commands_are_checked_for_who_and_when_and_audited(
    worker_factory: Any,
) -> None:
    worker: WorkerProcess = worker_factory()
    lit = event("indicator", SECTION, now() - timedelta(minutes=5), indicator_id="cmd-1")
    async with (
        TopicReader(worker.bootstrap, worker.topic("ops.alerts")) as alerts,
        TopicReader(worker.bootstrap, worker.topic("ops.deadletter")) as letters,
    ):
        await produce_events(worker, [lit])
        raised = await alerts.wait_for(lambda m: alerts.json_values(), 20, "the alert")
        alert_id = raised[0]["alert_id"]

        # Through HTTP the operator is the token's: a body cannot name another one.
        url = f"{worker.url}/alerts/{alert_id}/acknowledge"
        lt = TOKENS("operator", "LT-VSAT")
        forged = {"note": "patrol sent", "operator_id": "someone-else"}
        assert http("POST", url, forged, token=lt)[0] == 400
        status, body = http("POST", url, {"note": "patrol sent"}, token=lt)
        assert status == 202, body
        acked = (
            await alerts.wait_for(
                lambda m: [a for a in states(alerts, alert_id) if a["status"] == "acknowledged"],
                20,
                "acknowledged",
            )
        )[0]
        assert (acked["changed_by"], acked["changed_by_org"]) == (LT_OPERATOR, "LT-VSAT")
        assert acked["command_id"] == body["command"]["command_id"]

        # The Kafka path: forged, other organisation, future-dated, backdated, replayed.
        applied = command(alert_id, "annotate", note="second patrol")
        refused = {
            "forged": command(alert_id, "annotate", note="x", operator_id="forged-admin"),
            "other organisation": command(
                alert_id, "annotate", note="x", operator_id="operator-lv-vrs"
            ),
            "future": command(
                alert_id, "annotate", note="x", issued_at="2099-01-01T00:00:00+00:00"
            ),
            "backdated": command(
                alert_id, "annotate", note="x", issued_at=(now() - timedelta(hours=2)).isoformat()
            ),
        }
        await send(worker, applied)
        await alerts.wait_for(
            lambda m: any(
                a["command_id"] == applied["command_id"] for a in states(alerts, alert_id)
            ),
            20,
            "the annotation",
        )
        for doc in refused.values():
            await send(worker, doc)
        await send(worker, applied)  # the same command again
        await letters.wait_for(lambda m: len(m) >= 5, 20, "five refusals")
        kinds = sorted(d["kind"] for d in letters.json_values())
        assert kinds == [
            "clock_skew",
            "clock_skew",
            "duplicate_command",
            "forbidden",
            "forbidden",
        ], [d["reason"] for d in letters.json_values()]
        assert all(not a["updated_at"].startswith("2099") for a in states(alerts, alert_id))

        # Cleared by its indicator: the rule resolves it, not the operator who acknowledged.
        cleared = dict(
            lit, event_id=str(uuid.uuid4()), state="cleared", occurred_at=now().isoformat()
        )
        await produce_events(worker, [cleared])
        resolved = (
            await alerts.wait_for(
                lambda m: [a for a in states(alerts, alert_id) if a["status"] == "resolved"],
                20,
                "resolution",
            )
        )[0]
        assert resolved["changed_by"] == "rule:move_equipment_to_arteries"
        assert resolved["changed_by_org"] is None and resolved["command_id"] is None

    worker.post("/admin/flush")
    audit = await await_until(
        lambda: worker.sql(
            "SELECT actor, organisation, from_status, to_status, reason, command_id != '' "
            f"FROM alert_audit WHERE alert_id = '{alert_id}' ORDER BY version"
        ),
        20,
        "the audit trail",
    )
    assert [tuple(r) for r in audit] == [
        (
            "rule:move_equipment_to_arteries",
            "",
            "",
            "raised",
            "rule condition met at level high",
            0,
        ),
        (LT_OPERATOR, "LT-VSAT", "raised", "acknowledged", "acknowledge command", 1),
        (LT_OPERATOR, "LT-VSAT", "acknowledged", "acknowledged", "annotate command", 1),
        (
            "rule:move_equipment_to_arteries",
            "",
            "acknowledged",
            "resolved",
            "rule condition cleared",
            0,
        ),
    ]

    # A replay after a restart is still a replay: applied command ids come back from history.
    worker.stop()
    restarted = worker_factory(data_dir=worker.data_dir)
    async with TopicReader(restarted.bootstrap, restarted.topic("ops.deadletter")) as letters:
        before = len(await letters.poll())
        await send(restarted, dict(applied, issued_at=now().isoformat()))
        await letters.wait_for(lambda m: len(m) > before, 30, "the replay refused")
        assert letters.json_values()[-1]["kind"] == "duplicate_command"
