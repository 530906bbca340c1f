"""The alert stream, HTTP commands and POST /events against a real worker, tansu and chDB."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from marchwarden.screen.positions import encode_event_id, parse_event_id
from tests.support.sse import SseClient
from tests.support.stack import (
    TOKENS,
    TopicReader,
    WorkerProcess,
    await_until,
    event,
    http,
    produce_events,
)

WorkerFactory = Callable[..., WorkerProcess]


OPERATOR = {"Authorization": f"Bearer {TOKENS('operator')}"}
# The events of these tests are Lithuanian reports (reporter LT-VSAT, LT sections).
LT_REPORTER = TOKENS("reporter", "LT-VSAT")


def burst(section: str, count: int, start: datetime) -> list[dict[str, Any]]:
    return [event("crossing_attempt", section, start + timedelta(seconds=i)) for i in range(count)]


def states(reader: TopicReader, alert_id: str) -> list[tuple[str, int]]:
    return [(a["status"], a["version"]) for a in reader.json_values() if a["alert_id"] == alert_id]


def after(reader: TopicReader, positions: dict[int, int]) -> list[tuple[str, int]]:
    """(alert_id, version) of the messages at or beyond the positions, in partition order."""
    return [
        (json.loads(m.value)["alert_id"], json.loads(m.value)["version"])
        for m in sorted(reader.messages, key=lambda m: (m.partition, m.offset))
        if m.offset >= positions.get(m.partition, 0)
    ]


async def test_snapshot_changes_resume_without_loss_or_repeat_and_reset(
    worker_factory: WorkerFactory,
) -> None:
    worker = worker_factory(MARCHWARDEN_STREAM_HEARTBEAT_S="0.5")
    stream_url = worker.url + "/alerts/stream"
    # The stream's positions are those of the workers' topic of full alert states.
    topic = worker.topic("marchwarden.alerts-full")
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    async with TopicReader(worker.bootstrap, topic) as alerts:
        await produce_events(worker, burst("LT-BY-02", 25, t0))
        await alerts.wait_for(lambda _: states(alerts, "surge.LT-BY-02.1"), 20, "first surge")

        async with SseClient(stream_url, OPERATOR) as first:
            assert first.status == 200
            assert first.retry_ms == 2000 or first.retry_ms is None  # read before the snapshot
            snapshot = (await first.wait_for(lambda e: first.named("snapshot"), 10, "snapshot"))[0]
            assert first.events[0].event == "snapshot", "the snapshot comes first"
            assert [a["alert_id"] for a in snapshot.data["alerts"]] == ["surge.LT-BY-02.1"]
            assert sorted(parse_event_id(snapshot.id, topic)) == [0, 1, 2, 3]
            await first.wait_for(lambda e: first.named("heartbeat"), 10, "a heartbeat")

            await produce_events(worker, burst("LV-BY-02", 25, t0))
            live = await first.wait_for(
                lambda e: [x for x in first.named("alert") if x.data["section_id"] == "LV-BY-02"],
                20,
                "the second surge, live",
            )
            assert live[0].data["alert_id"] == "surge.LV-BY-02.1"
            seen = [(e.data["alert_id"], e.data["version"]) for e in first.named("alert")]
            position = parse_event_id(first.last_id() or "", topic)

        # While no one listens: the surge escalates to critical (55 attempts in the hour, over
        # 4x the section's floor of 12) and an operator acknowledges the first one.
        lv_seen = max(v for a, v in seen if a == "surge.LV-BY-02.1")
        await produce_events(worker, burst("LV-BY-02", 30, t0 + timedelta(minutes=5)))
        status, answer = worker.post("/alerts/surge.LT-BY-02.1/acknowledge", {"note": "on it"})
        assert status == 202, answer
        assert answer["command"]["operator_id"] and answer["command"]["note"] == "on it"

        def escalated_unseen(alert_id: str) -> bool:
            return any(
                a["status"] == "escalated" and a["level"] == "critical" and a["version"] > lv_seen
                for a in alerts.json_values()
                if a["alert_id"] == alert_id
            )

        await alerts.wait_for(
            lambda _: (
                escalated_unseen("surge.LV-BY-02.1")
                and "acknowledged" in {s for s, _ in states(alerts, "surge.LT-BY-02.1")}
            ),
            20,
            "escalation and acknowledgement on ops.alerts",
        )
        missed = after(alerts, position)
        assert missed and not set(missed) & set(seen)

        resume = {**OPERATOR, "Last-Event-ID": first.last_id() or ""}
        async with SseClient(stream_url, resume) as resumed:
            await resumed.wait_for(
                lambda e: len(resumed.named("alert")) >= len(missed), 20, "the missed changes"
            )
            assert not resumed.named("snapshot"), "a resumed stream sends no snapshot"
            got = [(e.data["alert_id"], e.data["version"]) for e in resumed.named("alert")]
            # Each partition in order; partitions may interleave across fetches.
            assert sorted(got) == sorted(missed)
            for alert_id in {a for a, _ in got}:
                versions = [v for a, v in got if a == alert_id]
                assert versions == sorted(versions), (alert_id, versions)
            await resumed.wait_for(lambda e: resumed.named("heartbeat"), 10, "a heartbeat")
            assert len(resumed.named("alert")) == len(missed), "nothing repeated"

        acknowledged = worker.get("/alerts")["open"]
        assert {a["alert_id"]: a["status"] for a in acknowledged}["surge.LT-BY-02.1"] == (
            "acknowledged"
        )

        for bad_id, reason in [
            ("not-a-position", "not JSON"),
            (encode_event_id(topic, {0: 10_000, 1: 0, 2: 0, 3: 0}), "beyond the end"),
        ]:
            async with SseClient(stream_url, {**OPERATOR, "Last-Event-ID": bad_id}) as reset:
                await reset.wait_for(lambda e: reset.named("snapshot"), 10, "snapshot after reset")
                assert [e.event for e in reset.events[:2]] == ["reset", "snapshot"]
                assert reason in reset.events[0].data["reason"]
                open_ids = {a["alert_id"] for a in reset.events[1].data["alerts"]}
                assert open_ids == {"surge.LT-BY-02.1", "surge.LV-BY-02.1"}


async def test_http_commands_answer_before_the_worker_applies_them(
    worker_factory: WorkerFactory,
) -> None:
    worker = worker_factory()
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    async with TopicReader(worker.bootstrap, worker.topic("ops.alerts")) as alerts:
        await produce_events(worker, burst("PL-BY-01", 25, t0))
        await alerts.wait_for(lambda _: states(alerts, "surge.PL-BY-01.1"), 20, "a surge")
        alert = "/alerts/surge.PL-BY-01.1"
        assert worker.post("/alerts/surge.PL-BY-01.9/acknowledge")[0] == 404
        assert worker.post(alert + "/explode")[0] == 404
        assert worker.post(alert + "/acknowledge", {"operator_id": "me"})[0] == 400
        assert worker.post(alert + "/acknowledge", {"note": "x" * 3000})[0] == 400
        # The board follows ops.alerts a moment behind the reader above: 404 until it has it.
        await await_until(
            lambda: worker.post(alert + "/acknowledge")[0] == 202, 10, "202 once the board has it"
        )
        await alerts.wait_for(
            lambda _: ("acknowledged", 2) in states(alerts, "surge.PL-BY-01.1"), 20, "ack"
        )
        await await_until(
            lambda: worker.post(alert + "/acknowledge")[0] == 409, 10, "409 once the board knows"
        )
        status, body = worker.post(alert + "/acknowledge")
        assert status == 409 and "already acknowledged" in body["error"]
        assert worker.post(alert + "/resolve", {"note": "handled"})[0] == 202
        await alerts.wait_for(
            lambda _: ("resolved", 3) in states(alerts, "surge.PL-BY-01.1"), 20, "resolved"
        )
        await await_until(
            lambda: worker.post(alert + "/resolve")[0] == 404, 10, "a resolved alert is not open"
        )


async def test_post_events_stores_valid_events_and_dead_letters_the_rest(
    worker_factory: WorkerFactory,
) -> None:
    worker = worker_factory(MARCHWARDEN_EVENTS_MAX_BATCH="5")
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    good = [event("turn_back", "LT-BY-01", t0), event("crossing_attempt", "LT-BY-01", t0)]
    bad = {"event_type": "crossing_attempt", "schema_version": 1, "section_id": "LT-BY-01"}
    async with TopicReader(worker.bootstrap, worker.topic("ops.deadletter")) as letters:
        status, answer = worker.post(
            "/events", [good[0], bad, good[1], "nonsense"], token=LT_REPORTER
        )
        assert status == 200, answer
        assert answer["errors"] is True
        assert [a["index"] for a in answer["accepted"]] == [0, 2]
        assert answer["accepted"][0]["topic"] == worker.topic("border.turnbacks")
        assert answer["accepted"][1]["topic"] == worker.topic("border.crossings")
        assert all(a["offset"] >= 0 for a in answer["accepted"])
        rejected = {r["index"]: r for r in answer["rejected"]}
        assert (rejected[1]["kind"], rejected[3]["kind"]) == ("invalid", "not_an_object")
        assert "event_id" in rejected[1]["reason"] and rejected[1]["dead_lettered"]
        await letters.wait_for(
            lambda _: len(letters.messages) >= 2, 20, "two dead letters from the HTTP door"
        )
        values = letters.json_values()
        assert len(values) == 2
        assert {v["topic"] for v in values} == {"http:/events"}
        assert {v["kind"] for v in values} == {"invalid", "not_an_object"}

    await await_until(
        lambda: (
            worker.get("/picture?section=LT-BY-01")["sections"]["LT-BY-01"]["counts"]["1h"][
                "turn_backs"
            ]
            == 1
        ),
        20,
        "the accepted turn-back in the picture",
    )
    picture = worker.get("/picture?section=LT-BY-01")["sections"]["LT-BY-01"]
    assert datetime.fromisoformat(picture["last_report_at"]) == t0
    await await_until(
        lambda: (
            worker.sql("SELECT count() FROM dead_letters WHERE topic = 'http:/events'") == [[2]]
        ),
        20,
        "the HTTP dead letters in history",
    )
    assert worker.post("/events", [good[0]] * 6, token=LT_REPORTER)[0] == 413
    assert worker.post("/events", {"events": good}, token=LT_REPORTER)[0] == 400
    status, answer = worker.post("/events", [good[0]], token=LT_REPORTER)
    assert status == 200 and answer["accepted"], "a retried event is accepted (deduplicated later)"


async def test_an_operator_silences_a_section_over_http_and_its_surge_stays_quiet(
    worker_factory: WorkerFactory,
) -> None:
    worker = worker_factory()
    silence = "/sections/LT-BY-03/silence"
    lv_operator = TOKENS("operator", "LV-VRS")
    refused = {
        "another country's operator": (silence, {"note": "x", "for_minutes": 5}, lv_operator),
        "no reason": (silence, {"for_minutes": 5}, None),
        "no expiry": (silence, {"note": "exercise"}, None),
        "two expiries": (
            silence,
            {"note": "x", "for_minutes": 5, "until": "2099-01-01T00:00:00Z"},
            None,
        ),
        "over the longest silence": (silence, {"note": "x", "for_minutes": 73 * 60}, None),
        "a negative duration": (silence, {"note": "x", "for_minutes": -5}, None),
        "a duration as text": (silence, {"note": "x", "for_minutes": "60"}, None),
        "an expiry in the past": (silence, {"note": "x", "until": "2020-01-01T00:00:00Z"}, None),
        "an expiry as a number": (silence, {"note": "x", "until": 4102444800}, None),
        "an unknown rule": (silence, {"note": "x", "for_minutes": 5, "rule": "all"}, None),
        "an unknown field": (silence, {"note": "x", "for_minutes": 5, "level": "low"}, None),
        "an unknown section": ("/sections/XX-YY-01/silence", {"note": "x"}, None),
        "an unknown command": ("/sections/LT-BY-03/mute", {"note": "x"}, None),
    }
    answers = {
        why: worker.post(path, body, token=token)[0] for why, (path, body, token) in refused.items()
    }
    answers["no token"] = http("POST", worker.url + silence, {"note": "x", "for_minutes": 5})[0]
    assert answers == {
        "another country's operator": 403,
        "no reason": 400,
        "no expiry": 400,
        "two expiries": 400,
        "over the longest silence": 400,
        "a negative duration": 400,
        "a duration as text": 400,
        "an expiry in the past": 400,
        "an expiry as a number": 400,
        "an unknown rule": 400,
        "an unknown field": 400,
        "an unknown section": 404,
        "an unknown command": 404,
        "no token": 401,
    }
    status, body = worker.post(
        silence, {"rule": "surge", "for_minutes": 120, "note": "announced exercise"}
    )
    assert status == 202, body
    assert body["command"]["operator_id"] and body["command"]["organisation"] == "EU-RCC"

    def silences() -> list[dict[str, Any]]:
        view = worker.get("/picture?section=LT-BY-03")["sections"]["LT-BY-03"]
        return list(view["silences"])

    await await_until(lambda: bool(silences()), 20, "the silence in the section's picture")
    (shown,) = silences()
    assert (shown["rule"], shown["reason"]) == ("surge", "announced exercise")

    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    async with TopicReader(worker.bootstrap, worker.topic("ops.alerts")) as alerts:
        await produce_events(worker, burst("LT-BY-03", 25, t0))
        await await_until(
            lambda: (
                worker.get("/picture?section=LT-BY-03")["sections"]["LT-BY-03"]["counts"]["24h"][
                    "attempt_persons"
                ]
                >= 25
            ),
            20,
            "the burst in the silenced section's picture",
        )
        # A later burst on a section that is not silenced: once its surge is out, every
        # alert of the earlier batches is out too.
        await produce_events(worker, burst("PL-BY-01", 25, t0))
        await alerts.wait_for(lambda _: states(alerts, "surge.PL-BY-01.1"), 20, "the other surge")
        assert not [a for a in alerts.json_values() if a["section_id"] == "LT-BY-03"]

    status, body = worker.post("/sections/LT-BY-03/unsilence", {"rule": "surge"})
    assert status == 202, body
    await await_until(lambda: not silences(), 20, "the silence lifted")
