"""Geometry repair and display simplification.

Simplification works on the whole coverage of a level at once (``shapely.coverage_simplify``), so
neighbouring units keep sharing their edges: no slivers or gaps when drawn.
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
