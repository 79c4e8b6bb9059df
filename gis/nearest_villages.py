"""The nearest centre of a layer for every village of a district: the staff locator's batch
list (issue 24: "nearest center for every village in this district" as CSV and a printable
list), so an office plans visits for a whole district at once instead of village by village.

One statement: each village takes its few nearest candidates by the layer's geography index
(KNN ``<->``, on the sphere) and keeps the one nearest on the ellipsoid, the distance the
locator shows; a district has at most a few hundred villages, so the work is bounded by the
district, not the layer.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, text

from core.schema import Layer
from gis.layer_queries import LayerQuery, where
from gis.staff_features import place_names

# Candidates each village reads by sphere distance before the ellipsoidal one decides; the
# two orders differ by well under 1 %, so the nearest is always among a handful.
_CANDIDATES = 4


@dataclass(frozen=True)
class VillageNearest:
    village_id: int
    village_th: str
    subdistrict_code: str | None
    subdistrict_th: str | None
    lon: float
    lat: float
    key: str | None
    """The nearest feature's key, or None when the layer (with its filters) has none."""
    name: str | None
    distance_m: float | None


def district_name(engine: Engine, code: str) -> tuple[str, str, str] | None:
    """(district Thai, district English, province Thai) of a loaded district, else None."""
    names = place_names(engine, code[:2], code, None)
    if names["district_th"] is None:
        return None
    return names["district_th"], str(names["district_en"]), str(names["province_th"])


def nearest_per_village(engine: Engine, layer: Layer, district: str,
                        q: LayerQuery | None = None) -> list[VillageNearest]:
    """Every village point of ``district`` with the nearest feature of ``layer`` that passes
    ``q``'s filters (choices, ranges, CQL2), in subdistrict then village-name order."""
    clauses, params = where(layer, q or LayerQuery())
    with engine.connect() as conn:
        conn.execute(text("SET LOCAL jit = off"))  # many tiny index scans, as in gis.locate
        rows = conn.execute(text(f"""
            SELECT v.id, v.name_th, v.subdistrict_code, s.name_th,
                   round(ST_X(v.geom)::numeric, 6), round(ST_Y(v.geom)::numeric, 6),
                   n.key, n.name, n.distance_m
            FROM villages v
            LEFT JOIN subdistricts s ON s.code = v.subdistrict_code
            LEFT JOIN LATERAL (
                SELECT c.key, c.name,
                       ST_Distance(c.geom::geography, v.geom::geography) AS distance_m
                FROM (SELECT f.key, f.name, f.geom FROM layer_features f
                      WHERE {clauses}
                      ORDER BY f.geom::geography <-> v.geom::geography
                      LIMIT {_CANDIDATES}) c
                ORDER BY distance_m, c.key LIMIT 1
            ) n ON true
            WHERE v.district_code = :district
            ORDER BY v.subdistrict_code, v.name_th, v.id
        """), {**params, "district": district}).all()
    return [VillageNearest(int(r[0]), r[1], r[2], r[3], float(r[4]), float(r[5]), r[6], r[7],
                           None if r[8] is None else float(r[8])) for r in rows]
