"""Distances and geofences on the WGS-84 globe, at the scale of one plant (metres to a few kilometres).

Hand-written because it is two formulas: the haversine distance, and ray casting in a local equirectangular
projection, which is exact to centimetres over a plant-sized polygon; a GIS library (shapely/pyproj) would
add a native dependency for nothing more.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ledger.errors import MalformedInput

__all__ = ["EARTH_RADIUS_M", "check_geofence", "distance_m", "inside_geofence"]

EARTH_RADIUS_M = 6_371_008.8


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres.

    >>> round(distance_m(31.0, 121.0, 31.0, 121.001), 1)
    95.3
    """
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def _point(value: Any, field: str) -> tuple[float, float]:
    if (not isinstance(value, list | tuple) or len(value) != 2
            or not all(isinstance(x, int | float) and not isinstance(x, bool) for x in value)):
        raise MalformedInput(f"{field} must be [lat, lon], got {value!r}")
    lat, lon = float(value[0]), float(value[1])
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise MalformedInput(f"{field} is off the globe: lat {lat}, lon {lon}")
    return lat, lon


def check_geofence(fence: Any) -> dict[str, Any]:
    """A well-formed geofence ``{"circle": {"lat", "lon", "radius_m"}}`` or ``{"polygon": [[lat, lon], ...]}``;
    raises ``MalformedInput`` saying what is wrong."""
    if isinstance(fence, dict) and set(fence) == {"circle"} and isinstance(fence["circle"], dict):
        circle = fence["circle"]
        if set(circle) != {"lat", "lon", "radius_m"}:
            raise MalformedInput("geofence.circle needs exactly lat, lon and radius_m")
        _point([circle["lat"], circle["lon"]], "geofence.circle centre")
        radius = circle["radius_m"]
        if not isinstance(radius, int | float) or isinstance(radius, bool) or not 0 < radius <= 50_000:
            raise MalformedInput(f"geofence.circle.radius_m must be in (0, 50000], got {radius!r}")
        return fence
    if isinstance(fence, dict) and set(fence) == {"polygon"} and isinstance(fence["polygon"], list):
        points = [_point(p, f"geofence.polygon[{i}]") for i, p in enumerate(fence["polygon"])]
        if len(points) < 3:
            raise MalformedInput(f"geofence.polygon needs at least 3 points, got {len(points)}")
        return fence
    raise MalformedInput('geofence must be {"circle": {"lat", "lon", "radius_m"}} or {"polygon": [[lat, lon], ...]}')


def inside_geofence(fence: Mapping[str, Any], lat: float, lon: float) -> bool:
    """Whether (lat, lon) lies in a geofence checked by ``check_geofence``."""
    if "circle" in fence:
        c = fence["circle"]
        return bool(distance_m(c["lat"], c["lon"], lat, lon) <= c["radius_m"])
    points = fence["polygon"]
    scale = math.cos(math.radians(lat))  # local projection: x = lon·cos(lat), y = lat
    x, y = lon * scale, lat
    inside = False
    for (lat1, lon1), (lat2, lon2) in zip(points, points[1:] + points[:1], strict=True):
        x1, y1, x2, y2 = lon1 * scale, lat1, lon2 * scale, lat2
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside
