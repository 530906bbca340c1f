"""One closure plan per artery: shared by every alert that needs it, stock counted once."""

from __future__ import annotations

import pytest

from marchwarden.alerts.closures import ClosureBook
from marchwarden.alerts.equipment import ZERO, counts_of, describe
from marchwarden.reference.models import ReferenceData
from marchwarden.settings import RuleSettings

RULES = RuleSettings()


def add(*counts: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(sum(c[i] for c in counts) for i in range(4))


@pytest.fixture
def book(reference: ReferenceData) -> ClosureBook:
    return ClosureBook(reference, RULES)


def requirement(reference: ReferenceData, artery_id: str, factor: int = 1) -> tuple[int, ...]:
    return tuple(n * factor for n in reference.artery(artery_id).blocking_requirement.as_tuple())


def assert_ledger_consistent(book: ClosureBook, reference: ReferenceData) -> None:
    totals: dict[str, tuple[int, ...]] = {}
    for closure in book.closures.values():
        for park, amount in closure.holding.items():
            totals[park] = add(totals.get(park, ZERO), amount)
    assert totals == book.reserved
    for park, amount in book.reserved.items():
        stock = reference.park(park).stock.as_tuple()
        assert all(0 <= r <= s for r, s in zip(amount, stock, strict=True)), park


def test_a_shared_artery_is_held_once_for_every_alert_that_needs_it(
    book: ClosureBook, reference: ReferenceData
) -> None:
    """LT-R-SVENCIONYS serves LT-BY-03 and LT-BY-04: one convoy, not two."""
    a = "move_equipment_to_arteries.LT-BY-03.1"
    b = "move_equipment_to_arteries.LT-BY-04.1"
    book.claim(a, ["LT-A3", "LT-R-SVENCIONYS"], "high")
    book.claim(b, ["LT-R-IGNALINA", "LT-R-SVENCIONYS"], "high")
    held = add(*book.reserved.values())
    assert held == add(
        *(requirement(reference, x) for x in ("LT-A3", "LT-R-SVENCIONYS", "LT-R-IGNALINA"))
    )
    plan = book.plan("LT-R-SVENCIONYS")
    assert plan.needed_by == [a, b]
    assert counts_of(plan.required) == requirement(reference, "LT-R-SVENCIONYS")
    assert_ledger_consistent(book, reference)


def test_the_artery_stays_held_while_any_alert_needs_it(
    book: ClosureBook, reference: ReferenceData
) -> None:
    book.claim("x.LT-BY-03.1", ["LT-R-SVENCIONYS"], "high")
    book.claim("x.LT-BY-04.1", ["LT-R-SVENCIONYS"], "high")
    held = dict(book.reserved)
    assert book.release("x.LT-BY-03.1") == set()
    assert book.reserved == held
    assert book.release("x.LT-BY-04.1") == {"LT-R-SVENCIONYS"}
    assert book.reserved == {}
    assert "LT-R-SVENCIONYS" not in book.closures
    assert book.changes["LT-R-SVENCIONYS"] == ["LT-R-SVENCIONYS: released, no open alert needs it"]


def test_the_highest_claim_sets_the_requirement_and_de_escalation_gives_stock_back(
    book: ClosureBook, reference: ReferenceData
) -> None:
    book.claim("high.LT-BY-04.1", ["LT-R-SVENCIONYS"], "high")
    book.claim("crit.LT-BY-03.1", ["LT-R-SVENCIONYS"], "critical")
    closure = book.closures["LT-R-SVENCIONYS"]
    assert closure.held == requirement(reference, "LT-R-SVENCIONYS", 2)
    version = closure.version
    farthest = [r.park.id for r in book.routes(closure.artery) if r.park.id in closure.holding][-1]

    assert book.claim("crit.LT-BY-03.1", ["LT-R-SVENCIONYS"], "high") == {"LT-R-SVENCIONYS"}
    assert closure.held == requirement(reference, "LT-R-SVENCIONYS")
    assert closure.version == version + 1
    assert closure.changes[0].startswith("LT-R-SVENCIONYS: requirement down to high")
    # Surplus goes back from the parks that arrive last.
    assert any(c.endswith(f"back to {farthest}") for c in closure.changes)
    assert_ledger_consistent(book, reference)


def test_parks_are_drawn_in_order_of_arrival_at_the_blocking_point(
    book: ClosureBook, reference: ReferenceData
) -> None:
    book.claim("a.LT-BY-03.1", ["LT-R-SVENCIONYS"], "critical")
    plan = book.plan("LT-R-SVENCIONYS")
    minutes = [d.travel_minutes for d in plan.draws]
    assert minutes == sorted(minutes)
    assert plan.draws[0].park_id == "LT-P-ADUTISKIS"
    assert plan.blocking_point is not None
    assert (plan.blocking_point.lat, plan.blocking_point.lon) == (55.15, 26.6)
    for draw in plan.draws:
        assert draw.distance_km == pytest.approx(
            (draw.access_km + draw.along_artery_km) * RULES.road_factor,
            abs=0.15,  # type: ignore[operator]
        )


def test_freed_stock_tops_up_an_artery_that_was_short(reference: ReferenceData) -> None:
    """Estonia's four parks cannot close all its arteries at 4x; freeing one helps."""
    book = ClosureBook(reference, RuleSettings(critical_requirement_multiple=4.0))
    book.claim("a.EE-RU-01.1", ["EE-1", "EE-R-KOIDULA"], "critical")
    book.claim("b.EE-RU-02.1", ["EE-2"], "critical")
    short = [a for a, c in book.closures.items() if c.shortfall != ZERO]
    assert short, "the scenario needs a shortfall"
    victim = short[0]
    before = book.closures[victim].version
    donor = "a.EE-RU-01.1" if victim == "EE-2" else "b.EE-RU-02.1"
    changed = book.release(donor)
    assert victim in changed
    closure = book.closures[victim]
    assert closure.version == before + 1
    assert closure.shortfall == ZERO
    assert closure.changes[-1] == f"{victim}: shortfall covered"
    assert book.changes[victim] == closure.changes
    assert_ledger_consistent(book, reference)


def test_claims_move_to_a_re_armed_alert_without_moving_stock(book: ClosureBook) -> None:
    book.claim("old.LT-BY-03.1", ["LT-A3"], "high")
    held = dict(book.reserved)
    book.transfer("old.LT-BY-03.1", "new.LT-BY-03.2")
    assert book.claimed_by("new.LT-BY-03.2") == ["LT-A3"]
    assert book.claimed_by("old.LT-BY-03.1") == []
    assert book.reserved == held


def test_a_restart_restores_what_the_published_plans_held(
    book: ClosureBook, reference: ReferenceData
) -> None:
    book.claim("a.LT-BY-03.1", ["LT-A3", "LT-R-SVENCIONYS"], "critical")
    book.claim("b.LT-BY-04.1", ["LT-R-SVENCIONYS", "LT-R-IGNALINA"], "high")
    plans = {a: book.plan(a) for a in book.closures}
    fresh = ClosureBook(reference, RULES)
    fresh.restore(plans["LT-A3"], "critical", ["a.LT-BY-03.1"])
    fresh.restore(plans["LT-R-SVENCIONYS"], "critical", ["a.LT-BY-03.1"])
    fresh.restore(plans["LT-R-SVENCIONYS"], "high", ["b.LT-BY-04.1"])
    fresh.restore(plans["LT-R-IGNALINA"], "high", ["b.LT-BY-04.1"])
    assert fresh.reserved == book.reserved
    assert fresh.plan("LT-R-SVENCIONYS") == plans["LT-R-SVENCIONYS"]


def test_describe_counts() -> None:
    assert describe((300, 0, 30, 1)) == "300 dragon's teeth, 30 Spanish riders, 1 roadblocks"
    assert describe(ZERO) == "nothing"
