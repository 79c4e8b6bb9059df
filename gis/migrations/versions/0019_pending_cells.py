"""A statement that writes many rows records grid cells, not one position per row (issue 20,
item 6: the test loop's million-point insert).

Since 0017 every INSERT, UPDATE or DELETE on ``layer_features`` copied each written row's
position into ``tile_cache_pending``: a 1,000,000-row INSERT wrote 1,000,000 more rows (and
their index entries) only for the commit to reduce them to the ~11,000-31,000 cells of the
``TILE_CELL_DEGREES`` grid. Measured on this machine (benchmarks: docs/benchmarks.md, "Test
suite"), that recording made the statement about half as slow again.

Now a statement of more than ``TILE_EXACT_POINTS`` rows records the distinct cells its rows fall
in, each as the cell's square (so ``tile_cache_pending.geom`` holds any geometry): the commit
forgets the tiles touching the square, exactly what it did for those rows before (past
``TILE_EXACT_POINTS`` recorded positions it always worked by cells; the commit function now puts
a square in its cell by its centroid). A statement of fewer rows records its positions as
before, so a small write still forgets exactly the tiles that hold one. A tile is never stale:
a square covers every point recorded in it.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-08
"""

from alembic import op

from gis.models import TILE_CELL_DEGREES, TILE_EXACT_POINTS, TILE_PENDING_FUNCTION

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

D = TILE_CELL_DEGREES
# 0017's rule, unchanged: the rows an UPDATE really changed (bookkeeping columns do not count).
_BOOKKEEPING = "ARRAY['updated_at', 'import_id', 'source_file', 'created_at', 'geom']"
CHANGED = f"""
    SELECT x.layer, x.geom
    FROM old_rows o JOIN new_rows n ON n.id = o.id
    CROSS JOIN LATERAL (VALUES (o.layer, o.geom), (n.layer, n.geom)) AS x(layer, geom)
    WHERE o.geom IS DISTINCT FROM n.geom
       OR to_jsonb(o) - {_BOOKKEEPING} IS DISTINCT FROM to_jsonb(n) - {_BOOKKEEPING}
    UNION ALL
    SELECT o.layer, o.geom FROM old_rows o WHERE NOT EXISTS (
        SELECT 1 FROM new_rows n WHERE n.id = o.id)
    UNION ALL
    SELECT n.layer, n.geom FROM new_rows n WHERE NOT EXISTS (
        SELECT 1 FROM old_rows o WHERE o.id = n.id)"""
_TRUNCATE = """
    PERFORM pg_advisory_xact_lock(hashtext('cddgis.tile_cache'), hashtext('#points'));
    DELETE FROM tile_cache
    WHERE collection NOT IN ('provinces', 'districts', 'subdistricts');
    INSERT INTO tile_versions AS v (collection, version)
    SELECT collection, 1 FROM tile_versions
    WHERE collection NOT IN ('provinces', 'districts', 'subdistricts', 'villages')
    ON CONFLICT (collection) DO UPDATE SET version = v.version + 1;"""


def _marker() -> str:
    return """
        IF FOUND THEN
            INSERT INTO tile_cache_pending_xacts (xact) VALUES (txid_current())
            ON CONFLICT DO NOTHING;
        END IF;"""


def _points(rows: str) -> str:
    return f"""
            INSERT INTO tile_cache_pending (xact, layer, geom)
            SELECT txid_current(), r.layer, r.geom FROM ({rows}) r;"""


def _record(rows: str, sized_by: str) -> str:
    """PL/pgSQL: remember ``rows`` (layer, geom) for the commit; past TILE_EXACT_POINTS rows in
    ``sized_by`` (a transition table), the squares of their distinct cells. A NULL position
    stays a row (its layer's version is still raised at commit)."""
    return f"""
        IF (SELECT count(*) FROM (SELECT 1 FROM {sized_by} LIMIT {TILE_EXACT_POINTS + 1}) s)
                <= {TILE_EXACT_POINTS} THEN
            {_points(rows)}
        ELSE
            INSERT INTO tile_cache_pending (xact, layer, geom)
            SELECT txid_current(), c.layer,
                   ST_MakeEnvelope(c.cx * {D}, c.cy * {D}, (c.cx + 1) * {D}, (c.cy + 1) * {D},
                                   4326)
            FROM (SELECT DISTINCT r.layer, floor(ST_X(r.geom) / {D}) AS cx,
                         floor(ST_Y(r.geom) / {D}) AS cy
                  FROM ({rows}) r) c;
        END IF;{_marker()}"""


def _exact(rows: str, sized_by: str) -> str:
    """0017's recording, for the downgrade."""
    del sized_by
    return _points(rows) + _marker()


def _points_function(record: str) -> str:
    rec = _record if record == "cells" else _exact
    return f"""
        CREATE OR REPLACE FUNCTION tile_cache_forget_points() RETURNS trigger
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                {rec("SELECT layer, geom FROM new_rows", "new_rows")}
            ELSIF TG_OP = 'UPDATE' THEN
                {rec(CHANGED, "old_rows")}
            ELSIF TG_OP = 'DELETE' THEN
                {rec("SELECT layer, geom FROM old_rows", "old_rows")}
            ELSE  -- TRUNCATE: every point layer, at once
                {_TRUNCATE}
            END IF;
            RETURN NULL;
        END $$"""


def upgrade() -> None:
    op.execute("ALTER TABLE tile_cache_pending ALTER COLUMN geom "
               "TYPE geometry(Geometry, 4326)")
    op.execute(TILE_PENDING_FUNCTION)  # cells by the centroid: a point or a square
    op.execute(_points_function("cells"))


def downgrade() -> None:
    op.execute(_points_function("exact"))
    op.execute("DELETE FROM tile_cache_pending WHERE GeometryType(geom) <> 'POINT'")
    op.execute("ALTER TABLE tile_cache_pending ALTER COLUMN geom TYPE geometry(Point, 4326)")
    # The commit function keeps the centroid: for points it is the 0017 cell, unchanged.
