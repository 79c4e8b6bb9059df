"""The models and the migrations are one source of truth: autogenerate finds nothing to change,
and a database built from the models is, in the catalog, the same as one built by migrating."""

from __future__ import annotations

from sqlalchemy import Engine, text

from gis.cluster import ClusterInfo, create_database
from gis.db import engine_for
from gis.migrate import schema_differences, upgrade
from gis.models import Base
from tests.workers import db_name

# What PostGIS itself installs in public; neither side declares it.
_NOT_OURS = "('spatial_ref_sys', 'alembic_version')"


def _catalog(engine: Engine) -> dict[str, list[tuple]]:
    """Columns, indexes (full definitions: method, opclasses, expressions) and constraints of the
    public schema, as PostgreSQL itself prints them."""
    queries = {
        "columns": f"""
            SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                   pg_get_expr(d.adbin, d.adrelid)
            FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attnum > 0
              AND NOT a.attisdropped AND c.relname NOT IN {_NOT_OURS}
            ORDER BY 1, 2""",
        "indexes": f"""
            SELECT tablename, indexname, indexdef FROM pg_indexes
            WHERE schemaname = 'public' AND tablename NOT IN {_NOT_OURS} ORDER BY 1, 2""",
        "constraints": f"""
            SELECT c.relname, k.conname, k.contype, pg_get_constraintdef(k.oid)
            FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND c.relname NOT IN {_NOT_OURS} ORDER BY 1, 2""",
        "extensions": "SELECT extname FROM pg_extension ORDER BY 1",
        # Logged or not (tile_cache is UNLOGGED: a cache needs no write-ahead log).
        "persistence": f"""
            SELECT c.relname, c.relpersistence FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname NOT IN {_NOT_OURS}
            ORDER BY 1""",
    }
    with engine.connect() as conn:
        return {k: [tuple(r) for r in conn.execute(text(q))] for k, q in queries.items()}


def test_autogenerate_finds_no_difference(cluster: ClusterInfo) -> None:
    """Alembic's own comparison on a freshly migrated database proposes nothing (before: drop
    villages, indicators, indicator_values and 13 indexes)."""
    url = create_database(cluster, db_name("cddgis_test_schema"), drop_first=True)
    upgrade(url)
    engine = engine_for(url)
    try:
        diff = schema_differences(engine)
    finally:
        engine.dispose()
    assert diff == [], "models and migrations disagree:\n" + "\n".join(map(repr, diff))


def test_models_build_the_migrated_schema(cluster: ClusterInfo) -> None:
    """Autogenerate does not compare index methods, operator classes or check constraints, so
    build one database from the models and one by migrating, and compare their catalogs."""
    migrated_url = create_database(cluster, db_name("cddgis_test_schema"), drop_first=True)
    upgrade(migrated_url)
    models_url = create_database(cluster, db_name("cddgis_test_models"), drop_first=True)
    migrated, models = engine_for(migrated_url), engine_for(models_url)
    try:
        with models.begin() as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS btree_gist"))
            Base.metadata.create_all(conn)
        want, got = _catalog(migrated), _catalog(models)
    finally:
        migrated.dispose()
        models.dispose()
    for part in want:
        missing = sorted(set(want[part]) - set(got[part]))
        extra = sorted(set(got[part]) - set(want[part]))
        assert not missing and not extra, (
            f"{part}: migrations have but models lack {missing}; models have but migrations "
            f"lack {extra}")
