"""Tests for the shipped reference data and the marchwarden.reference API."""

from __future__ import annotations

import itertools
import json
import math
import shutil
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from marchwarden.reference import (
    DATA_FILES,
    Artery,
    Equipment,
    LineString,
    Park,
    Point,
    ReferenceData,
    ReferenceDataError,
    Section,
    distance_point_to_linestring_km,
    haversine_km,
    line_length_km,
    load_reference,
)
from marchwarden.reference.geo import locate_on_linestring_km

DATA_DIR = Path(str(resources.files("marchwarden.reference") / "data"))

VILNIUS = Point(lat=54.6872, lon=25.2797)
KAUNAS = Point(lat=54.8985, lon=23.9036)


def _raw() -> dict[str, Any]:
    """The shipped data as plain dicts, ready for ReferenceData.model_validate."""
    out: dict[str, Any] = {}
    for field, fname in DATA_FILES.items():
        doc = json.loads((DATA_DIR / fname).read_text(encoding="utf-8"))
        out["version"] = doc["version"]
        out[field] = doc["items"]
    return out


# --- shipped data ---------------------------------------------------------------------


def test_shipped_data_loads_and_is_cached() -> None:
    data = load_reference()
    assert data.version == "2026.11.2"
    assert load_reference() is data
    assert data.sections and data.parks and data.arteries


def test_envelopes_are_consistent() -> None:
    for fname in DATA_FILES.values():
        doc = json.loads((DATA_DIR / fname).read_text(encoding="utf-8"))
        assert set(doc) == {"version", "approximate", "note", "items"}
        assert doc["version"] == "2026.11.2"
        assert doc["approximate"] is True
        assert doc["note"]


@pytest.mark.parametrize(
    ("pair", "minimum"),
    [
        ("LT-BY", 4),
        ("LT-RU", 2),
        ("LV-BY", 2),
        ("LV-RU", 2),
        ("EE-RU", 2),
        ("PL-BY", 3),
        ("PL-RU", 2),
    ],
)
def test_section_counts_per_border_pair(pair: str, minimum: int) -> None:
    data = load_reference()
    counts = Counter(f"{s.country}-{s.neighbour}" for s in data.sections)
    assert counts[pair] >= minimum


def test_section_ids_sorted_and_reporters() -> None:
    data = load_reference()
    assert list(data.section_ids) == sorted(s.id for s in data.sections)
    reporters = {"LT": "LT-VSAT", "LV": "LV-VRS", "PL": "PL-SG", "EE": "EE-PPA"}
    for s in data.sections:
        assert s.reporter == reporters[s.country]
        assert data.country_of(s.id) == s.country
        assert data.section(s.id) is s


def test_section_geometry_is_plausible() -> None:
    data = load_reference()
    for s in data.sections:
        assert 4 <= len(s.geometry.coordinates) <= 10, s.id
        for lon, lat in s.geometry.coordinates:
            # the eastern EU land border lies roughly in this box
            assert 19.0 <= lon <= 29.0 and 51.0 <= lat <= 60.0, (s.id, lon, lat)
        # a simplified polyline is never longer than the real border it approximates
        assert s.length_km >= line_length_km(s.geometry) * 0.95, s.id


def test_sections_are_contiguous_per_border_pair() -> None:
    data = load_reference()
    pairs = {(s.country, s.neighbour) for s in data.sections}
    for country, neighbour in pairs:
        secs = sorted(
            (s for s in data.sections if (s.country, s.neighbour) == (country, neighbour)),
            key=lambda s: s.id,
        )
        for a, b in itertools.pairwise(secs):
            assert haversine_km(a.geometry.end, b.geometry.start) < 1.0, (a.id, b.id)


