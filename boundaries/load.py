"""Loads the three boundary levels into PostGIS in one transaction.

Everything that can fail on the files (reading, decoding, codes, geometry) happens before the
database is touched; the write itself replaces all three levels atomically, so a failed load
leaves the previous boundaries as they were.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from psycopg2.extras import execute_values
from sqlalchemy import Connection, Engine, text

from boundaries.geometry import coverage_issues, repair, simplify_coverage
from boundaries.registry import Issue, check_parent_codes, reconcile, registry_version
from boundaries.sources import LEVELS, BoundarySourceError, LevelData, locate_sources, read_level
from gis.models import LEVELS_OF_DETAIL
from gis.regions import cdd_region, nesdb_region

TABLES = {"province": "provinces", "district": "districts", "subdistrict": "subdistricts"}
PARENT = {"district": "province", "subdistrict": "district"}
# A child whose area lies less than this share inside its parent is reported.
INSIDE_PARENT_MIN_SHARE = 0.95


class BoundaryLoadError(RuntimeError):
    """The load failed and nothing was changed in the database; the message says why."""


@dataclass
class LoadReport:
    load_id: int
    counts: dict[str, int]
    encodings: dict[str, str]
    issues: list[Issue] = field(default_factory=list)
    seconds: float = 0.0

    def issue_counts(self) -> dict[tuple[str, str], int]:
        return dict(Counter((i.level, i.kind) for i in self.issues))

    def summary(self) -> str:
        lines = [f"Loaded boundaries (load #{self.load_id}) in {self.seconds:.1f} s:"]
        for level in LEVELS:
            lines.append(f"  {TABLES[level]:<13} {self.counts[level]:>6}   "
                         f"(text encoding {self.encodings[level]})")
        if self.issues:
            lines.append("Noted (see table boundary_issues, or `cddgis boundaries issues`):")
            for (level, kind), n in sorted(self.issue_counts().items()):
                lines.append(f"  {level:<12} {kind:<22} {n:>5}")
        return "\n".join(lines)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def prepare(data_dir: Path) -> tuple[dict[str, LevelData], list[Issue]]:
    """Reads, decodes, reconciles, repairs and simplifies all three levels, without a database."""
    sources = locate_sources(data_dir)
    levels: dict[str, LevelData] = {}
    issues: list[Issue] = []
    for level in LEVELS:
        data = read_level(sources[level])
        frame = data.frame
        duplicated = frame["code"][frame["code"].duplicated()].unique()
        if len(duplicated):
            # Several features with one code are parts of one unit: merge them, say so.
            for code in duplicated:
                rows = frame.loc[frame["code"] == code, "row"].tolist()
                issues.append(Issue(level, code, "merged_duplicate",
                                    f"features {rows} share the code and were merged"))
            merged = frame.dissolve(by="code", aggfunc="first", as_index=False)
            data.frame = frame = merged[frame.columns]
        issues += reconcile(data)
        if level in PARENT:
            issues += check_parent_codes(data, set(levels[PARENT[level]].frame["code"]))
        codes = frame["code"].tolist()
        try:
            geoms, repaired = repair(level, codes, frame.geometry.values.to_numpy())
        except ValueError as exc:
            raise BoundarySourceError(f"{data.source.describe()}: {exc}") from exc
        issues += repaired
        issues += coverage_issues(level, codes, geoms)
        frame["geom_full"] = geoms
        for lod, tolerance in LEVELS_OF_DETAIL.items():
            frame[f"geom_lod{lod}"] = simplify_coverage(geoms, tolerance)
        levels[level] = data
    return levels, issues


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
    raw = conn.connection.dbapi_connection
    with raw.cursor() as cur:
        execute_values(cur, sql, rows, page_size=500)


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
                       "sha256": _sha256(d.source.path), "encoding": d.encoding}
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
