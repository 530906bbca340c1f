"""Road travel to an artery's blocking point: access leg + along the road, x road factor."""

from __future__ import annotations

import pytest

from marchwarden.alerts.travel import parks_by_arrival, route_to_blocking_point, travel_minutes
from marchwarden.reference import Artery, Equipment, LineString, Park, Point, line_length_km
from marchwarden.reference.models import ReferenceData
from marchwarden.settings import RuleSettings

RULES = RuleSettings()
# A straight road due north along 25E from 54N to 55N, blocked at its northern (border) end.
ROAD = LineString(coordinates=((25.0, 54.0), (25.0, 55.0)))
KM_PER_DEG_LAT = 111.19


def artery(blocking: Point = Point(lat=55.0, lon=25.0)) -> Artery:
    return Artery(
        id="LT-TEST",
        name="test road",
        country="LT",
        geometry=ROAD,
        blocking_point=blocking,
        serves_sections=("LT-BY-01",),
        blocking_requirement=Equipment(dragons_teeth=10),
        approximate=True,
    )


def park(lat: float, lon: float) -> Park:
    return Park(
        id="LT-P-TEST",
        name="test park",
        country="LT",
        location=Point(lat=lat, lon=lon),
        stock=Equipment(dragons_teeth=10),
        approximate=True,
    )


def test_a_park_at_the_inland_start_drives_the_whole_road() -> None:
    route = route_to_blocking_point(park(54.0, 25.0), artery(), RULES)
    assert route.access_km == pytest.approx(0.0, abs=1e-6)
    assert route.along_km == pytest.approx(KM_PER_DEG_LAT, abs=0.2)
    assert route.road_km == pytest.approx(KM_PER_DEG_LAT * 1.3, abs=0.3)
    # 30 min loading + 144.5 km at 50 km/h
    assert route.minutes == pytest.approx(30 + KM_PER_DEG_LAT * 1.3 / 50 * 60, abs=0.2)


def test_a_park_at_the_blocking_point_only_loads() -> None:
    route = route_to_blocking_point(park(55.0, 25.0), artery(), RULES)
    assert route.road_km == pytest.approx(0.0, abs=1e-6)
    assert route.minutes == RULES.loading_minutes


def test_a_park_beside_the_road_adds_its_access_leg() -> None:
    # 0.2 degrees east at 54.5N: about 12.9 km from the road, joining it half-way.
    route = route_to_blocking_point(park(54.5, 25.2), artery(), RULES)
    assert route.access_km == pytest.approx(12.9, abs=0.2)
    assert route.along_km == pytest.approx(KM_PER_DEG_LAT / 2, abs=0.2)
    assert route.road_km == pytest.approx((route.access_km + route.along_km) * 1.3)


def test_a_park_joining_beyond_the_blocking_point_drives_back_to_it() -> None:
    # Blocking point 0.05 degrees before the end: a park at the very end drives back 5.6 km.
    route = route_to_blocking_point(park(55.0, 25.0), artery(Point(lat=54.95, lon=25.0)), RULES)
    assert route.along_km == pytest.approx(KM_PER_DEG_LAT / 20, abs=0.1)


def test_speed_loading_and_road_factor_come_from_the_settings() -> None:
    rules = RuleSettings(road_speed_kmh=30.0, loading_minutes=60.0, road_factor=1.0)
    route = route_to_blocking_point(park(54.0, 25.0), artery(), rules)
    assert route.road_km == pytest.approx(route.along_km)
    assert route.minutes == pytest.approx(60 + route.along_km / 30 * 60, abs=0.05)
    assert travel_minutes(15.0, rules) == 90.0


def test_pabrade_is_not_next_door_to_the_svencionys_road_border_end(
    reference: ReferenceData,
) -> None:
    """The road starts at Pabradė, but its blocking point is ~56 km away at the border."""
    road = reference.artery("LT-R-SVENCIONYS")
    ranked = parks_by_arrival(reference, road, RULES)
    pabrade = next(r for r in ranked if r.park.id == "LT-P-PABRADE")
    assert pabrade.access_km == pytest.approx(0.0, abs=0.1)
    assert pabrade.along_km == pytest.approx(line_length_km(road.geometry), abs=0.5)
    assert pabrade.along_km > 50
    assert pabrade.minutes > 100
    # Adutiškis, 4 km from the border end, arrives first.
    assert ranked[0].park.id == "LT-P-ADUTISKIS"
    assert ranked.index(pabrade) > 2


@pytest.mark.parametrize("artery_id", ["LT-A3", "LV-A6", "PL-A2", "EE-R-KOIDULA"])
def test_parks_are_ranked_by_arrival_time_within_the_artery_country(
    reference: ReferenceData, artery_id: str
) -> None:
    road = reference.artery(artery_id)
    ranked = parks_by_arrival(reference, road, RULES)
    assert {r.park.country for r in ranked} == {road.country}
    assert len(ranked) == len(reference.parks_of(road.country))
    minutes = [r.minutes for r in ranked]
    assert minutes == sorted(minutes)
