"""PictureEngine: the move_equipment_to_arteries rule, driven by intelligence indicators."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

import pytest

from marchwarden.alerts.equipment import counts_of
from marchwarden.contracts.alerts import AlertState
from tests.domain.factories import T0

SECTION = "LT-BY-03"  # served by LT-A3 and LT-R-SVENCIONYS
NEIGHBOUR = "LT-BY-04"  # shares LT-R-SVENCIONYS and its parks
MIN = timedelta(minutes=1)
ZERO = (0, 0, 0, 0)


def reserved_of(harness) -> dict[str, tuple[int, ...]]:
    return {p: a for p, a in harness.engine.ledger.reserved.items() if a != ZERO}


def draws_of(*alerts: AlertState) -> dict[str, tuple[int, ...]]:
    totals: dict[str, tuple[int, ...]] = defaultdict(lambda: ZERO)
    for alert in alerts:
        assert alert.recommendation is not None
        for plan in alert.recommendation.arteries:
            for draw in plan.draws:
                amount = counts_of(draw.equipment)
                totals[draw.park_id] = tuple(
                    a + b for a, b in zip(totals[draw.park_id], amount, strict=True)
                )
    return dict(totals)


@pytest.mark.parametrize("level", ["low", "medium"])
def test_indicator_below_high_raises_nothing(harness, level: str) -> None:
    harness.indicator(SECTION, T0, level=level, confidence=1.0)
    assert harness.alerts() == []
    assert reserved_of(harness) == {}


def test_high_indicator_raises_a_plan_for_the_arteries_serving_the_section(
    harness, reference
) -> None:
    doc = harness.indicator(SECTION, T0, level="high", indicator_id="ind-armour")

    (alert,) = harness.alerts()

    assert alert.alert_id == f"move_equipment_to_arteries.{SECTION}.1"
    assert (alert.rule, alert.level, alert.status, alert.version) == (
        "move_equipment_to_arteries",
        "high",
        "raised",
        1,
    )
    assert alert.evidence.indicator_ids == ["ind-armour"]
    assert alert.evidence.event_ids == [doc["event_id"]]
    assert alert.recommendation is not None
    assert [p.artery_id for p in alert.recommendation.arteries] == [
        a.id for a in reference.arteries_serving(SECTION)
    ]
    assert reserved_of(harness) == draws_of(alert)


def test_same_indicator_going_critical_escalates_and_replans(harness, reference) -> None:
    harness.indicator(SECTION, T0, level="high", indicator_id="ind-armour")
    (raised,) = harness.alerts()

    harness.indicator(SECTION, T0 + 5 * MIN, level="critical", indicator_id="ind-armour")
    (escalated,) = harness.alerts()

    assert escalated.alert_id == raised.alert_id
    assert (escalated.level, escalated.status, escalated.version) == ("critical", "escalated", 2)
    assert escalated.recommendation is not None
    for plan in escalated.recommendation.arteries:
        requirement = reference.artery(plan.artery_id).blocking_requirement.as_tuple()
        assert counts_of(plan.required) == tuple(2 * n for n in requirement)
    # The escalation replaced the first plan's holding rather than adding to it.
    assert reserved_of(harness) == draws_of(escalated)


def test_same_level_update_changes_nothing(harness) -> None:
    harness.indicator(SECTION, T0, level="high", indicator_id="ind-armour")
    harness.alerts()
    harness.indicator(SECTION, T0 + MIN, level="high", indicator_id="ind-armour")
    assert harness.alerts() == []


def test_a_lower_update_de_escalates_and_gives_stock_back(harness, reference) -> None:
    harness.indicator(SECTION, T0, level="critical", indicator_id="ind-armour")
    (raised,) = harness.alerts()
    harness.indicator(SECTION, T0 + MIN, level="high", indicator_id="ind-armour")
    (lowered,) = harness.alerts()

    assert lowered.alert_id == raised.alert_id
    assert (lowered.level, lowered.status, lowered.version) == ("high", "raised", 2)
    assert lowered.recommendation is not None
    assert lowered.recommendation.plan_version == 2
    assert lowered.recommendation.changes[0] == "level down from critical to high"
    for plan in lowered.recommendation.arteries:
        requirement = reference.artery(plan.artery_id).blocking_requirement.as_tuple()
        assert counts_of(plan.required) == requirement
    assert reserved_of(harness) == draws_of(lowered)


def test_a_second_indicator_adding_a_section_replans(harness, reference) -> None:
    harness.indicator(SECTION, T0, level="high", indicator_id="ind-armour")
    (raised,) = harness.alerts()
    harness.indicator(
        SECTION, T0 + MIN, level="high", indicator_id="ind-bridge", extra_section_ids=[NEIGHBOUR]
    )
    (replanned,) = harness.alerts()

    assert replanned.alert_id == raised.alert_id and replanned.version == 2
    assert replanned.evidence.indicator_ids == ["ind-armour", "ind-bridge"]
    assert replanned.evidence.sections == [SECTION, NEIGHBOUR]
    changes = replanned.recommendation.changes  # type: ignore[union-attr]
    assert changes[:2] == [f"now also covers {NEIGHBOUR}", "indicator ind-bridge lit"]
    expected = sorted({a.id for s in (SECTION, NEIGHBOUR) for a in reference.arteries_serving(s)})
    assert [p.artery_id for p in replanned.recommendation.arteries] == expected  # type: ignore[union-attr]


def test_cleared_indicator_resolves_the_alert_and_returns_the_stock(harness) -> None:
    harness.indicator(SECTION, T0, level="high", indicator_id="ind-armour")
    (raised,) = harness.alerts()
    assert reserved_of(harness)

    harness.indicator(SECTION, T0 + 10 * MIN, indicator_id="ind-armour", state="cleared")
    (resolved,) = harness.alerts()

    assert resolved.alert_id == raised.alert_id
    assert (resolved.status, resolved.version) == ("resolved", 2)
    assert resolved.evidence.indicator_ids == []
    assert reserved_of(harness) == {}
    assert harness.engine.ledger.claimed_by(raised.alert_id) == []


def test_a_stale_clear_does_not_resolve(harness) -> None:
    harness.indicator(SECTION, T0, level="high", indicator_id="ind-armour")
    harness.alerts()
    harness.indicator(SECTION, T0 - MIN, indicator_id="ind-armour", state="cleared")
    assert harness.alerts() == []
    assert ("move_equipment_to_arteries", SECTION) in harness.engine.open_alerts


def test_alert_resolves_when_the_indicator_expires(harness) -> None:
    until = T0 + 30 * MIN
    harness.indicator(
        SECTION, T0, level="high", indicator_id="ind-armour", valid_until=until.isoformat()
    )
    harness.alerts()

    harness.advance((29 * MIN).total_seconds())
    assert harness.alerts(everything=True) == []

    harness.advance(60)
    (resolved,) = harness.alerts(everything=True)

    assert resolved.status == "resolved"
    assert harness.engine.indicators["ind-armour"].state == "expired"
    assert reserved_of(harness) == {}
    assert harness.section_picture(SECTION)["indicators"] == []


def test_indicator_lit_again_after_resolution_opens_a_new_episode(harness) -> None:
    harness.indicator(SECTION, T0, level="high", indicator_id="ind-armour")
    harness.alerts()
    harness.indicator(SECTION, T0 + MIN, indicator_id="ind-armour", state="cleared")
    assert [a.status for a in harness.alerts()] == ["resolved"]
    harness.indicator(SECTION, T0 + 2 * MIN, level="high", indicator_id="ind-armour")
    (again,) = harness.alerts()
    assert again.alert_id == f"move_equipment_to_arteries.{SECTION}.2"
    assert again.status == "raised"


def test_alerts_on_sections_sharing_parks_never_overdraw_the_stock(harness, reference) -> None:
    for i, section in enumerate((SECTION, NEIGHBOUR, "LT-BY-02", "LT-BY-01")):
        harness.indicator(section, T0 + i * MIN, level="critical")
    latest: dict[str, AlertState] = {}
    for alert in harness.alerts():
        latest[alert.alert_id] = alert
    alerts = list(latest.values())

    assert sorted(a.section_id for a in alerts) == ["LT-BY-01", "LT-BY-02", SECTION, NEIGHBOUR]
    # One plan per artery: a shared artery appears in several alerts but is held once.
    plans = {p.artery_id: p for a in alerts for p in a.recommendation.arteries}  # type: ignore[union-attr]
    held: dict[str, tuple[int, ...]] = defaultdict(lambda: ZERO)
    for plan in plans.values():
        for draw in plan.draws:
            held[draw.park_id] = tuple(
                a + b for a, b in zip(held[draw.park_id], counts_of(draw.equipment), strict=True)
            )
    assert reserved_of(harness) == dict(held)
    shared = plans["LT-R-SVENCIONYS"]
    assert shared.needed_by == [
        f"move_equipment_to_arteries.{SECTION}.1",
        f"move_equipment_to_arteries.{NEIGHBOUR}.1",
    ]
    for park_id, reserved in harness.engine.ledger.reserved.items():
        stock = reference.park(park_id).stock.as_tuple()
        assert all(r <= s for r, s in zip(reserved, stock, strict=True)), park_id


def test_operator_resolution_keeps_the_stock_and_a_worse_threat_re_arms(harness) -> None:
    harness.indicator(SECTION, T0, level="high", indicator_id="ind-armour")
    (raised,) = harness.alerts()
    held = reserved_of(harness)

    harness.command(raised.alert_id, "resolve", issued_at=T0 + MIN)
    (resolved,) = harness.engine.drain().alerts
    assert resolved.status == "resolved" and not resolved.changed_by.startswith("rule:")
    # The indicator is still lit: what was promised to it stays promised.
    assert reserved_of(harness) == held

    # Same level: quiet (the operator saw it); worse: a new alert that points back.
    harness.indicator(SECTION, T0 + 2 * MIN, level="high", indicator_id="ind-armour")
    assert harness.alerts() == []
    harness.indicator(SECTION, T0 + 3 * MIN, level="critical", indicator_id="ind-armour")
    out = harness.alerts()
    handed_over, again = out
    assert (handed_over.alert_id, handed_over.status) == (raised.alert_id, "resolved")
    assert handed_over.recommendation.changes == [  # type: ignore[union-attr]
        f"equipment handed over to move_equipment_to_arteries.{SECTION}.2"
    ]
    assert again.alert_id == f"move_equipment_to_arteries.{SECTION}.2"
    assert (again.level, again.status) == ("critical", "raised")
    assert again.evidence.previous_alert_id == raised.alert_id
    assert again.evidence.previous_alert_level == "high"
    assert any("re-armed: worsened to critical" in e for e in again.evidence.explanation)
    assert reserved_of(harness) == draws_of(again)


def test_an_indicator_expires_on_its_own_sections_clock(engine_factory) -> None:
    """A section far ahead in event time must not expire another section's indicator."""
    from datetime import timedelta

    from tests.domain.factories import T0, event_doc

    harness = engine_factory(wall=T0 + timedelta(days=4))
    harness.send(
        event_doc(
            "indicator",
            "LT-RU-01",
            T0,
            indicator_id="kal",
            level="high",
            valid_until=(T0 + timedelta(hours=6)).isoformat(),
        )
    )
    (raised,) = harness.alerts()
    harness.send(event_doc("turn_back", "PL-BY-02", T0 + timedelta(days=3)))
    assert harness.engine.watermark("PL-BY-02") >= (T0 + timedelta(days=3)).timestamp()
    harness.engine.evaluate(everything=True)
    assert [a for a in harness.engine.drain().alerts if a.section_id == "LT-RU-01"] == []
    assert harness.engine.indicators["kal"].state == "lit"
    assert raised.status == "raised"


