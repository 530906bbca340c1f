"""PictureEngine: the surge rule end to end, from raw records to alert states."""

from __future__ import annotations

import functools
from datetime import timedelta

import pytest

from tests.domain.factories import T0, event_doc

# Prior 0.2 reports a day: the baseline is tiny, so the 20-attempt floor is the threshold.
SECTION = "LT-BY-01"
OTHER = "PL-BY-02"
MIN = timedelta(minutes=1)


@pytest.fixture
def engine_factory(engine_factory, uniform_reference):
    """The settings' floors on every section: 20 attempts an hour is the threshold here."""
    return functools.partial(engine_factory, data=uniform_reference)


def test_twenty_attempts_in_an_hour_raise_a_medium_surge(harness) -> None:
    harness.attempts(SECTION, 19)
    assert harness.alerts() == []

    (last,) = harness.attempts(SECTION, 1, start=T0 + 10 * MIN)
    (alert,) = harness.alerts()

    assert alert.alert_id == f"surge.{SECTION}.1"
    assert (alert.rule, alert.level, alert.status, alert.version) == (
        "surge",
        "medium",
        "raised",
        1,
    )
    assert alert.section_id == SECTION
    assert alert.raised_at == T0 + 10 * MIN
    assert alert.evidence.attempts_last_hour == 20
    assert alert.evidence.threshold == 20.0
    assert alert.evidence.event_ids[-1] == last["event_id"]
    assert len(alert.evidence.event_ids) == 20


def test_attempts_on_different_sections_do_not_add_up(harness) -> None:
    harness.attempts(OTHER, 19)
    harness.attempts(SECTION, 19)
    assert harness.alerts() == []


def test_rising_count_escalates_the_same_alert_to_high_then_critical(harness) -> None:
    harness.attempts(SECTION, 20)
    (raised,) = harness.alerts()

    harness.attempts(SECTION, 20, start=T0 + 10 * MIN)
    (high,) = harness.alerts()

    harness.attempts(SECTION, 40, start=T0 + 20 * MIN)
    (critical,) = harness.alerts()

    assert raised.alert_id == high.alert_id == critical.alert_id
    assert [(a.level, a.status, a.version) for a in (raised, high, critical)] == [
        ("medium", "raised", 1),
        ("high", "escalated", 2),
        ("critical", "escalated", 3),
    ]
    assert critical.evidence.attempts_last_hour == 80
    assert critical.raised_at == raised.raised_at


def test_an_open_surge_is_never_raised_again(harness) -> None:
    harness.attempts(SECTION, 25)
    (raised,) = harness.alerts()

    for batch in range(3):
        harness.attempts(SECTION, 4, start=T0 + (10 + batch) * MIN)  # 37 in all: still medium
        assert harness.alerts() == []

    assert harness.engine.episodes == {("surge", SECTION): 1}
    assert harness.engine.open_alerts[("surge", SECTION)] == raised


def test_surge_resolves_an_hour_after_the_count_fell_below_on_the_wall_clock(harness) -> None:
    harness.attempts(SECTION, 20)  # T0 .. T0+6:20; the first 3 fall out of the window at T0+60
    (raised,) = harness.alerts()

    harness.advance((119 * MIN).total_seconds() - 380 + 59)  # watermark T0+119:59
    assert harness.alerts(everything=True) == []
    assert harness.engine.surge.below_since[SECTION] == (T0 + 60 * MIN).timestamp()

    harness.advance(1)  # watermark T0+120:00, one cool-down after the drop
    (resolved,) = harness.alerts(everything=True)
    assert resolved.alert_id == raised.alert_id
    assert (resolved.status, resolved.version) == ("resolved", 2)
    assert resolved.updated_at == T0 + 120 * MIN
    assert resolved.evidence.attempts_last_hour == 0
    assert harness.engine.open_alerts == {}
    assert SECTION not in harness.engine.surge.below_since


def test_surge_resolves_on_its_own_sections_event_time(engine_factory) -> None:
    harness = engine_factory(wall=T0 + timedelta(hours=3))  # wall clock never moves
    harness.attempts(SECTION, 20)  # minutes 0..6
    harness.alerts()

    outcome = []
    for minute in (59, 60, 100, 119, 120):
        harness.send(event_doc("crossing_attempt", SECTION, T0 + minute * MIN))
        outcome += [(minute, a.status) for a in harness.alerts(everything=True)]

    # Below the threshold from minute 60 (window [1, 61)); resolved one hour later.
    assert outcome == [(120, "resolved")]


