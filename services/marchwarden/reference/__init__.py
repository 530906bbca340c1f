"""Versioned reference data: border sections, counter-mobility parks and arteries."""

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
    EquipmentCounts,
    LineString,
    Park,
    Point,
    ReferenceData,
    Section,
)

__all__ = [
    "DATA_FILES",
    "EARTH_RADIUS_KM",
    "SECTION_ID_PATTERN",
    "Artery",
    "EquipmentCounts",
    "LineString",
    "Park",
    "Point",
    "ReferenceData",
    "ReferenceDataError",
    "Section",
    "distance_point_to_linestring_km",
    "haversine_km",
    "line_length_km",
    "load_reference",
]
