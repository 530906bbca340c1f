"""Counter-mobility allocation against the shipped reference data, with a shared stock ledger."""

from __future__ import annotations

from collections import defaultdict

import pytest

from marchwarden.alerts.equipment import StockLedger, allocate, counts_of
from marchwarden.contracts.alerts import Recommendation
from marchwarden.reference import load_reference
from marchwarden.reference.models import ReferenceData
from marchwarden.settings import RuleSettings

RULES = RuleSettings()
ZERO = (0, 0, 0, 0)
ALL_SECTIONS = load_reference().section_ids
# Lithuanian sections toward Belarus: LT-R-SVENCIONYS serves both LT-BY-03 and LT-BY-04,
# and every LT artery draws on the same pool of LT parks.
SHARING_SECTIONS = ("LT-BY-02", "LT-BY-03", "LT-BY-04")


def add(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(x + y for x, y in zip(a, b, strict=True))


def draws_per_park(recommendations: list[Recommendation]) -> dict[str, tuple[int, ...]]:
    totals: dict[str, tuple[int, ...]] = defaultdict(lambda: ZERO)
    for rec in recommendations:
        for plan in rec.arteries:
            for draw in plan.draws:
                totals[draw.park_id] = add(totals[draw.park_id], counts_of(draw.equipment))
    return dict(totals)


def non_zero(reserved: dict[str, tuple[int, ...]]) -> dict[str, tuple[int, ...]]:
    return {park: amount for park, amount in reserved.items() if amount != ZERO}


@pytest.fixture
def ledger(reference: ReferenceData) -> StockLedger:
    return StockLedger(reference)


@pytest.mark.parametrize("section", ALL_SECTIONS)
def test_plan_names_exactly_the_arteries_serving_the_section(
    ledger: StockLedger, reference: ReferenceData, section: str
) -> None:
    rec = allocate(ledger, f"a.{section}.1", section, "high", RULES)
    expected = [a.id for a in reference.arteries_serving(section)]
    assert [p.artery_id for p in rec.arteries] == expected
    assert rec.summary.startswith(f"Block {len(expected)} arteries toward {section}")
    assert rec.road_speed_kmh == RULES.road_speed_kmh


@pytest.mark.parametrize("section", ALL_SECTIONS)
@pytest.mark.parametrize("level", ["high", "critical"])
def test_each_artery_draws_from_its_own_country_nearest_first_within_stock(
    ledger: StockLedger, reference: ReferenceData, section: str, level: str
) -> None:
    rec = allocate(ledger, f"a.{section}.1", section, level, RULES)
    for plan in rec.arteries:
        artery = reference.artery(plan.artery_id)
        distances = [d.distance_km for d in plan.draws]
        assert distances == sorted(distances), plan.artery_id
        for draw in plan.draws:
            park = reference.park(draw.park_id)
            assert park.country == artery.country
            drawn = counts_of(draw.equipment)
            assert all(0 <= n <= s for n, s in zip(drawn, park.stock.as_tuple(), strict=True))
            assert drawn != ZERO


@pytest.mark.parametrize("section", ALL_SECTIONS)
@pytest.mark.parametrize(("level", "factor"), [("high", 1), ("critical", 2)])
def test_drawn_plus_shortfall_is_the_requirement_doubled_at_critical(
    ledger: StockLedger, reference: ReferenceData, section: str, level: str, factor: int
) -> None:
    rec = allocate(ledger, f"a.{section}.1", section, level, RULES)
    for plan in rec.arteries:
        requirement = reference.artery(plan.artery_id).blocking_requirement.as_tuple()
        required = counts_of(plan.required)
        assert required == tuple(n * factor for n in requirement)
        drawn = ZERO
        for draw in plan.draws:
            drawn = add(drawn, counts_of(draw.equipment))
        assert add(drawn, counts_of(plan.shortfall)) == required


def test_critical_multiple_comes_from_the_settings(ledger: StockLedger) -> None:
    rules = RuleSettings(critical_requirement_multiple=1.5)
    rec = allocate(ledger, "a.LT-BY-01.1", "LT-BY-01", "critical", rules)
    # LT-A4 needs (160, 60, 16, 6) to block; x1.5 rounded up.
    assert counts_of(rec.arteries[0].required) == (240, 90, 24, 9)


def test_fresh_stock_covers_one_section_without_shortfall(ledger: StockLedger) -> None:
    rec = allocate(ledger, "a.LT-BY-01.1", "LT-BY-01", "high", RULES)
    (plan,) = rec.arteries
    assert counts_of(plan.shortfall) == ZERO
    assert "stock short" not in rec.summary
    # Druskininkai (10 km by road from the A4 crossing) has only 5 roadblocks, so the next
    # park to arrive tops up: Lazdijai, across country, before Varena, 60 km up the A4.
    assert [d.park_id for d in plan.draws] == ["LT-P-DRUSKININKAI", "LT-P-LAZDIJAI"]


@pytest.mark.parametrize("section", ["LT-BY-01", "LV-BY-01", "EE-RU-02", "PL-BY-03"])
def test_travel_time_is_loading_plus_road_distance_to_the_blocking_point(
    ledger: StockLedger, reference: ReferenceData, section: str
) -> None:
    rules = RuleSettings(road_speed_kmh=40.0, loading_minutes=45.0, road_factor=1.5)
    rec = allocate(ledger, f"a.{section}.1", section, "critical", rules)
    for plan in rec.arteries:
        artery = reference.artery(plan.artery_id)
        for draw in plan.draws:
            access, along = artery.route_from(reference.park(draw.park_id).location)
            road = (access + along) * 1.5
            assert draw.distance_km == round(road, 1)
            assert draw.travel_minutes == pytest.approx(45.0 + road / 40.0 * 60, abs=0.05)


def test_competing_alerts_never_promise_more_than_the_stock(
    ledger: StockLedger, reference: ReferenceData
) -> None:
    recommendations: dict[str, Recommendation] = {}
    episode = 0
    while not any("stock short" in r.summary for r in recommendations.values()):
        episode += 1
        assert episode < 50, "stock never ran out"
        for section in SHARING_SECTIONS:
            alert_id = f"move_equipment_to_arteries.{section}.{episode}"
            recommendations[alert_id] = allocate(ledger, alert_id, section, "critical", RULES)

    for park_id, reserved in ledger.reserved.items():
        stock = reference.park(park_id).stock.as_tuple()
        assert all(r <= s for r, s in zip(reserved, stock, strict=True)), park_id
        assert all(a >= 0 for a in ledger.available(park_id)), park_id
    assert draws_per_park(list(recommendations.values())) == non_zero(ledger.reserved)
    for alert_id, rec in recommendations.items():
        assert draws_per_park([rec]) == non_zero(ledger.by_alert.get(alert_id, {}))
    # Once the pool is exhausted, a further alert is told about the shortfall.
    late = allocate(ledger, "late.LT-BY-03.1", "LT-BY-03", "critical", RULES)
    assert "stock short" in late.summary
    assert any(counts_of(plan.shortfall) != ZERO for plan in late.arteries)


def test_releasing_every_alert_returns_all_stock(
    ledger: StockLedger, reference: ReferenceData
) -> None:
    alert_ids = []
    for i, section in enumerate(SHARING_SECTIONS * 3):
        alert_ids.append(f"a.{section}.{i}")
        allocate(ledger, alert_ids[-1], section, "critical", RULES)
    assert non_zero(ledger.reserved)

    for alert_id in alert_ids:
        ledger.release(alert_id)

    assert non_zero(ledger.reserved) == {}
    assert ledger.by_alert == {}
    for park in reference.parks:
        assert ledger.available(park.id) == park.stock.as_tuple()


def test_releasing_an_unknown_alert_changes_nothing(ledger: StockLedger) -> None:
    allocate(ledger, "a.LT-BY-01.1", "LT-BY-01", "high", RULES)
    before = dict(ledger.reserved)
    ledger.release("never-allocated")
    assert ledger.reserved == before


def test_allocating_again_for_the_same_alert_replaces_its_holding(ledger: StockLedger) -> None:
    allocate(ledger, "a.LT-BY-03.1", "LT-BY-03", "high", RULES)
    critical = allocate(ledger, "a.LT-BY-03.1", "LT-BY-03", "critical", RULES)
    assert non_zero(ledger.reserved) == draws_per_park([critical])


def test_restore_re_reserves_what_a_recommendation_holds(reference: ReferenceData) -> None:
    original = StockLedger(reference)
    recs = {
        f"a.{s}.1": allocate(original, f"a.{s}.1", s, "critical", RULES) for s in SHARING_SECTIONS
    }

    rebuilt = StockLedger(reference)
    for alert_id, rec in recs.items():
        rebuilt.restore(alert_id, rec)

    assert non_zero(rebuilt.reserved) == non_zero(original.reserved)
    assert rebuilt.by_alert == original.by_alert


def test_restore_without_recommendation_is_a_no_op(ledger: StockLedger) -> None:
    ledger.restore("a.LT-BY-01.1", None)
    assert ledger.reserved == {} and ledger.by_alert == {}


def test_restore_never_exceeds_the_stock_left(reference: ReferenceData) -> None:
    source = StockLedger(reference)
    rec = allocate(source, "a.LT-BY-01.1", "LT-BY-01", "critical", RULES)

    ledger = StockLedger(reference)
    allocate(ledger, "other.LT-BY-01.1", "LT-BY-01", "critical", RULES)
    ledger.restore("a.LT-BY-01.1", rec)

    for park_id, reserved in ledger.reserved.items():
        stock = reference.park(park_id).stock.as_tuple()
        assert all(r <= s for r, s in zip(reserved, stock, strict=True)), park_id
    # The other alert took the nearest parks' roadblocks, so the restored holding is smaller.
    restored = ledger.by_alert["a.LT-BY-01.1"]
    assert restored != draws_per_park([rec])
    assert sum(amount[3] for amount in restored.values()) < sum(
        amount[3] for amount in draws_per_park([rec]).values()
    )


def test_reserving_more_than_available_is_refused(ledger: StockLedger) -> None:
    with pytest.raises(ValueError, match="cannot supply"):
        ledger.reserve("a.LT-BY-01.1", "LT-P-DRUSKININKAI", (0, 0, 0, 6))
    assert ledger.reserved == {}
