"""Small spherical-geometry helpers (WGS84 degrees in, kilometres out)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Protocol


# The shapes these helpers need, so geometry stays below the reference models that use it.
class Point(Protocol):
    """A position in WGS84 degrees."""

    @property
    def lat(self) -> float: ...

    @property
    def lon(self) -> float: ...


class LineString(Protocol):
    """A line as GeoJSON [lon, lat] pairs."""

    @property
    def coordinates(self) -> Sequence[Sequence[float]]: ...


EARTH_RADIUS_KM = 6371.0088
"""Mean Earth radius (IUGG)."""

_KM_PER_DEG = EARTH_RADIUS_KM * math.pi / 180.0


def _haversine(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def haversine_km(a: Point, b: Point) -> float:
    """Great-circle distance between two points in km."""
    return _haversine(a.lat, a.lon, b.lat, b.lon)


def line_length_km(line: LineString) -> float:
    """Length of a LineString in km (sum of great-circle segment lengths)."""
    coords = line.coordinates
    return sum(
        _haversine(lat1, lon1, lat2, lon2)
        for (lon1, lat1), (lon2, lat2) in itertools.pairwise(coords)
    )


def distance_point_to_linestring_km(p: Point, line: LineString) -> float:
    """Approximate shortest distance in km from ``p`` to ``line``.

    Projects the line into a local equirectangular plane centred on ``p`` and takes the
    minimum distance to each segment. Accurate to well under 1 % at the regional scale
    (tens to a few hundred km) this project works at; does not handle the antimeridian.
    """
    kx = _KM_PER_DEG * math.cos(math.radians(p.lat))
    ky = _KM_PER_DEG
    pts = [((lon - p.lon) * kx, (lat - p.lat) * ky) for lon, lat in line.coordinates]
    best = math.inf
    for (x1, y1), (x2, y2) in itertools.pairwise(pts):
        dx, dy = x2 - x1, y2 - y1
        seg2 = dx * dx + dy * dy
        # parameter of the origin's projection onto the segment, clamped to [0, 1]
        t = 0.0 if seg2 == 0.0 else max(0.0, min(1.0, -(x1 * dx + y1 * dy) / seg2))
        best = min(best, math.hypot(x1 + t * dx, y1 + t * dy))
    return best


def locate_on_linestring_km(p: Point, line: LineString) -> tuple[float, float]:
    """Where ``p`` meets ``line``: (distance from ``p`` to its nearest point on the line,
    distance along the line from its first vertex to that nearest point), both in km.

    The nearest point is found in the same local plane as `distance_point_to_linestring_km`;
    the along-line distance sums great-circle segment lengths up to it.
    """
    kx = _KM_PER_DEG * math.cos(math.radians(p.lat))
    ky = _KM_PER_DEG
    coords = line.coordinates
    pts = [((lon - p.lon) * kx, (lat - p.lat) * ky) for lon, lat in coords]
    best, best_along, walked = math.inf, 0.0, 0.0
    for i, ((x1, y1), (x2, y2)) in enumerate(itertools.pairwise(pts)):
        dx, dy = x2 - x1, y2 - y1
        seg2 = dx * dx + dy * dy
        t = 0.0 if seg2 == 0.0 else max(0.0, min(1.0, -(x1 * dx + y1 * dy) / seg2))
        (lon1, lat1), (lon2, lat2) = coords[i], coords[i + 1]
        seg_km = _haversine(lat1, lon1, lat2, lon2)
        d = math.hypot(x1 + t * dx, y1 + t * dy)
        if d < best:
            best, best_along = d, walked + t * seg_km
        walked += seg_km
    return best, best_along
