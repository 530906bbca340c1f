"""Pydantic models for reference data: border sections, counter-mobility parks, arteries."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from marchwarden.reference.equipment import Equipment
from marchwarden.reference.geo import (
    distance_point_to_linestring_km,
    haversine_km,
    locate_on_linestring_km,
)
from marchwarden.reference.playbooks import Agency, Playbook

SECTION_ID_PATTERN = re.compile(r"^[A-Z]{2}-[A-Z]{2}-\d{2}$")
"""Border section ids: country ISO2, neighbour ISO2 (RU includes Kaliningrad), two digits."""

CountryCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
"""ISO 3166-1 alpha-2 country code, upper case."""

Coordinate = tuple[float, float]
"""One GeoJSON position: (lon, lat) in WGS84 degrees."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _check_lon_lat(lon: float, lat: float) -> None:
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise ValueError(f"coordinate [{lon}, {lat}] is not finite")
    if not -180.0 <= lon <= 180.0:
        raise ValueError(f"longitude {lon} out of range [-180, 180] (GeoJSON order is [lon, lat])")
    if not -90.0 <= lat <= 90.0:
        raise ValueError(f"latitude {lat} out of range [-90, 90] (GeoJSON order is [lon, lat])")


class Point(_Frozen):
    """A WGS84 position in degrees."""

    lat: float = Field(ge=-90.0, le=90.0, allow_inf_nan=False)
    lon: float = Field(ge=-180.0, le=180.0, allow_inf_nan=False)


class LineString(_Frozen):
    """A GeoJSON LineString; coordinates are [lon, lat] pairs (at least two)."""

    type: Literal["LineString"] = "LineString"
    coordinates: tuple[Coordinate, ...]

    @field_validator("coordinates")
    @classmethod
    def _check_coordinates(cls, value: tuple[Coordinate, ...]) -> tuple[Coordinate, ...]:
        if len(value) < 2:
            raise ValueError(f"a LineString needs at least 2 positions, got {len(value)}")
        for lon, lat in value:
            _check_lon_lat(lon, lat)
        return value

    @property
    def points(self) -> tuple[Point, ...]:
        """The vertices as `Point`s (lat/lon order)."""
        return tuple(Point(lat=lat, lon=lon) for lon, lat in self.coordinates)

    @property
    def start(self) -> Point:
        lon, lat = self.coordinates[0]
        return Point(lat=lat, lon=lon)

    @property
    def end(self) -> Point:
        lon, lat = self.coordinates[-1]
        return Point(lat=lat, lon=lon)


NonNegativeInt = Annotated[int, Field(ge=0, strict=True)]


class Section(_Frozen):
    """A border section: the unit events, aggregates and alerts are keyed by.

    Priors: ``expected_persons_per_day`` (people, as the public figures count) and
    ``expected_attempts_per_day`` (reports, one per group). Surge limits: the floors in
    attempts and persons per hour and the baseline factor (absent: the settings' defaults).
    ``expected_cadence_minutes``: the longest normal gap between two messages of the section.
    """

    id: str
    country: CountryCode
    neighbour: CountryCode
    name: str = Field(min_length=1)
    geometry: LineString
    approximate: bool
    length_km: float = Field(gt=0, allow_inf_nan=False)
    expected_persons_per_day: float = Field(ge=0, allow_inf_nan=False)
    expected_attempts_per_day: float = Field(ge=0, allow_inf_nan=False)
    surge_floor_attempts: int | None = Field(None, ge=1)
    surge_floor_persons: int | None = Field(None, ge=1)
    surge_baseline_factor: float | None = Field(None, gt=0, allow_inf_nan=False)
    expected_cadence_minutes: int = Field(ge=1)
    reporter: str = Field(pattern=r"^[A-Z]{2}-[A-Z]+$")

    @model_validator(mode="after")
    def _check_id(self) -> Self:
        if not SECTION_ID_PATTERN.fullmatch(self.id):
            raise ValueError(
                f"section id {self.id!r} does not match {SECTION_ID_PATTERN.pattern} "
                "(e.g. 'LT-BY-01')"
            )
        country, neighbour, _ = self.id.split("-")
        if (country, neighbour) != (self.country, self.neighbour):
            raise ValueError(
                f"section id {self.id!r} does not match country={self.country!r} "
                f"neighbour={self.neighbour!r}"
            )
        if not self.reporter.startswith(f"{self.country}-"):
            raise ValueError(
                f"section {self.id!r}: reporter {self.reporter!r} "
                f"is not an agency of {self.country}"
            )
        return self


