"""PictureEngine ingest: validation, dead letters, deduplication, event time and lateness."""

from __future__ import annotations

import base64
import functools
import json
from datetime import timedelta

import pytest

from marchwarden.history.rows import EVENT_COLUMNS, event_row
from tests.domain.factories import LATE, T0, encode, event_doc

SECTION = "LV-BY-02"
MIN = timedelta(minutes=1)


@pytest.fixture
def engine_factory(engine_factory, uniform_reference):
    """The settings' floors on every section: 20 attempts an hour is the threshold here."""
    return functools.partial(engine_factory, data=uniform_reference)


HOUR = timedelta(hours=1)


def attempt(at=T0, **fields):
    return event_doc("crossing_attempt", SECTION, at, **fields)


def counts(harness, window: str) -> dict[str, int]:
    return harness.section_picture(SECTION)["counts"][window]


def test_accepted_event_becomes_one_history_row_with_its_columns(harness) -> None:
    doc = attempt(persons=7, outcome="detained", source="thermal")
    harness.send(doc)

    (row,) = map(event_row, harness.engine.drain().events)
    values = dict(zip(EVENT_COLUMNS, row, strict=True))

    assert values["event_id"] == doc["event_id"]
    assert (values["event_type"], values["schema_version"]) == ("crossing_attempt", 1)
    assert values["occurred_at"] == T0
    assert (values["section_id"], values["country"], values["reporter"]) == (
        SECTION,
        "LV",
        "LV-VRS",
    )
    assert (values["persons"], values["outcome"], values["late"]) == (7, "detained", 0)
    assert (values["indicator_id"], values["level"], values["state"]) == ("", "", "")
    assert json.loads(values["payload"]) == doc
    assert (values["topic"], values["partition"], values["offset"]) == ("border.crossings", 0, 0)
    assert values["ingested_at"].timestamp() == harness.clock[0]


def test_indicator_history_row_carries_its_id_level_and_state(harness) -> None:
    doc = harness.indicator(SECTION, T0, indicator_id="ind-9", level="critical", state="lit")
    (row,) = map(event_row, harness.engine.drain().events)
    values = dict(zip(EVENT_COLUMNS, row, strict=True))
    assert (values["indicator_id"], values["level"], values["state"]) == (
        "ind-9",
        "critical",
        "lit",
    )
    assert (values["topic"], values["persons"], values["event_id"]) == (
        "intel.indicators",
        0,
        doc["event_id"],
    )


def test_duplicate_event_ids_give_one_row_and_one_count(harness) -> None:
    doc = attempt(persons=3)
    harness.send(doc, doc)  # same batch
    harness.send(doc)  # later batch
    harness.send({**doc, "event_id": doc["event_id"].upper(), "persons": 9})  # same id, other case

    assert len(harness.engine.drain().events) == 1
    assert counts(harness, "1h")["attempts"] == 1
    assert counts(harness, "1h")["attempt_persons"] == 3
    stats = harness.engine.picture([SECTION])["stats"]
    assert (stats["accepted"], stats["duplicates"]) == (1, 3)


def test_replayed_surge_does_not_raise_a_second_alert(harness) -> None:
    docs = harness.attempts("LT-BY-01", 20)
    (raised,) = harness.alerts()

    harness.send(*docs)
    out = harness.step()

    assert out.alerts == [] and out.events == []
    assert harness.engine.open_alerts[("surge", "LT-BY-01")] == raised
    assert harness.engine.surge.state("LT-BY-01", harness.engine.watermark())[0] == 20


def test_out_of_order_events_inside_the_lateness_update_the_right_windows(harness) -> None:
    harness.send(attempt(T0 + 30 * MIN))
    harness.send(attempt(T0 + 5 * MIN))  # 25 minutes behind: last hour
    harness.send(attempt(T0 - 3 * HOUR))  # last 24 h, not the last hour
    harness.send(attempt(T0 - 23 * HOUR))
    harness.send(event_doc("turn_back", SECTION, T0 - 2 * HOUR))

    assert harness.engine.watermark() == (T0 + 30 * MIN).timestamp()
    assert counts(harness, "1h")["attempts"] == 2
    assert counts(harness, "24h")["attempts"] == 4
    assert counts(harness, "24h")["turn_backs"] == 1
    t0_hour = int(T0.timestamp()) // 3600
    assert harness.engine.counters[SECTION].hourly_attempts == {
        t0_hour: 2,
        t0_hour - 3: 1,
        t0_hour - 23: 1,
    }
    assert [row[LATE] for row in map(event_row, harness.engine.drain().events)] == [0] * 5


