"""The reference data as one GeoJSON FeatureCollection: border sections, parks and arteries."""

from __future__ import annotations

from typing import Any

from marchwarden.reference.models import ReferenceData


def reference_geojson(reference: ReferenceData) -> dict[str, Any]:
    """Every feature carries `kind` (section, park, artery) and its id; coordinates are [lon, lat]."""
    features: list[dict[str, Any]] = []
    for section in reference.sections:
        features.append(
            _feature(
                section.geometry.model_dump(),
                kind="section",
                id=section.id,
                name=section.name,
                country=section.country,
                neighbour=section.neighbour,
                length_km=section.length_km,
            )
        )
    for artery in reference.arteries:
        features.append(
            _feature(
                artery.geometry.model_dump(),
                kind="artery",
                id=artery.id,
                name=artery.name,
                country=artery.country,
                serves_sections=list(artery.serves_sections),
            )
        )
    for park in reference.parks:
        point = {"type": "Point", "coordinates": [park.location.lon, park.location.lat]}
        features.append(
            _feature(
                point,
                kind="park",
                id=park.id,
                name=park.name,
                country=park.country,
                stock=park.stock.model_dump(),
            )
        )
    return {
        "type": "FeatureCollection",
        "properties": {"version": reference.version, "approximate": reference.approximate},
        "features": features,
    }


def _feature(geometry: dict[str, Any], **properties: Any) -> dict[str, Any]:
    if geometry.get("type") == "LineString":
        geometry = {"type": "LineString", "coordinates": [list(c) for c in geometry["coordinates"]]}
    return {"type": "Feature", "geometry": geometry, "properties": properties}
