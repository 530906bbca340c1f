"""Indicator state and the per-section threat level with its reasons."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from marchwarden.contracts.events import Indicator
from marchwarden.picture.indicators import (
    IndicatorState,
    apply_indicator,
    is_active,
    threat_level,
)
from tests.domain.factories import T0, event_doc


@pytest.fixture
def indicator_factory() -> Callable[..., Indicator]:
    def make(occurred_at=T0, section: str = "LT-RU-01", **fields: object) -> Indicator:
        fields.setdefault("indicator_id", "ind-1")
        return Indicator.model_validate(event_doc("indicator", section, occurred_at, **fields))

    return make


@pytest.fixture
def state_factory(indicator_factory) -> Callable[..., IndicatorState]:
    def make(**fields: object) -> IndicatorState:
        state = apply_indicator(None, indicator_factory(**fields))
        assert state is not None
        return state

    return make


def test_first_event_sets_the_state_with_all_its_sections(indicator_factory) -> None:
    event = indicator_factory(
        level="critical", extra_section_ids=["LT-RU-02", "PL-RU-02"], confidence=0.7
    )
    state = apply_indicator(None, event)
    assert state is not None
    assert state.sections == ("LT-RU-01", "LT-RU-02", "PL-RU-02")
    assert (state.level, state.state, state.confidence) == ("critical", "lit", 0.7)
    assert (state.updated_at, state.event_id) == (T0, event.event_id)


def test_an_older_update_is_ignored(indicator_factory, state_factory) -> None:
    current = state_factory(occurred_at=T0)
    stale = indicator_factory(occurred_at=T0 - timedelta(seconds=1), state="cleared")
    assert apply_indicator(current, stale) is None


@pytest.mark.parametrize("delay", [timedelta(0), timedelta(minutes=10)])
def test_a_same_time_or_newer_update_replaces_the_state(
    indicator_factory, state_factory, delay: timedelta
) -> None:
    current = state_factory(occurred_at=T0)
    newer = apply_indicator(current, indicator_factory(occurred_at=T0 + delay, state="cleared"))
    assert newer is not None and newer.state == "cleared"


def test_lit_indicator_without_valid_until_stays_active(state_factory) -> None:
    assert is_active(state_factory(), T0 + timedelta(days=365))


def test_indicator_is_active_until_valid_until(state_factory) -> None:
    until = T0 + timedelta(hours=2)
    state = state_factory(valid_until=until.isoformat())
    assert is_active(state, until - timedelta(seconds=1))
    assert not is_active(state, until)


@pytest.mark.parametrize("status", ["cleared", "expired"])
def test_cleared_or_expired_indicator_is_not_active(state_factory, status: str) -> None:
    state = state_factory()
    state.state = status
    assert not is_active(state, T0)


def test_nothing_lit_and_no_surge_is_low_with_a_reason() -> None:
    assert threat_level([], None, None) == ("low", ["no lit indicator and no surge"])


@pytest.mark.parametrize(
    ("level", "confidence", "expected"),
    [
        ("critical", 0.9, "critical"),
        ("critical", 0.49, "high"),
        ("high", 0.5, "high"),
        ("high", 0.2, "medium"),
        ("medium", 0.0, "low"),
        ("low", 0.1, "low"),
    ],
)
def test_low_confidence_counts_one_level_lower(
    state_factory, level: str, confidence: float, expected: str
) -> None:
    result, reasons = threat_level([state_factory(level=level, confidence=confidence)], None, None)
    assert result == expected
    assert reasons == [
        f"indicator ind-1 (military_movement) lit at {level}, confidence {confidence:.2f}"
    ]


def test_threat_level_is_the_highest_of_indicators_and_surge(state_factory) -> None:
    lit = [
        state_factory(indicator_id="b-medium", level="medium"),
        state_factory(indicator_id="a-doubtful", level="critical", confidence=0.3),
        state_factory(indicator_id="c-high", level="high", category="gnss_jamming"),
    ]
    level, reasons = threat_level(lit, "medium", "surge: 25 attempts")
    assert level == "high"
    # Reasons are listed highest level first, then by id; the surge reason comes last.
    assert [r.split(" (")[0] for r in reasons[:3]] == [
        "indicator a-doubtful",
        "indicator c-high",
        "indicator b-medium",
    ]
    assert reasons[3] == "surge: 25 attempts"


def test_surge_alone_sets_the_level_with_a_default_reason() -> None:
    assert threat_level([], "critical", None) == ("critical", ["surge at critical"])


def test_surge_above_the_indicators_wins(state_factory) -> None:
    level, _ = threat_level([state_factory(level="medium")], "high", "surge")
    assert level == "high"
