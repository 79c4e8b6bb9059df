"""Writes prepared boundaries (``boundaries/load.py``) into PostGIS in one transaction."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Connection, Engine, text

from boundaries.load import (
    INSIDE_PARENT_MIN_SHARE,
    TABLES,
    BoundaryLoadError,
    LoadReport,
    prepare,
)
from boundaries.registry import Issue, registry_version
from boundaries.sources import LEVELS, BoundarySourceError, LevelData
from core.areas import cdd_region, nesdb_region
from core.readers import file_sha256
from gis.bulk import insert_values


def _insert_level(conn: Connection, level: str, data: LevelData, load_id: int) -> None:
    table = TABLES[level]
    frame = data.frame
    extra_cols = {"province": [], "district": ["province_code"],
                  "subdistrict": ["province_code", "district_code"]}[level]
    rows = []
    for row in frame.itertuples(index=False):
        code = row.code
        parents = {"province_code": code[:2], "district_code": code[:4]}
        rows.append((
            code, *(parents[c] for c in extra_cols), row.name_th, row.name_en,
            row.source_name_th, row.source_name_en, bool(row.in_registry),
            cdd_region(code[:2]), nesdb_region(code[:2]), load_id,
            row.geom_full.wkb, row.geom_lod1.wkb, row.geom_lod2.wkb, row.geom_lod3.wkb,
        ))
    columns = ["code", *extra_cols, "name_th", "name_en", "source_name_th", "source_name_en",
               "in_registry", "region", "region_nesdb", "load_id"]
    value_names = [*columns, "wkb", "wkb1", "wkb2", "wkb3"]
    sql = f"""
        INSERT INTO {table} ({", ".join(columns)}, area_km2, geom, geom_lod1, geom_lod2, geom_lod3)
        SELECT {", ".join("v." + c for c in columns)},
               ST_Area(g.geom::geography) / 1e6, g.geom,
               ST_Multi(ST_GeomFromWKB(v.wkb1, 4326)),
               ST_Multi(ST_GeomFromWKB(v.wkb2, 4326)),
               ST_Multi(ST_GeomFromWKB(v.wkb3, 4326))
        FROM (VALUES %s) AS v({", ".join(value_names)})
        CROSS JOIN LATERAL (SELECT ST_Multi(ST_GeomFromWKB(v.wkb, 4326)) AS geom) AS g
    """
    insert_values(conn, sql, rows, page_size=500)


def _containment_issues(conn: Connection) -> list[Issue]:
    """Each child should lie in its parent; report those mostly outside it."""
    issues: list[Issue] = []
    for level, table, parent_table, parent_col in (
        ("district", "districts", "provinces", "province_code"),
        ("subdistrict", "subdistricts", "districts", "district_code"),
    ):
        result = conn.execute(text(f"""
            SELECT c.code, c.{parent_col} AS parent,
                   ST_Area(ST_Intersection(c.geom, p.geom)) / NULLIF(ST_Area(c.geom), 0) AS share
            FROM {table} c JOIN {parent_table} p ON p.code = c.{parent_col}
            WHERE NOT ST_CoveredBy(c.geom, p.geom)
        """))
        for code, parent, share in result:
            if share is not None and share < INSIDE_PARENT_MIN_SHARE:
                issues.append(Issue(level, code, "outside_parent",
                                    f"only {share:.1%} of its area lies in its parent {parent}"))
    return issues


def write(engine: Engine, levels: dict[str, LevelData], issues: list[Issue], *,
          started: float, before_commit: Callable[[Connection], None] | None = None,
          ) -> LoadReport:
    """Replaces the boundaries in one transaction. ``before_commit`` lets tests fail it late."""
    sources = {level: {"file": str(d.source.path), "layer": d.source.layer,
                       "sha256": file_sha256(d.source.path), "encoding": d.encoding}
               for level, d in levels.items()}
    counts = {level: len(d.frame) for level, d in levels.items()}
    with engine.begin() as conn:
        load_id = conn.execute(text("""
            INSERT INTO boundary_loads (sources, counts, registry_version, seconds)
            VALUES (CAST(:sources AS jsonb), CAST(:counts AS jsonb), :version, 0) RETURNING id
        """), {"sources": json.dumps(sources), "counts": json.dumps(counts),
               "version": registry_version()}).scalar_one()
        for table in ("subdistricts", "districts", "provinces"):
            conn.execute(text(f"DELETE FROM {table}"))
        for level in LEVELS:
            _insert_level(conn, level, levels[level], load_id)
        issues = issues + _containment_issues(conn)
        if issues:
            conn.execute(text("""
                INSERT INTO boundary_issues (load_id, level, code, kind, detail)
                VALUES (:load_id, :level, :code, :kind, :detail)
            """), [{"load_id": load_id, "level": i.level, "code": i.code, "kind": i.kind,
                    "detail": i.detail} for i in issues])
        seconds = time.monotonic() - started
        conn.execute(text("UPDATE boundary_loads SET seconds = :s WHERE id = :id"),
                     {"s": seconds, "id": load_id})
        if before_commit is not None:
            before_commit(conn)
    return LoadReport(load_id=load_id, counts=counts,
                      encodings={lvl: d.encoding or "" for lvl, d in levels.items()},
                      issues=issues, seconds=seconds)


def load_boundaries(engine: Engine, data_dir: Path, *,
                    before_commit: Callable[[Connection], None] | None = None) -> LoadReport:
    started = time.monotonic()
    try:
        levels, issues = prepare(data_dir)
    except BoundarySourceError as exc:
        raise BoundaryLoadError(str(exc)) from exc
    try:
        return write(engine, levels, issues, started=started, before_commit=before_commit)
    except BoundaryLoadError:
        raise
    except Exception as exc:
        raise BoundaryLoadError(
            f"writing the boundaries failed, nothing was changed: {exc}") from exc


def boundaries_loaded(engine: Engine) -> bool:
    with engine.connect() as conn:
        return bool(conn.execute(text("SELECT EXISTS (SELECT 1 FROM provinces)")).scalar())