def test_expected_attempts_calibration() -> None:
    """The public figures count people: the persons prior is calibrated to them, and the
    report prior is the persons prior over the mean group of 2.5."""
    data = load_reference()
    per_country: dict[str, float] = {}
    for s in data.sections:
        assert s.expected_persons_per_day >= 0
        assert s.expected_attempts_per_day == pytest.approx(
            s.expected_persons_per_day / 2.5, abs=1e-3
        )
        if s.neighbour == "BY":
            per_country[s.country] = per_country.get(s.country, 0.0) + s.expected_persons_per_day
        else:
            assert s.expected_persons_per_day <= 1.0, s.id
    # 1 Jan - 26 Jul 2024 = 208 days: LT ~350 turned back, LV >3,000, PL ~21,000 attempts
    assert per_country["LT"] == pytest.approx(350 / 208, rel=0.1)
    assert per_country["LV"] == pytest.approx(3000 / 208, rel=0.1)
    assert per_country["PL"] == pytest.approx(21000 / 208, rel=0.1)
    assert per_country["PL"] > per_country["LV"] > per_country["LT"]


def test_quiet_sections_have_low_surge_floors_and_every_section_a_cadence() -> None:
    data = load_reference()
    for s in data.sections:
        assert s.surge_floor_attempts and s.surge_floor_persons and s.surge_baseline_factor
        assert s.surge_floor_persons >= s.surge_floor_attempts
        assert s.expected_cadence_minutes >= 30
    busiest = data.section("PL-BY-02")
    for s in data.sections:
        if s.neighbour == "RU":
            # A Russian-border section sees a few people a month: 20 attempts an hour
            # (the busiest section's floor) would never happen there.
            assert s.surge_floor_attempts < busiest.surge_floor_attempts / 2  # type: ignore[operator]
            assert s.surge_floor_persons < busiest.surge_floor_persons / 2  # type: ignore[operator]


def test_lithuania_has_27_parks_including_pabrade() -> None:
    data = load_reference()
    lt = data.parks_of("LT")
    assert len(lt) == 27
    assert "LT-P-PABRADE" in {p.id for p in lt}
    assert "Pabradė" in data.park("LT-P-PABRADE").name


@pytest.mark.parametrize("country", ["LV", "EE", "PL"])
def test_other_countries_have_at_least_three_parks(country: str) -> None:
    assert len(load_reference().parks_of(country)) >= 3


def test_all_stock_non_negative_and_parks_stocked() -> None:
    for p in load_reference().parks:
        assert min(p.stock.as_tuple()) >= 0
        assert not p.stock.is_zero, p.id


def test_parks_near_their_country_border() -> None:
    data = load_reference()
    for p in data.parks:
        nearest = min(
            distance_point_to_linestring_km(p.location, s.geometry)
            for s in data.sections_of(p.country)
        )
        assert nearest < 100.0, (p.id, nearest)


def test_every_artery_serves_existing_sections() -> None:
    data = load_reference()
    ids = set(data.section_ids)
    for a in data.arteries:
        assert a.serves_sections
        assert set(a.serves_sections) <= ids, a.id
        assert a.country == data.country_of(a.serves_sections[0])
        assert not a.blocking_requirement.is_zero


def test_every_section_served_by_an_artery() -> None:
    data = load_reference()
    for sid in data.section_ids:
        serving = data.arteries_serving(sid)
        assert serving, sid
        assert all(sid in a.serves_sections for a in serving)


def test_arteries_run_toward_the_border() -> None:
    data = load_reference()
    for a in data.arteries:
        lines = [data.section(sid).geometry for sid in a.serves_sections]
        end = min(distance_point_to_linestring_km(a.geometry.end, ln) for ln in lines)
        start = min(distance_point_to_linestring_km(a.geometry.start, ln) for ln in lines)
        assert end < 25.0, (a.id, end)
        assert end < start, a.id


def test_everything_marked_approximate() -> None:
    data = load_reference()
    assert data.approximate
    items: list[Section | Park | Artery] = [*data.sections, *data.parks, *data.arteries]
    for item in items:
        assert item.approximate is True, item.id


def test_unknown_section_lookup_is_readable() -> None:
    data = load_reference()
    with pytest.raises(KeyError, match="unknown border section 'XX-YY-99'"):
        data.section("XX-YY-99")
    with pytest.raises(KeyError, match="unknown border section"):
        data.arteries_serving("XX-YY-99")


# --- validation -----------------------------------------------------------------------


def test_raw_roundtrip_is_valid() -> None:
    data = ReferenceData.model_validate(_raw())
    assert data.section_ids == load_reference().section_ids


