"""PictureEngine: alerts follow event time only, whatever the batching, interleaving or wall clock."""

from __future__ import annotations

import functools
import json
from datetime import timedelta

import pytest

from marchwarden.engine.outputs import Record
from tests.domain.factories import T0, event_doc

HOUR = timedelta(hours=1)
MIN = timedelta(minutes=1)
DAY = timedelta(days=1)
REPLAY_WALL = T0 + 400 * DAY  # the events are history: replayed long after they happened
SECTION = "LV-BY-02"  # a small prior: the 20-attempt floor is the threshold (below)


@pytest.fixture
def engine_factory(engine_factory, uniform_reference):
    """The settings' floors on every section: 20 attempts an hour is the threshold here."""
    return functools.partial(engine_factory, data=uniform_reference)


def records(topic: str, partition: int, *docs: dict) -> list[Record]:
    return [
        Record(topic, partition, offset, d["section_id"].encode(), json.dumps(d).encode())
        for offset, d in enumerate(docs)
    ]


def lit(section: str, at, until, **fields) -> dict:
    return event_doc(
        "indicator",
        section,
        at,
        indicator_id="ind-kal",
        level="high",
        valid_until=until.isoformat(),
        **fields,
    )


def test_replayed_history_does_not_advance_with_the_wall_clock(engine_factory) -> None:
    harness = engine_factory(wall=REPLAY_WALL)
    harness.send(event_doc("turn_back", SECTION, T0))
    harness.advance(3 * 3600)
    assert harness.engine.watermark(SECTION) == T0.timestamp()


def test_live_data_advances_with_the_wall_clock(engine_factory) -> None:
    harness = engine_factory(wall=T0 + 5 * MIN)
    harness.send(event_doc("turn_back", SECTION, T0))
    harness.advance(3 * 3600)
    assert harness.engine.watermark(SECTION) == (T0 + 3 * HOUR).timestamp()


def test_a_batch_of_several_partitions_is_applied_in_event_time_order(engine_factory) -> None:
    """A partition's whole run must not pass before another partition's reports of that time."""
    harness = engine_factory(wall=REPLAY_WALL)
    crossings = records(
        "border.crossings",
        1,
        *(event_doc("crossing_attempt", SECTION, T0 + i * 6 * HOUR) for i in range(20)),
    )
    indicators = records(
        "intel.indicators",
        2,
        lit(SECTION, T0 + HOUR, T0 + 24 * HOUR),
        lit(SECTION, T0 + 2 * HOUR, T0 + 24 * HOUR, state="cleared"),
    )

    heads = harness.engine.ingest_partitions({("c", 1): crossings, ("i", 2): indicators})

    assert heads == {("c", 1): (T0 + 114 * HOUR).timestamp(), ("i", 2): (T0 + 2 * HOUR).timestamp()}
    alerts = harness.alerts()
    assert [(a.status, a.updated_at) for a in alerts] == [
        ("raised", T0 + HOUR),
        ("resolved", T0 + 2 * HOUR),
    ]


def test_a_clear_read_after_the_other_streams_passed_valid_until_still_wins(
    engine_factory,
) -> None:
    """The clear (its own stream, in order) may arrive a lateness behind the crossings."""
    harness = engine_factory(wall=REPLAY_WALL)
    harness.send(lit(SECTION, T0, T0 + 6 * HOUR))
    (raised,) = harness.alerts()
    harness.send(event_doc("crossing_attempt", SECTION, T0 + 20 * HOUR))
    harness.send(event_doc("turn_back", SECTION, T0 + 29 * HOUR))
    assert harness.alerts(everything=True) == []

    harness.send(lit(SECTION, T0 + 5 * HOUR, T0 + 6 * HOUR, state="cleared"))

    (resolved,) = harness.alerts()
    assert (resolved.alert_id, resolved.status) == (raised.alert_id, "resolved")
    assert resolved.updated_at == T0 + 5 * HOUR
    assert harness.engine.indicators["ind-kal"].state == "cleared"


