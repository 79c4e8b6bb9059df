"""Geometry repair and display simplification.

Simplification works on the whole coverage of a level at once (``shapely.coverage_simplify``), so
neighbouring units keep sharing their edges: no slivers or gaps when drawn.

Every stored geometry then goes through :func:`for_geojson`: GeoJSON readers (RFC 7946 §3.1.6)
want outer rings counter-clockwise and holes clockwise, and the API writes coordinates rounded
(``ST_AsGeoJSON``: 6 decimals at full detail, 5 for the display levels), which can fold a narrow
part of a polygon onto itself; snapped to that grid here, what is stored is what is written.
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from boundaries.registry import Issue


def to_multipolygon(geom: BaseGeometry) -> MultiPolygon:
    """Keeps the polygonal parts (make_valid can add stray lines or points) as one MultiPolygon."""
    if isinstance(geom, MultiPolygon):
        return geom
    if isinstance(geom, Polygon):
        return MultiPolygon([geom])
    parts: list[Polygon] = []
    for part in getattr(geom, "geoms", []):
        if isinstance(part, Polygon | MultiPolygon):
            parts.extend(to_multipolygon(part).geoms)
    return MultiPolygon(parts)


def repair(level: str, codes: list[str], geoms: np.ndarray) -> tuple[np.ndarray, list[Issue]]:
    """Makes every geometry valid; reports which were repaired and why they were invalid."""
    issues: list[Issue] = []
    out = np.empty(len(geoms), dtype=object)
    valid = shapely.is_valid(geoms)
    for i, (code, geom) in enumerate(zip(codes, geoms, strict=True)):
        if valid[i]:
            out[i] = to_multipolygon(geom)
            continue
        reason = shapely.is_valid_reason(geom)
        fixed = to_multipolygon(shapely.make_valid(geom))
        if fixed.is_empty:
            raise ValueError(f"{level} {code}: geometry is invalid ({reason}) and nothing "
                             "polygonal is left after repair")
        area_change = abs(fixed.area - geom.buffer(0).area) / max(geom.buffer(0).area, 1e-12)
        issues.append(Issue(level, code, "geometry_repaired",
                            f"{reason}; repaired with make_valid (area change "
                            f"{area_change:.4%})"))
        out[i] = fixed
    return out, issues


FULL_GRID = 1e-6
"""The API writes full-detail coordinates with 6 decimals (about 0.1 m)."""
DISPLAY_GRID = 1e-5
"""The display levels of detail are written with 5 decimals (about 1 m; coarser than their
simplification tolerances of 0.001 degrees and up)."""


def for_geojson(geoms: np.ndarray, grid_size: float) -> np.ndarray:
    """Snaps every geometry to the grid the API rounds to, keeps it valid there
    (``set_precision`` nodes what snapping folds; ``make_valid`` mends what is left) and orients
    it as RFC 7946 asks: outer rings counter-clockwise, holes clockwise."""
    snapped = shapely.set_precision(geoms, grid_size)
    out = np.empty(len(geoms), dtype=object)
    for i, (original, geom) in enumerate(zip(geoms, snapped, strict=True)):
        if not geom.is_valid:
            geom = shapely.make_valid(geom)
        polygons = to_multipolygon(geom)
        out[i] = polygons if not polygons.is_empty else original
    return shapely.orient_polygons(out, exterior_cw=False)


def coverage_issues(level: str, codes: list[str], geoms: np.ndarray) -> list[Issue]:
    """Flags units whose edges do not match their neighbours' (overlaps or gaps in the source)."""
    edges = shapely.coverage_invalid_edges(geoms)
    return [Issue(level, code, "coverage_mismatch",
                  "edges overlap or do not line up with a neighbour's in the source file "
                  f"({shapely.length(edge) * 111:.2f} km of edge, approx.)")
            for code, edge in zip(codes, edges, strict=True) if not edge.is_empty]


def simplify_coverage(geoms: np.ndarray, tolerance: float) -> np.ndarray:
    """Simplifies a level as one coverage; falls back per unit where the result is unusable."""
    simplified = shapely.coverage_simplify(geoms, tolerance)
    out = np.empty(len(geoms), dtype=object)
    for i, (original, simple) in enumerate(zip(geoms, simplified, strict=True)):
        candidate = to_multipolygon(simple) if simple is not None else MultiPolygon()
        if candidate.is_empty or not candidate.is_valid:
            candidate = to_multipolygon(shapely.make_valid(candidate)) \
                if not candidate.is_empty else candidate
        out[i] = candidate if not candidate.is_empty else original
    return out