def test_the_alert_carries_each_indicators_marking_and_originator(harness) -> None:
    harness.indicator(
        SECTION, T0, level="high", indicator_id="ind-red", tlp="red", reporter="LT-VSAT"
    )
    harness.indicator(
        SECTION,
        T0 + MIN,
        level="critical",
        indicator_id="ind-amber",
        tlp="amber",
        reporter="LV-VRS",
        share_with=["EU-RCC"],
    )
    alerts = harness.alerts()
    latest = alerts[-1]
    sources = {s.indicator_id: (s.tlp, s.originator, s.share_with) for s in latest.evidence.sources}
    assert sources == {
        "ind-red": ("red", "LT-VSAT", []),
        "ind-amber": ("amber", "LV-VRS", ["EU-RCC"]),
    }
    assert latest.tlp == "red"


def test_an_automatic_resolve_is_the_rules_not_the_acknowledgers(harness) -> None:
    harness.indicator(SECTION, T0, level="high", indicator_id="ind-armour")
    (raised,) = harness.alerts()
    harness.command(raised.alert_id, "acknowledge", operator_id="op-7", organisation="LT-VSAT")
    harness.indicator(SECTION, T0 + 10 * MIN, indicator_id="ind-armour", state="cleared")
    *_, resolved = harness.alerts()
    assert resolved.status == "resolved"
    assert (resolved.changed_by, resolved.changed_by_org, resolved.command_id) == (
        "rule:move_equipment_to_arteries",
        None,
        None,
    )
    assert resolved.previous_status == "acknowledged"
    assert resolved.reason == "rule condition cleared"