def test_an_indicator_lapses_once_the_other_streams_are_a_lateness_past_it(
    engine_factory,
) -> None:
    harness = engine_factory(wall=REPLAY_WALL)
    harness.send(lit(SECTION, T0, T0 + 6 * HOUR))
    harness.alerts()
    harness.send(event_doc("turn_back", SECTION, T0 + 29 * HOUR + 59 * MIN))
    assert harness.alerts(everything=True) == []

    harness.send(event_doc("turn_back", SECTION, T0 + 30 * HOUR))

    (resolved,) = harness.alerts()
    assert resolved.status == "resolved"
    assert resolved.updated_at == T0 + 6 * HOUR  # when it lapsed, not when that was known
    assert harness.engine.indicators["ind-kal"].state == "expired"


def test_a_report_after_valid_until_resolves_the_lapsed_episode_before_its_own(
    engine_factory,
) -> None:
    harness = engine_factory(wall=REPLAY_WALL)
    harness.send(lit(SECTION, T0, T0 + 6 * HOUR))
    harness.alerts()

    harness.send(lit(SECTION, T0 + 8 * HOUR, T0 + 12 * HOUR))

    assert [(a.alert_id, a.status, a.updated_at) for a in harness.alerts()] == [
        (f"move_equipment_to_arteries.{SECTION}.1", "resolved", T0 + 6 * HOUR),
        (f"move_equipment_to_arteries.{SECTION}.2", "raised", T0 + 8 * HOUR),
    ]


def surge_then_quiet(section: str) -> list[dict]:
    burst = [
        event_doc("crossing_attempt", section, T0 + i * 20 * timedelta(seconds=1))
        for i in range(25)
    ]
    later = [
        event_doc("crossing_attempt", section, T0 + minutes * MIN)
        for minutes in (70, 95, 118, 125, 126, 200)
    ]
    return burst + later


def test_surge_resolution_and_its_evidence_do_not_depend_on_batching(engine_factory) -> None:
    docs = surge_then_quiet(SECTION)
    outcomes = []
    for batch in (1, 2, 3, 31):
        harness = engine_factory(wall=REPLAY_WALL)
        alerts = []
        for start in range(0, len(docs), batch):
            harness.send(*docs[start : start + batch])
            alerts += harness.alerts()
            harness.advance(7)
        outcomes.append([a.model_dump(mode="json") for a in alerts])

    assert all(outcome == outcomes[0] for outcome in outcomes[1:])
    resolved = outcomes[0][-1]
    # Below from minute 61 (the burst left the window [1, 61)); resolved an hour later, with
    # the attempts of that hour (minutes 70, 95 and 118), not those of the batch that saw it.
    assert (resolved["status"], resolved["updated_at"]) == ("resolved", "2024-07-01T14:01:00Z")
    assert resolved["evidence"]["attempts_last_hour"] == 3
    assert resolved["evidence"]["event_ids"][-1] == docs[27]["event_id"]


def test_pruning_keeps_the_hours_a_trailing_attempt_clock_still_needs(engine_factory) -> None:
    """The prune timer runs at any moment: it must not change a baseline still to be used."""
    harness = engine_factory(wall=REPLAY_WALL)
    oldest_needed = T0 - 28 * DAY + 30 * MIN  # the first hour of the 28 days before T0's hour
    harness.send(event_doc("crossing_attempt", SECTION, oldest_needed))
    harness.send(event_doc("crossing_attempt", SECTION, T0 + 10 * MIN))
    harness.send(event_doc("turn_back", SECTION, T0 + 20 * HOUR))  # the section's clock runs on
    engine = harness.engine
    before = engine.surge.baselines(SECTION, (T0 + 10 * MIN).timestamp())[0]

    engine.prune()
    engine.surge.forget_baselines()

    assert engine.surge.baselines(SECTION, (T0 + 10 * MIN).timestamp())[0] == before
