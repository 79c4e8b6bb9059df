"""Where points lie (the subdistrict each is in, or the nearest within the coast tolerance) and
existing namesakes nearby: the point lookups both the importer's store (``gis.layer_store``) and
the staff changes (``gis.changes``) need. A module of its own, so neither imports the other for
them (they once imported each other, hidden by function-level imports)."""

from __future__ import annotations

from sqlalchemy import Connection, Engine, text

from layers.importer import Placement


def _points_cte() -> str:
    return """
        pts AS (
            SELECT ord, ST_SetSRID(ST_MakePoint(x, y), 4326) AS g
            FROM unnest(CAST(:xs AS float8[]), CAST(:ys AS float8[]))
                 WITH ORDINALITY AS t(x, y, ord)
        )
    """


def _no_jit(conn: Connection) -> None:
    """No JIT compilation for this transaction. A batch's lookups are estimated costly (a
    lateral probe per point), so PostgreSQL compiled them, ~145 ms a batch of 2,000 rows, for
    queries that run in ~55 ms; an import of 1,000,000 rows sends 500 of each."""
    conn.execute(text("SET LOCAL jit = off"))


def locate(engine: Engine, points: list[tuple[float, float]]) -> list[Placement | None]:
    """The subdistrict each point lies in, or the nearest within the coast tolerance."""
    if not points:
        return []
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    with engine.connect() as conn:
        _no_jit(conn)
        rows = conn.execute(text(f"""
            WITH {_points_cte()}
            SELECT p.ord, s.code, s.district_code, s.province_code, s.region, s.name_th,
                   CASE WHEN ST_Intersects(s.geom, p.g) THEN 0
                        ELSE ST_Distance(s.geom::geography, p.g::geography) END AS distance_m
            FROM pts p
            CROSS JOIN LATERAL (
                SELECT code, district_code, province_code, region, name_th, geom
                FROM subdistricts
                ORDER BY geom <-> p.g
                LIMIT 1
            ) s
            ORDER BY p.ord
        """), {"xs": xs, "ys": ys}).all()
    out: list[Placement | None] = [None] * len(points)
    for ord_, code, district, province, region, name_th, distance in rows:
        out[ord_ - 1] = Placement(code, district, province, region, name_th, float(distance))
    return out


def namesakes_nearby(engine: Engine, layer: str, rows: list[tuple[str, str, float, float]],
                     radius_m: float) -> dict[int, str]:
    """Existing features of the layer with the same name within a few metres but another key.

    ``rows`` are (key, name, lon, lat); returns index -> the existing key.
    """
    if not rows:
        return {}
    with engine.connect() as conn:
        _no_jit(conn)
        found = conn.execute(text(f"""
            WITH {_points_cte()},
            named AS (
                SELECT ord, k, n FROM unnest(CAST(:keys AS text[]), CAST(:names AS text[]))
                    WITH ORDINALITY AS t(k, n, ord)
            )
            SELECT p.ord, f.key
            FROM pts p JOIN named USING (ord)
            JOIN LATERAL (
                SELECT key FROM layer_features f
                WHERE f.layer = :layer AND f.name = named.n AND f.key <> named.k
                  AND ST_DWithin(f.geom::geography, p.g::geography, :radius)
                LIMIT 1
            ) f ON true
        """), {"xs": [r[2] for r in rows], "ys": [r[3] for r in rows],
               "keys": [r[0] for r in rows], "names": [r[1] for r in rows],
               "layer": layer, "radius": radius_m}).all()
    return {ord_ - 1: key for ord_, key in found}
