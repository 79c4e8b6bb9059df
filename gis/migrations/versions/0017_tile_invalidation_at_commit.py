"""Tile invalidation at commit: a long import no longer blocks the layer's other writers
(issue 25, item 7).

Until now the statement-level triggers on ``layer_features`` (0007, 0011) took the layer's
tile-cache advisory lock exclusively at a transaction's first write, deleted the cached tiles
and raised ``tile_versions`` (a row lock) there and then, and both were held until the
transaction ended. A 100,000-row import (or its dry run) held them for minutes, and every other
writer of the layer (an API PATCH of another feature, a form save, another import) waited for
them until its statement timeout (a 504).

Now the statement triggers only *record* what changed: the layer and the old/new positions of
the rows (the same ``CHANGED`` rule: an UPDATE of bookkeeping columns alone records nothing)
into ``tile_cache_pending``, keyed by the writer's transaction id, plus one marker row per
transaction in ``tile_cache_pending_xacts``. The marker's ``DEFERRABLE INITIALLY DEFERRED``
constraint trigger runs when the transaction commits: it takes the layers' advisory locks
exclusively (sorted: two committers cannot deadlock), deletes the cached tiles that hold a
recorded position, raises the layers' versions and deletes its pending rows. The locks are held
only for that commit-time work. A transaction that rolls back (a dry run) takes its pending
rows and marker with it: they were never visible to anyone else.

Why a tile is still never stale: a tile builder (gis/tiles.py) stores a tile only while it holds
the layer's lock *shared*, and builds it with a snapshot taken after it got the lock. A builder
that got the lock before a writer's commit saw the old data, but its tile is committed before
the writer's commit-time trigger can take the lock, so the trigger (whose statements see it:
READ COMMITTED) deletes it. A builder that asks while the trigger holds the lock does not
store. A builder that asks after the commit sees the new data. A tile built from the old data
while the write is in flight (before its commit) may now be stored; the commit forgets it.

The commit-time deletion stays cheap for a million rows: up to ``TILE_EXACT_POINTS``
(gis/models.py) recorded positions are matched one by one (exactly the tiles that hold them, as
before); more are first reduced to the distinct cells of a ``TILE_CELL_DEGREES`` grid (1/16°),
and the tiles touching a cell are forgotten (a few more tiles than strictly needed, never
fewer: ~11,000 such cells cover Thailand's land, however many rows were written).

TRUNCATE and the boundary tables keep their immediate lock (a reload or a truncation is rare,
short and replaces everything).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

from collections.abc import Callable

from alembic import op

from gis.migrate import APP_ROLE, if_app_role
from gis.models import TILE_PENDING_FUNCTION, TILE_PENDING_TRIGGER

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

LOCK = "pg_advisory_xact_lock(hashtext('cddgis.tile_cache'), hashtext({name}))"
# Rows an UPDATE really changed (as in 0007 and 0011: bookkeeping columns do not count).
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
_TRUNCATE = f"""
    PERFORM {LOCK.format(name="'#points'")};
    DELETE FROM tile_cache
    WHERE collection NOT IN ('provinces', 'districts', 'subdistricts');
    INSERT INTO tile_versions AS v (collection, version)
    SELECT collection, 1 FROM tile_versions
    WHERE collection NOT IN ('provinces', 'districts', 'subdistricts', 'villages')
    ON CONFLICT (collection) DO UPDATE SET version = v.version + 1;"""


def _record(rows: str) -> str:
    """PL/pgSQL: remember ``rows`` (layer, geom) for this transaction's commit; no lock."""
    return f"""
        INSERT INTO tile_cache_pending (xact, layer, geom)
        SELECT txid_current(), r.layer, r.geom FROM ({rows}) r;
        IF FOUND THEN
            INSERT INTO tile_cache_pending_xacts (xact) VALUES (txid_current())
            ON CONFLICT DO NOTHING;
        END IF;"""


def _forget_now(rows: str) -> str:
    """0011's immediate invalidation, for the downgrade."""
    return f"""
        PERFORM {LOCK.format(name="l.layer")}
        FROM (SELECT DISTINCT layer FROM ({rows}) r ORDER BY layer) l;
        DELETE FROM tile_cache c
        USING ({rows}) r
        WHERE c.collection IN (r.layer, '*') AND c.envelope && r.geom;
        INSERT INTO tile_versions AS v (collection, version)
        SELECT DISTINCT layer, 1 FROM ({rows}) r
        ON CONFLICT (collection) DO UPDATE SET version = v.version + 1;"""


def _points_function(handle: Callable[[str], str]) -> str:
    return f"""
        CREATE OR REPLACE FUNCTION tile_cache_forget_points() RETURNS trigger
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                {handle("SELECT layer, geom FROM new_rows")}
            ELSIF TG_OP = 'UPDATE' THEN
                {handle(CHANGED)}
            ELSIF TG_OP = 'DELETE' THEN
                {handle("SELECT layer, geom FROM old_rows")}
            ELSE  -- TRUNCATE: every point layer, at once
                {_TRUNCATE}
            END IF;
            RETURN NULL;
        END $$"""


def upgrade() -> None:
    op.execute("""
        CREATE UNLOGGED TABLE tile_cache_pending (
            xact bigint NOT NULL,
            layer varchar NOT NULL,
            geom geometry(POINT, 4326)
        )""")
    op.execute("CREATE INDEX ix_tile_cache_pending_xact ON tile_cache_pending (xact)")
    op.execute("""
        CREATE UNLOGGED TABLE tile_cache_pending_xacts (
            xact bigint NOT NULL,
            CONSTRAINT tile_cache_pending_xacts_pkey PRIMARY KEY (xact)
        )""")
    op.execute(TILE_PENDING_FUNCTION)
    op.execute(TILE_PENDING_TRIGGER)
    op.execute(_points_function(_record))
    # Written only by the SECURITY DEFINER triggers; the app may read them (tests, diagnosis).
    op.execute(if_app_role(
        f"GRANT SELECT ON tile_cache_pending, tile_cache_pending_xacts TO {APP_ROLE};"))


def downgrade() -> None:
    op.execute(_points_function(_forget_now))
    op.execute("DROP TRIGGER tile_cache_forget_at_commit ON tile_cache_pending_xacts")
    op.execute("DROP FUNCTION tile_cache_forget_pending()")
    op.drop_table("tile_cache_pending_xacts")
    op.drop_table("tile_cache_pending")
