"""Vector tile cache that is never stale: triggers delete exactly the tiles a write touches.

``tile_cache`` keeps each built tile (collection, filter params, z/x/y) with its envelope (the
tile and its margin, in lon/lat), its bytes and its ETag. Triggers run in the writer's own
transaction, whoever the writer is (the importer, the web app, raw SQL):

- ``layer_features``: statement-level, with transition tables, one per INSERT/UPDATE/DELETE
  (PostgreSQL allows transition tables only on single-event triggers). They delete the cached
  tiles of the changed rows' layers (and of the all-layers tileset, ``*``) whose envelope holds
  an old or a new position; an UPDATE counts only rows whose content changed (not just
  ``updated_at``/``import_id``), so re-importing a whole file forgets only what moved or
  changed. TRUNCATE clears every point-layer tile.
- ``provinces``, ``districts``, ``subdistricts``: any statement clears that collection's tiles
  (a reload deletes and re-inserts every row in one transaction).

Before deleting, a trigger takes the collection's advisory lock exclusively, to the end of the
writer's transaction; a tile builder stores a tile only while holding the same lock shared
(gis/tiles.py), so no tile built from data that is being replaced can be stored after its
invalidation ran. The functions are SECURITY DEFINER: a role that may write layer_features but
not tile_cache still invalidates. The web app stores tiles, so it may write the table.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

from gis.migrate import APP_ROLE, if_app_role

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BOUNDARY_TABLES = ("provinces", "districts", "subdistricts")
# Rows an UPDATE really changed, at their old and new places. Bookkeeping columns do not
# count: re-importing a whole layer file with one plot moved forgets only that plot's tiles.
_BOOKKEEPING = "ARRAY['updated_at', 'import_id', 'source_file', 'created_at', 'geom']"
CHANGED = f"""
    SELECT x.layer, x.geom
    FROM old_rows o JOIN new_rows n ON n.id = o.id
    CROSS JOIN LATERAL (VALUES (o.layer, o.geom), (n.layer, n.geom)) AS x(layer, geom)
    WHERE o.geom IS DISTINCT FROM n.geom  -- exact; the JSON of a geometry is rounded
       OR to_jsonb(o) - {_BOOKKEEPING} IS DISTINCT FROM to_jsonb(n) - {_BOOKKEEPING}
    UNION ALL  -- an UPDATE of the id itself: no pair, so both sides count
    SELECT o.layer, o.geom FROM old_rows o WHERE NOT EXISTS (
        SELECT 1 FROM new_rows n WHERE n.id = o.id)
    UNION ALL
    SELECT n.layer, n.geom FROM new_rows n WHERE NOT EXISTS (
        SELECT 1 FROM old_rows o WHERE o.id = n.id)"""
LOCK = "pg_advisory_xact_lock(hashtext('cddgis.tile_cache'), hashtext({name}))"


def _forget_points(rows: str) -> str:
    """PL/pgSQL: lock the layers of ``rows`` (a transition table, or a union of two) and delete
    their tiles that hold one of the rows' positions."""
    return f"""
        PERFORM {LOCK.format(name="l.layer")}
        FROM (SELECT DISTINCT layer FROM ({rows}) r ORDER BY layer) l;
        DELETE FROM tile_cache c
        USING ({rows}) r
        WHERE c.collection IN (r.layer, '*') AND c.envelope && r.geom;"""


def upgrade() -> None:
    op.create_table(
        "tile_cache",
        sa.Column("collection", sa.String, primary_key=True),
        sa.Column("params", sa.Text, primary_key=True),
        sa.Column("z", sa.Integer, primary_key=True),
        sa.Column("x", sa.Integer, primary_key=True),
        sa.Column("y", sa.Integer, primary_key=True),
        sa.Column("envelope", Geometry("POLYGON", srid=4326, spatial_index=False),
                  nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("etag", sa.String, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
    )
    # MVT bytes are already dense: storing them uncompressed saves the work on every
    # write and read of a tile (pglz would try, and win little).
    op.execute("ALTER TABLE tile_cache ALTER COLUMN data SET STORAGE EXTERNAL")
    # btree_gist (migration 0004) lets one GiST hold the collection beside the envelope.
    op.create_index("ix_tile_cache_collection_envelope", "tile_cache",
                    ["collection", "envelope"], postgresql_using="gist")
    op.execute(f"""
        CREATE FUNCTION tile_cache_forget_points() RETURNS trigger
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                {_forget_points("SELECT layer, geom FROM new_rows")}
            ELSIF TG_OP = 'UPDATE' THEN
                {_forget_points(CHANGED)}
            ELSIF TG_OP = 'DELETE' THEN
                {_forget_points("SELECT layer, geom FROM old_rows")}
            ELSE  -- TRUNCATE: every point layer
                PERFORM {LOCK.format(name="'#points'")};
                DELETE FROM tile_cache
                WHERE collection NOT IN ('provinces', 'districts', 'subdistricts');
            END IF;
            RETURN NULL;
        END $$""")
    op.execute("""
        CREATE FUNCTION tile_cache_forget_collection() RETURNS trigger
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
        BEGIN
            -- The boundary tables are named as their collections.
            PERFORM pg_advisory_xact_lock(hashtext('cddgis.tile_cache'), hashtext(TG_TABLE_NAME));
            DELETE FROM tile_cache WHERE collection = TG_TABLE_NAME;
            RETURN NULL;
        END $$""")
    for event, referencing in (("INSERT", "NEW TABLE AS new_rows"),
                               ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
                               ("DELETE", "OLD TABLE AS old_rows")):
        op.execute(f"""
            CREATE TRIGGER tile_cache_{event.lower()} AFTER {event} ON layer_features
            REFERENCING {referencing}
            FOR EACH STATEMENT EXECUTE FUNCTION tile_cache_forget_points()""")
    op.execute("""
        CREATE TRIGGER tile_cache_truncate AFTER TRUNCATE ON layer_features
        FOR EACH STATEMENT EXECUTE FUNCTION tile_cache_forget_points()""")
    for table in BOUNDARY_TABLES:
        op.execute(f"""
            CREATE TRIGGER tile_cache_forget AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
            ON {table} FOR EACH STATEMENT EXECUTE FUNCTION tile_cache_forget_collection()""")
    # Not gis.migrate.grant_app_writes: it asks for the sequence of an ``id`` column, which
    # this table (keyed by collection, params and z/x/y) does not have.
    op.execute(if_app_role(f"GRANT INSERT, UPDATE, DELETE ON tile_cache TO {APP_ROLE};"))


def downgrade() -> None:
    for table in BOUNDARY_TABLES:
        op.execute(f"DROP TRIGGER tile_cache_forget ON {table}")
    for event in ("insert", "update", "delete", "truncate"):
        op.execute(f"DROP TRIGGER tile_cache_{event} ON layer_features")
    op.execute("DROP FUNCTION tile_cache_forget_collection()")
    op.execute("DROP FUNCTION tile_cache_forget_points()")
    op.drop_table("tile_cache")