def test_event_older_than_the_lateness_goes_to_history_flagged_late_and_is_not_counted(
    harness,
) -> None:
    watermark = T0 + 30 * MIN
    harness.send(attempt(watermark))
    on_time = harness.send(attempt(watermark - 24 * HOUR))[0]  # exactly at the limit
    late = harness.send(attempt(watermark - 24 * HOUR - timedelta(seconds=1)))[0]

    rows = {row[0]: row for row in map(event_row, harness.engine.drain().events)}
    assert rows[on_time["event_id"]][LATE] == 0
    assert rows[late["event_id"]][LATE] == 1
    assert EVENT_COLUMNS[LATE] == "late" and LATE == 12
    assert counts(harness, "7d")["attempts"] == 2
    assert harness.engine.picture([SECTION])["stats"]["late"] == 1


def test_late_indicator_does_not_change_the_indicator_state(harness) -> None:
    harness.indicator(SECTION, T0, indicator_id="ind-now", level="low")
    harness.indicator(SECTION, T0 - 25 * HOUR, indicator_id="ind-old", level="critical")
    assert "ind-old" not in harness.engine.indicators
    assert harness.alerts() == []


def test_event_ahead_of_the_wall_clock_beyond_the_skew_is_dead_lettered_as_future(harness) -> None:
    wall = T0 + HOUR  # the harness's wall clock
    harness.send(attempt(wall + 2 * MIN))  # exactly the allowed skew ahead: accepted
    future = harness.send(attempt(wall + 2 * MIN + timedelta(seconds=1)))[0]

    out = harness.engine.drain()
    assert len(out.events) == 1
    (letter,) = out.dead_letters
    assert letter.kind == "future"
    assert "ahead of the wall clock" in letter.reason
    assert json.loads(base64.b64decode(letter.value_b64)) == future

    # Not remembered as seen: once the clock has caught up it is accepted.
    harness.advance(60)
    harness.send(future)
    assert len(harness.engine.drain().events) == 1


def test_no_report_moves_a_section_clock_past_real_time(harness) -> None:
    wall = T0 + HOUR
    harness.send(attempt(wall + 90 * timedelta(seconds=1)))
    assert harness.engine.watermark(SECTION) == wall.timestamp()
    assert harness.engine.surge_clock(SECTION) == wall.timestamp()
    harness.advance(60)
    assert harness.engine.watermark(SECTION) == wall.timestamp() + 60


def test_a_report_an_hour_ahead_does_not_hide_the_real_last_hour(harness) -> None:
    wall = T0 + HOUR
    harness.send(attempt(wall + 59 * MIN))  # refused: far beyond the skew
    harness.attempts(SECTION, 25, start=wall - 30 * MIN, step_s=60)
    (alert,) = harness.alerts()
    assert alert.rule == "surge"
    assert harness.section_picture(SECTION)["counts"]["1h"]["attempts"] == 25


def test_a_section_without_reports_keeps_real_time(harness) -> None:
    harness.send(attempt(T0 - 30 * HOUR))  # a replayed day on one section
    assert harness.engine.watermark(SECTION) == (T0 - 30 * HOUR).timestamp()
    assert harness.engine.watermark("EE-RU-02") == (T0 + HOUR).timestamp(), (
        "another section's clock never leaks into one that has no reports"
    )


def test_a_skew_setting_moves_the_bound(engine_factory) -> None:
    harness = engine_factory()
    harness.engine.future_skew_s = 600
    harness.send(attempt(T0 + HOUR + 9 * MIN))
    assert harness.engine.drain().dead_letters == []


def _with(**changes) -> bytes:
    return encode({**attempt(), **changes})


def _without(field: str) -> bytes:
    doc = attempt()
    del doc[field]
    return encode(doc)


