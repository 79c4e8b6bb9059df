"""Admin boundaries: provinces, districts, subdistricts, and the load history.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_CODE_PATTERN = {"provinces": "^[0-9]{2}$", "districts": "^[0-9]{4}$",
                 "subdistricts": "^[0-9]{6}$"}


def _area_columns() -> list[sa.Column]:
    mp = lambda nullable: Geometry("MULTIPOLYGON", srid=4326, spatial_index=False)  # noqa: E731
    return [
        sa.Column("name_th", sa.Text, nullable=False),
        sa.Column("name_en", sa.Text, nullable=False),
        sa.Column("source_name_th", sa.Text),
        sa.Column("source_name_en", sa.Text),
        sa.Column("in_registry", sa.Boolean, nullable=False),
        sa.Column("region", sa.String),
        sa.Column("region_nesdb", sa.String),
        sa.Column("area_km2", sa.Float, nullable=False),
        sa.Column("load_id", sa.Integer, nullable=False),
        sa.Column("geom", mp(False), nullable=False),
        sa.Column("geom_lod1", mp(True)),
        sa.Column("geom_lod2", mp(True)),
        sa.Column("geom_lod3", mp(True)),
    ]


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_table(
        "boundary_loads",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("loaded_at", sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
        sa.Column("sources", JSONB, nullable=False),
        sa.Column("counts", JSONB, nullable=False),
        sa.Column("registry_version", sa.String, nullable=False),
        sa.Column("seconds", sa.Float, nullable=False),
    )
    op.create_table(
        "boundary_issues",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("load_id", sa.Integer,
                  sa.ForeignKey("boundary_loads.id", ondelete="CASCADE"), nullable=False),
        sa.Column("level", sa.String, nullable=False),
        sa.Column("code", sa.String),
        sa.Column("kind", sa.String, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_index("ix_boundary_issues_load_id", "boundary_issues", ["load_id"])

    op.create_table("provinces", sa.Column("code", sa.String, primary_key=True), *_area_columns())
    op.create_table(
        "districts",
        sa.Column("code", sa.String, primary_key=True),
        sa.Column("province_code", sa.String, nullable=False),
        *_area_columns(),
    )
    op.create_table(
        "subdistricts",
        sa.Column("code", sa.String, primary_key=True),
        sa.Column("province_code", sa.String, nullable=False),
        sa.Column("district_code", sa.String, nullable=False),
        *_area_columns(),
    )
    for table, pattern in _CODE_PATTERN.items():
        op.create_check_constraint(f"ck_{table}_code", table, f"code ~ '{pattern}'")
        op.create_index(f"ix_{table}_geom", table, ["geom"], postgresql_using="gist")
    op.create_index("ix_districts_province_code", "districts", ["province_code"])
    op.create_index("ix_subdistricts_province_code", "subdistricts", ["province_code"])
    op.create_index("ix_subdistricts_district_code", "subdistricts", ["district_code"])


def downgrade() -> None:
    for table in ("subdistricts", "districts", "provinces", "boundary_issues", "boundary_loads"):
        op.drop_table(table)
