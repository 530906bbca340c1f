"""The live picture end to end: a `marchwarden up` worker on the test broker and chDB."""

from __future__ import annotations

import json
import signal
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from marchwarden.reference import load_reference
from tests.support.stack import (
    TopicReader,
    WorkerProcess,
    await_until,
    event,
    produce,
    produce_events,
)

WorkerFactory = Callable[..., WorkerProcess]


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def section_counts(worker: WorkerProcess, section: str, window: str = "24h") -> dict[str, int]:
    picture = worker.get(f"/picture?section={section}")
    return dict(picture["sections"][section]["counts"][window])


def alerts_of(reader: TopicReader, rule: str | None = None) -> list[dict[str, Any]]:
    return [a for a in reader.json_values() if rule is None or a["rule"] == rule]


def statuses(reader: TopicReader, alert_id: str) -> list[tuple[str, str]]:
    return [(a["status"], a["level"]) for a in reader.json_values() if a["alert_id"] == alert_id]


async def test_surge_is_raised_escalated_and_resolved(worker_factory: WorkerFactory) -> None:
    worker = worker_factory()
    t0 = now() - timedelta(hours=4)
    # PL-BY-02's floor is 20 attempts an hour (reference data).
    async with TopicReader(worker.bootstrap, worker.topic("ops.alerts")) as alerts:
        burst = [
            event("crossing_attempt", "PL-BY-02", t0 + timedelta(seconds=i)) for i in range(25)
        ]
        await produce_events(worker, burst)
        raised = await alerts.wait_for(lambda _: alerts_of(alerts, "surge"), 20, "surge raised")
        first = raised[0]
        assert (first["alert_id"], first["status"], first["level"]) == (
            "surge.PL-BY-02.1",
            "raised",
            "medium",
        )
        assert first["evidence"]["attempts_last_hour"] == 20, "raised as the threshold is reached"
        assert first["evidence"]["threshold"] == 20
        assert set(first["evidence"]["event_ids"]) <= {e["event_id"] for e in burst}

        more = [
            event("crossing_attempt", "PL-BY-02", t0 + timedelta(seconds=100 + i))
            for i in range(20)
        ]
        await produce_events(worker, more)
        await alerts.wait_for(
            lambda _: ("escalated", "high") in statuses(alerts, "surge.PL-BY-02.1"),
            20,
            "escalation to high",
        )
        # Quiet for two hours of event time: two single attempts move the section's clock.
        await produce_events(
            worker, [event("crossing_attempt", "PL-BY-02", t0 + timedelta(hours=1, minutes=30))]
        )
        await produce_events(
            worker, [event("crossing_attempt", "PL-BY-02", t0 + timedelta(hours=2, minutes=40))]
        )
        await alerts.wait_for(
            lambda _: any(s == "resolved" for s, _ in statuses(alerts, "surge.PL-BY-02.1")),
            20,
            "resolution",
        )
        history = statuses(alerts, "surge.PL-BY-02.1")
        assert [s for s, _ in history] == ["raised", "escalated", "resolved"], history
        assert len({a["alert_id"] for a in alerts_of(alerts, "surge")}) == 1, (
            "escalation never re-raises"
        )
    await await_until(
        lambda: (
            worker.sql("SELECT count() FROM alerts WHERE alert_id = 'surge.PL-BY-02.1'") == [[3]]
        ),
        20,
        "three alert states in history",
    )