BAD_INPUT = {
    "empty bytes": (b"", "empty"),
    "no value (tombstone)": (None, "empty"),
    "not JSON": (b'{"event_id": ', "not_json"),
    "not UTF-8": (b"\xff\xfe\x00garbage", "not_json"),
    "a JSON array": (b"[1, 2, 3]", "not_an_object"),
    "unknown event type": (_with(event_type="balloon_sighting"), "unknown_event_type"),
    "no event type": (_without("event_type"), "unknown_event_type"),
    "newer schema version": (_with(schema_version=2), "unsupported_schema_version"),
    "persons as a string": (_with(persons="3"), "invalid"),
    "zero persons": (_with(persons=0), "invalid"),
    "unknown outcome": (_with(outcome="vanished"), "invalid"),
    "unknown section": (_with(section_id="LV-BY-99"), "invalid"),
    "malformed section": (_with(section_id="latvia"), "invalid"),
    "time without offset": (_with(occurred_at="2024-07-01T12:00:00"), "invalid"),
    "not a UUID": (_with(event_id="42"), "invalid"),
    "unexpected field": (_with(colour="red"), "invalid"),
    "missing field": (_without("reporter"), "invalid"),
    "over 64 KiB": (encode(attempt()) + b" " * (64 * 1024), "too_large"),
}


@pytest.mark.parametrize(("value", "kind"), BAD_INPUT.values(), ids=BAD_INPUT.keys())
def test_bad_input_is_dead_lettered_with_its_kind_and_original_bytes(
    harness, value: bytes | None, kind: str
) -> None:
    (record,) = harness.send_raw(value, topic="border.crossings")

    out = harness.engine.drain()
    assert out.events == []
    (letter,) = out.dead_letters
    assert letter.kind == kind
    assert letter.reason
    if kind == "too_large":
        assert letter.value_truncated and (value or b"").startswith(
            base64.b64decode(letter.value_b64)
        )
    else:
        assert base64.b64decode(letter.value_b64) == (value or b"")
    assert letter.value_size == len(value or b"")
    assert (letter.topic, letter.partition, letter.offset) == ("border.crossings", 0, record.offset)
    assert base64.b64decode(letter.key_b64 or "") == record.key
    assert letter.received_at.timestamp() == harness.clock[0]
    assert harness.engine.picture([SECTION])["stats"]["rejected"] == 1


def test_wrong_type_reason_names_the_field(harness) -> None:
    harness.send_raw(_with(persons="3"))
    (letter,) = harness.engine.drain().dead_letters
    assert "persons" in letter.reason


def test_bad_records_do_not_stop_the_rest_of_the_batch(harness) -> None:
    good = [attempt(T0 + i * MIN) for i in range(3)]
    harness.send_raw(encode(good[0]), b"garbage", encode(good[1]), b"", encode(good[2]))

    out = harness.engine.drain()
    assert [row[0] for row in map(event_row, out.events)] == [d["event_id"] for d in good]
    assert [d.kind for d in out.dead_letters] == ["not_json", "empty"]
    assert counts(harness, "1h")["attempts"] == 3


def test_lateness_is_judged_per_stream(harness) -> None:
    """Crossings running ahead do not make the section's turn-back reports late."""
    harness.send(attempt(T0))
    harness.send(event_doc("turn_back", SECTION, T0 - 30 * HOUR))  # the turn-back stream's first
    assert harness.engine.late == 0
    harness.send(event_doc("turn_back", SECTION, T0 - 56 * HOUR))  # 26 h behind its stream
    assert harness.engine.late == 1


def test_a_record_the_engine_fails_on_is_dead_lettered_and_the_batch_goes_on(
    harness, monkeypatch
) -> None:
    def broken(event) -> None:
        raise RuntimeError("a bug in the indicator path")

    monkeypatch.setattr(harness.engine, "_apply_indicator", broken)
    good = attempt(T0 + MIN)
    harness.send(event_doc("indicator", SECTION, T0), good)
    out = harness.engine.drain()
    (letter,) = out.dead_letters
    assert letter.kind == "unprocessable" and "a bug in the indicator path" in letter.reason
    assert [row[0] for row in map(event_row, out.events)] == [good["event_id"]]


def test_a_command_the_engine_fails_on_is_dead_lettered(harness, monkeypatch) -> None:
    def broken(command) -> None:
        raise RuntimeError("a bug in the command path")

    monkeypatch.setattr(harness.engine, "apply_command", broken)
    harness.command("surge.LV-BY-02.1")
    (letter,) = harness.engine.drain().dead_letters
    assert letter.kind == "unprocessable" and "a bug in the command path" in letter.reason