def test_unknown_section_in_artery_rejected() -> None:
    raw = _raw()
    raw["arteries"][0]["serves_sections"] = [*raw["arteries"][0]["serves_sections"], "LT-BY-99"]
    with pytest.raises(ValidationError, match=r"serves unknown section\(s\): LT-BY-99"):
        ReferenceData.model_validate(raw)


def test_unserved_section_rejected() -> None:
    raw = _raw()
    raw["arteries"] = [a for a in raw["arteries"] if "PL-RU-01" not in a["serves_sections"]]
    with pytest.raises(ValidationError, match=r"not served by any artery: PL-RU-01"):
        ReferenceData.model_validate(raw)


def test_negative_stock_rejected() -> None:
    raw = _raw()
    raw["parks"][0]["stock"]["hedgehogs"] = -5
    with pytest.raises(ValidationError, match="greater than or equal to 0") as exc:
        ReferenceData.model_validate(raw)
    assert "hedgehogs" in str(exc.value)


@pytest.mark.parametrize("bad_id", ["LT-BY-1", "lt-by-01", "LTU-BY-01", "LT-BY-001"])
def test_bad_section_id_rejected(bad_id: str) -> None:
    raw = _raw()
    old = raw["sections"][0]["id"]
    raw["sections"][0]["id"] = bad_id
    for a in raw["arteries"]:
        a["serves_sections"] = [bad_id if s == old else s for s in a["serves_sections"]]
    with pytest.raises(ValidationError, match="does not match"):
        ReferenceData.model_validate(raw)


def test_section_id_inconsistent_with_country_rejected() -> None:
    raw = _raw()
    sec = next(s for s in raw["sections"] if s["id"] == "LT-BY-01")
    sec["neighbour"] = "RU"
    with pytest.raises(ValidationError, match="does not match country='LT' neighbour='RU'"):
        ReferenceData.model_validate(raw)


def test_duplicate_ids_rejected() -> None:
    raw = _raw()
    raw["parks"].append(dict(raw["parks"][0]))
    with pytest.raises(ValidationError, match="duplicate park ids: LT-P-"):
        ReferenceData.model_validate(raw)


def test_bad_coordinates_rejected() -> None:
    with pytest.raises(ValidationError, match="at least 2 positions"):
        LineString(coordinates=((25.0, 54.0),))
    with pytest.raises(ValidationError, match=r"latitude 154\.0 out of range"):
        LineString(coordinates=((25.0, 54.0), (25.0, 154.0)))
    with pytest.raises(ValidationError):
        Point(lat=91.0, lon=0.0)
    with pytest.raises(ValidationError):
        Point(lat=0.0, lon=-181.0)


def test_extra_fields_forbidden_and_models_frozen() -> None:
    raw = _raw()
    raw["sections"][0]["colour"] = "red"
    with pytest.raises(ValidationError, match="colour"):
        ReferenceData.model_validate(raw)
    p = Point(lat=1.0, lon=2.0)
    with pytest.raises(ValidationError):
        p.lat = 3.0  # type: ignore[misc]


def test_load_from_directory_and_version_mismatch(tmp_path: Path) -> None:
    for fname in DATA_FILES.values():
        shutil.copy(DATA_DIR / fname, tmp_path / fname)
    data = load_reference(tmp_path)
    assert data.version == load_reference().version
    doc = json.loads((tmp_path / "parks.json").read_text(encoding="utf-8"))
    doc["version"] = "1999.1.1"
    (tmp_path / "parks.json").write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(ReferenceDataError, match="disagree on version"):
        load_reference(tmp_path)
    (tmp_path / "arteries.json").unlink()
    with pytest.raises(ReferenceDataError, match=r"arteries\.json"):
        load_reference(tmp_path)


# --- geo -------------------------------------------------------------------------------


def test_haversine_vilnius_kaunas() -> None:
    assert haversine_km(VILNIUS, KAUNAS) == pytest.approx(92.0, abs=2.0)
    assert haversine_km(VILNIUS, VILNIUS) == 0.0
    assert haversine_km(VILNIUS, KAUNAS) == pytest.approx(haversine_km(KAUNAS, VILNIUS))


