"""Applies the schema migrations; safe to call on every start. Also compares models and schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Engine

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


def upgrade(url: str) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    # Alembic reads the URL through configparser, which treats % as interpolation.
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(cfg, "head")


def schema_differences(engine: Engine) -> list[Any]:
    """What autogenerate would change to make the database match the models (empty = agree)."""
    from gis.models import Base

    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts=comparison_options())
        return list(compare_metadata(context, Base.metadata))
