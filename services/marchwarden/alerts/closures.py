"""One closure plan per artery: reservations belong to the artery, shared by every alert that
needs it, so its stock is counted once; plans are versioned with what changed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from marchwarden.alerts.equipment import (
    ZERO,
    Counts,
    _add,
    _equipment,
    _min,
    _positive,
    _sub,
    counts_of,
    describe,
)
from marchwarden.alerts.travel import ParkRoute, parks_by_arrival
from marchwarden.contracts.alerts import ArteryPlan, ParkDraw, Position
from marchwarden.contracts.common import LEVEL_RANK, Level
from marchwarden.reference.models import Artery, ReferenceData
from marchwarden.settings import RuleSettings


@dataclass
class ArteryClosure:
    """The closure of one artery: who needs it, at what level, and what it holds per park."""

    artery: Artery
    claims: dict[str, Level] = field(default_factory=dict)
    holding: dict[str, Counts] = field(default_factory=dict)
    required: Counts = ZERO
    version: int = 0
    changes: list[str] = field(default_factory=list)

    @property
    def held(self) -> Counts:
        return _sum(self.holding)

    @property
    def shortfall(self) -> Counts:
        return _positive(_sub(self.required, self.held))

    @property
    def level(self) -> Level | None:
        if not self.claims:
            return None
        return max(self.claims.values(), key=LEVEL_RANK.__getitem__)


class ClosureBook:
    """Every artery closure and the park stock they hold (available = stock - held).

    Alerts *claim* the arteries they need at their level; each artery holds what its highest
    claim requires (x the critical multiple at critical), drawn from the parks that arrive
    first at its blocking point. A claim that goes away, or drops a level, gives stock back
    (latest-arriving parks first), and stock given back tops up the arteries still short.
    """

    def __init__(self, reference: ReferenceData, rules: RuleSettings) -> None:
        self.reference = reference
        self.rules = rules
        self.closures: dict[str, ArteryClosure] = {}
        self.reserved: dict[str, Counts] = {}
        self.changes: dict[str, list[str]] = {}
        """What changed on each artery in the last claim or release, in words."""
        self._routes: dict[str, list[ParkRoute]] = {}

    # ------------------------------------------------------------------ stock
    def available(self, park_id: str) -> Counts:
        stock = counts_of(self.reference.park(park_id).stock)
        return _sub(stock, self.reserved.get(park_id, ZERO))

    def _move(self, closure: ArteryClosure, park_id: str, amount: Counts) -> None:
        """Add (or with negative counts, give back) stock held by a closure at one park."""
        held = _add(closure.holding.get(park_id, ZERO), amount)
        if held == ZERO:
            closure.holding.pop(park_id, None)
        else:
            closure.holding[park_id] = held
        reserved = _add(self.reserved.get(park_id, ZERO), amount)
        if reserved == ZERO:
            self.reserved.pop(park_id, None)
        else:
            self.reserved[park_id] = reserved

    def routes(self, artery: Artery) -> list[ParkRoute]:
        if artery.id not in self._routes:
            self._routes[artery.id] = parks_by_arrival(self.reference, artery, self.rules)
        return self._routes[artery.id]

    # ------------------------------------------------------------------ claims
    def claim(self, alert_id: str, artery_ids: Iterable[str], level: Level) -> set[str]:
        """The alert needs exactly these arteries at ``level``; returns the arteries whose plan
        changed (stock, requirement or shortfall), including any topped up with freed stock."""
        wanted = set(artery_ids)
        touched = set(wanted)
        for artery_id, closure in self.closures.items():
            if alert_id in closure.claims and artery_id not in wanted:
                del closure.claims[alert_id]
                touched.add(artery_id)
        for artery_id in wanted:
            if artery_id not in self.closures:
                self.closures[artery_id] = ArteryClosure(self.reference.artery(artery_id))
            self.closures[artery_id].claims[alert_id] = level
        return self._settle(touched)

    def release(self, alert_id: str) -> set[str]:
        """The alert needs nothing any more; returns the arteries whose plan changed."""
        touched = {a for a, c in self.closures.items() if c.claims.pop(alert_id, None) is not None}
        return self._settle(touched) if touched else set()

    def transfer(self, old: str, new: str) -> None:
        """A re-armed alert takes over what the resolved one held (same cause, nothing moves)."""
        for closure in self.closures.values():
            level = closure.claims.pop(old, None)
            if level is not None:
                closure.claims[new] = level

    def claimed_by(self, alert_id: str) -> list[str]:
        return sorted(a for a, c in self.closures.items() if alert_id in c.claims)

    def claimants(self, artery_ids: Iterable[str]) -> set[str]:
        return {
            alert for a in artery_ids if a in self.closures for alert in self.closures[a].claims
        }

    # ------------------------------------------------------------------ planning
    def _settle(self, touched: set[str]) -> set[str]:
        self.changes = {}
        changed = {a for a in sorted(touched) if self._replan(self.closures[a])}
        # Stock given back tops up the arteries still short, in a fixed order.
        for artery_id in sorted(self.closures):
            closure = self.closures[artery_id]
            if closure.claims and closure.shortfall != ZERO and self._replan(closure):
                changed.add(artery_id)
        for artery_id in changed:
            self.changes[artery_id] = self.closures[artery_id].changes
        for artery_id in [a for a, c in self.closures.items() if not c.claims and not c.holding]:
            del self.closures[artery_id]
        return changed

    def _replan(self, closure: ArteryClosure) -> bool:
        """Bring what the closure holds to its requirement; True if anything changed."""
        artery = closure.artery
        before_required, before_holding = closure.required, dict(closure.holding)
        level = closure.level
        if level is None:
            required = ZERO
        else:
            factor = self.rules.critical_requirement_multiple if level == "critical" else 1.0
            required = counts_of(artery.blocking_requirement.scaled(factor))
        closure.required = required
        routes = self.routes(artery)
        surplus = _positive(_sub(closure.held, required))
        if surplus != ZERO:
            for route in reversed(routes):
                give = _min(surplus, closure.holding.get(route.park.id, ZERO))
                if give != ZERO:
                    self._move(closure, route.park.id, _sub(ZERO, give))
                    surplus = _sub(surplus, give)
        short = closure.shortfall
        if short != ZERO:
            for route in routes:
                take = _min(short, _positive(self.available(route.park.id)))
                if take != ZERO:
                    self._move(closure, route.park.id, take)
                    short = _sub(short, take)
                if short == ZERO:
                    break
        if (closure.required, closure.holding) == (before_required, before_holding):
            return False
        closure.version += 1
        closure.changes = self._changes(closure, before_required, before_holding)
        return True

    def _changes(
        self, closure: ArteryClosure, required: Counts, holding: dict[str, Counts]
    ) -> list[str]:
        artery = closure.artery.id
        out = []
        if closure.required != required:
            if closure.required == ZERO:
                out.append(f"{artery}: released, no open alert needs it")
            elif required == ZERO:
                out.append(
                    f"{artery}: to be closed at {closure.level}: {describe(closure.required)}"
                )
            else:
                way = "up" if sum(closure.required) > sum(required) else "down"
                out.append(
                    f"{artery}: requirement {way} to {closure.level}: {describe(closure.required)}"
                )
        for route in self.routes(closure.artery):
            park = route.park.id
            delta = _sub(closure.holding.get(park, ZERO), holding.get(park, ZERO))
            more, less = _positive(delta), _positive(_sub(ZERO, delta))
            if more != ZERO:
                out.append(f"{artery}: +{describe(more)} from {park}")
            if less != ZERO and closure.required != ZERO:
                out.append(f"{artery}: {describe(less)} back to {park}")
        shortfall = closure.shortfall
        if shortfall != ZERO:
            out.append(f"{artery}: still short of {describe(shortfall)}")
        elif closure.required != ZERO and _positive(_sub(required, _sum(holding))) != ZERO:
            out.append(f"{artery}: shortfall covered")
        return out

    def plan(self, artery_id: str) -> ArteryPlan:
        """The artery's current plan, as every alert that needs it shows it."""
        closure = self.closures[artery_id]
        artery = closure.artery
        draws = [
            ParkDraw(
                park_id=route.park.id,
                park_name=route.park.name,
                distance_km=round(route.road_km, 1),
                travel_minutes=route.minutes,
                access_km=round(route.access_km, 1),
                along_artery_km=round(route.along_km, 1),
                equipment=_equipment(closure.holding[route.park.id]),
            )
            for route in self.routes(artery)
            if route.park.id in closure.holding
        ]
        return ArteryPlan(
            artery_id=artery.id,
            artery_name=artery.name,
            required=_equipment(closure.required),
            draws=draws,
            shortfall=_equipment(closure.shortfall),
            blocking_point=Position(lat=artery.blocking_point.lat, lon=artery.blocking_point.lon),
            needed_by=sorted(closure.claims),
            plan_version=max(1, closure.version),
        )

    # ------------------------------------------------------------------ restart
    def restore(self, plan: ArteryPlan, level: Level, claimants: Iterable[str]) -> None:
        """Hold again what a published plan held (rebuild after a restart), within the stock.

        Several alerts show the same artery plan; the latest version wins.
        """
        closure = self.closures.get(plan.artery_id)
        if closure is None or plan.plan_version > closure.version:
            claims = {} if closure is None else closure.claims
            if closure is not None:
                for park, amount in list(closure.holding.items()):
                    self._move(closure, park, _sub(ZERO, amount))
            closure = ArteryClosure(
                self.reference.artery(plan.artery_id), claims=claims, version=plan.plan_version
            )
            self.closures[plan.artery_id] = closure
            closure.required = counts_of(plan.required)
            for draw in plan.draws:
                amount = _min(counts_of(draw.equipment), _positive(self.available(draw.park_id)))
                if amount != ZERO:
                    self._move(closure, draw.park_id, amount)
        for alert_id in claimants:
            current = closure.claims.get(alert_id)
            if current is None or LEVEL_RANK[level] > LEVEL_RANK[current]:
                closure.claims[alert_id] = level


def _sum(holding: dict[str, Counts]) -> Counts:
    total = ZERO
    for amount in holding.values():
        total = _add(total, amount)
    return total
