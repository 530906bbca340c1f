"""Versioned reference data: border sections, parks, arteries, playbooks and border guards."""

from marchwarden.reference.equipment import Equipment
from marchwarden.reference.geo import (
    EARTH_RADIUS_KM,
    distance_point_to_linestring_km,
    haversine_km,
    line_length_km,
)
from marchwarden.reference.loader import DATA_FILES, ReferenceDataError, load_reference
from marchwarden.reference.models import (
    SECTION_ID_PATTERN,
    Artery,
    LineString,
    Park,
    Point,
    ReferenceData,
    Section,
)
from marchwarden.reference.playbooks import Agency, Playbook

__all__ = [
    "DATA_FILES",
    "EARTH_RADIUS_KM",
    "SECTION_ID_PATTERN",
    "Agency",
    "Artery",
    "Equipment",
    "LineString",
    "Park",
    "Playbook",
    "Point",
    "ReferenceData",
    "ReferenceDataError",
    "Section",
    "distance_point_to_linestring_km",
    "haversine_km",
    "line_length_km",
    "load_reference",
]