def test_haversine_one_degree_of_latitude() -> None:
    a, b = Point(lat=54.0, lon=25.0), Point(lat=55.0, lon=25.0)
    assert haversine_km(a, b) == pytest.approx(111.19, abs=0.1)


def test_line_length() -> None:
    line = LineString(coordinates=((25.0, 54.0), (25.0, 55.0), (25.0, 56.0)))
    assert line_length_km(line) == pytest.approx(2 * 111.19, abs=0.2)
    vk = LineString(coordinates=((VILNIUS.lon, VILNIUS.lat), (KAUNAS.lon, KAUNAS.lat)))
    assert line_length_km(vk) == pytest.approx(haversine_km(VILNIUS, KAUNAS))


def test_distance_point_to_linestring() -> None:
    # a meridian segment from 54N to 56N along 25E
    line = LineString(coordinates=((25.0, 54.0), (25.0, 56.0)))
    # 0.5 degree east of the meridian at 55N: ~ 111.19 * cos(55deg) * 0.5 = 31.9 km
    p = Point(lat=55.0, lon=25.5)
    expected = 111.19 * math.cos(math.radians(55.0)) * 0.5
    assert distance_point_to_linestring_km(p, line) == pytest.approx(expected, rel=0.01)
    # beyond the end of the segment the nearest point is the end vertex
    q = Point(lat=57.0, lon=25.0)
    assert distance_point_to_linestring_km(q, line) == pytest.approx(111.19, abs=0.5)
    # a vertex is at distance zero
    assert distance_point_to_linestring_km(Point(lat=54.0, lon=25.0), line) == pytest.approx(0.0)
    # against haversine to the foot of the perpendicular
    foot = Point(lat=55.0, lon=25.0)
    assert distance_point_to_linestring_km(p, line) == pytest.approx(
        haversine_km(p, foot), rel=0.01
    )


# --- Equipment ------------------------------------------------------------------


def test_equipment_counts_arithmetic() -> None:
    a = Equipment(dragons_teeth=100, hedgehogs=50, spanish_riders=10, roadblocks=4)
    b = Equipment(dragons_teeth=30, hedgehogs=80, spanish_riders=10, roadblocks=1)
    assert (a + b).as_tuple() == (130, 130, 20, 5)
    assert (a - b).as_tuple() == (70, 0, 0, 3)  # saturates at zero
    assert a.min(b).as_tuple() == (30, 50, 10, 1)
    assert a.scaled(0.5).as_tuple() == (50, 25, 5, 2)
    assert a.scaled(0.33).as_tuple() == (33, 17, 4, 2)  # ceil
    assert a.scaled(0.1).as_tuple() == (10, 5, 1, 1)
    assert a.total == 164
    assert Equipment().is_zero and Equipment.zero().is_zero
    assert not a.is_zero
    assert (a + b).covers(a) and not a.covers(b)
    with pytest.raises(ValueError, match="scale factor"):
        a.scaled(-1.0)
    with pytest.raises(ValidationError):
        Equipment(roadblocks=-1)


# --- parks_by_distance_to -------------------------------------------------------------


def test_parks_by_distance_sorted() -> None:
    data = load_reference()
    for artery in data.arteries:
        ranked = data.parks_by_distance_to(artery)
        dists = [d for _, d in ranked]
        assert dists == sorted(dists)
        assert len(ranked) == len(data.parks)
        assert all(d >= 0 for d in dists)


def test_parks_by_distance_country_filter_and_id() -> None:
    data = load_reference()
    ranked = data.parks_by_distance_to("LT-A3", country="LT")
    assert ranked and all(p.country == "LT" for p, _ in ranked)
    assert len(ranked) == 27
    assert ranked[0][0].id == "LT-P-MEDININKAI"
    assert data.parks_by_distance_to(data.artery("LT-A3"), country="LT") == ranked
    nearest_pl = data.parks_by_distance_to("PL-A2", country="PL")[0][0]
    assert nearest_pl.id == "PL-P-BIALA-PODLASKA"


# --- arteries: blocking points and roads that must stay open ----------------------------