def test_turn_backs_do_not_move_the_surge_clock(engine_factory) -> None:
    """The surge rule runs on the attempts' clock: another report kind may run ahead."""
    harness = engine_factory(wall=T0 + timedelta(hours=3))
    harness.attempts(SECTION, 20)
    harness.alerts()
    harness.send(event_doc("turn_back", SECTION, T0 + 150 * MIN))
    assert harness.alerts(everything=True) == []
    assert harness.engine.open_alerts


def test_other_sections_do_not_move_a_sections_event_time(engine_factory) -> None:
    """Per-section watermarks: a partition running ahead cannot age another's windows."""
    harness = engine_factory(wall=T0 + timedelta(hours=3))
    harness.attempts(SECTION, 20)
    harness.alerts()
    harness.send(event_doc("turn_back", OTHER, T0 + 150 * MIN))
    assert harness.alerts(everything=True) == []
    assert harness.engine.open_alerts


def test_cool_down_is_measured_from_the_drop_however_often_the_rule_runs(
    engine_factory,
) -> None:
    harness = engine_factory(wall=T0 + timedelta(hours=3))
    harness.attempts(SECTION, 20)
    harness.alerts()

    # The rule does not run between the surge and minute 121.
    harness.send(event_doc("crossing_attempt", SECTION, T0 + 121 * MIN))
    (resolved,) = harness.alerts(everything=True)
    assert resolved.status == "resolved"


def test_a_rise_during_the_cool_down_restarts_it(engine_factory) -> None:
    # The wall clock is past every report: none is refused as `future`.
    harness = engine_factory(wall=T0 + timedelta(hours=4))
    harness.attempts(SECTION, 20)  # minutes 0..6
    harness.alerts()

    harness.send(event_doc("crossing_attempt", SECTION, T0 + 70 * MIN))
    assert harness.alerts(everything=True) == []
    assert harness.engine.surge.below_since[SECTION] == (T0 + 60 * MIN).timestamp()

    harness.attempts(SECTION, 20, start=T0 + 100 * MIN)  # minutes 100..106, same level
    assert harness.alerts() == []
    assert SECTION not in harness.engine.surge.below_since

    # One hour after the first drop: it would have resolved without the rise.
    harness.send(event_doc("crossing_attempt", SECTION, T0 + 120 * MIN))
    assert harness.alerts(everything=True) == []

    # The second batch leaves the window at minute 160, so the cool-down ends at 220.
    harness.send(event_doc("crossing_attempt", SECTION, T0 + 166 * MIN))
    assert harness.alerts(everything=True) == []
    assert harness.engine.surge.below_since[SECTION] == (T0 + 160 * MIN).timestamp()
    harness.send(event_doc("crossing_attempt", SECTION, T0 + 219 * MIN))
    assert harness.alerts(everything=True) == []
    harness.send(event_doc("crossing_attempt", SECTION, T0 + 220 * MIN))
    (resolved,) = harness.alerts(everything=True)
    assert resolved.status == "resolved"


def test_a_new_surge_after_resolution_is_a_new_episode(harness) -> None:
    harness.attempts(SECTION, 20)
    (first,) = harness.alerts()
    harness.advance(2 * 3600)
    assert [a.status for a in harness.alerts(everything=True)] == ["resolved"]

    harness.attempts(SECTION, 20, start=T0 + timedelta(hours=2, minutes=10))
    (second,) = harness.alerts()

    assert first.alert_id == f"surge.{SECTION}.1"
    assert second.alert_id == f"surge.{SECTION}.2"
    assert (second.status, second.version, second.level) == ("raised", 1, "medium")


def test_operator_resolution_latches_the_rule_until_the_count_drops(engine_factory) -> None:
    harness = engine_factory(wall=T0 + timedelta(hours=2))
    harness.attempts(SECTION, 20)
    (raised,) = harness.alerts()
    harness.command(raised.alert_id, "resolve", issued_at=T0 + 5 * MIN)
    assert harness.engine.drain().alerts[0].status == "resolved"

    harness.attempts(SECTION, 10, start=T0 + 5 * MIN)  # 30 in the hour: still a surge
    assert harness.alerts() == []

    harness.send(event_doc("crossing_attempt", SECTION, T0 + 70 * MIN))  # hour window now quiet
    assert harness.alerts() == []

    harness.attempts(SECTION, 20, start=T0 + 75 * MIN)
    (again,) = harness.alerts()
    assert again.alert_id == f"surge.{SECTION}.2"
