"""Park-to-artery allocation of counter-mobility equipment, with a ledger so stock is never
promised twice."""

from __future__ import annotations

from dataclasses import dataclass, field

from marchwarden.alerts.travel import parks_by_arrival
from marchwarden.contracts.alerts import ArteryPlan, ParkDraw, Recommendation
from marchwarden.contracts.common import Level
from marchwarden.reference.equipment import Equipment
from marchwarden.reference.models import ReferenceData
from marchwarden.settings import RuleSettings

Counts = tuple[int, int, int, int]
"""The 4-tuple view of `Equipment` (dragon's teeth, hedgehogs, Spanish riders, roadblocks)."""
ZERO: Counts = (0, 0, 0, 0)
NAMES = ("dragon's teeth", "hedgehogs", "Spanish riders", "roadblocks")


def describe(counts: Counts) -> str:
    """'300 dragon's teeth, 10 roadblocks' (zeros left out; 'nothing' if all are zero)."""
    parts = [f"{n} {name}" for n, name in zip(counts, NAMES, strict=True) if n]
    return ", ".join(parts) if parts else "nothing"


def _positive(c: Counts) -> Counts:
    return (max(0, c[0]), max(0, c[1]), max(0, c[2]), max(0, c[3]))


def _sub(a: Counts, b: Counts) -> Counts:
    return (a[0] - b[0], a[1] - b[1], a[2] - b[2], a[3] - b[3])


def _add(a: Counts, b: Counts) -> Counts:
    return (a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3])


def _min(a: Counts, b: Counts) -> Counts:
    return (min(a[0], b[0]), min(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3]))


def _equipment(c: Counts) -> Equipment:
    return Equipment(dragons_teeth=c[0], hedgehogs=c[1], spanish_riders=c[2], roadblocks=c[3])


def counts_of(e: Equipment) -> Counts:
    return (e.dragons_teeth, e.hedgehogs, e.spanish_riders, e.roadblocks)


@dataclass
class StockLedger:
    """Equipment reserved per park by open alerts; available = stock - reserved."""

    reference: ReferenceData
    reserved: dict[str, Counts] = field(default_factory=dict)
    by_alert: dict[str, dict[str, Counts]] = field(default_factory=dict)

    def available(self, park_id: str) -> Counts:
        stock = counts_of(self.reference.park(park_id).stock)
        return _sub(stock, self.reserved.get(park_id, (0, 0, 0, 0)))

    def reserve(self, alert_id: str, park_id: str, amount: Counts) -> None:
        if any(x < 0 for x in _sub(self.available(park_id), amount)):
            raise ValueError(f"park {park_id} cannot supply {amount} for {alert_id}")
        self.reserved[park_id] = _add(self.reserved.get(park_id, (0, 0, 0, 0)), amount)
        held = self.by_alert.setdefault(alert_id, {})
        held[park_id] = _add(held.get(park_id, (0, 0, 0, 0)), amount)

    def release(self, alert_id: str) -> None:
        for park_id, amount in self.by_alert.pop(alert_id, {}).items():
            self.reserved[park_id] = _sub(self.reserved[park_id], amount)

    def restore(self, alert_id: str, recommendation: Recommendation | None) -> None:
        """Re-reserve what an open alert's recommendation holds (rebuild after restart)."""
        if recommendation is None:
            return
        for plan in recommendation.arteries:
            for draw in plan.draws:
                amount = _min(counts_of(draw.equipment), self.available(draw.park_id))
                self.reserve(alert_id, draw.park_id, amount)


def allocate(
    ledger: StockLedger,
    alert_id: str,
    sections: str | list[str],
    level: Level,
    rules: RuleSettings,
) -> Recommendation:
    """Reserve equipment for every artery serving the sections, earliest arrival first.

    Parks are ranked by when a convoy reaches the artery's blocking point at its border end
    (`travel.parks_by_arrival`), not by their distance to the nearest point of the road.

    Replaces whatever the alert held before (an escalation re-plans at the new level).
    At critical level each artery's requirement is multiplied (settings), since more
    lanes and shoulders must be blocked to stop armour rather than vehicles.
    """
    ledger.release(alert_id)
    factor = rules.critical_requirement_multiple if level == "critical" else 1.0
    section_ids = [sections] if isinstance(sections, str) else list(sections)
    arteries = {a.id: a for s in section_ids for a in ledger.reference.arteries_serving(s)}
    plans = []
    for artery in (arteries[k] for k in sorted(arteries)):
        required = counts_of(artery.blocking_requirement.scaled(factor))
        remaining = required
        draws = []
        for route in parks_by_arrival(ledger.reference, artery, rules):
            if remaining == (0, 0, 0, 0):
                break
            park = route.park
            take = _min(remaining, ledger.available(park.id))
            if take == (0, 0, 0, 0):
                continue
            ledger.reserve(alert_id, park.id, take)
            remaining = _sub(remaining, take)
            draws.append(
                ParkDraw(
                    park_id=park.id,
                    park_name=park.name,
                    distance_km=round(route.road_km, 1),
                    travel_minutes=route.minutes,
                    equipment=_equipment(take),
                )
            )
        plans.append(
            ArteryPlan(
                artery_id=artery.id,
                artery_name=artery.name,
                required=_equipment(required),
                draws=draws,
                shortfall=_equipment(remaining),
            )
        )
    names = ", ".join(p.artery_id for p in plans)
    short = [p.artery_id for p in plans if counts_of(p.shortfall) != (0, 0, 0, 0)]
    summary = f"Block {len(plans)} arteries toward {', '.join(section_ids)} ({names})"
    if short:
        summary += f"; stock short for {', '.join(short)}"
    return Recommendation(summary=summary, road_speed_kmh=rules.road_speed_kmh, arteries=plans)
