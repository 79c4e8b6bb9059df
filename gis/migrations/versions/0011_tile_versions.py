"""Versioned tile URLs that proxies may keep for a year, and a lighter tile cache.

- ``tile_versions``: a counter per collection (a point layer's id, a boundary table's name,
  ``villages``) that the tile-cache triggers of 0007 raise in the writer's own transaction,
  exactly when they forget tiles. A tile URL carrying the current version (``?v=``, built from
  these counters) is answered ``immutable`` and kept by nginx or a CDN without asking the app
  again; a write changes the version, so pages loaded after it ask for new URLs.
- ``tile_cache`` is made again, ``UNLOGGED`` (a cache needs no write-ahead log: after a crash
  PostgreSQL empties it, and tiles are rebuilt on demand) and keyed also by ``fingerprint``,
  what the code and the layer declaration put in a tile: a tile cached before a field became
  personal, or before the tile encoding changed, is never served again.

Revision ID: 0011
Revises: 0010_uploads
Create Date: 2026-11-25
"""

from typing import Any

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

from gis.migrate import APP_ROLE, if_app_role

revision = "0011"
down_revision = "0010_uploads"
branch_labels = None
depends_on = None

BOUNDARY_TABLES = ("provinces", "districts", "subdistricts")
LOCK = "pg_advisory_xact_lock(hashtext('cddgis.tile_cache'), hashtext({name}))"
# Rows an UPDATE really changed (as in 0007: bookkeeping columns do not count).
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


def _bump(names: str) -> str:
    """PL/pgSQL: raise the version of each collection ``names`` (a query of one text column)."""
    return f"""
        INSERT INTO tile_versions AS v (collection, version)
        SELECT name, 1 FROM ({names}) AS n(name)
        ON CONFLICT (collection) DO UPDATE SET version = v.version + 1;"""


def _forget_points(rows: str) -> str:
    """Lock the layers of ``rows``, delete their tiles holding one of the rows' positions, and
    raise those layers' versions (all in the writer's transaction)."""
    return f"""
        PERFORM {LOCK.format(name="l.layer")}
        FROM (SELECT DISTINCT layer FROM ({rows}) r ORDER BY layer) l;
        DELETE FROM tile_cache c
        USING ({rows}) r
        WHERE c.collection IN (r.layer, '*') AND c.envelope && r.geom;
        {_bump(f"SELECT DISTINCT layer FROM ({rows}) r ORDER BY 1")}"""


def _tile_cache(unlogged: bool, fingerprint: bool) -> None:
    columns: list[sa.Column[Any]] = [
        sa.Column("collection", sa.String, primary_key=True),
        *([sa.Column("fingerprint", sa.String, primary_key=True)] if fingerprint else []),
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
    ]
    op.create_table("tile_cache", *columns, prefixes=["UNLOGGED"] if unlogged else [])
    op.execute("ALTER TABLE tile_cache ALTER COLUMN data SET STORAGE EXTERNAL")
    op.create_index("ix_tile_cache_collection_envelope", "tile_cache",
                    ["collection", "envelope"], postgresql_using="gist")
    op.execute(if_app_role(f"GRANT INSERT, UPDATE, DELETE ON tile_cache TO {APP_ROLE};"))


def _functions(versions: bool) -> None:
    bump = (lambda names: _bump(names)) if versions else (lambda names: "")
    forget = _forget_points if versions else _forget_points_0007
    op.execute(f"""
        CREATE OR REPLACE FUNCTION tile_cache_forget_points() RETURNS trigger
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                {forget("SELECT layer, geom FROM new_rows")}
            ELSIF TG_OP = 'UPDATE' THEN
                {forget(CHANGED)}
            ELSIF TG_OP = 'DELETE' THEN
                {forget("SELECT layer, geom FROM old_rows")}
            ELSE  -- TRUNCATE: every point layer
                PERFORM {LOCK.format(name="'#points'")};
                DELETE FROM tile_cache
                WHERE collection NOT IN ('provinces', 'districts', 'subdistricts');
                {bump("SELECT collection FROM tile_versions WHERE collection NOT IN "
                      "('provinces', 'districts', 'subdistricts', 'villages')")}
            END IF;
            RETURN NULL;
        END $$""")
    op.execute(f"""
        CREATE OR REPLACE FUNCTION tile_cache_forget_collection() RETURNS trigger
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
        BEGIN
            -- The boundary tables are named as their collections.
            PERFORM pg_advisory_xact_lock(hashtext('cddgis.tile_cache'), hashtext(TG_TABLE_NAME));
            DELETE FROM tile_cache WHERE collection = TG_TABLE_NAME;
            {bump("SELECT TG_TABLE_NAME::text")}
            RETURN NULL;
        END $$""")


def _forget_points_0007(rows: str) -> str:
    return f"""
        PERFORM {LOCK.format(name="l.layer")}
        FROM (SELECT DISTINCT layer FROM ({rows}) r ORDER BY layer) l;
        DELETE FROM tile_cache c
        USING ({rows}) r
        WHERE c.collection IN (r.layer, '*') AND c.envelope && r.geom;"""


def upgrade() -> None:
    op.create_table(
        "tile_versions",
        sa.Column("collection", sa.String, primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False, server_default="1"),
    )
    # Rows written by the triggers (SECURITY DEFINER); the app only reads them.
    op.execute(if_app_role(f"GRANT SELECT ON tile_versions TO {APP_ROLE};"))
    op.execute("""
        INSERT INTO tile_versions (collection, version)
        SELECT DISTINCT layer, 1 FROM layer_features
        UNION SELECT unnest(ARRAY['provinces', 'districts', 'subdistricts', 'villages']), 1""")
    op.drop_table("tile_cache")
    _tile_cache(unlogged=True, fingerprint=True)
    _functions(versions=True)
    # The basemap's village names: any change to the villages raises their version.
    op.execute("""
        CREATE FUNCTION tile_versions_villages() RETURNS trigger
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
        BEGIN
            INSERT INTO tile_versions AS v (collection, version) VALUES ('villages', 1)
            ON CONFLICT (collection) DO UPDATE SET version = v.version + 1;
            RETURN NULL;
        END $$""")
    op.execute("""
        CREATE TRIGGER tile_versions_villages AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
        ON villages FOR EACH STATEMENT EXECUTE FUNCTION tile_versions_villages()""")


def downgrade() -> None:
    op.execute("DROP TRIGGER tile_versions_villages ON villages")
    op.execute("DROP FUNCTION tile_versions_villages()")
    _functions(versions=False)
    op.drop_table("tile_cache")
    _tile_cache(unlogged=False, fingerprint=False)
    op.drop_table("tile_versions")
