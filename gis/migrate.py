"""Applies the schema migrations; safe to call on every start. Also compares models and schema."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.pool import NullPool

VERSIONS = Path(__file__).parent / "migrations" / "versions"

# PostGIS's own tables (and those of its topology/tiger extensions) live beside ours; the models
# do not declare them, and autogenerate must never propose to drop them.
EXTENSION_SCHEMAS = frozenset({"topology", "tiger", "tiger_data"})
EXTENSION_TABLES = frozenset({"spatial_ref_sys", "geometry_columns", "geography_columns",
                              "raster_columns", "raster_overviews", "layer", "topology"})


def include_object(obj: Any, name: str | None, type_: str, reflected: bool,
                   compare_to: Any) -> bool:
    """Alembic filter: our tables only, not those PostGIS installs."""
    if type_ == "table":
        schema = getattr(obj, "schema", None)
        if schema in EXTENSION_SCHEMAS:
            return False
        if reflected and compare_to is None and name in EXTENSION_TABLES:
            return False
    return True


def comparison_options() -> dict[str, Any]:
    """Shared by env.py and schema_differences, so a test compares as autogenerate does."""
    return {"include_object": include_object, "compare_type": True,
            "compare_server_default": True}


def head_revision() -> str | None:
    """The newest revision, read from the migration files' ``revision``/``down_revision``
    lines (None if they do not form one line of history: Alembic then decides)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in VERSIONS.glob("*.py"):
        source = path.read_text(encoding="utf-8")
        found = re.search(r'^revision = "([^"]+)"', source, re.M)
        parent = re.search(r'^down_revision = "([^"]+)"', source, re.M)
        if found:
            revisions.add(found.group(1))
        if parent:
            parents.add(parent.group(1))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def at_head(url: str) -> bool:
    """Whether the database already has every migration: one query, without loading Alembic
    and every migration module (~1 s that each ``cddgis`` command and every start paid)."""
    head = head_revision()
    if head is None:
        return False
    # Its own connection, closed at once: a database about to be copied as a template (the
    # tests') or migrated by Alembic keeps no session open.
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            if conn.execute(text("SELECT to_regclass('alembic_version')")).scalar() is None:
                return False  # a new database
            versions = conn.execute(text(
                "SELECT version_num FROM alembic_version")).scalars().all()
    finally:
        engine.dispose()
    return versions == [head]


def upgrade(url: str) -> None:
    """Applies the migrations the database lacks (nothing to do is one query)."""
    if at_head(url):
        return
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    # Alembic reads the URL through configparser, which treats % as interpolation.
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(cfg, "head")


def schema_differences(engine: Engine) -> list[Any]:
    """What autogenerate would change to make the database match the models (empty = agree)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from gis.models import Base

    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts=comparison_options())
        return list(compare_metadata(context, Base.metadata))


# The web app's role (gis.cluster creates it for the local cluster; on another server, create a
# role of this name and the migrations grant it what the app needs, or leave it out).
APP_ROLE = "cddgis_app"


def grant_app_writes(*tables: str) -> str:
    """SQL for a migration: the app role may INSERT/UPDATE/DELETE these tables (and use their
    id sequences). Everything else stays read-only for it; call this for each table the web app
    must write (e.g. a future staff table) in the migration that creates the table."""
    statements = [f"GRANT INSERT, UPDATE, DELETE ON {', '.join(tables)} TO {APP_ROLE};"]
    # A table keyed otherwise (no ``id`` column) has no sequence to grant; pg_get_serial_sequence
    # would fail on the missing column, so the column is looked up first.
    statements += [
        f"IF EXISTS (SELECT FROM information_schema.columns WHERE table_schema = 'public' "
        f"AND table_name = '{t}' AND column_name = 'id') THEN "
        f"IF pg_get_serial_sequence('{t}', 'id') IS NOT NULL THEN "
        f"EXECUTE format('GRANT USAGE ON SEQUENCE %s TO {APP_ROLE}', "
        f"pg_get_serial_sequence('{t}', 'id')); END IF; END IF;"
        for t in tables
    ]
    return if_app_role("\n".join(statements))


def if_app_role(body: str) -> str:
    """Runs ``body`` (PL/pgSQL) only where the app role exists, so a database without it (one
    DATABASE_URL for everything) still migrates."""
    return (f"DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN\n"
            f"{body}\nEND IF; END $$")
