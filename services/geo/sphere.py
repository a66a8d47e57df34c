"""Great-circle geometry on a sphere: distances, unit vectors, geodesic circles and paths.

Every distance the map page shows comes from :func:`haversine_km`: the haversine formula on a sphere of the
IUGG mean Earth radius. Planar distances on longitude/latitude degrees are never used for ranking, because
they are wrong away from the equator and across the antimeridian.
"""

from __future__ import annotations

import math

import numpy as np
import shapely

from services.geo.errors import InvalidSearchError

#: IUGG mean Earth radius R1 in km (the radius of the sphere every distance here is measured on).
EARTH_RADIUS_KM = 6371.0088
#: Half the circumference: no two points on the sphere are farther apart.
MAX_DISTANCE_KM = math.pi * EARTH_RADIUS_KM


def haversine_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance in km between points given in degrees (numpy broadcasting).

    The longitude difference enters only through sin² of its half, so pairs straddling ±180° need no
    special case.
    """
    phi1 = np.radians(lat1)
    phi2 = np.radians(lat2)
    half_dphi = np.sin((phi2 - phi1) * 0.5)
    half_dlam = np.sin(np.radians(np.subtract(lon2, lon1)) * 0.5)
    a = half_dphi * half_dphi + np.cos(phi1) * np.cos(phi2) * (half_dlam * half_dlam)
    return (2.0 * EARTH_RADIUS_KM) * np.arcsin(np.sqrt(np.minimum(a, 1.0)))


def unit_vectors(lat, lon) -> np.ndarray:
    """(n, 3) Cartesian unit vectors of points in degrees: straight-line (chord) distance between them
    grows monotonically with great-circle distance, with no seam at the antimeridian or the poles."""
    phi = np.radians(np.asarray(lat, dtype=float))
    lam = np.radians(np.asarray(lon, dtype=float))
    cos_phi = np.cos(phi)
    return np.ascontiguousarray(np.column_stack([cos_phi * np.cos(lam), cos_phi * np.sin(lam), np.sin(phi)]))


def unit_vector(lat: float, lon: float) -> tuple[float, float, float]:
    """One point's unit vector (scalar maths: cheaper than numpy for a single query)."""
    phi = math.radians(lat)
    lam = math.radians(lon)
    return math.cos(phi) * math.cos(lam), math.cos(phi) * math.sin(lam), math.sin(phi)


def chord_from_km(distance_km):
    """Straight-line distance through the unit sphere matching a great-circle distance in km."""
    angle = np.minimum(np.asarray(distance_km, dtype=float) / EARTH_RADIUS_KM, math.pi)
    return 2.0 * np.sin(angle * 0.5)


def longitude_near(lon, reference: float):
    """Longitude(s) shifted by whole turns to lie within 180° of ``reference``: a web map centred near
    ±180 then draws neighbours across the antimeridian beside the query instead of a world away."""
    return reference + wrap_longitude(np.asarray(lon, dtype=float) - reference)


def wrap_longitude(lon):
    """Longitude(s) folded into [-180, 180): Leaflet reports clicks on repeated world copies beyond ±180."""
    wrapped = (np.asarray(lon, dtype=float) + 180.0) % 360.0 - 180.0
    return float(wrapped) if np.ndim(wrapped) == 0 else wrapped


def destination(lat: float, lon: float, bearing_deg, distance_km: float) -> tuple[np.ndarray, np.ndarray]:
    """Points reached from (lat, lon) by travelling ``distance_km`` along the given initial bearing(s)."""
    phi1 = math.radians(lat)
    lam1 = math.radians(lon)
    theta = np.radians(np.asarray(bearing_deg, dtype=float))
    delta = distance_km / EARTH_RADIUS_KM
    sin_phi2 = math.sin(phi1) * math.cos(delta) + math.cos(phi1) * math.sin(delta) * np.cos(theta)
    phi2 = np.arcsin(np.clip(sin_phi2, -1.0, 1.0))
    lam2 = lam1 + np.arctan2(
        np.sin(theta) * math.sin(delta) * math.cos(phi1), math.cos(delta) - math.sin(phi1) * np.sin(phi2)
    )
    return np.degrees(phi2), wrap_longitude(np.degrees(lam2))


Ring = list[tuple[float, float]]  # (lat, lon) vertices, as Leaflet wants them
Polygon = list[Ring]  # outer ring first, then holes


def geodesic_circle(
    lat: float, lon: float, radius_km: float, segments: int = 180, *, split_at_antimeridian: bool = True,
    destination_fn=None,
) -> list[Polygon]:
    """The disc of points within great-circle distance ``radius_km`` of (lat, lon), as flat-map polygons.

    The boundary vertices lie at exactly ``radius_km``. Where the disc crosses the antimeridian it is cut
    there into pieces that each stay inside [-180, 180] (GeoJSON's rule); with ``split_at_antimeridian``
    False a disc of up to a hemisphere is instead one polygon in continuous longitude around ``lon``
    (values may pass ±180), which is what a web map centred on the query draws without a seam. A disc
    around a pole is closed along that pole's edge; a disc larger than a hemisphere is the world minus the
    antipodal disc. So a flat map shows the true disc instead of a band across the whole world.
    ``destination_fn`` replaces :func:`destination` (the ellipsoid's, for a disc of up to a hemisphere).
    """
    if not (radius_km > 0 and math.isfinite(radius_km)):
        raise InvalidSearchError(f"radius must be a positive number of km, got {radius_km!r}")
    world = shapely.box(-180.0, -90.0, 180.0, 90.0)
    if radius_km >= MAX_DISTANCE_KM:
        disc = world
    elif radius_km > MAX_DISTANCE_KM / 2:
        hole = _unwrapped_cap(-lat, wrap_longitude(lon + 180.0), MAX_DISTANCE_KM - radius_km, segments)
        disc = shapely.difference(world, fold_into_world(hole))
    elif split_at_antimeridian:
        disc = fold_into_world(_unwrapped_cap(lat, lon, radius_km, segments, destination_fn))
    else:
        disc = _unwrapped_cap(lat, lon, radius_km, segments, destination_fn)
    return leaflet_polygons(disc)