def test_every_artery_has_a_blocking_point_at_its_border_end() -> None:
    data = load_reference()
    for a in data.arteries:
        assert distance_point_to_linestring_km(a.blocking_point, a.geometry) <= 2.0, a.id
        assert haversine_km(a.blocking_point, a.geometry.end) <= 10.0, a.id
        assert haversine_km(a.blocking_point, a.geometry.end) < haversine_km(
            a.blocking_point, a.geometry.start
        ), a.id
        border = min(
            distance_point_to_linestring_km(a.blocking_point, data.section(s).geometry)
            for s in a.serves_sections
        )
        # Section lines are rough (a few vertices); the blocking point is at the crossing.
        assert border < 15.0, (a.id, border)


def test_via_baltica_to_the_internal_lithuanian_crossing_is_never_closed() -> None:
    data = load_reference()
    s61 = data.artery("PL-S61")
    assert not s61.closable
    assert s61.keep_open_reason and "Budzisko" in s61.keep_open_reason
    budzisko = Point(lat=54.38, lon=22.96)
    assert haversine_km(s61.blocking_point, budzisko) < 3.0
    for sid in s61.serves_sections:
        assert s61 not in data.arteries_serving(sid)
        assert s61 in data.arteries_serving(sid, keep_open=True)
        assert data.arteries_serving(sid), sid  # still blockable by another road


def test_roads_named_after_the_crossings_they_reach() -> None:
    data = load_reference()
    a15 = data.artery("LT-A15")
    assert "Šumskas" not in a15.name and "Šalčininkai" in a15.name
    # The A15 crosses at Šalčininkai-Benyakoni, south of Šalčininkai.
    assert haversine_km(a15.blocking_point, Point(lat=54.265, lon=25.37)) < 3.0
    eisiskes = data.artery("LT-R-EISISKES")
    assert "Dieveniškės" not in eisiskes.name
    # Its border end lies south of Eišiškės, not in the Dieveniškės bulge 40 km east.
    assert haversine_km(eisiskes.blocking_point, Point(lat=54.17, lon=24.99)) < 10.0
    koidula = data.artery("EE-R-KOIDULA")
    assert haversine_km(koidula.blocking_point, Point(lat=57.833, lon=27.585)) < 3.0


def test_a_blocking_point_off_the_road_or_inland_is_rejected() -> None:
    raw = _raw()
    raw["arteries"][0]["blocking_point"] = {"lat": 54.0, "lon": 24.5}
    with pytest.raises(ValidationError, match="off the road"):
        ReferenceData.model_validate(raw)
    raw = _raw()
    start = raw["arteries"][0]["geometry"]["coordinates"][0]
    raw["arteries"][0]["blocking_point"] = {"lat": start[1], "lon": start[0]}
    with pytest.raises(ValidationError, match="from the border end"):
        ReferenceData.model_validate(raw)


def test_a_section_served_only_by_keep_open_roads_is_rejected() -> None:
    raw = _raw()
    for a in raw["arteries"]:
        if "PL-RU-02" in a["serves_sections"] and a["id"] != "PL-S61":
            a["serves_sections"] = [s for s in a["serves_sections"] if s != "PL-RU-02"]
    raw["arteries"] = [a for a in raw["arteries"] if a["serves_sections"]]
    with pytest.raises(ValidationError, match="only by roads that must stay open: PL-RU-02"):
        ReferenceData.model_validate(raw)


def test_a_keep_open_road_needs_its_reason() -> None:
    raw = _raw()
    s61 = next(a for a in raw["arteries"] if a["id"] == "PL-S61")
    del s61["keep_open_reason"]
    with pytest.raises(ValidationError, match="keep_open_reason"):
        ReferenceData.model_validate(raw)


def test_locate_on_linestring() -> None:
    line = LineString(coordinates=((25.0, 54.0), (25.0, 55.0), (26.0, 55.0)))
    distance, along = locate_on_linestring_km(Point(lat=54.5, lon=24.9), line)
    assert distance == pytest.approx(111.32 * math.cos(math.radians(54.5)) * 0.1, rel=0.01)
    assert along == pytest.approx(111.19 / 2, abs=0.2)
    _, along_end = locate_on_linestring_km(Point(lat=55.0, lon=26.0), line)
    assert along_end == pytest.approx(line_length_km(line), rel=1e-6)