async def test_lit_indicator_moves_equipment_then_clear_returns_stock(
    worker_factory: WorkerFactory,
) -> None:
    worker = worker_factory()
    reference = load_reference()
    t0 = now() - timedelta(minutes=30)
    lit = event("indicator", "LT-RU-01", t0, indicator_id="kal-1", level="high", confidence=0.8)
    async with TopicReader(worker.bootstrap, worker.topic("ops.alerts")) as alerts:
        await produce_events(worker, [lit])
        raised = (await alerts.wait_for(lambda _: alerts_of(alerts), 10, "move-equipment alert"))[0]
        assert raised["rule"] == "move_equipment_to_arteries"
        assert (raised["status"], raised["level"], raised["section_id"]) == (
            "raised",
            "high",
            "LT-RU-01",
        )
        assert raised["evidence"]["indicator_ids"] == ["kal-1"]
        plan = raised["recommendation"]
        assert [a["artery_id"] for a in plan["arteries"]] == [
            a.id for a in reference.arteries_serving("LT-RU-01")
        ]
        for artery in plan["arteries"]:
            distances = [d["distance_km"] for d in artery["draws"]]
            assert distances == sorted(distances), "parks nearest first"
            for draw in artery["draws"]:
                stock = reference.park(draw["park_id"]).stock.model_dump()
                assert all(draw["equipment"][k] <= stock[k] for k in stock)
                assert draw["travel_minutes"] > 0
        parks = {p["park_id"]: p for p in worker.get("/parks")["parks"]}
        drawn = {d["park_id"] for a in plan["arteries"] for d in a["draws"]}
        assert any(parks[p]["available"] != parks[p]["stock"] for p in drawn), "stock is reserved"

        cleared = dict(
            lit,
            event_id=str(uuid.uuid4()),
            state="cleared",
            occurred_at=(t0 + timedelta(minutes=5)).isoformat(),
        )
        await produce_events(worker, [cleared])
        await alerts.wait_for(
            lambda _: ("resolved", "high") in statuses(alerts, raised["alert_id"]),
            10,
            "resolution on clear",
        )
    parks = worker.get("/parks")["parks"]
    assert all(p["available"] == p["stock"] for p in parks), "all stock returned"
    picture = worker.get("/picture?section=LT-RU-01")["sections"]["LT-RU-01"]
    assert picture["indicators"] == [] and picture["open_alerts"] == []


async def test_threat_level_follows_indicators_with_reasons(worker_factory: WorkerFactory) -> None:
    worker = worker_factory()
    t0 = now() - timedelta(minutes=10)
    await produce_events(
        worker,
        [
            event(
                "indicator",
                "PL-BY-02",
                t0,
                indicator_id="stage-1",
                level="critical",
                category="migrant_staging",
                confidence=0.9,
                valid_until=(t0 + timedelta(hours=2)).isoformat(),
            )
        ],
    )
    picture = await await_until(
        lambda: (
            worker.get("/picture?section=PL-BY-02")["sections"]["PL-BY-02"]["threat_level"]
            == "critical"
            and worker.get("/picture?section=PL-BY-02")["sections"]["PL-BY-02"]
        ),
        10,
        "critical threat level",
    )
    assert any("stage-1" in reason for reason in picture["threat_reasons"])
    assert picture["indicators"][0]["state"] == "lit"
    assert picture["baseline"]["hourly_mean"] > 0
    assert set(picture["counts"]) == {"1h", "24h", "7d"}


async def test_duplicates_change_nothing(worker_factory: WorkerFactory) -> None:
    worker = worker_factory()
    t0 = now() - timedelta(minutes=20)
    original = event("crossing_attempt", "LV-BY-02", t0, persons=4)
    await produce_events(worker, [original, original, original])
    await await_until(lambda: worker.get("/health")["duplicates"] == 2, 10, "two duplicates seen")
    assert section_counts(worker, "LV-BY-02")["attempt_persons"] == 4
    worker.post("/admin/flush")
    rows = worker.sql(f"SELECT count() FROM events WHERE event_id = '{original['event_id']}'")
    assert rows == [[1]]