def leaflet_polygons(disc) -> list[Polygon]:
    """A shapely (multi)polygon as Leaflet's (lat, lon) rings, empty pieces dropped."""
    return [
        [[(float(y), float(x)) for x, y in np.asarray(ring.coords)] for ring in (part.exterior, *part.interiors)]
        for part in shapely.get_parts(disc)
        if isinstance(part, shapely.Polygon) and part.area > 0
    ]


def _unwrapped_cap(lat: float, lon: float, radius_km: float, segments: int, destination_fn=None) -> shapely.Polygon:
    """A disc of at most a hemisphere as one polygon in continuous (unwrapped) longitude."""
    bearings = np.linspace(0.0, 360.0, segments, endpoint=False)
    lats, lons = (destination_fn or destination)(lat, lon, bearings, radius_km)
    return ring_polygon(lat, lats, lons)


def ring_polygon(center_lat: float, lats: np.ndarray, lons: np.ndarray) -> shapely.Polygon:
    """The region a closed boundary (vertices in order around a centre) encloses, as one polygon in
    continuous (unwrapped) longitude; a boundary that winds around a pole is closed along the pole on the
    centre's side."""
    unwrapped = np.degrees(np.unwrap(np.radians(lons)))
    coords = np.column_stack([unwrapped, lats])
    winding = unwrapped[-1] - unwrapped[0] + wrap_longitude(unwrapped[0] - unwrapped[-1])
    if abs(winding) > 180.0:
        # The boundary winds once around a pole: close the ring along that pole.
        pole = 90.0 if center_lat > 0 else -90.0
        first = unwrapped[0] + winding
        coords = np.vstack([coords, [[first, lats[0]], [first, pole], [unwrapped[0], pole]]])
    return shapely.make_valid(shapely.Polygon(coords))


def fold_into_world(polygon) -> shapely.Geometry:
    """Cut an unwrapped-longitude shape at ±180 and shift the pieces into [-180, 180]."""
    world = shapely.box(-180.0, -90.0, 180.0, 90.0)
    pieces = [
        shapely.intersection(shapely.transform(polygon, lambda c, s=shift: c + [s, 0.0]), world)
        for shift in (-360.0, 0.0, 360.0)
    ]
    return shapely.union_all(pieces)


def great_circle_path(lat1: float, lon1: float, lat2: float, lon2: float, segments: int = 32) -> list[Ring]:
    """The shortest route between two points as polylines, cut where it crosses the antimeridian."""
    a = np.array(unit_vector(lat1, lon1))
    b = np.array(unit_vector(lat2, lon2))
    omega = math.acos(max(-1.0, min(1.0, float(a @ b))))
    if omega < 1e-12:
        return [[(lat1, lon1), (lat2, lon2)]]
    t = np.linspace(0.0, 1.0, segments + 1)[:, None]
    if math.pi - omega < 1e-6:
        # Antipodes: every great circle is shortest; take the one through the nearer pole.
        axis = np.cross(a, [0.0, 0.0, 1.0 if lat1 >= 0 else -1.0])
        if np.linalg.norm(axis) < 1e-12:
            axis = np.array([0.0, 1.0, 0.0])
        side = np.cross(axis / np.linalg.norm(axis), a)
        points = np.cos(t * math.pi) * a + np.sin(t * math.pi) * side
    else:
        points = (np.sin((1.0 - t) * omega) * a + np.sin(t * omega) * b) / math.sin(omega)
    lats = np.degrees(np.arcsin(np.clip(points[:, 2], -1.0, 1.0)))
    lons = np.degrees(np.arctan2(points[:, 1], points[:, 0]))
    lats[0], lons[0], lats[-1], lons[-1] = lat1, lon1, lat2, lon2
    if not (np.abs(np.diff(lons)) > 180.0).any():  # no crossing of ±180 (most paths): one piece, no loop
        return [list(zip(lats.tolist(), lons.tolist()))]
    paths: list[Ring] = [[(float(lats[0]), float(lons[0]))]]
    for i in range(1, len(lats)):
        if abs(lons[i] - lons[i - 1]) > 180.0:
            # Crossing ±180: end this piece on the seam and start the next one on the other side.
            edge = 180.0 if lons[i - 1] > 0 else -180.0
            frac = (edge - lons[i - 1]) / (edge - lons[i - 1] + lons[i] + edge)
            seam_lat = float(lats[i - 1] + frac * (lats[i] - lats[i - 1]))
            paths[-1].append((seam_lat, edge))
            paths.append([(seam_lat, -edge)])
        paths[-1].append((float(lats[i]), float(lons[i])))
    return paths