class Park(_Frozen):
    """A counter-mobility park holding equipment near the border."""

    id: str = Field(pattern=r"^[A-Z]{2}-P-[A-Z0-9-]+$")
    name: str = Field(min_length=1)
    country: CountryCode
    location: Point
    stock: Equipment
    approximate: bool

    @model_validator(mode="after")
    def _check_country(self) -> Self:
        if not self.id.startswith(f"{self.country}-"):
            raise ValueError(
                f"park id {self.id!r} does not start with its country {self.country!r}"
            )
        return self


BLOCKING_POINT_MAX_OFF_ROAD_KM = 2.0
"""A blocking point lies on its artery (the polyline is approximate, hence the slack)."""
BLOCKING_POINT_MAX_FROM_END_KM = 10.0
"""... and at its border end: within this distance of the line's last vertex."""


class Artery(_Frozen):
    """A main road toward the border, drawn from inland to the border end.

    ``blocking_point`` is where a closure is set up, at the border end. A road that must stay
    open (``closable`` false, e.g. an allied reinforcement route that ends at an internal
    Schengen crossing) is never planned for closure; ``keep_open_reason`` says why.
    """

    id: str = Field(pattern=r"^[A-Z]{2}-[A-Z0-9-]+$")
    name: str = Field(min_length=1)
    country: CountryCode
    geometry: LineString
    blocking_point: Point
    serves_sections: tuple[str, ...] = Field(min_length=1)
    blocking_requirement: Equipment
    approximate: bool
    closable: bool = True
    keep_open_reason: str | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _check_country(self) -> Self:
        if not self.id.startswith(f"{self.country}-"):
            raise ValueError(
                f"artery id {self.id!r} does not start with its country {self.country!r}"
            )
        if not self.closable and self.keep_open_reason is None:
            raise ValueError(f"artery {self.id!r} must stay open: give its keep_open_reason")
        if self.closable and self.keep_open_reason is not None:
            raise ValueError(f"artery {self.id!r} is closable but has a keep_open_reason")
        off_road = distance_point_to_linestring_km(self.blocking_point, self.geometry)
        if off_road > BLOCKING_POINT_MAX_OFF_ROAD_KM:
            raise ValueError(
                f"artery {self.id!r}: blocking point is {off_road:.1f} km off the road "
                f"(at most {BLOCKING_POINT_MAX_OFF_ROAD_KM:g})"
            )
        from_end = haversine_km(self.blocking_point, self.geometry.end)
        if from_end > BLOCKING_POINT_MAX_FROM_END_KM:
            raise ValueError(
                f"artery {self.id!r}: blocking point is {from_end:.1f} km from the border end "
                f"(at most {BLOCKING_POINT_MAX_FROM_END_KM:g})"
            )
        return self

    def route_from(self, location: Point) -> tuple[float, float]:
        """(access leg, distance along the road) in km from ``location`` to the blocking point.

        The access leg is the straight line from ``location`` to the nearest point of the
        road; from there the convoy follows the road to the blocking point (back along the
        road if it joins beyond it). Both are approximations of road distance.
        """
        access, joins_at = locate_on_linestring_km(location, self.geometry)
        _, blocks_at = locate_on_linestring_km(self.blocking_point, self.geometry)
        return access, abs(blocks_at - joins_at)


def _duplicates(ids: Iterable[str]) -> list[str]:
    return sorted(i for i, n in Counter(ids).items() if n > 1)


class ReferenceData(_Frozen):
    """All reference data of one version, checked for referential integrity."""

    version: str = Field(min_length=1)
    approximate: bool = True
    sections: tuple[Section, ...]
    parks: tuple[Park, ...]
    arteries: tuple[Artery, ...]
    playbooks: tuple[Playbook, ...]
    agencies: tuple[Agency, ...]

    _sections_by_id: dict[str, Section] = PrivateAttr(default_factory=dict)
    _parks_by_id: dict[str, Park] = PrivateAttr(default_factory=dict)
    _arteries_by_id: dict[str, Artery] = PrivateAttr(default_factory=dict)
    _playbooks_by_id: dict[str, Playbook] = PrivateAttr(default_factory=dict)
    _playbook_of_rule: dict[str, Playbook] = PrivateAttr(default_factory=dict)
    _playbook_of_category: dict[str, Playbook] = PrivateAttr(default_factory=dict)
    _agency_of_country: dict[str, Agency] = PrivateAttr(default_factory=dict)
    _agencies_by_id: dict[str, Agency] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _check_integrity(self) -> Self:
        problems: list[str] = []
        for kind, ids in (
            ("section", [s.id for s in self.sections]),
            ("park", [p.id for p in self.parks]),
            ("artery", [a.id for a in self.arteries]),
            ("playbook", [p.id for p in self.playbooks]),
            ("agency", [a.id for a in self.agencies]),
            ("indicator category in playbooks", [c for p in self.playbooks for c in p.categories]),
            ("alert rule in playbooks", [r for p in self.playbooks for r in p.rules]),
        ):
            dups = _duplicates(ids)
            if dups:
                problems.append(f"duplicate {kind} ids: {', '.join(dups)}")
        for s in self.sections:
            if not SECTION_ID_PATTERN.fullmatch(s.id):
                problems.append(f"section id {s.id!r} does not match {SECTION_ID_PATTERN.pattern}")
            elif s.id.split("-")[:2] != [s.country, s.neighbour]:
                problems.append(f"section id {s.id!r} inconsistent with country/neighbour")
        section_ids = {s.id for s in self.sections}
        served: set[str] = set()
        closable: set[str] = set()
        for a in self.arteries:
            unknown = sorted(set(a.serves_sections) - section_ids)
            if unknown:
                problems.append(f"artery {a.id!r} serves unknown section(s): {', '.join(unknown)}")
            served.update(a.serves_sections)
            if a.closable:
                closable.update(a.serves_sections)
        unserved = sorted(section_ids - served)
        if unserved:
            problems.append(f"section(s) not served by any artery: {', '.join(unserved)}")
        unblockable = sorted(served - closable)
        if unblockable:
            problems.append(
                f"section(s) served only by roads that must stay open: {', '.join(unblockable)}"
            )
        for p in self.parks:
            if min(p.stock.as_tuple()) < 0:  # only reachable via model_construct
                problems.append(f"park {p.id!r} has negative stock: {p.stock}")
        problems += self._agency_problems()
        if problems:
            raise ValueError("reference data integrity check failed: " + "; ".join(problems))
        return self

    def _agency_problems(self) -> list[str]:
        problems = []
        ids = {a.id for a in self.agencies}
        countries = {a.country for a in self.agencies}
        missing = sorted({s.country for s in self.sections} - countries)
        if missing:
            problems.append(f"no border-guard agency for: {', '.join(missing)}")
        if len(countries) != len(self.agencies):
            problems.append("more than one border-guard agency for a country")
        for a in self.agencies:
            unknown = sorted(set(a.asks) - ids)
            if unknown:
                problems.append(f"agency {a.id!r} asks unknown agencies: {', '.join(unknown)}")
        return problems

    def model_post_init(self, context: object, /) -> None:
        self._sections_by_id = {s.id: s for s in self.sections}
        self._parks_by_id = {p.id: p for p in self.parks}
        self._arteries_by_id = {a.id: a for a in self.arteries}
        self._playbooks_by_id = {p.id: p for p in self.playbooks}
        self._playbook_of_rule = {r: p for p in self.playbooks for r in p.rules}
        self._playbook_of_category = {c: p for p in self.playbooks for c in p.categories}
        self._agency_of_country = {a.country: a for a in self.agencies}
        self._agencies_by_id = {a.id: a for a in self.agencies}

    # --- lookups -------------------------------------------------------------------------

    @property
    def section_ids(self) -> tuple[str, ...]:
        """All section ids, sorted."""
        return tuple(sorted(self._sections_by_id))

    def section(self, section_id: str) -> Section:
        """The section with this id; KeyError with a readable message if unknown."""
        try:
            return self._sections_by_id[section_id]
        except KeyError:
            raise KeyError(f"unknown border section {section_id!r}") from None

    def has_section(self, section_id: str) -> bool:
        return section_id in self._sections_by_id

    def country_of(self, section_id: str) -> str:
        """ISO2 code of the (EU) country that owns the section."""
        return self.section(section_id).country

    def park(self, park_id: str) -> Park:
        try:
            return self._parks_by_id[park_id]
        except KeyError:
            raise KeyError(f"unknown counter-mobility park {park_id!r}") from None

    def artery(self, artery_id: str) -> Artery:
        try:
            return self._arteries_by_id[artery_id]
        except KeyError:
            raise KeyError(f"unknown artery {artery_id!r}") from None

    def playbook(self, playbook_id: str) -> Playbook:
        try:
            return self._playbooks_by_id[playbook_id]
        except KeyError:
            raise KeyError(f"unknown playbook {playbook_id!r}") from None

    def playbook_for_rule(self, rule: str) -> Playbook:
        """The playbook an alert of ``rule`` follows (KeyError if no playbook names it)."""
        try:
            return self._playbook_of_rule[rule]
        except KeyError:
            raise KeyError(f"no playbook for alert rule {rule!r}") from None

    def playbook_for_category(self, category: str) -> Playbook:
        """The playbook an indicator of ``category`` calls (KeyError if none does)."""
        try:
            return self._playbook_of_category[category]
        except KeyError:
            raise KeyError(f"no playbook for indicator category {category!r}") from None

    def agency_of(self, country: str) -> Agency:
        """The border-guard agency of ``country``."""
        try:
            return self._agency_of_country[country]
        except KeyError:
            raise KeyError(f"no border-guard agency for {country!r}") from None

    def agency(self, agency_id: str) -> Agency:
        try:
            return self._agencies_by_id[agency_id]
        except KeyError:
            raise KeyError(f"unknown border-guard agency {agency_id!r}") from None

    def sections_of(self, country: str) -> list[Section]:
        """Sections owned by ``country``, in id order."""
        return sorted((s for s in self.sections if s.country == country), key=lambda s: s.id)

    def parks_of(self, country: str) -> list[Park]:
        """Parks in ``country``, in id order."""
        return sorted((p for p in self.parks if p.country == country), key=lambda p: p.id)

    def arteries_serving(self, section_id: str, *, keep_open: bool = False) -> list[Artery]:
        """Arteries toward ``section_id`` that may be closed, in id order.

        With ``keep_open``, the roads toward the section that must stay open instead.
        KeyError if the section is unknown.
        """
        self.section(section_id)
        return sorted(
            (
                a
                for a in self.arteries
                if section_id in a.serves_sections and a.closable is not keep_open
            ),
            key=lambda a: a.id,
        )

    def parks_by_distance_to(
        self, artery: Artery | str, country: str | None = None
    ) -> list[tuple[Park, float]]:
        """Parks with their distance (km) to the artery's line, nearest first.

        ``country`` restricts to parks of one country; ``None`` means all parks.
        Ties are broken by park id, so the order is deterministic.
        """
        line = (self.artery(artery) if isinstance(artery, str) else artery).geometry
        ranked = [
            (p, distance_point_to_linestring_km(p.location, line))
            for p in self.parks
            if country is None or p.country == country
        ]
        ranked.sort(key=lambda pd: (pd[1], pd[0].id))
        return ranked