async def test_out_of_order_and_late_events(worker_factory: WorkerFactory) -> None:
    worker = worker_factory()
    t0 = now() - timedelta(minutes=5)
    events = [
        event("crossing_attempt", "EE-RU-01", t0, persons=1),
        event(
            "crossing_attempt", "EE-RU-01", t0 - timedelta(hours=3), persons=2
        ),  # out of order, in lateness
        event("turn_back", "EE-RU-01", t0 - timedelta(minutes=30), persons=5),
        event(
            "crossing_attempt", "EE-RU-01", t0 - timedelta(hours=30), persons=7
        ),  # beyond 24 h lateness
    ]
    await produce_events(worker, events)
    await await_until(lambda: worker.get("/health")["accepted"] == 4, 10, "four events accepted")
    assert section_counts(worker, "EE-RU-01", "1h")["attempt_persons"] == 1
    day = section_counts(worker, "EE-RU-01", "24h")
    assert (day["attempt_persons"], day["turn_back_persons"]) == (3, 5)
    assert section_counts(worker, "EE-RU-01", "7d")["attempt_persons"] == 3, (
        "the late event is not counted"
    )
    worker.post("/admin/flush")
    late = worker.sql(f"SELECT late FROM events WHERE event_id = '{events[3]['event_id']}'")
    assert late == [[1]]
    assert worker.get("/health")["late"] == 1


BAD_INPUTS: list[tuple[str, bytes, str]] = [
    ("not_json", b"{oops", "not UTF-8 JSON"),
    (
        "invalid",
        json.dumps(event("crossing_attempt", "LT-BY-01", now(), persons="many")).encode(),
        "persons",
    ),
    (
        "invalid",
        json.dumps(
            event("crossing_attempt", "LT-BY-01", now()) | {"section_id": "LT-BY-77"}
        ).encode(),
        "unknown section",
    ),
    (
        "unknown_event_type",
        json.dumps({"event_type": "rumour", "schema_version": 1}).encode(),
        "event_type",
    ),
    ("too_large", b'{"pad": "' + b"x" * (65 * 1024) + b'"}', "over the"),
    ("empty", b"", "empty"),
]


async def test_each_kind_of_bad_input_is_dead_lettered_and_the_worker_goes_on(
    worker_factory: WorkerFactory,
) -> None:
    worker = worker_factory()
    crossings = worker.topic("border.crossings")
    async with TopicReader(worker.bootstrap, worker.topic("ops.deadletter")) as letters:
        await produce(worker.bootstrap, [(crossings, b"LT-BY-01", raw) for _, raw, _ in BAD_INPUTS])
        await produce_events(
            worker, [event("crossing_attempt", "LT-BY-01", now() - timedelta(minutes=1))]
        )
        await letters.wait_for(lambda m: len(m) >= len(BAD_INPUTS), 15, "all dead letters")
        received = letters.json_values()
    assert [d["kind"] for d in received] == [k for k, _, _ in BAD_INPUTS]
    for letter, (_, raw, fragment) in zip(received, BAD_INPUTS, strict=True):
        assert fragment in letter["reason"]
        assert letter["topic"] == crossings
        assert letter["value_size"] == len(raw)
    await await_until(
        lambda: worker.get("/health")["accepted"] == 1, 10, "the valid event after the bad ones"
    )
    worker.post("/admin/flush")
    # Analysts see each dead letter's size and reason, not its bytes (which may be TLP:RED).
    rows = worker.sql("SELECT kind, value_size, offset FROM dead_letters ORDER BY offset")
    assert [(r[0], r[1]) for r in rows] == [(k, len(raw)) for k, raw, _ in BAD_INPUTS]


# An operator of the Latvian border guard: test tokens are named <role>-<organisation>.
LV_OPERATOR = "operator-lv-vrs"


def command(
    alert_id: str, verb: str, operator: str = LV_OPERATOR, note: str = ""
) -> dict[str, Any]:
    return {
        "command_id": str(uuid.uuid4()),
        "schema_version": 1,
        "command": verb,
        "alert_id": alert_id,
        "operator_id": operator,
        "note": note,
        "issued_at": now().isoformat(),
    }


