"""Road travel from a counter-mobility park to an artery's blocking point; parks by arrival time."""

from __future__ import annotations

from dataclasses import dataclass

from marchwarden.reference.models import Artery, Park, ReferenceData
from marchwarden.settings import RuleSettings


@dataclass(frozen=True, slots=True)
class ParkRoute:
    """How far a park is from an artery's blocking point by road, and when a convoy arrives.

    ``access_km`` is the straight line from the park to the nearest point of the artery,
    ``along_km`` the distance along the artery from there to the blocking point at its border
    end; ``road_km`` is their sum times the road factor (roads wind, and the access leg is a
    straight line); ``minutes`` adds the loading time to the drive at the convoy speed.
    """

    park: Park
    access_km: float
    along_km: float
    road_km: float
    minutes: float


def travel_minutes(road_km: float, rules: RuleSettings) -> float:
    """Loading time plus the road distance at the configured convoy speed."""
    return round(rules.loading_minutes + road_km / rules.road_speed_kmh * 60.0, 1)


def route_to_blocking_point(park: Park, artery: Artery, rules: RuleSettings) -> ParkRoute:
    """The road route of one park to one artery's blocking point (pure)."""
    access, along = artery.route_from(park.location)
    road = (access + along) * rules.road_factor
    return ParkRoute(park, access, along, road, travel_minutes(road, rules))


def parks_by_arrival(
    reference: ReferenceData, artery: Artery, rules: RuleSettings
) -> list[ParkRoute]:
    """The parks of the artery's country, earliest arrival at its blocking point first.

    Ties are broken by park id, so the order is deterministic.
    """
    routes = [
        route_to_blocking_point(park, artery, rules) for park in reference.parks_of(artery.country)
    ]
    routes.sort(key=lambda r: (r.minutes, r.road_km, r.park.id))
    return routes