async def test_operator_commands_move_the_alert(worker_factory: WorkerFactory) -> None:
    worker = worker_factory()
    t0 = now() - timedelta(minutes=15)
    cmd_topic = worker.topic("ops.commands")
    async with (
        TopicReader(worker.bootstrap, worker.topic("ops.alerts")) as alerts,
        TopicReader(worker.bootstrap, worker.topic("ops.deadletter")) as letters,
    ):
        await produce_events(
            worker, [event("indicator", "LV-RU-01", t0, indicator_id="lv-1", level="high")]
        )
        alert_id = (await alerts.wait_for(lambda _: alerts_of(alerts), 10, "alert"))[0]["alert_id"]

        def send(verb: str) -> Any:
            doc = command(alert_id, verb, note=f"{verb} by test")
            return produce(
                worker.bootstrap, [(cmd_topic, alert_id.encode(), json.dumps(doc).encode())]
            )

        await send("acknowledge")
        await alerts.wait_for(
            lambda _: ("acknowledged", "high") in statuses(alerts, alert_id), 15, "acknowledged"
        )
        acked = next(a for a in alerts.json_values() if a["status"] == "acknowledged")
        assert (acked["operator_id"], acked["operator_note"]) == (
            LV_OPERATOR,
            "acknowledge by test",
        )
        assert (acked["changed_by"], acked["changed_by_org"]) == (LV_OPERATOR, "LV-VRS")
        await send("acknowledge")  # twice: invalid transition
        await letters.wait_for(lambda m: m, 15, "invalid transition")
        await send("resolve")
        await alerts.wait_for(
            lambda _: ("resolved", "high") in statuses(alerts, alert_id), 15, "resolved"
        )
        await send("resolve")
        bad = json.dumps(command("surge.XX-YY-01.1", "resolve")).encode()
        await produce(worker.bootstrap, [(cmd_topic, b"x", bad)])
        await letters.wait_for(lambda m: len(m) >= 3, 15, "three dead letters")
        kinds = [d["kind"] for d in letters.json_values()]
    assert sorted(kinds) == ["invalid_transition", "invalid_transition", "unknown_alert"]
    assert any("already acknowledged" in d["reason"] for d in letters.json_values())


@pytest.mark.parametrize(
    "stop_signal", [signal.SIGTERM, signal.SIGKILL], ids=["graceful-stop", "kill-9"]
)
async def test_worker_restart_mid_stream_keeps_aggregates_right(
    worker_factory: WorkerFactory, stop_signal: int
) -> None:
    worker = worker_factory()
    t0 = now() - timedelta(hours=2)
    sections = ["LT-BY-01", "LV-BY-01", "PL-BY-01", "EE-RU-02"]
    stream = [
        event("crossing_attempt", sections[i % 4], t0 + timedelta(seconds=7 * i), persons=1 + i % 3)
        for i in range(600)
    ]
    first, second = stream[:400], stream[400:]
    await produce_events(worker, first)
    await await_until(
        lambda: worker.get("/health")["accepted"] >= 200, 20, "half the stream processed"
    )
    code = worker.stop(stop_signal)
    if stop_signal == signal.SIGTERM:
        assert code == 0, f"a graceful stop exits 0, not {code}:\n{worker.log()[-3000:]}"
    # The same data dir and broker: history survives, the log has the rest plus replays.
    restarted = worker_factory(data_dir=worker.data_dir)
    resent = first[:50]
    await produce_events(restarted, second + resent)
    expected = {s: sum(e["persons"] for e in stream if e["section_id"] == s) for s in sections}
    await await_until(
        lambda: all(
            section_counts(restarted, s)["attempt_persons"] == expected[s] for s in sections
        ),
        30,
        "aggregates equal to the produced stream",
    )
    status, result = restarted.post("/admin/verify")
    assert status == 200 and result["ok"], result["differences"][:5]
    rows = restarted.sql("SELECT count(), uniqExact(event_id) FROM events")
    assert rows == [[600, 600]], "every event in history exactly once"
    health = restarted.get("/health")
    if stop_signal == signal.SIGTERM:
        # The graceful stop flushed history and committed every offset it had processed:
        # the restarted worker replays nothing, so its only duplicates are the resent ones.
        assert health["duplicates"] == len(resent), health
    else:
        assert health["duplicates"] >= len(resent), health
